import type { FloatArray } from '../types.js';
import { roundingOf } from './precision.js';
/**
 * RMSNorm forward/backward, reference twin. Each row is reduced in float64 and every output is
 * rounded once to float32 on store; the native kernel works in float32 and may differ by a few ulps.
 */

/** y (R, C) = x / sqrt(mean(x²) + eps) · gain (gain null → 1); rstd (R) = 1/sqrt(mean(x²) + eps) saved. */
export function rmsnormForward(
  x: FloatArray, gain: FloatArray | null, y: FloatArray, rstd: FloatArray, R: number, C: number, eps: number,
): void {
  const round = roundingOf(rstd);
  for (let r = 0; r < R; r++) {
    const row = r * C;
    let sumSq = 0;
    for (let c = 0; c < C; c++) sumSq += x[row + c] * x[row + c];
    const inv = round(1 / Math.sqrt(sumSq / C + eps));
    rstd[r] = inv;
    for (let c = 0; c < C; c++) y[row + c] = x[row + c] * inv * (gain === null ? 1 : gain[c]);
  }
}

/**
 * dx (R, C) = rstd·(g⊙dy − x·rstd²·mean(x⊙g⊙dy)) (overwritten); dgain (C) += Σ_r dy⊙x·rstd
 * (accumulated, skipped when null). Reads only the saved rstd (R), never recomputes it.
 */
export function rmsnormBackward(
  dy: FloatArray, x: FloatArray, gain: FloatArray | null, rstd: FloatArray,
  dx: FloatArray, dgain: FloatArray | null, R: number, C: number,
): void {
  for (let r = 0; r < R; r++) {
    const row = r * C;
    const inv = rstd[r];
    let dot = 0; // Σ x·g·dy
    for (let c = 0; c < C; c++) dot += x[row + c] * (gain === null ? 1 : gain[c]) * dy[row + c];
    const k = (inv * inv * dot) / C;
    for (let c = 0; c < C; c++) {
      const g = gain === null ? 1 : gain[c];
      dx[row + c] = inv * (g * dy[row + c] - x[row + c] * k);
    }
  }
  if (dgain !== null) {
    for (let c = 0; c < C; c++) {
      let sum = 0;
      for (let r = 0; r < R; r++) sum += dy[r * C + c] * x[r * C + c] * rstd[r];
      dgain[c] += sum;
    }
  }
}
