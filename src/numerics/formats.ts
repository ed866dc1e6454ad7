/**
 * Floating-point storage formats as data (DESIGN §2). Every codec reads the numbers of a record
 * (exponent and mantissa widths, bias, extremes, inf/NaN policy); nothing branches on `name`.
 */

/** Names of the formats fog8 knows. */
export type FloatFormatName = 'e4m3' | 'e5m2' | 'bf16' | 'fp16';

/** A binary floating-point format: sign bit, `exponentBits` exponent bits, `mantissaBits` fraction bits. */
export interface FloatFormat {
  readonly name: FloatFormatName;
  readonly exponentBits: number;
  readonly mantissaBits: number;
  /** Exponent bias: a normal value is ±2^(e − bias)·(1 + m/2^M). */
  readonly bias: number;
  /** Largest finite magnitude. */
  readonly maxFinite: number;
  /** Smallest normal magnitude, 2^(1 − bias). */
  readonly minNormal: number;
  /** Smallest subnormal magnitude, 2^(1 − bias − M). */
  readonly minSubnormal: number;
  /** Whether exponent-all-ones with mantissa 0 means ±infinity. */
  readonly hasInfinity: boolean;
  /** 'single': only S.1…1.1…1 is NaN (E4M3 "fn"); 'ieee': exponent all ones and mantissa ≠ 0. */
  readonly nanEncoding: 'single' | 'ieee';
}

function defineFormat(
  name: FloatFormatName,
  exponentBits: number,
  mantissaBits: number,
  hasInfinity: boolean,
  nanEncoding: 'single' | 'ieee',
): FloatFormat {
  const bias = 2 ** (exponentBits - 1) - 1;
  const exponentAllOnes = 2 ** exponentBits - 1;
  // IEEE-style formats reserve the top exponent for inf/NaN; "fn" formats only the top code.
  const maxExponentField = nanEncoding === 'ieee' ? exponentAllOnes - 1 : exponentAllOnes;
  const maxMantissaField = nanEncoding === 'ieee' ? 2 ** mantissaBits - 1 : 2 ** mantissaBits - 2;
  const maxFinite = 2 ** (maxExponentField - bias) * (1 + maxMantissaField / 2 ** mantissaBits);
  return Object.freeze({
    name,
    exponentBits,
    mantissaBits,
    bias,
    maxFinite,
    minNormal: 2 ** (1 - bias),
    minSubnormal: 2 ** (1 - bias - mantissaBits),
    hasInfinity,
    nanEncoding,
  });
}

/** FP8 E4M3 "fn": bias 7, max 448 (0x7E), no infinity, NaN only 0x7F / 0xFF. */
export const E4M3: FloatFormat = defineFormat('e4m3', 4, 3, false, 'single');
/** FP8 E5M2: bias 15, max 57344 (0x7B), ±inf 0x7C / 0xFC, IEEE NaNs. */
export const E5M2: FloatFormat = defineFormat('e5m2', 5, 2, true, 'ieee');
/** bfloat16: the top 16 bits of float32. */
export const BF16: FloatFormat = defineFormat('bf16', 8, 7, true, 'ieee');
/** IEEE binary16: bias 15, max 65504. */
export const FP16: FloatFormat = defineFormat('fp16', 5, 10, true, 'ieee');

const FP8_FORMATS: Readonly<Record<'e4m3' | 'e5m2', FloatFormat>> = Object.freeze({ e4m3: E4M3, e5m2: E5M2 });

/** The FP8 format record for a name; throws RangeError for anything but 'e4m3' or 'e5m2'. */
export function fp8Format(name: 'e4m3' | 'e5m2'): FloatFormat {
  if (name !== 'e4m3' && name !== 'e5m2') {
    throw new RangeError(`fp8Format: format must be 'e4m3' or 'e5m2', got ${JSON.stringify(name)}`);
  }
  return FP8_FORMATS[name];
}
