/**
 * `fog8 compare --presets A,B --precisions X,Y [--steps N] [--out DIR] [train flags…]`: trains the
 * matrix one run after another (resumable), writes the report and prints the summary table.
 * Extra flags go to every training run unchanged and are checked up front with the train config
 * parser, so a typo fails before hours of training.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { runCompare, type RunTraining } from '../../report/compare.js';
import { listCheckpointSteps } from '../../train/checkpoint-files.js';
import { loadKernelBackend } from '../../train/kernel-backend.js';
import { ExitCode, signalExitCode } from '../exit.js';
import { runTraining, type KernelLoader } from '../../train/session.js';
import type { TrainConfigKey } from '../../train/config.js';
import { parseTrainFlags, resolveTrainConfig, toKebab } from '../config.js';
import { terminalProgress, type ProgressStream } from '../progress.js';

/** Keys compare sets itself for every run. */
const COMPARE_OWNED: readonly TrainConfigKey[] = ['preset', 'precision', 'runDir', 'runName', 'steps'];

export interface InProcessTrainerOptions {
  /** Steps of every run; undefined keeps the trainer's default (or the shared flags' --tokens). */
  steps?: number;
  /** Train flags shared by every run (`--key value` …, as for `fog8 train`). */
  shared: readonly string[];
  loadKernels?: KernelLoader;
  stdout?: ProgressStream;
  /** Checkpoint and stop cleanly on SIGINT/SIGTERM (CLI: true). */
  handleSignals?: boolean;
}

/** Checks the shared flags: valid train keys, none that compare sets itself, no --resume. */
export function checkSharedTrainFlags(shared: readonly string[]): void {
  const { values, extras } = parseTrainFlags(shared);
  for (const key of COMPARE_OWNED) {
    if (key in values) throw new RangeError(`compare: --${toKebab(key)} is set by compare itself; use --presets, --precisions, --steps and --out`);
  }
  if (extras.resume !== null) throw new RangeError('compare: --resume is not a compare option; rerun the same compare command to resume');
}

/**
 * The trainer as compare calls it: src/train's runTraining in this process, fresh or resumed from
 * the job's run directory. An interrupted run rejects (compare stops; rerunning resumes it); a
 * completed or diverged run resolves — divergence is a result the summary reports.
 */
export function trainInProcess(o: InProcessTrainerOptions): RunTraining {
  return async (job) => {
    const args = [...o.shared, '--preset', job.preset, '--precision', job.precision, '--run-dir', job.runDir, '--run-name', job.name, ...(o.steps === undefined ? [] : ['--steps', String(o.steps)])];
    const { config } = resolveTrainConfig(args);
    const explicit = new Set(Object.keys(parseTrainFlags(args).values) as TrainConfigKey[]);
    const outcome = await runTraining({ config, explicit, resume: job.resume ? job.runDir : null, loadKernels: o.loadKernels ?? loadKernelBackend, progress: terminalProgress(o.stdout), handleSignals: o.handleSignals ?? false });
    if (outcome.status === 'interrupted') {
      const message = `${job.name} was interrupted at step ${outcome.steps}; rerun the same compare command to resume it`;
      throw outcome.signal !== null ? new ExitCode(signalExitCode(outcome.signal), message) : new Error(message);
    }
  };
}

/** Whether a run directory holds a complete checkpoint to resume from. */
export function hasResumableCheckpoint(runDir: string): boolean {
  return listCheckpointSteps(join(runDir, 'checkpoints')).length > 0;
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

export function registerCompareCommand(program: Command): void {
  program
    .command('compare')
    .description('train a preset × precision matrix into sibling run directories (resumable), then write the report and print a summary; other flags go to every fog8 train run')
    .requiredOption('--presets <list>', 'comma-separated presets, e.g. llama3,fog-xielu', list)
    .requiredOption('--precisions <list>', 'comma-separated precisions, e.g. bf16,fp8-delayed', list)
    .option('--steps <n>', 'optimizer steps of every run', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new RangeError(`--steps must be a positive integer, got ${JSON.stringify(v)}`);
      return n;
    })
    .option('--out <dir>', 'parent directory of the run directories', 'runs/compare')
    .option('-o, --output <file>', 'report file (default OUT/report.html)')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (opts: { presets: string[]; precisions: string[]; steps?: number; out: string; output?: string }, command: Command) => {
      const shared = command.args;
      checkSharedTrainFlags(shared);
      const result = await runCompare({
        presets: opts.presets,
        precisions: opts.precisions,
        outDir: opts.out,
        reportPath: opts.output,
        runTraining: trainInProcess({ steps: opts.steps, shared, handleSignals: true }),
        hasCheckpoint: hasResumableCheckpoint,
        log: (line) => console.log(`compare ${line}`),
      });
      console.log(`\n${result.table}\n\nreport: ${result.reportPath}`);
    });
}
