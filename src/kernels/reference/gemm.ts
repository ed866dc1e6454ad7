import type { FloatArray, GemmOperand } from '../types.js';
import { roundingOf } from './precision.js';
import { fp8Format } from '../../numerics/formats.js';
import { fp8DecodeTable } from '../../numerics/fp8.js';

/**
 * C (M, N) = alpha·invScaleA·invScaleB·op(A)·op(B) + beta·C, reference twin.
 *
 * Operands are decoded to their exact float32 values (FP8 codes by table, BF16 bits by a 16-bit
 * shift). Each dot product accumulates in float32, k = 0, 1, …, K−1 in order, one rounding per
 * multiply-add: acc = fround(acc + a·b) (a·b is exact in float64, so this is an FMA up to a rare
 * double rounding). Epilogue: s = fround(alpha·invScaleA·invScaleB) (in float64, one rounding),
 * c = fround(s·acc) when beta = 0 (old C ignored, even NaN), else fround(s·acc + beta·c).
 * The native twin blocks over K, so results agree within the float32 accumulation bound, not bit by bit.
 * Float64 mode (c and 'f32' operands are Float64Array): the same loop with no rounding at all.
 */
export function gemm(
  M: number, N: number, K: number, a: GemmOperand<FloatArray>, b: GemmOperand<FloatArray>, c: FloatArray, alpha = 1, beta = 0,
): void {
  const aValues = decodeOperand(a, 'a'); // stored (M, K) or, transposed, (K, M)
  const bValues = decodeOperand(b, 'b'); // stored (K, N) or, transposed, (N, K)
  const round = roundingOf(c);
  const s = round(alpha * (a.invScale ?? 1) * (b.invScale ?? 1));
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let p = 0; p < K; p++) {
        const av = a.trans ? aValues[p * M + i] : aValues[i * K + p];
        const bv = b.trans ? bValues[j * K + p] : bValues[p * N + j];
        acc = round(acc + av * bv);
      }
      c[i * N + j] = beta === 0 ? s * acc : s * acc + beta * c[i * N + j];
    }
  }
}

/** The values of a GEMM operand (float32, or float64 for a Float64Array 'f32' operand) in its stored layout (shares `data` for f32). */
export function decodeOperand(op: GemmOperand<FloatArray>, argName: string): FloatArray {
  const data = op.data;
  switch (op.dtype) {
    case 'f32':
      if (data instanceof Float32Array || data instanceof Float64Array) return data;
      break;
    case 'bf16':
      if (data instanceof Uint16Array) {
        const bits = new Uint32Array(data.length);
        for (let i = 0; i < data.length; i++) bits[i] = data[i] << 16;
        return new Float32Array(bits.buffer);
      }
      break;
    case 'e4m3':
    case 'e5m2':
      if (data instanceof Uint8Array) {
        const table = fp8DecodeTable(fp8Format(op.dtype));
        const values = new Float32Array(data.length);
        for (let i = 0; i < data.length; i++) values[i] = table[data[i]];
        return values;
      }
      break;
  }
  throw new TypeError(`gemm: ${argName}.data is a ${data?.constructor?.name}, which does not match ${argName}.dtype '${op.dtype}'`);
}
