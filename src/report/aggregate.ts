/**
 * Builds the report model (model.ts) from loaded runs: every chart's aligned series, every
 * heatmap's layer × step grid and its shared color range, the summary and the config table.
 */
import type { CastStat, Fp8Record, TensorsRecord } from '../monitor/schema.js';
import { alignSeries, type XYSeries } from './align.js';
import { configRows } from './config-table.js';
import type { RunData } from './load.js';
import type { ChartSpec, HeatmapSpec, ReportModel, SectionSpec, SeriesSpec } from './model.js';
import { layerAverage, layerCount } from './stats.js';
import { summarizeRun } from './summary.js';
import { TENSOR_DESCRIPTIONS, TENSOR_NAMES, type TensorName } from './tensors.js';

/** Run colors (Tableau 10): distinct, and readable on white. */
export const RUN_COLORS = ['#4e79a7', '#e15759', '#59a14f', '#f28e2b', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#bab0ac'];

/** Color of the i-th run. */
export function runColor(i: number): string {
  return RUN_COLORS[i % RUN_COLORS.length];
}

/** Viridis samples for per-layer series (dark = first layer, yellow = last). */
const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'];

/** Color of layer `layer` out of `count`, spread over viridis. */
export function layerColor(layer: number, count: number): string {
  const t = count <= 1 ? 0 : layer / (count - 1);
  return VIRIDIS[Math.round(t * (VIRIDIS.length - 1))];
}

interface LineInput {
  label: string;
  color: string;
  dash?: boolean;
  points?: boolean;
  data: XYSeries;
}

function chart(id: string, title: string, xLabel: string, yLabel: string, xFormat: ChartSpec['xFormat'], yLog: boolean, lines: LineInput[]): ChartSpec {
  const { x, ys } = alignSeries(lines.map((l) => l.data));
  const series: SeriesSpec[] = lines.map((l, i) => ({ label: l.label, color: l.color, dash: l.dash ?? false, points: l.points ?? false, values: ys[i] }));
  return { kind: 'chart', id, title, xLabel, yLabel, xFormat, yLog, x, series };
}

/** Drops values a log axis cannot show (≤ 0) so one zero does not break the scale. */
function positiveOrNull(v: number | null): number | null {
  return v !== null && v > 0 ? v : null;
}

function lossSection(runs: RunData[]): SectionSpec {
  const lines: LineInput[] = [];
  runs.forEach((r, i) => {
    lines.push({ label: `${r.name} train`, color: runColor(i), data: { xs: r.records.steps.map((s) => s.tokens), ys: r.records.steps.map((s) => s.loss) } });
    if (r.records.evals.length > 0) {
      lines.push({ label: `${r.name} val`, color: runColor(i), dash: true, points: true, data: { xs: r.records.evals.map((e) => e.tokens), ys: r.records.evals.map((e) => e.valLoss) } });
    }
  });
  return {
    id: 'loss',
    title: 'Loss',
    description: 'Training loss per step (solid) and validation loss at each eval (dashed, points), against training tokens consumed.',
    items: [chart('loss', 'Training and validation loss', 'training tokens', 'cross-entropy (nats/token)', 'tokens', false, lines)],
  };
}

function optimizerSection(runs: RunData[]): SectionSpec {
  const per = (pick: (s: RunData['records']['steps'][number]) => number | null, log: boolean): LineInput[] =>
    runs.map((r, i) => ({ label: r.name, color: runColor(i), data: { xs: r.records.steps.map((s) => s.step), ys: r.records.steps.map((s) => (log ? positiveOrNull(pick(s)) : pick(s))) } }));
  return {
    id: 'optimizer',
    title: 'Optimizer',
    description: 'Learning rate from the schedule and the global gradient norm (log scale) per optimizer step.',
    items: [
      chart('lr', 'Learning rate', 'optimizer step', 'learning rate', 'step', false, per((s) => s.lr, false)),
      chart('grad-norm', 'Gradient norm', 'optimizer step', 'global L2 gradient norm', 'step', true, per((s) => s.gradNorm, true)),
    ],
  };
}

function throughputSection(runs: RunData[]): SectionSpec {
  const per = (pick: (s: RunData['records']['steps'][number]) => number): LineInput[] =>
    runs.map((r, i) => ({ label: r.name, color: runColor(i), data: { xs: r.records.steps.map((s) => s.step), ys: r.records.steps.map(pick) } }));
  return {
    id: 'throughput',
    title: 'Throughput',
    description: 'Training tokens per second and model FLOPs utilisation per optimizer step.',
    items: [
      chart('tokens-per-sec', 'Throughput', 'optimizer step', 'tokens/s', 'step', false, per((s) => s.tokensPerSec)),
      chart('mfu', 'Model FLOPs utilisation', 'optimizer step', 'MFU (%)', 'step', false, per((s) => s.mfu * 100)),
    ],
  };
}

function hasTensor(run: RunData, tensor: TensorName): boolean {
  return run.records.tensors.some((t) => t.stats.some((s) => s.tensor === tensor));
}

/** values[layer][stepIndex] of one statistic of one tensor. */
export function tensorGrid(records: readonly TensorsRecord[], tensor: TensorName, metric: 'kurtosis' | 'rms', layers: number): (number | null)[][] {
  const grid = Array.from({ length: layers }, () => new Array<number | null>(records.length).fill(null));
  records.forEach((r, j) => {
    for (const s of r.stats) if (s.tensor === tensor && s.layer < layers && Number.isFinite(s[metric])) grid[s.layer][j] = s[metric];
  });
  return grid;
}

function heatmaps(runs: RunData[], tensor: TensorName, metric: 'kurtosis' | 'rms'): HeatmapSpec[] {
  const specs: HeatmapSpec[] = runs
    .filter((r) => hasTensor(r, tensor))
    .map((r) => {
      const layers = layerCount(r.records.tensors);
      return {
        kind: 'heatmap',
        id: `heatmap-${metric}-${tensor}-${r.name}`,
        title: `${r.name}: ${metric} of ${tensor}`,
        run: r.name,
        tensor,
        metric,
        steps: r.records.tensors.map((t) => t.step),
        layerCount: layers,
        values: tensorGrid(r.records.tensors, tensor, metric, layers),
        colorMin: 0,
        colorMax: 1,
        colorLog: true,
      };
    });
  const all = specs.flatMap((s) => s.values.flat()).filter((v): v is number => v !== null);
  const positive = all.filter((v) => v > 0);
  const colorLog = positive.length === all.length && positive.length > 0;
  const lo = all.length === 0 ? 0 : Math.min(...all);
  const hi = all.length === 0 ? 1 : Math.max(...all);
  for (const s of specs) {
    s.colorLog = colorLog;
    s.colorMin = lo;
    s.colorMax = hi > lo ? hi : lo + (lo === 0 ? 1 : Math.abs(lo) * 0.01);
  }
  return specs;
}

function tensorSection(runs: RunData[], tensor: TensorName): SectionSpec {
  const avg = (metric: 'kurtosis' | 'rms'): LineInput[] =>
    runs.flatMap((r, i) =>
      hasTensor(r, tensor)
        ? [{ label: r.name, color: runColor(i), data: { xs: r.records.tensors.map((t) => t.step), ys: r.records.tensors.map((t) => positiveOrNull(layerAverage(t, tensor, metric))) } }]
        : [],
    );
  return {
    id: `tensor-${tensor}`,
    title: `Tensor statistics: ${tensor}`,
    description: `${tensor} = ${TENSOR_DESCRIPTIONS[tensor]}. Kurtosis = E[x⁴]/E[x²]² per sequence (3 for a Gaussian, ≫3 with outliers); curves average over layers, heatmaps show each layer (color scale shared by all runs).`,
    items: [
      chart(`kurtosis-avg-${tensor}`, `Kurtosis of ${tensor}, layer average`, 'optimizer step', 'kurtosis (log scale)', 'step', true, avg('kurtosis')),
      chart(`rms-avg-${tensor}`, `RMS of ${tensor}, layer average`, 'optimizer step', 'rms (log scale)', 'step', true, avg('rms')),
      ...heatmaps(runs, tensor, 'kurtosis'),
      ...heatmaps(runs, tensor, 'rms'),
    ],
  };
}

function attentionSection(runs: RunData[]): SectionSpec {
  const items = runs
    .filter((r) => r.records.tensors.some((t) => t.maxAttentionLogit.length > 0))
    .map((r) => {
      const layers = Math.max(...r.records.tensors.map((t) => t.maxAttentionLogit.length));
      const lines: LineInput[] = Array.from({ length: layers }, (_, l) => ({
        label: `layer ${l}`,
        color: layerColor(l, layers),
        data: { xs: r.records.tensors.map((t) => t.step), ys: r.records.tensors.map((t) => t.maxAttentionLogit[l] ?? null) },
      }));
      return chart(`max-logit-${r.name}`, `${r.name}: max attention logit per layer`, 'optimizer step', 'max softmax_scale·q·k', 'step', false, lines);
    });
  return {
    id: 'attention-logits',
    title: 'Maximum attention logit',
    description: 'Per layer, the largest softmax_scale·q·k of the batch before masking; its growth is an early sign of trouble without QK normalisation.',
    items,
  };
}

/** Operand key of a cast: GEMM and role, e.g. "attn.qkv · input". */
export function operandKey(c: Pick<CastStat, 'gemm' | 'role'>): string {
  return `${c.gemm} · ${c.role}`;
}

/** Per operand key, one reduced value per fp8 record (null where the record lacks that operand). */
function castSeries(records: readonly Fp8Record[], key: string, reduce: (casts: CastStat[]) => number | null): (number | null)[] {
  return records.map((r) => {
    const casts = r.casts.filter((c) => operandKey(c) === key);
    return casts.length === 0 ? null : reduce(casts);
  });
}

const maxOf = (field: 'underflowPct' | 'overflowPct' | 'relErr' | 'massLostPct') => (casts: CastStat[]): number | null => {
  const v = casts.map((c) => c[field]).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return v.length === 0 ? null : Math.max(...v);
};

/** Largest amax over layers (null entries — NaN or infinite amaxes — are left out). */
function maxAmax(casts: CastStat[]): number | null {
  const v = casts.map((c) => c.amax).filter((x): x is number => x !== null && Number.isFinite(x) && x > 0);
  return v.length === 0 ? null : Math.max(...v);
}

/** Geometric mean of the scales over layers (scales span orders of magnitude). */
function geometricMeanScale(casts: CastStat[]): number | null {
  const v = casts.map((c) => c.scale).filter((x) => Number.isFinite(x) && x > 0);
  return v.length === 0 ? null : Math.exp(v.reduce((a, b) => a + Math.log(b), 0) / v.length);
}

function fp8Sections(runs: RunData[]): SectionSpec[] {
  const withFp8 = runs.map((r, i) => ({ r, i })).filter(({ r }) => r.records.fp8.length > 0);
  const keys = [...new Set(withFp8.flatMap(({ r }) => r.records.fp8.flatMap((f) => f.casts.map(operandKey))))].sort();
  const section = (id: string, title: string, description: string, yLabel: string, yLog: boolean, reduce: (c: CastStat[]) => number | null): SectionSpec => ({
    id,
    title,
    description,
    items: keys.map((key) =>
      chart(
        `${id}-${key.replace(/[^A-Za-z0-9_]+/g, '-')}`,
        key,
        'optimizer step',
        yLabel,
        'step',
        yLog,
        withFp8.map(({ r, i }) => ({ label: r.name, color: runColor(i), data: { xs: r.records.fp8.map((f) => f.step), ys: castSeries(r.records.fp8, key, reduce) } })),
      ),
    ),
  });
  return [
    section('fp8-underflow', 'FP8 underflow per operand', 'Per GEMM operand, the largest over layers of the percentage of non-zero inputs that became 0 in the FP8 cast.', 'underflow (%)', false, maxOf('underflowPct')),
    section('fp8-overflow', 'FP8 overflow per operand', 'Per GEMM operand, the largest over layers of the percentage of inputs saturated at ±max of the FP8 format.', 'overflow (%)', false, maxOf('overflowPct')),
    section('fp8-relerr', 'FP8 relative error per operand', 'Per GEMM operand, the largest over layers of ‖x − dequant(quant(x))‖ / ‖x‖ over the finite inputs: the harm the cast did, not a count.', 'relative error', true, maxOf('relErr')),
    section('fp8-mass-lost', 'FP8 |x| mass lost to underflow per operand', 'Per GEMM operand, the largest over layers of the share of Σ|x| held by values that underflowed to 0. For softmax probabilities a high underflow count can carry almost no mass.', 'mass lost (%)', false, maxOf('massLostPct')),
    section('fp8-scale', 'FP8 scale per operand', 'Per GEMM operand, the geometric mean over layers of the scale applied before the cast (log scale).', 'scale (log scale)', true, geometricMeanScale),
    section('fp8-amax', 'FP8 amax per operand', 'Per GEMM operand, the largest over layers of max |x| of the unscaled input of the cast (log scale).', 'amax (log scale)', true, maxAmax),
  ];
}

/** Builds the whole report model for the given runs (names must be unique: see uniqueRunNames). */
export function buildReportModel(runs: RunData[], title = 'fog8 report'): ReportModel {
  const tensorNames = TENSOR_NAMES.filter((t) => runs.some((r) => hasTensor(r, t)));
  const sections: SectionSpec[] = [
    lossSection(runs),
    optimizerSection(runs),
    throughputSection(runs),
    ...tensorNames.map((t) => tensorSection(runs, t)),
    attentionSection(runs),
    ...fp8Sections(runs),
  ].filter((s) => s.items.length > 0);
  return {
    title,
    generatedAt: new Date().toISOString(),
    runs: runs.map((r, i) => summarizeRun(r, runColor(i))),
    sections,
    configRuns: runs.map((r) => r.name),
    configRows: configRows(runs.map((r) => r.config)),
  };
}
