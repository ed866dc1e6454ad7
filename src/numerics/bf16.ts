/**
 * Rounding float32 values to BF16 and FP16 (RNE), returned as float32 values. BF16 keeps the
 * float32 exponent range, so rounding is on the top 16 bits and only NaN needs care; FP16
 * overflows to ±Infinity per IEEE (|x| ≥ 65520 rounds to inf) and has its own subnormals.
 */
import { FP16 } from './formats.js';
import { codecFor, roundMagnitudeBits, magnitudeCodeToFloat32, scratchF32, scratchU32, F32_INF_BITS } from './codec.js';

/** x (rounded to float32 first) rounded to BF16, ties to even; NaN stays NaN, −0 stays −0. */
export function roundToBf16Scalar(x: number): number {
  scratchF32[0] = x;
  const u = scratchU32[0];
  if ((u & 0x7fffffff) > F32_INF_BITS) return NaN;
  scratchU32[0] = (u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000;
  return scratchF32[0];
}

/** Rounds `values` (n) to BF16 into `out` (n); `out` may be `values`. No allocation. */
export function roundToBf16Into(values: Float32Array, out: Float32Array): void {
  if (!(values instanceof Float32Array)) throw new TypeError('roundToBf16Into: values must be a Float32Array');
  if (!(out instanceof Float32Array) || out.length !== values.length) {
    throw new TypeError(`roundToBf16Into: out must be a Float32Array of length ${values.length}`);
  }
  const inBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < inBits.length; i++) {
    const u = inBits[i];
    // NaN stays a (quiet) NaN: adding the rounding bias could carry its payload into infinity.
    outBits[i] = (u & 0x7fffffff) > 0x7f800000 ? (u | 0x00400000) & 0xffff0000 : (u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000;
  }
}

/** `values` (n) rounded to BF16 (RNE, NaN stays NaN), as a new Float32Array (n). */
export function roundToBf16(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  roundToBf16Into(values, out);
  return out;
}

const fp16Codec = codecFor(FP16);

/** x (rounded to float32 first) rounded to IEEE FP16, ties to even; overflow → ±Infinity. */
export function roundToFp16Scalar(x: number): number {
  scratchF32[0] = x;
  const u = scratchU32[0];
  const a = u & 0x7fffffff;
  if (a > F32_INF_BITS) return NaN;
  const sign = u >>> 31 ? -1 : 1;
  const code = roundMagnitudeBits(a, fp16Codec);
  if (code >= fp16Codec.infinityCode) return sign * Infinity;
  return sign * magnitudeCodeToFloat32(code, fp16Codec);
}

/** Rounds `values` (n) to FP16 into `out` (n); `out` may be `values`. No allocation. */
export function roundToFp16Into(values: Float32Array, out: Float32Array): void {
  if (!(values instanceof Float32Array)) throw new TypeError('roundToFp16Into: values must be a Float32Array');
  if (!(out instanceof Float32Array) || out.length !== values.length) {
    throw new TypeError(`roundToFp16Into: out must be a Float32Array of length ${values.length}`);
  }
  for (let i = 0; i < values.length; i++) out[i] = roundToFp16Scalar(values[i]);
}

/** `values` (n) rounded to FP16 (RNE, overflow to ±Infinity, NaN stays NaN), as a new Float32Array (n). */
export function roundToFp16(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  roundToFp16Into(values, out);
  return out;
}
