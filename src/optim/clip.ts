/**
 * Global-norm gradient clipping (DESIGN §5): the norm is taken over every gradient element of
 * the model at once, and all gradients are scaled by min(1, maxNorm / (norm + 1e-6)) — the
 * small constant keeps the factor finite for a zero gradient, as in PyTorch's clip_grad_norm_.
 */
import type { Kernels } from '../kernels/types.js';

/** Added to the norm in the clip factor's denominator. */
export const CLIP_EPSILON = 1e-6;

/** sqrt(Σ g²) over the whole gradient arena (float64 accumulation); NaN/Infinity if any g is. */
export function globalGradNorm(kernels: Kernels, grads: Float32Array): number {
  return Math.sqrt(kernels.sumSquares(grads));
}

/** The factor clipping multiplies gradients by: min(1, maxNorm / (norm + 1e-6)). */
export function clipFactor(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new RangeError(`clipFactor: maxNorm must be > 0, got ${maxNorm}`);
  return Math.min(1, maxNorm / (norm + CLIP_EPSILON));
}

/**
 * Scales `grads` in place so that their global norm is at most `maxNorm`; returns the norm
 * before clipping. Non-finite norms leave the gradients untouched (the trainer skips the step).
 * The trainer instead hands clipFactor(norm) to AdamW.step, which scales each tensor just before
 * its update (same float32 products, one pass over the arena fewer).
 */
export function clipGradNorm(kernels: Kernels, grads: Float32Array, maxNorm: number): number {
  const norm = globalGradNorm(kernels, grads);
  if (!Number.isFinite(norm)) return norm;
  const f = Math.fround(clipFactor(norm, maxNorm));
  if (f < 1) for (let i = 0; i < grads.length; i++) grads[i] *= f;
  return norm;
}
