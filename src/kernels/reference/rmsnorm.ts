/**
 * RMSNorm forward/backward, reference twin. Each row is reduced in float64 and every output is
 * rounded once to float32 on store; the native kernel works in float32 and may differ by a few ulps.
 */

/** y (R, C) = x / sqrt(mean(x²) + eps) · gain (gain null → 1); rstd (R) = 1/sqrt(mean(x²) + eps) saved. */
export function rmsnormForward(
  x: Float32Array, gain: Float32Array | null, y: Float32Array, rstd: Float32Array, R: number, C: number, eps: number,
): void {
  for (let r = 0; r < R; r++) {
    const row = r * C;
    let sumSq = 0;
    for (let c = 0; c < C; c++) sumSq += x[row + c] * x[row + c];
    const inv = Math.fround(1 / Math.sqrt(sumSq / C + eps));
    rstd[r] = inv;
    for (let c = 0; c < C; c++) y[row + c] = x[row + c] * inv * (gain === null ? 1 : gain[c]);
  }
}

/**
 * dx (R, C) = rstd·(g⊙dy − x·rstd²·mean(x⊙g⊙dy)) (overwritten); dgain (C) += Σ_r dy⊙x·rstd
 * (accumulated, skipped when null). Reads only the saved rstd (R), never recomputes it.
 */
export function rmsnormBackward(
  dy: Float32Array, x: Float32Array, gain: Float32Array | null, rstd: Float32Array,
  dx: Float32Array, dgain: Float32Array | null, R: number, C: number,
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
