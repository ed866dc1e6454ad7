import type { AdamWParams, FloatArray } from '../types.js';

/**
 * Decoupled AdamW step in place, reference twin. Per element in float64: m and v are updated and
 * stored as float32, and the update uses the stored (float32) m and v, so a float32 native kernel
 * sees the same moments; w −= lr·(m̂/(√v̂ + eps) + weightDecay·w) uses w before the update.
 * w, g, m, v: (n).
 */
export function adamw(w: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, p: AdamWParams): void {
  const mCorrection = 1 - Math.pow(p.beta1, p.step);
  const vCorrection = 1 - Math.pow(p.beta2, p.step);
  for (let i = 0; i < w.length; i++) {
    const grad = g[i];
    m[i] = p.beta1 * m[i] + (1 - p.beta1) * grad;
    v[i] = p.beta2 * v[i] + (1 - p.beta2) * grad * grad;
    const mHat = m[i] / mCorrection;
    const vHat = v[i] / vCorrection;
    w[i] = w[i] - p.lr * (mHat / (Math.sqrt(vHat) + p.eps) + p.weightDecay * w[i]);
  }
}
