/**
 * `fog8 compare --presets A,B --precisions X,Y [--steps N] [--out DIR] [train flags…]`: trains the
 * matrix one run after another (resumable), writes the report and prints the summary table.
 * Extra flags go to every training run unchanged and are checked up front with the train config
 * parser, so a typo fails before hours of training.
 */
import { Tokenizer } from '../../data/tokenizer.js';
import type { TokenizerJson } from '../../data/tokenizer-json.js';
import { loadModelForInference } from '../../train/inference.js';
import { evaluateTask } from '../../eval/tasks.js';
import { appendEvalRecord, formatTaskResult } from '../../eval/results.js';
import { resolveTask } from './eval.js';
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

/** Runs downstream tasks on a run's newest checkpoint and appends the results to its evals.jsonl (what fog8 eval --tasks records). */
async function evaluateRunTasks(runDir: string, tasks: readonly string[], log: (line: string) => void): Promise<void> {
  const loaded = loadModelForInference(runDir, await loadKernelBackend('auto', null));
  if (loaded.checkpoint.tokenizerJson === null) throw new Error(`${runDir}: downstream tasks need the checkpoint's tokenizer.json`);
  const tokenizer = new Tokenizer(JSON.parse(loaded.checkpoint.tokenizerJson) as TokenizerJson, { source: `${loaded.checkpoint.dir}/tokenizer.json` });
  for (const spec of tasks) {
    const r = evaluateTask(loaded.model, tokenizer, resolveTask(spec), { batch: loaded.trainConfig?.batch ?? 8 });
    appendEvalRecord(runDir, { type: 'task', time: Date.now() / 1000, checkpoint: loaded.checkpoint.dir, step: loaded.checkpoint.trainerState?.step ?? null, precision: loaded.model.recipe.name, ...r });
    log(`${runDir}: ${formatTaskResult(r)}`);
  }
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
    .option('--tasks <list>', "downstream tasks to evaluate every finished run on (e.g. brown-cloze; a table column each, acc_norm)", list)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (opts: { presets: string[]; precisions: string[]; steps?: number; out: string; output?: string; tasks?: string[] }, command: Command) => {
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
        evaluateTasks: opts.tasks && opts.tasks.length > 0 ? (runDir) => evaluateRunTasks(runDir, opts.tasks as string[], (line) => console.log(`compare ${line}`)) : undefined,
      });
      console.log(`\n${result.table}\n\nreport: ${result.reportPath}`);
    });
}
