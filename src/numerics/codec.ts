/**
 * Integer rounding of float32 bit patterns into a narrower binary format (internal). The numbers
 * of the format record become a few integer constants; rounding is then add-and-shift on the
 * float32 bits, which is exact and round-to-nearest-even by construction (the "+ half − 1 + lsb"
 * trick), including the subnormal range of the narrow format.
 */
import type { FloatFormat } from './formats.js';

/** Shared scratch view for reading the bits of one float32 (single-threaded JS: no races). */
export const scratchF32 = new Float32Array(1);
export const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Bits of +infinity in float32; any magnitude above it is NaN. */
export const F32_INF_BITS = 0x7f800000;

/** Integer constants derived from a format record (all codes are magnitudes, sign excluded). */
export interface NarrowCodec {
  readonly format: FloatFormat;
  /** float32 mantissa bits dropped by the narrow format: 23 − M. */
  readonly shift: number;
  /** 2^(shift−1) − 1: with the kept lsb added, this rounds to nearest, ties to even. */
  readonly roundBias: number;
  /** (127 − bias)·2^M: converts a float32 (exponent, mantissa) prefix to the narrow code. */
  readonly normalOffset: number;
  /** float32 bits of the narrow format's min normal; magnitudes below take the subnormal path. */
  readonly minNormalBits: number;
  /** For a float32 biased exponent e below min normal, the subnormal shift is this − e. */
  readonly subnormalShiftBase: number;
  /** Code of the largest finite magnitude. */
  readonly maxFiniteCode: number;
  /** Code of +infinity, or −1 if the format has none. */
  readonly infinityCode: number;
  /** Canonical (positive, quiet) NaN code. */
  readonly nanCode: number;
  /** Width of a code including the sign bit. */
  readonly totalBits: number;
}

const codecCache = new Map<FloatFormat, NarrowCodec>();

/** The integer constants of a format (cached per record). Requires bias ≤ 127 and M ≤ 23. */
export function codecFor(format: FloatFormat): NarrowCodec {
  const cached = codecCache.get(format);
  if (cached !== undefined) return cached;
  const M = format.mantissaBits;
  const E = format.exponentBits;
  if (!(M >= 1 && M <= 23 && E >= 2 && E <= 8 && format.bias <= 127)) {
    throw new RangeError(`codecFor: format ${format.name} (E${E}M${M}, bias ${format.bias}) is not narrower than float32`);
  }
  const minExponent = 1 - format.bias;
  const exponentAllOnes = 2 ** E - 1;
  // The max finite code follows from the max finite value: exponent field and mantissa field.
  const maxExponent = Math.floor(Math.log2(format.maxFinite));
  const maxMantissaField = (format.maxFinite / 2 ** maxExponent - 1) * 2 ** M;
  const maxFiniteCode = (maxExponent + format.bias) * 2 ** M + maxMantissaField;
  const nanMantissa = format.nanEncoding === 'single' ? 2 ** M - 1 : 2 ** (M - 1);
  const codec: NarrowCodec = Object.freeze({
    format,
    shift: 23 - M,
    roundBias: 2 ** (22 - M) - 1,
    normalOffset: (127 - format.bias) * 2 ** M,
    minNormalBits: (minExponent + 127) * 2 ** 23,
    subnormalShiftBase: 150 - M + minExponent,
    maxFiniteCode,
    infinityCode: format.hasInfinity ? exponentAllOnes * 2 ** M : -1,
    nanCode: exponentAllOnes * 2 ** M + nanMantissa,
    totalBits: 1 + E + M,
  });
  codecCache.set(format, codec);
  return codec;
}

/**
 * Rounds a finite-or-infinite float32 magnitude (bits `a`, sign cleared, not NaN) to the nearest
 * narrow code, ties to even. The result is not clamped: it may exceed maxFiniteCode.
 */
export function roundMagnitudeBits(a: number, c: NarrowCodec): number {
  if (a >= c.minNormalBits) {
    return ((a + c.roundBias + ((a >>> c.shift) & 1)) >>> c.shift) - c.normalOffset;
  }
  // Subnormal in the narrow format: shift the 24-bit significand right by r with RNE.
  const e = a >>> 23;
  const significand = e === 0 ? a : (a & 0x7fffff) | 0x800000;
  const r = c.subnormalShiftBase - (e === 0 ? 1 : e);
  if (r > 24) return 0; // below half the min subnormal (or exactly half, which ties to 0)
  return (significand + ((1 << (r - 1)) - 1) + ((significand >>> r) & 1)) >>> r;
}

/** float32 value of a finite magnitude code (no inf/NaN handling). */
export function magnitudeCodeToFloat32(code: number, c: NarrowCodec): number {
  if (code < 2 ** c.format.mantissaBits) return code * c.format.minSubnormal;
  scratchU32[0] = (code + c.normalOffset) << c.shift;
  return scratchF32[0];
}
