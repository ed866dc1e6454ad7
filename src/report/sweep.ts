/**
 * `fog8 sweep`: a seeded matrix presets × precisions × learning rates × seeds, trained into sibling
 * run directories, summarised per cell (preset, precision, lr) as mean ± std over seeds.
 * Resumable like compare (same completion marker): a finished run is never retrained, an
 * unfinished one resumes from its checkpoint or starts over. `shard` (k of n) lets n processes
 * split the matrix; a last plain call then only summarises. The trainer is injected.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { CastStat } from '../monitor/schema.js';
import { DEFAULT_SPIKE_OPTIONS, detectSpikes, type SpikeOptions } from '../monitor/spikes.js';
import { layerAverage } from './stats.js';
import { TENSOR_NAMES } from './tensors.js';
import { isFinished, runResumably } from './compare.js';
import { escapeHtml } from './html.js';
import { loadRun, type RunData } from './load.js';
import { writeReport } from './write-report.js';

export interface SweepJob {
  preset: string;
  precision: string;
  lr: number;
  seed: number;
  /** `${preset}-${precision}-lr${lr}-s${seed}` */
  name: string;
  runDir: string;
  /** continue the unfinished run in runDir from its newest checkpoint. */
  resume: boolean;
}

export type SweepTraining = (job: SweepJob) => Promise<void>;

export interface SweepSpec {
  presets: readonly string[];
  precisions: readonly string[];
  lrs: readonly number[];
  seeds: readonly number[];
  outDir: string;
}

export interface SweepOptions extends SweepSpec {
  runTraining: SweepTraining;
  hasCheckpoint: (runDir: string) => boolean;
  /** [k, n]: run only jobs with index % n === k (0-based); summary over what is finished. */
  shard?: [number, number];
  /** Train nothing, only summarise. */
  summaryOnly?: boolean;
  /** the command line, recorded in summary.json. */
  command?: string;
  log?: (line: string) => void;
  spike?: SpikeOptions;
  /** write each run's report.html (default true). */
  runReports?: boolean;
}

function plainNames(name: string, values: readonly string[]): void {
  if (values.length === 0) throw new RangeError(`sweep: --${name} is empty; give a comma-separated list`);
  for (const v of values) if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v)) throw new RangeError(`sweep: --${name} entry ${JSON.stringify(v)} is not a plain name (letters, digits, . _ -)`);
  if (new Set(values).size !== values.length) throw new RangeError(`sweep: --${name} has duplicates: ${values.join(',')}`);
}

function numbers(name: string, values: readonly number[], integer: boolean): void {
  if (values.length === 0) throw new RangeError(`sweep: --${name} is empty; give a comma-separated list`);
  for (const v of values) if (!Number.isFinite(v) || (integer ? !Number.isInteger(v) : v <= 0)) throw new RangeError(`sweep: --${name} entry ${v} is not ${integer ? 'an integer' : 'a positive number'}`);
  if (new Set(values).size !== values.length) throw new RangeError(`sweep: --${name} has duplicates: ${values.join(',')}`);
}

/** Compact, file-name-safe learning rate: 0.003 → 3e-3, 0.01 → 1e-2, 0.025 → 2.5e-2. */
export function lrLabel(lr: number): string {
  const [m, e] = lr.toExponential().split('e');
  return `${Number(m)}e${Number(e)}`;
}

/** The matrix in run order: seeds outer (a partial sweep has every cell at seed 1 first), then presets, precisions, lrs. */
export function sweepJobs(s: SweepSpec): Omit<SweepJob, 'resume'>[] {
  plainNames('presets', s.presets);
  plainNames('precisions', s.precisions);
  numbers('lrs', s.lrs, false);
  numbers('seeds', s.seeds, true);
  const out: Omit<SweepJob, 'resume'>[] = [];
  for (const seed of s.seeds) for (const preset of s.presets) for (const precision of s.precisions) for (const lr of s.lrs) {
    const name = `${preset}-${precision}-lr${lrLabel(lr)}-s${seed}`;
    out.push({ preset, precision, lr, seed, name, runDir: join(resolve(s.outDir), name) });
  }
  return out;
}

/** Per-run numbers of the sweep table (null: not applicable / not recorded). */
export interface SweepRunMetrics {
  finalValLoss: number | null;
  /** final val loss minus its BF16 twin's (same preset, lr, seed), nats. */
  gapVsBf16: number | null;
  maxLogitPeak: number | null;
  maxLogitFinal: number | null;
  /** run-mean underflow % (layer and interval average) of named cast groups. */
  unfP: number | null;
  unfDs: number | null;
  unfDo: number | null;
  unfQkv: number | null;
  unfGrad: number | null;
  ovfPeak: number | null;
  /** run-mean relative error ‖x − x̂‖/‖x‖ over all casts, and of P. */
  relErrMean: number | null;
  relErrP: number | null;
  /** run-mean share (%) of |x| mass lost to underflow in P. */
  massLostP: number | null;
  skipped: number;
  spikes: number;
  diverged: number;
  divergedAt: number | null;
  kurtPeak: Record<string, number | null>;
}

export const SWEEP_COLUMNS: readonly { key: keyof SweepRunMetrics | `kurt.${string}`; label: string }[] = [
  { key: 'finalValLoss', label: 'val loss' },
  { key: 'gapVsBf16', label: 'Δ vs bf16' },
  { key: 'maxLogitPeak', label: 'logit peak' },
  { key: 'maxLogitFinal', label: 'logit final' },
  { key: 'unfP', label: 'unf P %' },
  { key: 'unfDs', label: 'unf dS %' },
  { key: 'unfDo', label: 'unf dO %' },
  { key: 'unfQkv', label: 'unf QKV %' },
  { key: 'unfGrad', label: 'unf grad %' },
  { key: 'ovfPeak', label: 'ovf peak %' },
  { key: 'relErrMean', label: 'relerr' },
  { key: 'relErrP', label: 'relerr P' },
  { key: 'massLostP', label: 'mass lost P %' },
  { key: 'skipped', label: 'skipped' },
  { key: 'spikes', label: 'spikes' },
  { key: 'diverged', label: 'diverged' },
  { key: 'divergedAt', label: 'div. step' },
  ...TENSOR_NAMES.map((t) => ({ key: `kurt.${t}` as const, label: `kurt ${t}` })),
];

type CastRef = Pick<CastStat, 'gemm' | 'role'>;
const isAttention = (c: CastRef): boolean => c.gemm === 'attn.dpa';

/** Mean of one cast field over the casts selected, over every fp8 record; null when none. */
function castMean(run: RunData, select: (c: CastRef) => boolean, field: (c: CastStat) => number | undefined): number | null {
  let s = 0;
  let n = 0;
  for (const r of run.records.fp8) for (const c of r.casts) {
    if (!select(c)) continue;
    const v = field(c);
    if (v === undefined || !Number.isFinite(v)) continue;
    s += v;
    n++;
  }
  return n === 0 ? null : s / n;
}

const finiteMaxOf = (a: readonly (number | null)[]): number | null => {
  let best: number | null = null;
  for (const v of a) if (v !== null && Number.isFinite(v) && (best === null || v > best)) best = v;
  return best;
};

export function sweepRunMetrics(run: RunData, spike: SpikeOptions = DEFAULT_SPIKE_OPTIONS): SweepRunMetrics {
  const { steps, evals, tensors, fp8, events } = run.records;
  const logits = tensors.map((t) => finiteMaxOf(t.maxAttentionLogit));
  const err = events.find((e) => e.level === 'error');
  const sp = detectSpikes(steps.map((s) => ({ step: s.step, loss: s.skipped ? null : s.loss })), spike, err ? { step: err.step } : null);
  const kurtPeak: Record<string, number | null> = {};
  for (const t of TENSOR_NAMES) kurtPeak[t] = finiteMaxOf(tensors.map((r) => layerAverage(r, t, 'kurtosis')));
  const rel = (c: CastStat): number | undefined => (c as CastStat & { relErr?: number }).relErr;
  const lost = (c: CastStat): number | undefined => (c as CastStat & { massLostPct?: number }).massLostPct;
  const lastEval = evals.length === 0 ? null : evals[evals.length - 1].valLoss;
  return {
    finalValLoss: lastEval !== null && Number.isFinite(lastEval) ? lastEval : null,
    gapVsBf16: null,
    maxLogitPeak: finiteMaxOf(logits),
    maxLogitFinal: logits.length === 0 ? null : logits[logits.length - 1],
    unfP: castMean(run, (c) => isAttention(c) && c.role === 'p', (c) => c.underflowPct),
    unfDs: castMean(run, (c) => isAttention(c) && c.role === 'ds', (c) => c.underflowPct),
    unfDo: castMean(run, (c) => isAttention(c) && c.role === 'do', (c) => c.underflowPct),
    unfQkv: castMean(run, (c) => (isAttention(c) && c.role === 'qkv') || (c.gemm === 'attn.qkv' && c.role === 'input'), (c) => c.underflowPct),
    unfGrad: castMean(run, (c) => c.role === 'grad_output', (c) => c.underflowPct),
    ovfPeak: finiteMaxOf(fp8.flatMap((r) => r.casts.map((c) => c.overflowPct))),
    relErrMean: castMean(run, () => true, rel),
    relErrP: castMean(run, (c) => isAttention(c) && c.role === 'p', rel),
    massLostP: castMean(run, (c) => isAttention(c) && c.role === 'p', lost),
    skipped: steps.filter((s) => s.skipped).length,
    spikes: sp.episodes.length,
    diverged: sp.diverged ? 1 : 0,
    divergedAt: sp.divergedAt,
    kurtPeak,
  };
}

export function metricValue(m: SweepRunMetrics, key: string): number | null {
  if (key.startsWith('kurt.')) return m.kurtPeak[key.slice(5)] ?? null;
  const v = m[key as keyof SweepRunMetrics];
  return typeof v === 'number' ? v : null;
}

export interface Stat {
  mean: number | null;
  /** sample standard deviation (n − 1); 0 for one value; null with none. */
  std: number | null;
  n: number;
}

export function meanStd(values: readonly (number | null)[]): Stat {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  if (v.length === 0) return { mean: null, std: null, n: 0 };
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const std = v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
  return { mean: m, std, n: v.length };
}

export interface SweepRunEntry {
  name: string;
  dir: string;
  preset: string;
  precision: string;
  lr: number;
  seed: number;
  finished: boolean;
  metrics: SweepRunMetrics | null;
}

export interface SweepCell {
  preset: string;
  precision: string;
  lr: number;
  runs: string[];
  finished: number;
  stats: Record<string, Stat>;
}

export interface SweepSummary {
  command: string | null;
  generatedAt: string;
  spike: SpikeOptions;
  columns: { key: string; label: string }[];
  cells: SweepCell[];
  runs: SweepRunEntry[];
}

/** Per-run metrics for the finished runs, with the gap to each run's BF16 twin filled in. */
export function summarizeSweep(jobs: readonly Omit<SweepJob, 'resume'>[], load: (dir: string) => RunData | null, spike: SpikeOptions, command: string | null): SweepSummary {
  const runs: SweepRunEntry[] = jobs.map((j) => {
    const data = load(j.runDir);
    return { name: j.name, dir: j.runDir, preset: j.preset, precision: j.precision, lr: j.lr, seed: j.seed, finished: data !== null, metrics: data ? sweepRunMetrics(data, spike) : null };
  });
  for (const r of runs) {
    if (!r.metrics || r.precision === 'bf16') continue;
    const twin = runs.find((t) => t.precision === 'bf16' && t.preset === r.preset && t.lr === r.lr && t.seed === r.seed);
    const a = r.metrics.finalValLoss;
    const b = twin?.metrics?.finalValLoss ?? null;
    r.metrics.gapVsBf16 = a !== null && b !== null ? a - b : null;
  }
  const cells: SweepCell[] = [];
  for (const j of jobs) {
    if (cells.some((c) => c.preset === j.preset && c.precision === j.precision && c.lr === j.lr)) continue;
    const mine = runs.filter((r) => r.preset === j.preset && r.precision === j.precision && r.lr === j.lr);
    const done = mine.filter((r) => r.metrics !== null);
    const stats: Record<string, Stat> = {};
    for (const col of SWEEP_COLUMNS) stats[col.key] = meanStd(done.map((r) => metricValue(r.metrics as SweepRunMetrics, col.key)));
    cells.push({ preset: j.preset, precision: j.precision, lr: j.lr, runs: mine.map((r) => r.name), finished: done.length, stats });
  }
  return { command, generatedAt: new Date().toISOString(), spike, columns: SWEEP_COLUMNS.map((c) => ({ ...c })), cells, runs };
}

function num(v: number | null): string {
  if (v === null) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 0.01 ? v.toPrecision(3) : v.toExponential(1);
}

export function formatStat(s: Stat, key: string): string {
  if (s.mean === null) return '—';
  if (key === 'diverged') return `${Math.round(s.mean * s.n)}/${s.n}`;
  return s.n > 1 && s.std !== null && s.std > 0 ? `${num(s.mean)}±${num(s.std)}` : num(s.mean);
}

/** The summary as an aligned text table (one row per cell; `columns` picks keys, default all). */
export function formatSweepTable(summary: SweepSummary, columns: readonly string[] = summary.columns.map((c) => c.key)): string {
  const cols = summary.columns.filter((c) => columns.includes(c.key));
  const head = ['preset', 'precision', 'lr', 'seeds', ...cols.map((c) => c.label)];
  const body = summary.cells.map((c) => [c.preset, c.precision, lrLabel(c.lr), `${c.finished}/${c.runs.length}`, ...cols.map((k) => formatStat(c.stats[k.key], k.key))]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string => cells.map((x, i) => (i < 2 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** A self-contained HTML page: the matrix, each seed's run linked to its own report. */
export function sweepHtml(summary: SweepSummary, baseDir: string, title = 'fog8 sweep'): string {
  const cols = summary.columns;
  const head = ['preset', 'precision', 'lr', 'runs', ...cols.map((c) => c.label)].map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const rows = summary.cells.map((c) => {
    const links = c.runs.map((name) => {
      const r = summary.runs.find((x) => x.name === name) as SweepRunEntry;
      const href = relative(baseDir, join(r.dir, 'report.html')).split('\\').join('/');
      const bad = r.metrics?.diverged ? ' class="bad"' : '';
      return r.finished ? `<a${bad} href="${escapeHtml(href)}">s${r.seed}</a>` : `<span class="muted">s${r.seed}</span>`;
    }).join(' ');
    const cells = cols.map((k) => `<td>${escapeHtml(formatStat(c.stats[k.key], k.key))}</td>`).join('');
    return `<tr><td>${escapeHtml(c.preset)}</td><td>${escapeHtml(c.precision)}</td><td>${lrLabel(c.lr)}</td><td>${links}</td>${cells}</tr>`;
  }).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}table{border-collapse:collapse;font-size:12.5px}th,td{border:1px solid #dde1e6;padding:3px 6px;text-align:right}th{background:#f0f2f5}td:nth-child(-n+4){text-align:left}.bad{color:#b3261e;font-weight:600}.muted{color:#888}</style></head>
<body><h1>${escapeHtml(title)}</h1><p>Per cell: mean ± std over seeds (sample std). Δ vs bf16 = final val loss − the BF16 twin's (same preset, lr, seed), nats. Spike: EMA(β=${summary.spike.beta}) of the training loss ≥ ${summary.spike.threshold} nat above its running minimum, or a non-finite step; diverged: the run ended inside a spike or stopped on non-finite steps. Run links open each run's report (red: diverged).</p>
${summary.command ? `<p><code>${escapeHtml(summary.command)}</code></p>` : ''}
<table><thead><tr>${head}</tr></thead><tbody>
${rows}
</tbody></table><p class="muted">generated ${escapeHtml(summary.generatedAt)}</p></body></html>
`;
}

export type SweepOutcome = 'already-finished' | 'trained' | 'resumed' | 'restarted' | 'other-shard';

export interface SweepResult {
  outcomes: { name: string; outcome: SweepOutcome }[];
  summary: SweepSummary;
  summaryPath: string;
  htmlPath: string;
  table: string;
}

/** Runs (this shard of) the matrix, then writes OUT/summary.json, OUT/sweep.html and each run's report. */
export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const log = o.log ?? (() => undefined);
  const jobs = sweepJobs(o);
  const [k, n] = o.shard ?? [0, 1];
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(k) || k < 0 || k >= n) throw new RangeError(`sweep: --shard must be K/N with 0 ≤ K < N, got ${k}/${n}`);
  const outcomes: SweepResult['outcomes'] = [];
  for (const [i, base] of jobs.entries()) {
    const tag = `[${i + 1}/${jobs.length}] ${base.name}`;
    if (i % n !== k || o.summaryOnly) {
      outcomes.push({ name: base.name, outcome: isFinished(base.runDir) ? 'already-finished' : 'other-shard' });
      continue;
    }
    const outcome = await runResumably(base.runDir, tag, o.hasCheckpoint, log, (resume) => o.runTraining({ ...base, resume }),
      { preset: base.preset, precision: base.precision, lr: base.lr, seed: base.seed });
    outcomes.push({ name: base.name, outcome });
  }
  const out = resolve(o.outDir);
  mkdirSync(out, { recursive: true });
  const spike = o.spike ?? DEFAULT_SPIKE_OPTIONS;
  const summary = summarizeSweep(jobs, (d) => (isFinished(d) ? loadRun(d) : null), spike, o.command ?? null);
  if (o.runReports ?? true) for (const r of summary.runs) if (r.finished) writeReport([r.dir], join(r.dir, 'report.html'), `fog8 run ${r.name}`);
  const summaryPath = join(out, 'summary.json');
  writeFileSync(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  const htmlPath = join(out, 'sweep.html');
  writeFileSync(htmlPath, sweepHtml(summary, out));
  return { outcomes, summary, summaryPath, htmlPath, table: formatSweepTable(summary) };
}
