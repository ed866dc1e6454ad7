/** `fog8 train`: train a model (defaults: the main job), or `--resume RUN_DIR` one bit-identically. */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { parseTrainFlags, readConfigFile, resolveTrainConfig, trainConfigHelp } from '../config.js';
import { terminalProgress } from '../progress.js';
import type { TrainConfigKey } from '../../train/config.js';
import { prepareTraining, type PreparedRun, type RunOutcome } from '../../train/session.js';
import { loadKernelBackend } from '../../train/kernel-backend.js';
import { detectLaunch, RankMismatchError, worldCommunicator } from '../../train/distributed.js';
import { ExitCode, signalExitCode } from '../exit.js';

export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description('train a model (no arguments: fog-xielu/small in fp8-delayed with FP8 attention on the embedded Brown corpus, ~5 min on 2 cores); under mpirun -np N: N data-parallel ranks')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .helpOption('-h, --help', 'show the config keys')
    .addHelpText('after', '\n' + trainConfigHelp() + '\n\nData parallel: mpirun -np N [--hostfile FILE] npx fog8 train … (see docs/train.md)')
    .action(async (_opts: unknown, cmd: Command) => {
      const args = cmd.args;
      const { config, extras } = resolveTrainConfig(args);
      const explicit = new Set<TrainConfigKey>(Object.keys(parseTrainFlags(args).values) as TrainConfigKey[]);
      if (extras.configFile) for (const k of Object.keys(readConfigFile(extras.configFile))) explicit.add(k as TrainConfigKey);
      // Under mpirun: MPI_COMM_WORLD (an error naming the package when the addon lacks MPI).
      const comm = worldCommunicator();
      // Ranks sharing a machine share its cores: default threads = cores / ranks on this machine.
      const localRanks = comm.size > 1 ? (detectLaunch()?.localSize ?? 1) : 1;
      const loadKernels = (kind: typeof config.kernels, threads: number | null) =>
        loadKernelBackend(kind, threads ?? (localRanks > 1 ? Math.max(1, Math.floor(availableParallelism() / localRanks)) : null));
      let prepared: PreparedRun | null = null;
      let outcome: RunOutcome;
      // With several ranks, an outcome every rank shares is reported by rank 0 alone, before
      // MPI_Finalize: a rank that exits non-zero makes mpirun end the others, maybe mid-message.
      const reportOnce = (message: string): Error => {
        if (comm.rank === 0) console.error(`fog8: ${message}`);
        comm.finalize();
        return Object.assign(new Error(message), { code: 'fog8.reported' });
      };
      try {
        prepared = await prepareTraining({ config, explicit, resume: extras.resume, stopAfterStep: extras.stopAfter, loadKernels, progress: terminalProgress(), handleSignals: true, comm });
        outcome = await prepared.run();
      } catch (e) {
        if (comm.size === 1) throw e;
        // Every rank found the same mismatch.
        if (e instanceof RankMismatchError) throw reportOnce(e.message);
        // One rank failed: say which and where, then end every rank (they would wait forever).
        const where = prepared ? `at step ${prepared.trainer.currentStep + 1}` : 'during setup';
        console.error(`fog8 train: rank ${comm.rank} of ${comm.size} (host ${comm.host}) failed ${where}: ${(e as Error).message}`);
        console.error(`fog8 train: ending all ranks; resume from the newest checkpoint with: mpirun -np ${comm.size} npx fog8 train --resume ${prepared?.runDir ?? 'RUN_DIR'}`);
        comm.abort(1);
        throw e;
      }
      const diverged = outcome.status === 'diverged' ? `training diverged at step ${outcome.steps}: ${outcome.diagnosis ?? 'non-finite steps'} (run directory ${outcome.runDir})` : null;
      // A thrown error makes main() print it and return a non-zero exit code.
      if (diverged) {
        if (comm.size === 1) throw new Error(diverged);
        throw reportOnce(diverged);
      }
      comm.finalize();
      // Interrupted by a signal: checkpointed and said how to resume; exit as shells expect (SIGINT → 130).
      // With several ranks only the rank that got the signal does (mpirun then returns its code).
      if (outcome.status === 'interrupted' && outcome.signal !== null) throw new ExitCode(signalExitCode(outcome.signal));
    });
}
