import type { FloatArray, XieluParams } from '../types.js';
import { erfc } from './erf.js';

/**
 * MLP activations forward/backward, reference twin: SiLU-gated (SwiGLU), Smooth-SwiGLU, GeLU (erf)
 * and xIELU (DESIGN §4). Each element is computed in float64 and rounded once to float32 on store.
 * Gated layouts: h (R, 2F) holds [gate | up] per row, a (R, F).
 */

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** a = silu(gate) ⊙ up. */
export function swigluForward(h: FloatArray, a: FloatArray, R: number, F: number): void {
  for (let r = 0; r < R; r++) {
    for (let j = 0; j < F; j++) {
      const gate = h[2 * F * r + j];
      const up = h[2 * F * r + F + j];
      a[F * r + j] = gate * sigmoid(gate) * up;
    }
  }
}

/** dh (R, 2F) = [da·up·silu'(gate) | da·silu(gate)], overwritten. */
export function swigluBackward(h: FloatArray, da: FloatArray, dh: FloatArray, R: number, F: number): void {
  gatedBackward(h, da, dh, R, F, null);
}

/**
 * s (R) = max_j |gate[r, j]| (a row of zeros gives 1; a NaN gives NaN), a = silu(gate) ⊙ up / s.
 */
export function smoothSwigluForward(h: FloatArray, a: FloatArray, s: FloatArray, R: number, F: number): void {
  for (let r = 0; r < R; r++) {
    let max = 0;
    for (let j = 0; j < F; j++) {
      const m = Math.abs(h[2 * F * r + j]);
      if (m > max || Number.isNaN(m)) max = m;
      if (Number.isNaN(max)) break;
    }
    const rowScale = max === 0 ? 1 : max;
    s[r] = rowScale;
    for (let j = 0; j < F; j++) {
      const gate = h[2 * F * r + j];
      const up = h[2 * F * r + F + j];
      a[F * r + j] = (gate * sigmoid(gate) * up) / rowScale;
    }
  }
}

/** As swigluBackward with da/s; s is a constant (no gradient flows through it, DESIGN §4). */
export function smoothSwigluBackward(h: FloatArray, s: FloatArray, da: FloatArray, dh: FloatArray, R: number, F: number): void {
  gatedBackward(h, da, dh, R, F, s);
}

function gatedBackward(h: FloatArray, da: FloatArray, dh: FloatArray, R: number, F: number, s: FloatArray | null): void {
  for (let r = 0; r < R; r++) {
    const inv = s === null ? 1 : 1 / s[r];
    for (let j = 0; j < F; j++) {
      const gate = h[2 * F * r + j];
      const up = h[2 * F * r + F + j];
      const sig = sigmoid(gate);
      const g = da[F * r + j] * inv;
      dh[2 * F * r + j] = g * up * sig * (1 + gate * (1 - sig));
      dh[2 * F * r + F + j] = g * gate * sig;
    }
  }
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327;

/** Φ(x), the standard normal CDF, via erfc so that the left tail keeps its relative accuracy. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x * SQRT1_2);
}

/** y = x·Φ(x). x, y: (n). */
export function geluForward(x: FloatArray, y: FloatArray): void {
  for (let i = 0; i < x.length; i++) y[i] = x[i] * normalCdf(x[i]);
}

/** dx = dy·(Φ(x) + x·φ(x)). */
export function geluBackward(x: FloatArray, dy: FloatArray, dx: FloatArray): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    dx[i] = dy[i] * (normalCdf(v) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
  }
}

/** f(x) = αp·x² + β·x for x > 0; αn·expm1(min(x, ε)) − αn·x + β·x otherwise (DESIGN §4). */
export function xieluForward(x: FloatArray, y: FloatArray, p: XieluParams): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = v > 0 ? p.alphaP * v * v + p.beta * v : p.alphaN * Math.expm1(Math.min(v, p.eps)) - p.alphaN * v + p.beta * v;
  }
}

/**
 * dx = dy·f'(x) with f'(x) = 2αp·x + β (x > 0), αn·eˣ − αn + β (x ≤ ε), −αn + β (ε < x ≤ 0: min(x, ε)
 * is the constant ε there); returns ∂L/∂αp = Σ dy·x² (x > 0) and ∂L/∂αn = Σ dy·(expm1(min(x, ε)) − x)
 * (x ≤ 0), summed in float64.
 */
export function xieluBackward(x: FloatArray, dy: FloatArray, dx: FloatArray, p: XieluParams): { dAlphaP: number; dAlphaN: number } {
  let dAlphaP = 0;
  let dAlphaN = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const g = dy[i];
    if (v > 0) {
      dx[i] = g * (2 * p.alphaP * v + p.beta);
      dAlphaP += g * v * v;
    } else {
      const expTerm = v <= p.eps ? p.alphaN * Math.exp(v) : 0;
      dx[i] = g * (expTerm - p.alphaN + p.beta);
      dAlphaN += g * (Math.expm1(Math.min(v, p.eps)) - v);
    }
  }
  return { dAlphaP, dAlphaN };
}
