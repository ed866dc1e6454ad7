/**
 * Bounds on what `fog8 eval` may be asked for: the memory of a forward pass over B sequences
 * against this machine's memory — with the same plan and the same limit as training
 * (src/train/memory.ts; eval holds no optimizer state) — and the number of validation sequences
 * against the size of the split, so samples are never silently repeated.
 */
import { totalmem } from 'node:os';
import type { ModelConfig } from '../model/config.js';
import type { PrecisionRecipe } from '../numerics/recipe.js';
import { formatBytes, planTrainingMemory } from './memory.js';

/**
 * Throws a RangeError giving the memory needed when evaluating batches of B sequences of T tokens
 * would exceed `limit` bytes (default: this machine's RAM, as for training): parameters,
 * gradient arena, weight casts and the graph's buffers for B × T (allocated by the first pass).
 */
export function checkEvalMemory(c: ModelConfig, recipe: PrecisionRecipe, B: number, T: number, limit = totalmem()): void {
  // Inference models share one fc1-output buffer (inference.ts), as recomputeMlp does.
  const plan = planTrainingMemory(c, recipe, B, T, { m1: 'fp32', m2: 'fp32' }, { recomputeMlp: true });
  const fixed = plan.parameters + plan.gradients + plan.weightCasts;
  const need = fixed + plan.activations;
  if (need <= limit) return;
  const perSequence = planTrainingMemory(c, recipe, 1, T, { m1: 'fp32', m2: 'fp32' }, { recomputeMlp: true }).activations;
  const fits = Math.floor((limit - fixed) / perSequence);
  throw new RangeError(
    `--batch ${B}: evaluating ${B} sequences × ${T} tokens at once needs about ${formatBytes(need)} (activations ≈${formatBytes(plan.activations)}, ` +
      `about ${formatBytes(perSequence)} per sequence; weights and casts ${formatBytes(fixed)}), more than the ${formatBytes(limit)} of RAM; ` +
      (fits >= 1 ? `use --batch ≤ ${fits}` : 'the model does not fit even one sequence here'),
  );
}

/**
 * How many batches of `batch` sequences to evaluate over a split of `sampleCount` sequences without
 * repeating any. An explicit request that does not fit is an error; a default one is reduced (the
 * returned note says so).
 */
export function planEvalBatches(o: { sampleCount: number; batch: number; batches: number; explicit: boolean; flags?: { batch: string; batches: string } }): { batches: number; note: string | null } {
  const wanted = o.batch * o.batches;
  if (wanted <= o.sampleCount) return { batches: o.batches, note: null };
  const fit = Math.floor(o.sampleCount / o.batch);
  const flags = o.flags ?? { batch: '--batch', batches: '--batches' };
  if (o.explicit || fit < 1) {
    throw new RangeError(
      `${flags.batch} ${o.batch} × ${flags.batches} ${o.batches} = ${wanted} sequences, but the validation split holds only ${o.sampleCount}; ` +
        `ask for at most ${o.sampleCount} (e.g. ${flags.batch} ${Math.min(o.batch, o.sampleCount)} ${flags.batches} ${Math.max(1, Math.floor(o.sampleCount / Math.min(o.batch, o.sampleCount)))}) so no sequence is counted twice`,
    );
  }
  return { batches: fit, note: `eval: the validation split holds ${o.sampleCount} sequences; evaluating ${fit} batch(es) of ${o.batch} instead of ${o.batches} (${flags.batches}) so none is repeated` };
}
