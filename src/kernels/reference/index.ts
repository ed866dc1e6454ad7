import type { CastStats, FloatArray, FusedCast, KernelPrecision, Kernels } from '../types.js';
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
  // A kernel's float output: written to `out` (rounded when asked); or, with a fused cast, computed
  // into a copy and cast from there (the definition the native kernels fuse), `out` left alone.
  const output = (out: FloatArray, round: boolean | undefined, cast: FusedCast | null | undefined, write: (o: FloatArray) => void): CastStats | null => {
    const o = cast ? alloc(out.length) : out;
    write(o);
    r(round, o);
    return cast ? quantize(o, cast.format, cast.scale, cast.codes) : null;
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
    rmsnormForward: (x, gain, y, rstd, R, C, eps, round, xSaved, cast) => {
      xSaved?.set(x);
      return output(y, round, cast, (o) => rmsnormForward(x, gain, o, rstd, R, C, eps));
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
    swigluForward: (h, a, R, F, round, hBits, cast) => {
      keep(h, hBits);
      return output(a, round, cast, (o) => swigluForward(values(h), o, R, F));
    },
    swigluBackward: (h, da, dh, R, F, round, cast) => output(dh, round, cast, (o) => swigluBackward(values(h), da, o, R, F)),
    smoothSwigluForward: (h, a, s, R, F, round, hBits, cast) => {
      keep(h, hBits);
      return output(a, round, cast, (o) => smoothSwigluForward(values(h), o, s, R, F));
    },
    smoothSwigluBackward: (h, s, da, dh, R, F, round, cast) => output(dh, round, cast, (o) => smoothSwigluBackward(values(h), s, da, o, R, F)),
    geluForward: (x, y, round, xBits, cast) => {
      keep(x, xBits);
      return output(y, round, cast, (o) => geluForward(values(x), o));
    },
    geluBackward: (x, dy, dx, round, cast) => output(dx, round, cast, (o) => geluBackward(values(x), dy, o)),
    xieluForward: (x, y, p, round, xBits, cast) => {
      keep(x, xBits);
      return output(y, round, cast, (o) => xieluForward(values(x), o, p));
    },
    xieluBackward: (x, dy, dx, p, round, cast) => {
      let g = { dAlphaP: 0, dAlphaN: 0 };
      const stats = output(dx, round, cast, (o) => (g = xieluBackward(values(x), dy, o, p)));
      return { ...g, cast: stats };
    },
    adamw, rowMoments, sumSquares,
    addInPlace, copyColumns, embeddingForward, embeddingBackward,
  };
}
