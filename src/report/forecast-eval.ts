/**
 * `fog8 forecast-eval RUN…`: fits the spike forecaster (src/monitor/forecast.ts) on the runs whose
 * seed is not held out and reports, on the held-out seeds' runs, per alarm threshold: the share of
 * spikes flagged, the median lead time and false alarms per 1000 steps of spike-free runs. The
 * built-in kurtosis rule is scored the same way, and each feature's ROC AUC on the fitting samples
 * says which telemetry carries signal at all.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  auc, evaluateThreshold, FEATURE_NAMES, fitLogistic, labelSamples, ruleScores, runFeatures, runSpikes, score, scoreRun,
  type ForecastModel, type LabelledSample, type RunTelemetry, type ThresholdResult,
} from '../monitor/forecast.js';
import { DEFAULT_SPIKE_OPTIONS, type SpikeOptions } from '../monitor/spikes.js';
import { loadRun, type RunData } from './load.js';

/** Run directories given directly, or found one level below a directory without metrics.jsonl (a sweep). */
export function expandRunDirs(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (existsSync(join(p, 'metrics.jsonl'))) out.push(p);
    else if (existsSync(p) && statSync(p).isDirectory()) {
      const subs = readdirSync(p).sort().map((n) => join(p, n)).filter((d) => existsSync(join(d, 'metrics.jsonl')));
      if (subs.length === 0) throw new RangeError(`forecast-eval: ${p} holds no run (no metrics.jsonl in it or one level below)`);
      out.push(...subs);
    } else throw new RangeError(`forecast-eval: ${p} does not exist`);
  }
  return out;
}

export function telemetryOf(run: RunData): RunTelemetry {
  const train = (run.config?.train ?? null) as { seed?: unknown } | null;
  const seed = train && typeof train.seed === 'number' ? train.seed : null;
  const r = run.records;
  return { name: run.name, seed, steps: r.steps, tensors: r.tensors, fp8: r.fp8, events: r.events };
}

export interface ForecastEvalOptions {
  /** seeds whose runs are evaluated (never fitted on); default: the largest seed present. */
  testSeeds?: readonly number[];
  horizon: number;
  window: number;
  thresholds: readonly number[];
  spike?: SpikeOptions;
}

export interface ForecastEvalResult {
  fitRuns: string[];
  testRuns: string[];
  testSeeds: number[];
  fitSamples: number;
  fitPositives: number;
  /** AUC of each feature alone on the fitting samples (null: one class only). */
  featureAuc: { feature: string; auc: number | null; weight: number }[];
  model: ForecastModel;
  /** held-out evaluation of the fitted model, per threshold. */
  heldOut: ThresholdResult[];
  /** held-out evaluation of the built-in kurtosis rule (one row, threshold 0.5 on its 0/1 score). */
  rule: ThresholdResult;
  /** baseline: an alarm that is always on (flags every spike; one false alarm per spike-free run). */
  alwaysOn: ThresholdResult;
  /** spikes per held-out run. */
  testSpikes: { run: string; onsets: number[]; diverged: boolean }[];
}

export function forecastEval(runs: readonly RunTelemetry[], o: ForecastEvalOptions): ForecastEvalResult {
  const spike = o.spike ?? DEFAULT_SPIKE_OPTIONS;
  const seeds = [...new Set(runs.map((r) => r.seed).filter((s): s is number => s !== null))].sort((a, b) => a - b);
  const testSeeds = o.testSeeds ? [...o.testSeeds] : seeds.length > 1 ? [seeds[seeds.length - 1]] : [];
  if (testSeeds.length === 0) throw new RangeError('forecast-eval: need runs of at least two seeds (fit on some, report on the held-out ones); pass --test-seeds');
  const isTest = (r: RunTelemetry): boolean => r.seed !== null && testSeeds.includes(r.seed);
  const fit = runs.filter((r) => !isTest(r));
  const test = runs.filter(isTest);
  if (fit.length === 0 || test.length === 0) throw new RangeError(`forecast-eval: test seeds ${testSeeds.join(',')} leave ${fit.length} runs to fit and ${test.length} to test; both must be non-empty`);
  const samples: LabelledSample[] = fit.flatMap((r) => labelSamples(runFeatures(r, o.window), runSpikes(r, spike), o.horizon));
  const model = fitLogistic(samples, { window: o.window, horizon: o.horizon, spike });
  const labels = samples.map((s) => s.y);
  const featureAuc = FEATURE_NAMES.map((f, j) => ({ feature: f, auc: auc(samples.map((s) => s.x[j]), labels), weight: model.weights[j] }));
  const scored = test.map((r) => scoreRun(r, (s) => score(model, s.x), o.window, spike));
  const ruleRuns = test.map((r) => ruleScores(r, spike));
  return {
    fitRuns: fit.map((r) => r.name),
    testRuns: test.map((r) => r.name),
    testSeeds,
    fitSamples: samples.length,
    fitPositives: samples.filter((s) => s.y === 1).length,
    featureAuc,
    model,
    heldOut: o.thresholds.map((t) => evaluateThreshold(scored, t, o.horizon)),
    rule: evaluateThreshold(ruleRuns, 0.5, o.horizon),
    alwaysOn: evaluateThreshold(scored.map((r) => ({ ...r, samples: r.samples.map((s) => ({ ...s, p: 1 })) })), 0.5, o.horizon),
    testSpikes: test.map((r) => {
      const s = runSpikes(r, spike);
      return { run: r.name, onsets: s.episodes.map((e) => e.onset), diverged: s.diverged };
    }),
  };
}

export function loadTelemetry(paths: readonly string[]): RunTelemetry[] {
  return expandRunDirs(paths).map((d) => telemetryOf(loadRun(d)));
}

const f = (v: number | null, d = 2): string => (v === null ? '—' : v.toFixed(d));

export function formatForecastEval(r: ForecastEvalResult): string {
  const lines: string[] = [];
  lines.push(`fitted on ${r.fitRuns.length} runs (${r.fitSamples} samples, ${r.fitPositives} followed by a spike within ${r.model.horizon} steps); evaluated on ${r.testRuns.length} held-out runs (seeds ${r.testSeeds.join(',')})`);
  const spikes = r.testSpikes.reduce((s, t) => s + t.onsets.length, 0);
  lines.push(`held-out spikes: ${spikes} in ${r.testSpikes.filter((t) => t.onsets.length > 0).length} runs; ${r.testSpikes.filter((t) => t.diverged).length} runs diverged`);
  lines.push('');
  lines.push('feature        AUC (fit)  weight');
  for (const a of r.featureAuc) lines.push(`${a.feature.padEnd(14)} ${f(a.auc, 3).padStart(9)}  ${a.weight >= 0 ? '+' : ''}${a.weight.toFixed(3)}`);
  lines.push('');
  lines.push('threshold  spikes flagged  median lead (steps)  false alarms /1000 steps (spike-free runs)');
  const row = (label: string, t: ThresholdResult): string =>
    `${label.padEnd(9)}  ${`${t.flagged}/${t.spikes}${t.flaggedShare === null ? '' : ` (${(100 * t.flaggedShare).toFixed(0)}%)`}`.padStart(14)}  ${f(t.medianLead, 1).padStart(19)}  ${f(t.falseAlarmsPer1000, 2).padStart(8)} (${t.falseAlarms} in ${t.spikeFreeSteps} steps)`;
  for (const t of r.heldOut) lines.push(row(t.threshold.toFixed(2), t));
  lines.push(row('rule', r.rule) + '   ← built-in kurtosis rule (5 rising readings, 1.5×)');
  lines.push(row('always', r.alwaysOn) + '   ← baseline: alarm always on (a forecaster must beat its false-alarm rate)');
  return lines.join('\n');
}
