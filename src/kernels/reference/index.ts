import type { FloatArray, KernelPrecision, Kernels } from '../types.js';
import { quantize, quantizeColumns, dequantize, quantizeDequantize, roundBf16, packBf16, unpackBf16 } from './casts.js';
import { gemm } from './gemm.js';
import { rmsnormForward, rmsnormBackward } from './rmsnorm.js';
import { ropeForward, ropeBackward } from './rope.js';
import { crossEntropyForward, crossEntropyBackward } from './cross-entropy.js';
import { attentionForward, attentionBackward } from './attention.js';
import {
  swigluForward, swigluBackward, smoothSwigluForward, smoothSwigluBackward,
  geluForward, geluBackward, xieluForward, xieluBackward,
} from './activations.js';
import { adamw } from './adamw.js';
import { rowMoments, sumSquares } from './moments.js';
import { addInPlace, copyColumns, embeddingForward, embeddingBackward } from './elementwise.js';

/**
 * The pure-TypeScript reference backend: plain loops, one thread, the living spec of every
 * `Kernels` method. It does not validate arguments itself; the loader wraps it in withValidation.
 * `createReferenceKernels('float64')` is the same code on Float64Array buffers with no float32
 * rounding (see precision.ts): the float64 mode the gradient checks run the whole model in.
 */
export function createReferenceKernels(): Kernels<Float32Array>;
export function createReferenceKernels(precision: 'float32'): Kernels<Float32Array>;
export function createReferenceKernels(precision: 'float64'): Kernels<Float64Array>;
export function createReferenceKernels(precision: KernelPrecision): Kernels<FloatArray>;
export function createReferenceKernels(precision: KernelPrecision = 'float32'): Kernels<FloatArray> {
  if (precision !== 'float32' && precision !== 'float64') {
    throw new TypeError(`createReferenceKernels: precision must be 'float32' or 'float64', got '${String(precision)}'`);
  }
  // roundBf16 flags: the kernel, then a roundBf16 pass over its output (what the native kernels fuse).
  const r = (round: boolean | undefined, out: FloatArray): void => {
    if (round === true) roundBf16(out, out);
  };
  const alloc = precision === 'float64' ? (n: number) => new Float64Array(n) : (n: number) => new Float32Array(n);
  // An activation's input given as BF16 bits: the float values they encode (exact in both precisions).
  const values = (x: FloatArray | Uint16Array): FloatArray => {
    if (!(x instanceof Uint16Array)) return x;
    const out = alloc(x.length);
    unpackBf16(x, out);
    return out;
  };
  // A forward's BF16 copy of its input: packBf16 of the input values.
  const keep = (x: FloatArray | Uint16Array, bits: Uint16Array | null | undefined): void => {
    if (bits) packBf16(values(x), bits);
  };
  return {
    name: 'reference',
    precision,
    alloc,
    isa: precision === 'float64' ? 'typescript-float64' : 'typescript',
    threads: 1,
    workspaceBytes: 0,
    quantize, quantizeColumns, roundBf16, packBf16, unpackBf16,
    dequantize: (codes, format, invScale, out, round) => { dequantize(codes, format, invScale, out); r(round, out); },
    quantizeDequantize: (x, format, scale, out, round) => {
      const stats = quantizeDequantize(x, format, scale, out);
      r(round, out);
      return stats;
    },
    gemm: (M, N, K, a, b, c, alpha, beta, round) => { gemm(M, N, K, a, b, c, alpha, beta); r(round, c); },
    rmsnormForward: (x, gain, y, rstd, R, C, eps, round, xSaved) => {
      xSaved?.set(x);
      rmsnormForward(x, gain, y, rstd, R, C, eps);
      r(round, y);
    },
    rmsnormBackward: (dy, x, gain, rstd, dx, dgain, R, C, round) => { rmsnormBackward(dy, x, gain, rstd, dx, dgain, R, C); r(round, dx); },
    ropeForward: (x, y, B, T, H, D, theta, scaling, round) => { ropeForward(x, y, B, T, H, D, theta, scaling); r(round, y); },
    ropeBackward: (dy, dx, B, T, H, D, theta, scaling, round) => { ropeBackward(dy, dx, B, T, H, D, theta, scaling); r(round, dx); },
    crossEntropyForward,
    crossEntropyBackward: (logits, targets, lse, dloss, dlogits, R, V, round) => {
      crossEntropyBackward(logits, targets, lse, dloss, dlogits, R, V);
      r(round, dlogits);
    },
    // The forward, the float backward, then packBf16 of it: the definition the native kernel fuses.
    crossEntropyBf16: (logits, targets, losses, lse, dloss, bits, R, V) => {
      crossEntropyForward(logits, targets, losses, lse, R, V);
      const dlogits = new Float32Array(R * V);
      crossEntropyBackward(logits, targets, lse, dloss, dlogits, R, V);
      packBf16(dlogits, bits);
    },
    attentionForward, attentionBackward,
    swigluForward: (h, a, R, F, round, hBits) => { keep(h, hBits); swigluForward(values(h), a, R, F); r(round, a); },
    swigluBackward: (h, da, dh, R, F, round) => { swigluBackward(values(h), da, dh, R, F); r(round, dh); },
    smoothSwigluForward: (h, a, s, R, F, round, hBits) => { keep(h, hBits); smoothSwigluForward(values(h), a, s, R, F); r(round, a); },
    smoothSwigluBackward: (h, s, da, dh, R, F, round) => { smoothSwigluBackward(values(h), s, da, dh, R, F); r(round, dh); },
    geluForward: (x, y, round, xBits) => { keep(x, xBits); geluForward(values(x), y); r(round, y); },
    geluBackward: (x, dy, dx, round) => { geluBackward(values(x), dy, dx); r(round, dx); },
    xieluForward: (x, y, p, round, xBits) => { keep(x, xBits); xieluForward(values(x), y, p); r(round, y); },
    xieluBackward: (x, dy, dx, p, round) => {
      const g = xieluBackward(values(x), dy, dx, p);
      r(round, dx);
      return g;
    },
    adamw, rowMoments, sumSquares,
    addInPlace, copyColumns, embeddingForward, embeddingBackward,
  };
}
