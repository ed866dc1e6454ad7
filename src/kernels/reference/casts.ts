import type { CastStats, FloatArray, Fp8FormatName } from '../types.js';
import { asFloat32 } from './precision.js';
import { fp8Format, type FloatFormat } from '../../numerics/formats.js';
import { encodeFp8Into, encodeFp8Scalar, fp8DecodeTable } from '../../numerics/fp8.js';
import { roundToBf16Into } from '../../numerics/bf16.js';

/**
 * FP8 and BF16 casts, reference twin, built on the bit-exact numerics codecs. `scale` and
 * `invScale` are used as float32 (Math.fround first) and every product is formed in float32. The
 * input is read as float32: in the float64 mode a Float64Array input is rounded to float32 first
 * (the formats are defined on float32 values); outputs are stored as they are.
 *
 * Cast statistics (CastStats), exactly:
 * - amax: max |x| of the unscaled input; NaN as soon as any input is NaN; may be Infinity.
 * - underflow: inputs with x ≠ 0 and not NaN whose code decodes to ±0 (including x·scale
 *   underflowing float32 itself).
 * - nonzero: inputs that are not ±0 (NaN included) — the denominator of the underflow fraction.
 * - overflow: inputs, not NaN, with |fround(x·scale)| > format max (±Infinity included), i.e. the
 *   ones the saturating cast clamps to ±max. A value in (max, max + ½ulp] counts although plain
 *   RNE would also give max: the count is "above max", as the contract states.
 * - sumSq, errSq, absSum, lostAbs: over the finite inputs, float64 sums of x², (x − x̂)², |x|, and
 *   |x| where the code is ±0, with x̂ = fround(decode(code)·fround(1/scale)) (what dequantize gives).
 */

/** codes (n) = FP8(fround(x·scale)); x (n). */
export function quantize(input: FloatArray, format: Fp8FormatName, scale: number, codes: Uint8Array): CastStats {
  const x = asFloat32(input);
  const fmt = fp8Format(format);
  const scale32 = Math.fround(scale);
  encodeFp8Into(x, fmt, scale32, codes);
  const table = fp8DecodeTable(fmt);
  const inv32 = Math.fround(1 / scale32);
  const stats = emptyStats();
  for (let i = 0; i < x.length; i++) {
    countElement(stats, x[i], scale32, table[codes[i]], fmt);
    countError(stats, x[i], table[codes[i]], inv32);
  }
  return stats;
}

/** quantize of x (R, cols) into columns [codesCol0, codesCol0 + cols) of codes (R, codesCols). */
export function quantizeColumns(
  x: FloatArray, format: Fp8FormatName, scale: number, codes: Uint8Array, codesCols: number, codesCol0: number, R: number, cols: number,
): CastStats {
  if (!Number.isSafeInteger(codesCol0) || codesCol0 < 0 || codesCol0 + cols > codesCols) {
    throw new RangeError(`quantizeColumns: codesCol0 must be an integer with 0 ≤ codesCol0 and codesCol0 + cols ≤ ${codesCols}, got ${codesCol0} (cols ${cols})`);
  }
  const block = new Uint8Array(R * cols);
  const stats = quantize(x, format, scale, block);
  for (let r = 0; r < R; r++) codes.set(block.subarray(r * cols, (r + 1) * cols), r * codesCols + codesCol0);
  return stats;
}

/** out (n) = fround(decode(codes) · fround(invScale)). */
export function dequantize(codes: Uint8Array, format: Fp8FormatName, invScale: number, out: FloatArray): void {
  const table = fp8DecodeTable(fp8Format(format));
  const inv32 = Math.fround(invScale);
  for (let i = 0; i < codes.length; i++) out[i] = table[codes[i]] * inv32;
}

/**
 * out (n) = fround(decode(FP8(fround(x·scale))) · fround(1/scale)); out may alias x. Stats as quantize.
 */
export function quantizeDequantize(input: FloatArray, format: Fp8FormatName, scale: number, out: FloatArray): CastStats {
  const x = asFloat32(input);
  const fmt = fp8Format(format);
  const table = fp8DecodeTable(fmt);
  const scale32 = Math.fround(scale);
  const inv32 = Math.fround(1 / scale32);
  const stats = emptyStats();
  for (let i = 0; i < x.length; i++) {
    const value = x[i];
    const decoded = table[encodeFp8Scalar(value * scale32, fmt)];
    countElement(stats, value, scale32, decoded, fmt);
    countError(stats, value, decoded, inv32);
    out[i] = decoded * inv32;
  }
  return stats;
}

/**
 * The FP8 value decode(FP8(fround(x·scale))) of one float32 value, unscaled (the attention kernels'
 * in-kernel P and dS casts, whose inverse scale is applied to the accumulators); stats as
 * fakeQuantizeScalar (errSq against x̂ = fround(decoded·inv32)).
 */
export function quantizeScalarValue(input: number, fmt: FloatFormat, scale32: number, inv32: number, stats: CastStats): number {
  const value = Math.fround(input);
  const decoded = fp8DecodeTable(fmt)[encodeFp8Scalar(value * scale32, fmt)];
  countElement(stats, value, scale32, decoded, fmt);
  countError(stats, value, decoded, inv32);
  return decoded;
}

/** Fake-quantizes one float32 value, updating `stats`. */
export function fakeQuantizeScalar(input: number, fmt: FloatFormat, scale32: number, inv32: number, stats: CastStats): number {
  const value = Math.fround(input);
  const decoded = fp8DecodeTable(fmt)[encodeFp8Scalar(value * scale32, fmt)];
  countElement(stats, value, scale32, decoded, fmt);
  countError(stats, value, decoded, inv32);
  return Math.fround(decoded * inv32);
}

export function emptyStats(): CastStats {
  return { amax: 0, underflow: 0, overflow: 0, nonzero: 0, sumSq: 0, errSq: 0, absSum: 0, lostAbs: 0 };
}

/** Error sums of one element (finite x only): x̂ = fround(decoded·inv32); decoded 0 ⇔ code ±0. */
function countError(stats: CastStats, value: number, decoded: number, inv32: number): void {
  if (!Number.isFinite(value)) return;
  const d = value - Math.fround(decoded * inv32);
  const a = Math.abs(value);
  stats.sumSq = (stats.sumSq ?? 0) + value * value;
  stats.errSq = (stats.errSq ?? 0) + d * d;
  stats.absSum = (stats.absSum ?? 0) + a;
  if (decoded === 0) stats.lostAbs = (stats.lostAbs ?? 0) + a;
}

function countElement(stats: CastStats, value: number, scale32: number, decoded: number, fmt: FloatFormat): void {
  if (value !== 0) stats.nonzero++; // NaN too
  if (Number.isNaN(value)) {
    stats.amax = NaN;
    return;
  }
  const magnitude = Math.abs(value);
  if (magnitude > stats.amax) stats.amax = magnitude; // false once amax is NaN: NaN sticks
  if (value !== 0 && decoded === 0) stats.underflow++;
  if (Math.abs(Math.fround(value * scale32)) > fmt.maxFinite) stats.overflow++;
}

/** out (n) = x rounded to BF16 (RNE on the top 16 bits, NaN stays NaN) as float32; out may alias x. */
export function roundBf16(x: FloatArray, out: FloatArray): void {
  if (x instanceof Float32Array && out instanceof Float32Array) roundToBf16Into(x, out);
  else {
    const rounded = new Float32Array(x.length);
    roundToBf16Into(asFloat32(x), rounded);
    out.set(rounded);
  }
}

/** out (n) = the BF16 values of bits (n): bits·2¹⁶ as float32 bits, exact. */
export function unpackBf16(bits: Uint16Array, out: FloatArray): void {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < bits.length; i++) {
    u[0] = bits[i] << 16;
    out[i] = f[0];
  }
}

/** bits (n) = upper 16 bits of roundBf16(x). */
export function packBf16(x: FloatArray, bits: Uint16Array): void {
  const rounded = new Float32Array(x.length);
  roundToBf16Into(asFloat32(x), rounded);
  const roundedBits = new Uint32Array(rounded.buffer);
  for (let i = 0; i < x.length; i++) bits[i] = roundedBits[i] >>> 16;
}
