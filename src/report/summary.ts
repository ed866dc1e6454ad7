/**
 * Final numbers of a run, shared by the report's summary table and `fog8 compare`.
 * Kurtosis numbers are layer averages (DESIGN §6); peaks are over all metrics intervals.
 */
import type { RunData } from './load.js';
import type { RunSummary } from './model.js';
import { finiteMax, lastFinite, layerAverage, maxCastStat } from './stats.js';

/** Fraction of the final steps averaged to decide whether training ended worse than it began. */
const FINAL_WINDOW_FRACTION = 0.1;

/**
 * Whether a run diverged, with the reason: an error event (the trainer's stop diagnosis), a final
 * step whose loss is non-finite (null), or a mean loss over the last 10 % of steps above the first
 * step's loss (training made the model worse than at initialisation).
 */
export function divergence(run: RunData): { diverged: boolean; reason: string } {
  const error = run.records.events.find((e) => e.level === 'error');
  if (error) return { diverged: true, reason: `error at step ${error.step}: ${error.message}` };
  const steps = run.records.steps;
  if (steps.length === 0) return { diverged: false, reason: 'no steps' };
  const last = steps[steps.length - 1];
  if (last.loss === null) return { diverged: true, reason: `non-finite loss at step ${last.step}` };
  const first = steps.find((s) => s.loss !== null);
  const window = steps.slice(-Math.max(1, Math.ceil(steps.length * FINAL_WINDOW_FRACTION)));
  const finite = window.map((s) => s.loss).filter((l): l is number => l !== null);
  const mean = finite.reduce((a, b) => a + b, 0) / Math.max(1, finite.length);
  if (first && first.loss !== null && steps.length >= 10 && mean > first.loss) {
    return { diverged: true, reason: `final loss ${mean.toPrecision(4)} above initial ${first.loss.toPrecision(4)}` };
  }
  return { diverged: false, reason: '' };
}

/** Summarizes one run; `color` is the run's color in every chart. */
export function summarizeRun(run: RunData, color: string): RunSummary {
  const { steps, evals, tensors, fp8, events } = run.records;
  const header = run.records.runs[run.records.runs.length - 1];
  const activation = tensors.map((t) => layerAverage(t, 'activation', 'kurtosis'));
  const qkvInput = tensors.map((t) => layerAverage(t, 'qkv_input', 'kurtosis'));
  const tokensPerSec = steps.map((s) => s.tokensPerSec).filter((v) => Number.isFinite(v) && v > 0);
  const { diverged, reason } = divergence(run);
  const lastRecordTokens = Math.max(0, ...steps.map((s) => s.tokens), ...evals.map((e) => e.tokens));
  const lastEvent = events[events.length - 1];
  return {
    name: run.name,
    color,
    preset: header?.preset ?? '?',
    size: header?.size ?? '?',
    precision: header?.precision ?? '?',
    steps: steps.length === 0 ? 0 : steps[steps.length - 1].step,
    tokens: lastRecordTokens,
    finalTrainLoss: lastFinite(steps.map((s) => s.loss)),
    finalValLoss: lastFinite(evals.map((e) => e.valLoss)),
    minValLoss: evals.length === 0 ? null : Math.min(...evals.map((e) => e.valLoss)),
    meanTokensPerSec: tokensPerSec.length === 0 ? null : tokensPerSec.reduce((a, b) => a + b, 0) / tokensPerSec.length,
    peakActivationKurtosis: finiteMax(activation),
    finalActivationKurtosis: lastFinite(activation),
    peakQkvInputKurtosis: finiteMax(qkvInput),
    finalQkvInputKurtosis: lastFinite(qkvInput),
    peakMaxAttentionLogit: finiteMax(tensors.flatMap((t) => t.maxAttentionLogit)),
    peakOverflowPct: finiteMax(fp8.map((r) => maxCastStat(r, 'overflowPct'))),
    peakUnderflowPct: finiteMax(fp8.map((r) => maxCastStat(r, 'underflowPct'))),
    peakRelErr: finiteMax(fp8.map((r) => maxCastStat(r, 'relErr'))),
    rollbacks: run.records.rollbacks.map((b) => `alarm at step ${b.alarmStep} → back to step ${b.step}, BF16: ${b.added.join(', ')} (${b.reason})`),
    diverged,
    divergedReason: reason,
    malformedLines: run.malformedLines,
    partialTail: run.partialTail,
    configError: run.configError,
    lastEvent: lastEvent ? `[${lastEvent.level}] step ${lastEvent.step}: ${lastEvent.message}` : null,
    logTail: run.logTail,
    tasks: Object.values(run.tasks ?? {}).map((r) => ({
      task: r.task, items: r.items, step: r.step, acc: r.acc, accStderr: r.accStderr, accNorm: r.accNorm ?? null, accNormStderr: r.accNormStderr ?? null,
    })),
  };
}
