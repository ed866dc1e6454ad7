import type { FloatArray } from '../types.js';
/**
 * Rotary position embedding, reference twin. Pairs (i, i + D/2) of each head vector at position t
 * rotate by angle t·theta^(−2i/D); frequencies, angles, cos and sin are computed in float64 (the
 * native kernel should precompute its cos/sin tables in double too: at t ≈ 10⁴ a float32 angle is
 * already off by ~1e-3 rad). Outputs are rounded once to float32.
 */

/** y (B, T, H, D) = rotate(x) by +angle; y may alias x. */
export function ropeForward(x: FloatArray, y: FloatArray, B: number, T: number, H: number, D: number, theta: number): void {
  rotate(x, y, B, T, H, D, theta, 1);
}

/** dx (B, T, H, D) = rotate(dy) by −angle (the transpose of a rotation); dx may alias dy. */
export function ropeBackward(dy: FloatArray, dx: FloatArray, B: number, T: number, H: number, D: number, theta: number): void {
  rotate(dy, dx, B, T, H, D, theta, -1);
}

function rotate(src: FloatArray, dst: FloatArray, B: number, T: number, H: number, D: number, theta: number, sign: 1 | -1): void {
  const half = D / 2;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < half; i++) {
        const angle = t * Math.pow(theta, (-2 * i) / D);
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
