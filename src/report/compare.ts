/**
 * `fog8 compare`: trains a preset × precision matrix one run after another into sibling run
 * directories, then writes the report and a summary table. Resumable: a run whose directory holds
 * the completion marker is not redone; an unfinished one resumes from its checkpoint (or starts
 * over, its partial directory set aside, when it has none). The trainer is injected
 * (`runTraining`), so this module does not depend on src/train.
 */
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadRun } from './load.js';
import type { RunSummary } from './model.js';
import { summarizeRun } from './summary.js';
import { writeReport } from './write-report.js';

/** Written into a run directory after its training returned successfully. */
export const COMPLETION_MARKER = 'compare-complete.json';

/** One cell of the matrix. */
export interface CompareJob {
  preset: string;
  precision: string;
  /** Directory name: `${preset}-${precision}`. */
  name: string;
  runDir: string;
  /** True: continue the unfinished run in runDir from its newest checkpoint. */
  resume: boolean;
}

/** Trains one job to completion; rejects on failure (compare stops there, resumable later). */
export type RunTraining = (job: CompareJob) => Promise<void>;

export interface CompareOptions {
  presets: readonly string[];
  precisions: readonly string[];
  outDir: string;
  runTraining: RunTraining;
  /** Whether runDir holds a checkpoint the trainer can resume from. */
  hasCheckpoint: (runDir: string) => boolean;
  /** Report path (default OUT/report.html). */
  reportPath?: string;
  /** Runs downstream tasks on a finished job's run directory (results land in its evals.jsonl); optional. */
  evaluateTasks?: (runDir: string) => Promise<void>;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export type JobOutcome = 'already-finished' | 'trained' | 'resumed' | 'restarted';

/** One row of the printed summary table. */
export interface CompareRow {
  name: string;
  preset: string;
  precision: string;
  finalValLoss: number | null;
  /** (valLoss − valLoss of the same preset in bf16) / that, in %; null without a bf16 twin. */
  valLossVsBf16Pct: number | null;
  summary: RunSummary;
}

export interface CompareResult {
  outcomes: { job: CompareJob; outcome: JobOutcome }[];
  rows: CompareRow[];
  reportPath: string;
  table: string;
}

function validateList(name: string, values: readonly string[]): void {
  if (values.length === 0) throw new RangeError(`compare: --${name} is empty; give a comma-separated list`);
  for (const v of values) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v)) throw new RangeError(`compare: --${name} entry ${JSON.stringify(v)} is not a plain name (letters, digits, . _ -)`);
  }
  if (new Set(values).size !== values.length) throw new RangeError(`compare: --${name} has duplicates: ${values.join(',')}`);
}

/** The matrix in run order: presets outer, precisions inner. */
export function compareJobs(presets: readonly string[], precisions: readonly string[], outDir: string): Omit<CompareJob, 'resume'>[] {
  validateList('presets', presets);
  validateList('precisions', precisions);
  return presets.flatMap((preset) => precisions.map((precision) => ({ preset, precision, name: `${preset}-${precision}`, runDir: join(resolve(outDir), `${preset}-${precision}`) })));
}

/** True when the run directory carries the completion marker. */
export function isFinished(runDir: string): boolean {
  return existsSync(join(runDir, COMPLETION_MARKER));
}

/** Relative difference in percent, null when either side is missing or the base is 0. */
export function pctDifference(value: number | null, base: number | null): number | null {
  if (value === null || base === null || base === 0) return null;
  return ((value - base) / Math.abs(base)) * 100;
}

/** Rows for the summary table; the BF16 twin of a preset is its run with precision 'bf16'. */
export function compareRows(summaries: readonly { job: Omit<CompareJob, 'resume'>; summary: RunSummary }[]): CompareRow[] {
  return summaries.map(({ job, summary }) => {
    const twin = summaries.find((s) => s.job.preset === job.preset && s.job.precision === 'bf16');
    return {
      name: job.name,
      preset: job.preset,
      precision: job.precision,
      finalValLoss: summary.finalValLoss,
      valLossVsBf16Pct: twin && job.precision !== 'bf16' ? pctDifference(summary.finalValLoss, twin.summary.finalValLoss) : null,
      summary,
    };
  });
}

function cell(v: number | null, digits = 4): string {
  if (v === null || !Number.isFinite(v)) return '—';
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(digits);
}

/** The summary as an aligned plain-text table. */
export function formatCompareTable(rows: readonly CompareRow[]): string {
  // One column per downstream task any run has results for (fog8 eval --tasks / compare --tasks): acc_norm, else acc.
  const tasks = [...new Set(rows.flatMap((r) => (r.summary.tasks ?? []).map((t) => t.task)))].sort();
  const taskCell = (r: CompareRow, task: string): string => {
    const t = (r.summary.tasks ?? []).find((x) => x.task === task);
    return t ? cell(t.accNorm ?? t.acc, 3) : '—';
  };
  const head = ['run', 'val loss', 'Δ vs bf16', 'kurt act peak', 'kurt act final', 'kurt qkv_in peak', 'kurt qkv_in final', 'FP8 ovf peak %', 'FP8 unf peak %', 'diverged', ...tasks];
  const body = rows.map((r) => [
    r.name,
    cell(r.finalValLoss),
    r.valLossVsBf16Pct === null ? '—' : `${r.valLossVsBf16Pct >= 0 ? '+' : ''}${r.valLossVsBf16Pct.toFixed(2)}%`,
    cell(r.summary.peakActivationKurtosis, 3),
    cell(r.summary.finalActivationKurtosis, 3),
    cell(r.summary.peakQkvInputKurtosis, 3),
    cell(r.summary.finalQkvInputKurtosis, 3),
    cell(r.summary.peakOverflowPct, 3),
    cell(r.summary.peakUnderflowPct, 3),
    r.summary.diverged ? 'yes' : 'no',
    ...tasks.map((t) => taskCell(r, t)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/**
 * One run of a matrix (compare, sweep), resumably: a run with the completion marker is never
 * retrained; an unfinished one resumes from its checkpoint, or, having none, is moved aside and
 * started over. The marker (`fields` + finishedAt) is written once training returns.
 */
export async function runResumably(
  runDir: string, tag: string, hasCheckpoint: (runDir: string) => boolean, log: (line: string) => void,
  train: (resume: boolean) => Promise<unknown>, fields: Record<string, unknown>,
): Promise<JobOutcome> {
  if (isFinished(runDir)) {
    log(`${tag}: finished earlier, not redone`);
    return 'already-finished';
  }
  let outcome: JobOutcome = 'trained';
  if (existsSync(runDir)) {
    if (hasCheckpoint(runDir)) {
      outcome = 'resumed';
    } else {
      // A partial run without a checkpoint cannot resume: keep it aside and start over.
      const aside = `${runDir}.incomplete-${Date.now()}`;
      renameSync(runDir, aside);
      log(`${tag}: unfinished without a checkpoint; moved to ${aside}`);
      outcome = 'restarted';
    }
  }
  const resume = outcome === 'resumed';
  log(`${tag}: ${resume ? 'resuming' : 'training'} into ${runDir}`);
  await train(resume);
  writeFileSync(join(runDir, COMPLETION_MARKER), `${JSON.stringify({ ...fields, finishedAt: new Date().toISOString() }, null, 2)}\n`);
  return outcome;
}

/** Runs the matrix (skipping finished runs), writes the report and returns the summary. */
export async function runCompare(o: CompareOptions): Promise<CompareResult> {
  const log = o.log ?? (() => undefined);
  const jobs = compareJobs(o.presets, o.precisions, o.outDir);
  const outcomes: CompareResult['outcomes'] = [];
  for (const [i, base] of jobs.entries()) {
    const outcome = await runResumably(base.runDir, `[${i + 1}/${jobs.length}] ${base.name}`, o.hasCheckpoint, log,
      (resume) => o.runTraining({ ...base, resume }), { preset: base.preset, precision: base.precision });
    outcomes.push({ job: { ...base, resume: outcome === 'resumed' }, outcome });
  }
  if (o.evaluateTasks) for (const job of jobs) await o.evaluateTasks(job.runDir);
  const reportPath = resolve(o.reportPath ?? join(o.outDir, 'report.html'));
  writeReport(jobs.map((j) => j.runDir), reportPath, `fog8 compare: ${o.presets.join(', ')} × ${o.precisions.join(', ')}`);
  const rows = compareRows(jobs.map((job) => ({ job, summary: summarizeRun(loadRun(job.runDir), '') })));
  return { outcomes, rows, reportPath, table: formatCompareTable(rows) };
}

