import type { FloatArray } from '../types.js';
/**
 * Softmax cross-entropy over the vocabulary, reference twin. Rows reduce in float64 (max-shifted
 * log-sum-exp); outputs are rounded once to float32. Target −1 marks an ignored row: its loss is 0
 * and its dlogits row 0; its lse is still computed and stored. Targets are checked by withValidation.
 */

/** losses (R) = lse − logits[r, target]; lse (R) = log Σ_v exp(logits[r, v]) saved. logits (R, V). */
export function crossEntropyForward(
  logits: FloatArray, targets: Int32Array, losses: FloatArray, lse: FloatArray, R: number, V: number,
): void {
  for (let r = 0; r < R; r++) {
    const row = r * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[row + v] > max) max = logits[row + v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[row + v] - max);
    const rowLse = max + Math.log(sum);
    lse[r] = rowLse;
    const target = targets[r];
    losses[r] = target < 0 ? 0 : rowLse - logits[row + target];
  }
}

/** dlogits (R, V) = dloss[r]·(exp(logits − lse[r]) − onehot(target)), overwritten; 0 for ignored rows. */
export function crossEntropyBackward(
  logits: FloatArray, targets: Int32Array, lse: FloatArray, dloss: FloatArray, dlogits: FloatArray, R: number, V: number,
): void {
  for (let r = 0; r < R; r++) {
    const row = r * V;
    const target = targets[r];
    if (target < 0) {
      dlogits.fill(0, row, row + V);
      continue;
    }
    for (let v = 0; v < V; v++) {
      const p = Math.exp(logits[row + v] - lse[r]);
      dlogits[row + v] = dloss[r] * (p - (v === target ? 1 : 0));
    }
  }
}
