import type { FloatArray, RopeScaling } from '../types.js';
/**
 * Rotary position embedding, reference twin. Pairs (i, i + D/2) of each head vector at position t
 * rotate by angle t·f_i; the frequencies f_i (ropeFrequencies), angles, cos and sin are computed
 * in float64 (the native kernel gets the same float64 frequency table: at t ≈ 10⁴ a float32 angle
 * is already off by ~1e-3 rad). Outputs are rounded once to float32.
 */

/**
 * The D/2 rotation frequencies f_i = theta^(−2i/D), in float64, with Llama-3.1 scaling applied
 * when `scaling` is given: wavelength λ = 2π/f; λ > C/low → f/factor; λ < C/high → f; otherwise
 * (1 − s)·f/factor + s·f with s = (C/λ − low)/(high − low), C = originalContext. This is the one
 * place frequencies are computed; the native addon is handed this table.
 */
export function ropeFrequencies(D: number, theta: number, scaling: RopeScaling | null = null): Float64Array {
  const half = D / 2;
  const f = new Float64Array(half);
  for (let i = 0; i < half; i++) f[i] = Math.pow(theta, (-2 * i) / D);
  if (scaling === null) return f;
  const { factor, lowFreqFactor: low, highFreqFactor: high, originalContext: C } = scaling;
  const lowFreqWavelength = C / low;
  const highFreqWavelength = C / high;
  for (let i = 0; i < half; i++) {
    const wavelength = (2 * Math.PI) / f[i];
    if (wavelength > lowFreqWavelength) f[i] /= factor;
    else if (wavelength >= highFreqWavelength) {
      const s = (C / wavelength - low) / (high - low);
      f[i] = (1 - s) * (f[i] / factor) + s * f[i];
    }
  }
  return f;
}

/** y (B, T, H, D) = rotate(x) by +angle; y may alias x. */
export function ropeForward(x: FloatArray, y: FloatArray, B: number, T: number, H: number, D: number, theta: number, scaling: RopeScaling | null = null): void {
  rotate(x, y, B, T, H, D, ropeFrequencies(D, theta, scaling), 1);
}

/** dx (B, T, H, D) = rotate(dy) by −angle (the transpose of a rotation); dx may alias dy. */
export function ropeBackward(dy: FloatArray, dx: FloatArray, B: number, T: number, H: number, D: number, theta: number, scaling: RopeScaling | null = null): void {
  rotate(dy, dx, B, T, H, D, ropeFrequencies(D, theta, scaling), -1);
}

function rotate(src: FloatArray, dst: FloatArray, B: number, T: number, H: number, D: number, freq: Float64Array, sign: 1 | -1): void {
  const half = D / 2;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < half; i++) {
        const angle = t * freq[i];
        const cos = Math.cos(angle);
        const sin = sign * Math.sin(angle);
        for (let h = 0; h < H; h++) {
          const base = ((b * T + t) * H + h) * D;
          const x1 = src[base + i]; // read both before writing: dst may alias src
          const x2 = src[base + i + half];
          dst[base + i] = x1 * cos - x2 * sin;
          dst[base + i + half] = x1 * sin + x2 * cos;
        }
      }
    }
  }
}
