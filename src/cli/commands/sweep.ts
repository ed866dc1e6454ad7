/**
 * `fog8 sweep --presets A,B --precisions X,Y --lrs 3e-3,1e-2 --seeds 1,2,3 [--steps N] [--out DIR]
 * [--shard K/N] [train flags…]`: trains the seeded matrix (resumable; finished runs are never
 * retrained), then writes OUT/summary.json, OUT/sweep.html and prints the per-cell table.
 * Extra flags go to every run unchanged and are checked up front with the train config parser.
 */
import type { Command } from 'commander';
import { formatSweepTable, runSweep, type SweepTraining } from '../../report/sweep.js';
import { loadKernelBackend } from '../../train/kernel-backend.js';
import { runTraining, type KernelLoader } from '../../train/session.js';
import type { TrainConfigKey } from '../../train/config.js';
import { parseTrainFlags, resolveTrainConfig, toKebab } from '../config.js';
import { terminalProgress, type ProgressStream } from '../progress.js';
import { hasResumableCheckpoint } from './compare.js';

/** Keys sweep sets itself for every run. */
const SWEEP_OWNED: readonly TrainConfigKey[] = ['preset', 'precision', 'lr', 'seed', 'runDir', 'runName'];

export function checkSweepTrainFlags(shared: readonly string[]): void {
  const { values, extras } = parseTrainFlags(shared);
  for (const key of SWEEP_OWNED) {
    if (key in values) throw new RangeError(`sweep: --${toKebab(key)} is set by sweep itself; use --presets, --precisions, --lrs, --seeds and --out`);
  }
  if (extras.resume !== null) throw new RangeError('sweep: --resume is not a sweep option; rerun the same sweep command to resume');
}

/** The trainer as sweep calls it: runTraining in this process, fresh or resumed. */
export function sweepTrainInProcess(o: { shared: readonly string[]; loadKernels?: KernelLoader; stdout?: ProgressStream; handleSignals?: boolean }): SweepTraining {
  return async (job) => {
    const args = [...o.shared, '--preset', job.preset, '--precision', job.precision, '--lr', String(job.lr), '--seed', String(job.seed), '--run-dir', job.runDir, '--run-name', job.name];
    const { config } = resolveTrainConfig(args);
    const explicit = new Set(Object.keys(parseTrainFlags(args).values) as TrainConfigKey[]);
    const outcome = await runTraining({ config, explicit, resume: job.resume ? job.runDir : null, loadKernels: o.loadKernels ?? loadKernelBackend, progress: terminalProgress(o.stdout), handleSignals: o.handleSignals ?? false });
    if (outcome.status === 'interrupted') throw new Error(`${job.name} was interrupted at step ${outcome.steps}; rerun the same sweep command to resume it`);
  };
}

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '');
const numList = (name: string) => (v: string): number[] => list(v).map((s) => {
  const n = Number(s);
  if (!Number.isFinite(n)) throw new RangeError(`--${name}: ${JSON.stringify(s)} is not a number`);
  return n;
});

export function parseShard(v: string): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new RangeError(`--shard must be K/N with 0 ≤ K < N, got ${JSON.stringify(v)}`);
  return [Number(m[1]), Number(m[2])];
}

export function registerSweepCommand(program: Command): void {
  program
    .command('sweep')
    .description('train a seeded preset × precision × lr × seed matrix (resumable), then write summary.json, sweep.html and print mean ± std per cell; other flags go to every fog8 train run')
    .requiredOption('--presets <list>', 'comma-separated presets', list)
    .requiredOption('--precisions <list>', 'comma-separated precisions', list)
    .option('--lrs <list>', 'comma-separated peak learning rates', numList('lrs'), [3e-3])
    .option('--seeds <list>', 'comma-separated seeds', numList('seeds'), [1])
    .option('--out <dir>', 'parent directory of the run directories', 'runs/sweep')
    .option('--shard <k/n>', 'train only every n-th job starting at k (parallel processes); summarise what is finished', parseShard)
    .option('--summary-only', 'train nothing; summarise the finished runs')
    .option('--columns <list>', 'table columns to print (keys of summary.json columns; default a compact set)', list)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (opts: { presets: string[]; precisions: string[]; lrs: number[]; seeds: number[]; out: string; shard?: [number, number]; summaryOnly?: boolean; columns?: string[] }, command: Command) => {
      const shared = command.args;
      checkSweepTrainFlags(shared);
      const result = await runSweep({
        presets: opts.presets, precisions: opts.precisions, lrs: opts.lrs, seeds: opts.seeds, outDir: opts.out,
        shard: opts.shard, summaryOnly: opts.summaryOnly,
        command: `fog8 ${process.argv.slice(2).join(' ')}`,
        runTraining: sweepTrainInProcess({ shared, handleSignals: true }),
        hasCheckpoint: hasResumableCheckpoint,
        log: (line) => console.log(`sweep ${line}`),
      });
      const cols = opts.columns ?? ['finalValLoss', 'gapVsBf16', 'maxLogitPeak', 'unfP', 'unfDs', 'relErrP', 'massLostP', 'ovfPeak', 'skipped', 'spikes', 'diverged'];
      console.log(`\n${formatSweepTable(result.summary, cols)}\n\nsummary: ${result.summaryPath}\nmatrix:  ${result.htmlPath}`);
    });
}
