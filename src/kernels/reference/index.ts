import type { Kernels } from '../types.js';
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

/**
 * The pure-TypeScript reference backend: plain loops, one thread, the living spec of every
 * `Kernels` method. It does not validate arguments itself; the loader wraps it in withValidation.
 */
export function createReferenceKernels(): Kernels {
  return {
    name: 'reference',
    isa: 'typescript',
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
  };
}
