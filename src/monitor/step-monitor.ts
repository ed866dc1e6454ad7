/**
 * The monitor the model reports into during a training step (the model's `MonitorSink`):
 * per layer and named tensor the per-sequence mean, rms and kurtosis (DESIGN §6), FP8 cast
 * statistics per (layer, GEMM, role), and the max attention logit per layer. Tensor moments are
 * only computed on steps where `beginStep(true)` asked for them (every --metrics-interval steps);
 * casts are always recorded because they are free and they diagnose non-finite steps.
 *
 * Per sequence x of n elements: mean = Σx/n, rms = √(Σx²/n), kurtosis = (Σx⁴/n)/(Σx²/n)²
 * (an all-zero sequence counts as kurtosis 0); each is averaged over the sequences of the step
 * (all micro-batches). Sums come from `kernels.rowMoments` in float64.
 */
import type { CastStats, Kernels } from '../kernels/types.js';
import type { CastStat, TensorStat } from './schema.js';

export type TensorName = TensorStat['tensor'];

/** What the model reports per FP8 cast (matches the model's MonitorSink.cast argument). */
export interface CastInfo {
  layer: number;
  gemm: string;
  role: string;
  format: 'e4m3' | 'e5m2';
  scale: number;
  stats: CastStats;
  /** elements cast. */
  count: number;
}

/** The first cast of a step that produced a non-finite or saturated value. */
export interface BadCast {
  kind: 'non-finite' | 'saturated';
  layer: number;
  gemm: string;
  role: string;
  format: 'e4m3' | 'e5m2';
  amax: number;
  scale: number;
  overflow: number;
  count: number;
}

interface MomentAccumulator {
  layer: number;
  tensor: TensorName;
  sequences: number;
  mean: number;
  rms: number;
  kurtosis: number;
}

interface CastAccumulator {
  layer: number;
  gemm: string;
  role: string;
  format: 'e4m3' | 'e5m2';
  amax: number;
  scale: number;
  underflow: number;
  overflow: number;
  /** inputs that were not ±0: the underflow fraction's denominator */
  nonzero: number;
  count: number;
  /** error sums (CastStats); NaN once a part lacked them. */
  sumSq: number;
  errSq: number;
  absSum: number;
  lostAbs: number;
}

export class StepMonitor {
  private readonly kernels: Kernels;
  private collectTensors = false;
  private moments = new Map<string, MomentAccumulator>();
  private casts = new Map<string, CastAccumulator>();
  private logits: number[] = [];
  // First bad casts of the step: over all casts, and over forward-pass operands only.
  private firstNonFinite: BadCast | null = null;
  private firstSaturated: BadCast | null = null;
  private firstForwardNonFinite: BadCast | null = null;
  private firstForwardSaturated: BadCast | null = null;
  private readonly isBackwardRole: (role: string) => boolean;
  private sums = new Float64Array(3);

  /**
   * `isBackwardRole` tells backward-pass operand roles (grad_output, dO, dS, dQKV) from forward
   * ones, so that a non-finite loss is traced to the forward pass that produced it.
   */
  constructor(kernels: Kernels, isBackwardRole: (role: string) => boolean = () => false) {
    this.kernels = kernels;
    this.isBackwardRole = isBackwardRole;
  }

  /** Clears the statistics of the previous step; `collectTensors` turns the tensor moments on. */
  beginStep(collectTensors: boolean): void {
    this.collectTensors = collectTensors;
    this.moments.clear();
    this.casts.clear();
    this.logits = [];
    this.firstNonFinite = null;
    this.firstSaturated = null;
    this.firstForwardNonFinite = null;
    this.firstForwardSaturated = null;
  }

  get collectingTensors(): boolean {
    return this.collectTensors;
  }

  /** x (rows, cols): `rows` sequences of `cols` elements each (the model's MonitorSink contract). */
  tensor(layer: number, name: TensorName, x: Float32Array, rows: number, cols: number): void {
    if (!this.collectTensors) return;
    const B = rows;
    const n = cols;
    if (this.sums.length < 3 * B) this.sums = new Float64Array(3 * B);
    this.kernels.rowMoments(x.length === B * n ? x : x.subarray(0, B * n), B, n, this.sums);
    const key = `${layer}/${name}`;
    let acc = this.moments.get(key);
    if (!acc) {
      acc = { layer, tensor: name, sequences: 0, mean: 0, rms: 0, kurtosis: 0 };
      this.moments.set(key, acc);
    }
    for (let b = 0; b < B; b++) {
      const s1 = this.sums[3 * b];
      const s2 = this.sums[3 * b + 1];
      const s4 = this.sums[3 * b + 2];
      const m2 = s2 / n;
      acc.mean += s1 / n;
      acc.rms += Math.sqrt(m2);
      acc.kurtosis += m2 > 0 ? s4 / n / (m2 * m2) : 0;
    }
    acc.sequences += B;
  }

  cast(info: CastInfo): void {
    const key = `${info.layer}/${info.gemm}/${info.role}`;
    let acc = this.casts.get(key);
    if (!acc) {
      acc = { layer: info.layer, gemm: info.gemm, role: info.role, format: info.format, amax: 0, scale: info.scale, underflow: 0, overflow: 0, nonzero: 0, count: 0, sumSq: 0, errSq: 0, absSum: 0, lostAbs: 0 };
      this.casts.set(key, acc);
    }
    const a = info.stats.amax;
    acc.amax = Number.isNaN(acc.amax) || Number.isNaN(a) ? NaN : Math.max(acc.amax, a);
    acc.scale = info.scale;
    acc.underflow += info.stats.underflow;
    acc.overflow += info.stats.overflow;
    acc.nonzero += info.stats.nonzero;
    acc.count += info.count;
    acc.sumSq += info.stats.sumSq ?? NaN;
    acc.errSq += info.stats.errSq ?? NaN;
    acc.absSum += info.stats.absSum ?? NaN;
    acc.lostAbs += info.stats.lostAbs ?? NaN;
    const bad = (kind: BadCast['kind']): BadCast => ({ kind, layer: info.layer, gemm: info.gemm, role: info.role, format: info.format, amax: a, scale: info.scale, overflow: info.stats.overflow, count: info.count });
    // A non-finite input, or a non-finite scale (x·NaN and 0·inf are NaN), makes non-finite codes.
    const nonFinite = !Number.isFinite(a) || !Number.isFinite(info.scale);
    const saturated = info.stats.overflow > 0;
    if (!nonFinite && !saturated) return;
    const forward = !this.isBackwardRole(info.role);
    if (nonFinite && this.firstNonFinite === null) this.firstNonFinite = bad('non-finite');
    if (saturated && this.firstSaturated === null) this.firstSaturated = bad('saturated');
    if (forward && nonFinite && this.firstForwardNonFinite === null) this.firstForwardNonFinite = bad('non-finite');
    if (forward && saturated && this.firstForwardSaturated === null) this.firstForwardSaturated = bad('saturated');
  }

  maxLogit(layer: number, value: number): void {
    while (this.logits.length <= layer) this.logits.push(-Infinity);
    if (value > this.logits[layer] || Number.isNaN(value)) this.logits[layer] = value;
  }

  /**
   * The first cast of the step that saw a non-finite input or scale, else the first that
   * saturated. `pass: 'forward'` looks only at forward-pass operands (for a non-finite loss,
   * whose NaN every backward cast then inherits).
   */
  firstBadCast(pass: 'forward' | 'any' = 'any'): BadCast | null {
    if (pass === 'forward') return this.firstForwardNonFinite ?? this.firstForwardSaturated;
    return this.firstNonFinite ?? this.firstSaturated;
  }

  /** Averaged tensor statistics of the step (entries with non-finite values are left out). */
  tensorStats(): TensorStat[] {
    const out: TensorStat[] = [];
    for (const a of this.moments.values()) {
      const s = { layer: a.layer, tensor: a.tensor, mean: a.mean / a.sequences, rms: a.rms / a.sequences, kurtosis: a.kurtosis / a.sequences };
      if (Number.isFinite(s.mean) && Number.isFinite(s.rms) && Number.isFinite(s.kurtosis)) out.push(s);
    }
    return out.sort((x, y) => x.layer - y.layer || x.tensor.localeCompare(y.tensor));
  }

  /** FP8 cast statistics of the step (amax null when NaN or infinite). */
  castStats(): CastStat[] {
    return [...this.casts.values()].map((c) => ({
      layer: c.layer,
      gemm: c.gemm,
      role: c.role,
      format: c.format,
      amax: Number.isFinite(c.amax) ? c.amax : null,
      scale: Number.isFinite(c.scale) ? c.scale : 3.4028234663852886e38,
      // DESIGN §6: the fraction of non-zero inputs that became 0 (exact zeros cannot underflow).
      underflowPct: c.nonzero > 0 ? (100 * c.underflow) / c.nonzero : 0,
      overflowPct: c.count > 0 ? (100 * c.overflow) / c.count : 0,
      ...errorFields(c),
    }));
  }

  /** Max attention logit per layer (non-finite values reported as the float32 max). */
  maxLogits(): number[] {
    return this.logits.map((v) => (Number.isFinite(v) ? v : v < 0 ? 0 : 3.4028234663852886e38));
  }
}

/**
 * relErr = ‖x − x̂‖/‖x‖ = √(Σ(x − x̂)² / Σx²) and massLostPct = 100·Σ|x|underflowed / Σ|x| over the
 * finite inputs of the interval's casts; left out when a kernel did not compute the sums.
 */
function errorFields(c: { sumSq: number; errSq: number; absSum: number; lostAbs: number }): { relErr?: number; massLostPct?: number } {
  const relErr = c.sumSq > 0 ? Math.sqrt(c.errSq / c.sumSq) : 0;
  const massLostPct = c.absSum > 0 ? (100 * c.lostAbs) / c.absSum : 0;
  return Number.isFinite(relErr) && Number.isFinite(massLostPct) && Number.isFinite(c.sumSq) ? { relErr, massLostPct } : {};
}

/** Layer-averaged kurtosis per named tensor. */
export function layerAveragedKurtosis(stats: readonly TensorStat[]): Map<TensorName, number> {
  const sums = new Map<TensorName, { s: number; n: number }>();
  for (const st of stats) {
    const e = sums.get(st.tensor) ?? { s: 0, n: 0 };
    e.s += st.kurtosis;
    e.n++;
    sums.set(st.tensor, e);
  }
  return new Map([...sums].map(([k, e]) => [k, e.s / e.n]));
}
