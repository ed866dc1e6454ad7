/**
 * `fog8 compare --presets A,B --precisions X,Y [--steps N] [--out DIR] [train flags…]`: trains the
 * matrix one run after another (resumable), writes the report and prints the summary table.
 * Extra flags go to every training run unchanged and are checked up front with the train config
 * parser, so a typo fails before hours of training.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { runCompare, type CompareJob, type RunTraining } from '../../report/compare.js';
import { listCheckpointSteps } from '../../train/checkpoint-files.js';
import { parseTrainFlags } from '../config.js';

/** Arguments of `fog8 train` for one job: the shared flags plus the job's own, or --resume. */
export function trainArgsFor(job: CompareJob, steps: number | undefined, shared: readonly string[]): string[] {
  if (job.resume) return ['train', '--resume', job.runDir];
  return ['train', ...shared, '--preset', job.preset, '--precision', job.precision, '--run-dir', job.runDir, '--run-name', job.name, ...(steps === undefined ? [] : ['--steps', String(steps)])];
}

/**
 * Runs `fog8 train` as a child process of the same Node binary and entry script (so it also works
 * under tsx), with output passed through. Rejects when the trainer exits non-zero.
 */
export function trainInChildProcess(steps: number | undefined, shared: readonly string[]): RunTraining {
  return (job) =>
    new Promise<void>((resolveRun, reject) => {
      const entry = process.argv[1];
      const child = spawn(process.execPath, [...process.execArgv, entry, ...trainArgsFor(job, steps, shared)], { stdio: 'inherit' });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (code === 0) resolveRun();
        else reject(new Error(`training ${job.name} failed (${signal ?? `exit code ${code}`}); rerun the same compare command to resume`));
      });
    });
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

export function registerCompareCommand(program: Command): void {
  program
    .command('compare')
    .description('train a preset × precision matrix into sibling run directories (resumable), then write the report and print a summary')
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
      const { values, extras } = parseTrainFlags(shared);
      for (const reserved of ['preset', 'precision', 'runDir', 'runName', 'steps'] as const) {
        if (reserved in values) throw new RangeError(`compare: --${reserved.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is set by compare itself; use --presets/--precisions/--steps/--out`);
      }
      if (extras.resume !== null) throw new RangeError('compare: --resume is not a compare option; rerun the same compare command to resume');
      const result = await runCompare({
        presets: opts.presets,
        precisions: opts.precisions,
        outDir: opts.out,
        reportPath: opts.output,
        runTraining: trainInChildProcess(opts.steps, shared),
        hasCheckpoint: (dir) => listCheckpointSteps(join(dir, 'checkpoints')).length > 0,
        log: (line) => console.log(`compare ${line}`),
      });
      console.log(`\n${result.table}\n\nreport: ${result.reportPath}`);
    });
}
