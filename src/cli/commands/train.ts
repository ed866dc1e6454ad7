/** `fog8 train`: train a model (defaults: the main job), or `--resume RUN_DIR` one bit-identically. */
import type { Command } from 'commander';
import { parseTrainFlags, readConfigFile, resolveTrainConfig, trainConfigHelp } from '../config.js';
import { terminalProgress } from '../progress.js';
import type { TrainConfigKey } from '../../train/config.js';
import { runTraining } from '../../train/session.js';
import { loadKernelBackend } from '../../train/kernel-backend.js';
import { ExitCode, signalExitCode } from '../exit.js';

export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description('train a model (no arguments: fog-xielu/small in fp8-delayed with FP8 attention on the embedded Brown corpus, ~5 min on 2 cores)')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .helpOption('-h, --help', 'show the config keys')
    .addHelpText('after', '\n' + trainConfigHelp())
    .action(async (_opts: unknown, cmd: Command) => {
      const args = cmd.args;
      const { config, extras } = resolveTrainConfig(args);
      const explicit = new Set<TrainConfigKey>(Object.keys(parseTrainFlags(args).values) as TrainConfigKey[]);
      if (extras.configFile) for (const k of Object.keys(readConfigFile(extras.configFile))) explicit.add(k as TrainConfigKey);
      const outcome = await runTraining({ config, explicit, resume: extras.resume, loadKernels: loadKernelBackend, progress: terminalProgress(), handleSignals: true });
      // A thrown error makes main() print it and return a non-zero exit code.
      // Interrupted by a signal: checkpointed and said how to resume; exit as shells expect (SIGINT → 130).
      if (outcome.status === 'interrupted' && outcome.signal !== null) throw new ExitCode(signalExitCode(outcome.signal));
      if (outcome.status === 'diverged') throw new Error(`training diverged at step ${outcome.steps}: ${outcome.diagnosis ?? 'non-finite steps'} (run directory ${outcome.runDir})`);
    });
}
