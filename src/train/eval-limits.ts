/**
 * Bounds on what `fog8 eval` may be asked for: the memory of one forward pass of B sequences
 * (measured, not guessed: one pass of a single sequence, scaled by B) against this machine's
 * memory, and the number of validation sequences against the size of the split, so samples are
 * never silently repeated.
 */
import { totalmem } from 'node:os';
import type { Model } from '../model/model.js';

/** Fraction of the machine's (or the cgroup's) memory one evaluation may plan to use. */
const MEMORY_FRACTION = 0.8;

function size(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}

/** Bytes this process may still allocate: a fraction of the machine's or cgroup's memory, less what it holds. */
export function memoryBudgetBytes(): number {
  const limit = Math.min(totalmem(), process.constrainedMemory() || Infinity);
  return Math.max(0, MEMORY_FRACTION * limit - process.memoryUsage().rss);
}

/**
 * Measured buffer bytes of one forward pass per sequence of length T: the array-buffer growth of
 * a pass over one sequence (its graph, scratch and logits; an over-estimate, as it includes
 * one-time allocations). Costs one forward pass at B = 1.
 */
export function forwardBytesPerSequence(model: Model, T: number): number {
  const before = process.memoryUsage().arrayBuffers;
  model.forwardLoss({ B: 1, T, inputs: new Int32Array(T), targets: new Int32Array(T) });
  return Math.max(1, process.memoryUsage().arrayBuffers - before);
}

/** Throws a RangeError giving the memory needed when B sequences of T tokens would not fit in `budget` bytes. */
export function checkForwardMemory(B: number, T: number, bytesPerSequence: number, budget = memoryBudgetBytes()): void {
  const need = B * bytesPerSequence;
  if (need > budget) {
    const fits = Math.max(0, Math.floor(budget / bytesPerSequence));
    throw new RangeError(
      `--batch ${B}: one forward pass of ${B} sequences × ${T} tokens needs about ${size(need)} (${size(bytesPerSequence)} per sequence, measured), ` +
        `but only ${size(budget)} is available (${MEMORY_FRACTION * 100}% of this machine's memory, less what fog8 holds); use --batch ${fits >= 1 ? `≤ ${fits}` : '1 on a larger machine'}`,
    );
  }
}

/**
 * How many batches of `batch` sequences to evaluate over a split of `sampleCount` sequences without
 * repeating any. An explicit request that does not fit is an error; a default one is reduced (the
 * returned note says so).
 */
export function planEvalBatches(o: { sampleCount: number; batch: number; batches: number; explicit: boolean }): { batches: number; note: string | null } {
  const wanted = o.batch * o.batches;
  if (wanted <= o.sampleCount) return { batches: o.batches, note: null };
  const fit = Math.floor(o.sampleCount / o.batch);
  if (o.explicit || fit < 1) {
    throw new RangeError(
      `--batch ${o.batch} × --batches ${o.batches} = ${wanted} sequences, but the validation split holds only ${o.sampleCount}; ` +
        `ask for at most ${o.sampleCount} (e.g. --batch ${Math.min(o.batch, o.sampleCount)} --batches ${Math.max(1, Math.floor(o.sampleCount / Math.min(o.batch, o.sampleCount)))}) so no sequence is counted twice`,
    );
  }
  return { batches: fit, note: `eval: the validation split holds ${o.sampleCount} sequences; evaluating ${fit} batch(es) of ${o.batch} instead of ${o.batches} so none is repeated` };
}
