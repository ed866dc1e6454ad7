import type { FloatArray } from '../types.js';
/** Per-row moment sums and the global sum of squares for the monitors, reference twin (float64). */

/** out (3R): out[3r] = Σx, out[3r+1] = Σx², out[3r+2] = Σx⁴ over row r of x (R, C). */
export function rowMoments(x: FloatArray, R: number, C: number, out: Float64Array): void {
  for (let r = 0; r < R; r++) {
    let s1 = 0;
    let s2 = 0;
    let s4 = 0;
    for (let c = 0; c < C; c++) {
      const v = x[r * C + c];
      const v2 = v * v;
      s1 += v;
      s2 += v2;
      s4 += v2 * v2;
    }
    out[3 * r] = s1;
    out[3 * r + 1] = s2;
    out[3 * r + 2] = s4;
  }
}

/** Σ x² over the whole array, accumulated in float64. */
export function sumSquares(x: FloatArray): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i] * x[i];
  return sum;
}
