/**
 * A learned loss-spike forecaster and its evaluation on real runs (issue 11, deliverable 4).
 *
 * Features (one vector per metrics interval, from telemetry only, never the loss itself) are
 * trends over the last `window` intervals and a few levels:
 *   logit_level   log(1 + max attention logit over layers)
 *   logit_trend   log of its ratio to `window` intervals ago
 *   kurt_trend    max over named tensors of log(layer-averaged kurtosis ratio)
 *   unf_trend     change of the mean FP8 underflow % over casts, percentage points
 *   unf_level     mean FP8 underflow %
 *   ovf_level     max FP8 overflow %
 *   relerr_trend  log ratio of the mean per-cast relative error (0 without the field)
 *   gnorm_trend   log of mean gradient norm over the last `window` intervals' steps vs the previous ones
 * Missing inputs (BF16 runs have no casts) are 0.
 *
 * Label of the sample at step t: a spike onset (spikes.ts) in (t, t + horizon]. Samples taken
 * inside a spike episode or after divergence are left out (a forecast is only useful before).
 * Model: logistic regression on standardized features, class-weighted (spikes are rare),
 * L2-regularised, fitted by a fixed number of full-batch gradient steps (deterministic).
 *
 * Evaluation on a run, per alarm threshold θ (score p_t ≥ θ is "alarm on"):
 *   - a spike is *flagged* when the alarm is on at some sample t with onset − horizon ≤ t < onset;
 *     its lead time is onset − (the earliest such t);
 *   - a *false alarm* is an off→on transition of the alarm, counted on runs without any spike,
 *     reported per 1000 training steps of those runs.
 */
import type { EventRecord, Fp8Record, StepRecord, TensorsRecord } from './schema.js';
import { layerAveragedKurtosis, type TensorName } from './step-monitor.js';
import { DEFAULT_SPIKE_OPTIONS, detectSpikes, type SpikeAnalysis, type SpikeOptions } from './spikes.js';
import { DivergenceForecaster } from './divergence.js';

export const FEATURE_NAMES = ['logit_level', 'logit_trend', 'kurt_trend', 'unf_trend', 'unf_level', 'ovf_level', 'relerr_trend', 'gnorm_trend'] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

/** The telemetry of one run as the forecaster reads it (metrics.jsonl records, step order). */
export interface RunTelemetry {
  name: string;
  seed: number | null;
  steps: readonly StepRecord[];
  tensors: readonly TensorsRecord[];
  fp8: readonly Fp8Record[];
  events: readonly EventRecord[];
}

export interface Sample {
  step: number;
  x: number[];
}

function mean(a: readonly number[]): number {
  return a.length === 0 ? 0 : a.reduce((s, v) => s + v, 0) / a.length;
}

function safeLogRatio(a: number, b: number): number {
  return a > 0 && b > 0 && Number.isFinite(a) && Number.isFinite(b) ? Math.log(a / b) : 0;
}

interface IntervalReading {
  step: number;
  maxLogit: number;
  kurtosis: Map<TensorName, number>;
  unf: number;
  ovf: number;
  relErr: number;
  gradNorm: number;
}

/**
 * Turns a stream of (tensors, fp8, step) records into feature vectors, online: the trainer feeds it
 * as it writes metrics.jsonl, the evaluation replays the file. Same arithmetic both ways.
 */
export class FeatureTracker {
  private readonly window: number;
  private readonly readings: IntervalReading[] = [];
  private gradNorms: number[] = [];
  private pendingFp8: Fp8Record | null = null;

  constructor(window = 3) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`FeatureTracker: window must be an integer ≥ 1, got ${window}`);
    this.window = window;
  }

  /** Serialisable state (checkpoints), without a pending FP8 record (an interval closes within its step). */
  toJSON(): { window: number; readings: (Omit<IntervalReading, 'kurtosis'> & { kurtosis: Record<string, number> })[]; gradNorms: number[] } {
    return { window: this.window, readings: this.readings.map((r) => ({ ...r, kurtosis: Object.fromEntries(r.kurtosis) })), gradNorms: [...this.gradNorms] };
  }

  restore(s: unknown): void {
    const v = s as ReturnType<FeatureTracker['toJSON']> | null;
    if (!v || v.window !== this.window || !Array.isArray(v.readings) || !Array.isArray(v.gradNorms)) throw new TypeError(`FeatureTracker.restore: expected { window: ${this.window}, readings, gradNorms }`);
    this.readings.length = 0;
    for (const r of v.readings) this.readings.push({ ...r, kurtosis: new Map(Object.entries(r.kurtosis)) as Map<TensorName, number> });
    this.gradNorms = [...v.gradNorms];
    this.pendingFp8 = null;
  }

  /** A step's gradient norm (null: non-finite, ignored). */
  step(gradNorm: number | null): void {
    if (gradNorm !== null && Number.isFinite(gradNorm)) this.gradNorms.push(gradNorm);
  }

  /** The FP8 record of an interval, given before its tensors record (either order works per step). */
  fp8(r: Fp8Record): void {
    this.pendingFp8 = r;
  }

  /** Closes an interval on its tensors record; returns that interval's feature vector. */
  interval(t: TensorsRecord): Sample {
    const fp8 = this.pendingFp8 && this.pendingFp8.step === t.step ? this.pendingFp8.casts : [];
    this.pendingFp8 = null;
    const finiteLogits = t.maxAttentionLogit.filter((v) => Number.isFinite(v));
    const rel = fp8.map((c) => (c as { relErr?: number }).relErr).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    const reading: IntervalReading = {
      step: t.step,
      maxLogit: finiteLogits.length === 0 ? 0 : Math.max(...finiteLogits),
      kurtosis: layerAveragedKurtosis(t.stats),
      unf: mean(fp8.map((c) => c.underflowPct)),
      ovf: fp8.length === 0 ? 0 : Math.max(...fp8.map((c) => c.overflowPct)),
      relErr: mean(rel),
      gradNorm: mean(this.gradNorms),
    };
    this.gradNorms = [];
    this.readings.push(reading);
    if (this.readings.length > 2 * this.window + 1) this.readings.shift(); // features look back 2·window at most
    const W = this.window;
    const now = reading;
    const then = this.readings[Math.max(0, this.readings.length - 1 - W)];
    let kurtTrend = 0;
    for (const [name, k] of now.kurtosis) {
      const r = safeLogRatio(k, then.kurtosis.get(name) ?? 0);
      if (r > kurtTrend) kurtTrend = r;
    }
    const recent = this.readings.slice(-W).map((r) => r.gradNorm);
    const before = this.readings.slice(-2 * W, -W).map((r) => r.gradNorm);
    const x = [
      Math.log1p(Math.max(0, now.maxLogit)),
      safeLogRatio(1 + now.maxLogit, 1 + then.maxLogit),
      kurtTrend,
      now.unf - then.unf,
      now.unf,
      now.ovf,
      safeLogRatio(now.relErr, then.relErr),
      before.length === 0 ? 0 : safeLogRatio(mean(recent), mean(before)),
    ];
    return { step: t.step, x: x.map((v) => (Number.isFinite(v) ? v : 0)) };
  }
}

/** Feature vectors of a whole run (one per tensors record). */
export function runFeatures(run: RunTelemetry, window = 3): Sample[] {
  const tracker = new FeatureTracker(window);
  const fp8ByStep = new Map(run.fp8.map((r) => [r.step, r]));
  const out: Sample[] = [];
  let si = 0;
  for (const t of run.tensors) {
    while (si < run.steps.length && run.steps[si].step <= t.step) tracker.step(run.steps[si++].gradNorm);
    const f = fp8ByStep.get(t.step);
    if (f) tracker.fp8(f);
    out.push(tracker.interval(t));
  }
  return out;
}

/** Spike analysis of a run's training loss (stopped = the trainer's error event, if any). */
export function runSpikes(run: RunTelemetry, options: SpikeOptions = DEFAULT_SPIKE_OPTIONS): SpikeAnalysis {
  const err = run.events.find((e) => e.level === 'error');
  return detectSpikes(run.steps.map((s) => ({ step: s.step, loss: s.skipped ? null : s.loss })), options, err ? { step: err.step } : null);
}

export interface LabelledSample extends Sample {
  y: 0 | 1;
}

/** Samples usable for fitting: before any spike episode's onset or between episodes, labelled. */
export function labelSamples(samples: readonly Sample[], spikes: SpikeAnalysis, horizon: number): LabelledSample[] {
  const out: LabelledSample[] = [];
  for (const s of samples) {
    const inside = spikes.episodes.some((e) => s.step >= e.onset && (e.end === null || s.step < e.end));
    if (inside) continue;
    const y = spikes.episodes.some((e) => e.onset > s.step && e.onset <= s.step + horizon) ? 1 : 0;
    out.push({ ...s, y });
  }
  return out;
}

/** A fitted logistic forecaster (serialisable as JSON). */
export interface ForecastModel {
  kind: 'logistic';
  features: readonly string[];
  mean: number[];
  std: number[];
  weights: number[];
  bias: number;
  window: number;
  horizon: number;
  spike: SpikeOptions;
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

export function score(model: ForecastModel, x: readonly number[]): number {
  let z = model.bias;
  for (let j = 0; j < x.length; j++) z += model.weights[j] * ((x[j] - model.mean[j]) / model.std[j]);
  return sigmoid(z);
}

export interface FitOptions {
  l2: number;
  iterations: number;
  learningRate: number;
}

export const DEFAULT_FIT: Readonly<FitOptions> = Object.freeze({ l2: 1e-2, iterations: 2000, learningRate: 0.5 });

/** Fits the logistic model (class-weighted so both classes weigh half). */
export function fitLogistic(samples: readonly LabelledSample[], meta: { window: number; horizon: number; spike: SpikeOptions }, o: FitOptions = DEFAULT_FIT): ForecastModel {
  if (samples.length === 0) throw new RangeError('fitLogistic: no samples (runs without tensors records?)');
  const d = samples[0].x.length;
  const mu = new Array<number>(d).fill(0);
  const sd = new Array<number>(d).fill(0);
  for (const s of samples) for (let j = 0; j < d; j++) mu[j] += s.x[j] / samples.length;
  for (const s of samples) for (let j = 0; j < d; j++) sd[j] += (s.x[j] - mu[j]) ** 2 / samples.length;
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j]) > 1e-12 ? Math.sqrt(sd[j]) : 1;
  const pos = samples.filter((s) => s.y === 1).length;
  const neg = samples.length - pos;
  const wPos = pos === 0 ? 0 : 0.5 / pos;
  const wNeg = neg === 0 ? 0 : 0.5 / neg;
  const w = new Array<number>(d).fill(0);
  let b = 0;
  const z = samples.map((s) => s.x.map((v, j) => (v - mu[j]) / sd[j]));
  for (let it = 0; it < o.iterations; it++) {
    const gw = new Array<number>(d).fill(0);
    let gb = 0;
    for (let i = 0; i < samples.length; i++) {
      let t = b;
      for (let j = 0; j < d; j++) t += w[j] * z[i][j];
      const err = (sigmoid(t) - samples[i].y) * (samples[i].y === 1 ? wPos : wNeg);
      for (let j = 0; j < d; j++) gw[j] += err * z[i][j];
      gb += err;
    }
    for (let j = 0; j < d; j++) w[j] -= o.learningRate * (gw[j] + o.l2 * w[j]);
    b -= o.learningRate * gb;
  }
  return { kind: 'logistic', features: [...FEATURE_NAMES].slice(0, d), mean: mu, std: sd, weights: w, bias: b, ...meta };
}

export function validateForecastModel(v: unknown): ForecastModel {
  const m = v as Partial<ForecastModel> | null;
  const arr = (a: unknown, n: number): boolean => Array.isArray(a) && a.length === n && a.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!m || m.kind !== 'logistic' || !Array.isArray(m.features)) throw new TypeError('forecaster model: expected { kind: "logistic", features, mean, std, weights, bias, window, horizon, spike }');
  const n = m.features.length;
  if (n !== FEATURE_NAMES.length || !arr(m.mean, n) || !arr(m.std, n) || !arr(m.weights, n) || typeof m.bias !== 'number' || !Number.isInteger(m.window) || !Number.isInteger(m.horizon) || !m.spike) {
    throw new TypeError(`forecaster model: fields mean/std/weights must be ${FEATURE_NAMES.length} finite numbers (${FEATURE_NAMES.join(', ')}), bias a number, window/horizon integers`);
  }
  return m as ForecastModel;
}

/** Area under the ROC curve of scores vs labels (ties counted half); null with one class only. */
export function auc(scores: readonly number[], labels: readonly (0 | 1)[]): number | null {
  const pos: number[] = [];
  const neg: number[] = [];
  scores.forEach((s, i) => (labels[i] === 1 ? pos : neg).push(s));
  if (pos.length === 0 || neg.length === 0) return null;
  let wins = 0;
  for (const p of pos) for (const q of neg) wins += p > q ? 1 : p === q ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

/** What one run contributes to the evaluation: scored samples and its spikes. */
export interface ScoredRun {
  name: string;
  /** training steps of the run (last step record). */
  steps: number;
  samples: { step: number; p: number }[];
  onsets: number[];
}

export interface ThresholdResult {
  threshold: number;
  spikes: number;
  flagged: number;
  /** flagged / spikes; null without spikes. */
  flaggedShare: number | null;
  /** median lead time in steps of the flagged spikes; null when none flagged. */
  medianLead: number | null;
  /** off→on alarm transitions on the runs without spikes. */
  falseAlarms: number;
  spikeFreeSteps: number;
  falseAlarmsPer1000: number | null;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The evaluation arithmetic (see the module comment), for one threshold over scored runs. */
export function evaluateThreshold(runs: readonly ScoredRun[], threshold: number, horizon: number): ThresholdResult {
  let spikes = 0;
  let flagged = 0;
  const leads: number[] = [];
  let falseAlarms = 0;
  let spikeFreeSteps = 0;
  for (const r of runs) {
    for (const onset of r.onsets) {
      spikes++;
      const on = r.samples.filter((s) => s.step >= onset - horizon && s.step < onset && s.p >= threshold);
      if (on.length > 0) {
        flagged++;
        leads.push(onset - Math.min(...on.map((s) => s.step)));
      }
    }
    if (r.onsets.length === 0) {
      spikeFreeSteps += r.steps;
      let wasOn = false;
      for (const s of r.samples) {
        const isOn = s.p >= threshold;
        if (isOn && !wasOn) falseAlarms++;
        wasOn = isOn;
      }
    }
  }
  return {
    threshold,
    spikes,
    flagged,
    flaggedShare: spikes === 0 ? null : flagged / spikes,
    medianLead: median(leads),
    falseAlarms,
    spikeFreeSteps,
    falseAlarmsPer1000: spikeFreeSteps === 0 ? null : (1000 * falseAlarms) / spikeFreeSteps,
  };
}

/** Scores one run with `scoreOf` (a model, or the rule forecaster as 0/1). */
export function scoreRun(run: RunTelemetry, scoreOf: (s: Sample) => number, window: number, spike: SpikeOptions): ScoredRun {
  const spikes = runSpikes(run, spike);
  const samples = runFeatures(run, window);
  // Only samples before the run diverged are scored: after that there is nothing left to forecast.
  const usable = samples.filter((s) => spikes.divergedAt === null || s.step < spikes.divergedAt);
  return {
    name: run.name,
    steps: run.steps.length === 0 ? 0 : run.steps[run.steps.length - 1].step,
    samples: usable.map((s) => ({ step: s.step, p: scoreOf(s) })),
    onsets: spikes.episodes.map((e) => e.onset),
  };
}

/** The built-in kurtosis rule (divergence.ts) as a 0/1 score: 1 while any tensor is flagged. */
export function ruleScores(run: RunTelemetry, spike: SpikeOptions): ScoredRun {
  const f = new DivergenceForecaster();
  const spikes = runSpikes(run, spike);
  const samples: { step: number; p: number }[] = [];
  for (const t of run.tensors) {
    if (spikes.divergedAt !== null && t.step >= spikes.divergedAt) break;
    f.observe(t.step, t.stats);
    samples.push({ step: t.step, p: (f.toJSON().flagged.length > 0 ? 1 : 0) });
  }
  return { name: run.name, steps: run.steps.length === 0 ? 0 : run.steps[run.steps.length - 1].step, samples, onsets: spikes.episodes.map((e) => e.onset) };
}
