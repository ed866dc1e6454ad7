import type { FloatArray, KernelPrecision, Kernels } from '../types.js';
import { quantize, dequantize, quantizeDequantize, roundBf16, packBf16 } from './casts.js';
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
import { addInPlace, copyColumns } from './elementwise.js';

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
  return {
    name: 'reference',
    precision,
    alloc: precision === 'float64' ? (n) => new Float64Array(n) : (n) => new Float32Array(n),
    isa: precision === 'float64' ? 'typescript-float64' : 'typescript',
    threads: 1,
    quantize, dequantize, quantizeDequantize, roundBf16, packBf16,
    gemm,
    rmsnormForward, rmsnormBackward,
    ropeForward, ropeBackward,
    crossEntropyForward, crossEntropyBackward,
    attentionForward, attentionBackward,
    swigluForward, swigluBackward, smoothSwigluForward, smoothSwigluBackward,
    geluForward, geluBackward, xieluForward, xieluBackward,
    adamw, rowMoments, sumSquares,
    addInPlace, copyColumns,
  };
}
