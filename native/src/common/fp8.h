// FP8 and BF16 scalar codecs (DESIGN §2), driven by format parameters rather than names.
// Decode is a 256-entry table built from the parameters; encode is the float32 bit algorithm:
// saturate above max, round-to-nearest-even into normals by integer rounding of the float32
// bits, into subnormals by one float32 addition of a magic constant whose ulp is the step.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

// Translation units compiled with ISA flags define FOG8_ISA_NAMESPACE so that these inline
// functions get distinct symbols there: the linker must never pick an AVX2-compiled copy for the
// portable path.
#ifdef FOG8_ISA_NAMESPACE
#define FOG8_FP8_BEGIN namespace fog8 { inline namespace FOG8_ISA_NAMESPACE {
#define FOG8_FP8_END } }
#else
#define FOG8_FP8_BEGIN namespace fog8 {
#define FOG8_FP8_END }
#endif

FOG8_FP8_BEGIN

/** An FP8 format as data. Codes are sign·exponent·mantissa, 1 + exponentBits + mantissaBits = 8. */
struct Fp8Format {
  int exponentBits;
  int mantissaBits;
  int bias;
  float maxFinite;
  bool hasInfinity;
  /** Single NaN pattern S.1111.111 (e4m3fn) vs IEEE (exponent all ones, mantissa ≠ 0). */
  bool singleNan;
  /** Quiet-NaN code (sign clear) written for NaN inputs, with the input's sign: 0x7F / 0x7E. */
  uint8_t nanCode;
};

inline constexpr Fp8Format kE4M3{4, 3, 7, 448.0f, false, true, 0x7F};
inline constexpr Fp8Format kE5M2{5, 2, 15, 57344.0f, true, false, 0x7E};

/** Returns the format record for 'e4m3' / 'e5m2', or nullptr for anything else. */
inline const Fp8Format* fp8FormatByName(const char* name) {
  if (std::strcmp(name, "e4m3") == 0) return &kE4M3;
  if (std::strcmp(name, "e5m2") == 0) return &kE5M2;
  return nullptr;
}

inline uint32_t floatBits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
inline float bitsFloat(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

/** Decode one code from the format's numbers (used to build the table). */
inline float fp8DecodeSlow(uint8_t code, const Fp8Format& f) {
  const int M = f.mantissaBits, E = f.exponentBits;
  const uint32_t sign = code >> 7;
  const uint32_t e = (code >> M) & ((1u << E) - 1);
  const uint32_t m = code & ((1u << M) - 1);
  const uint32_t eMax = (1u << E) - 1;
  float mag;
  if (f.singleNan && e == eMax && m == (1u << M) - 1) {
    mag = NAN;
  } else if (!f.singleNan && e == eMax) {
    mag = m == 0 && f.hasInfinity ? INFINITY : NAN;
  } else if (e == 0) {
    mag = std::ldexp(static_cast<float>(m), 1 - f.bias - M);
  } else {
    mag = std::ldexp(static_cast<float>((1u << M) | m), static_cast<int>(e) - f.bias - M);
  }
  // NaN codes decode to the one quiet NaN (as JavaScript stores NaN), whatever their sign.
  if (mag != mag) return NAN;
  return sign ? -mag : mag;
}

/** 256-entry decode table of a format. */
struct Fp8Table {
  float value[256];
  explicit Fp8Table(const Fp8Format& f) {
    for (int c = 0; c < 256; c++) value[c] = fp8DecodeSlow(static_cast<uint8_t>(c), f);
  }
};

/** The cached decode table of kE4M3 or kE5M2 (by identity), built on first use. */
inline const Fp8Table& fp8Table(const Fp8Format& f) {
  static const Fp8Table e4m3(kE4M3);
  static const Fp8Table e5m2(kE5M2);
  return &f == &kE5M2 ? e5m2 : e4m3;
}

/** Constants of the encode algorithm derived from a format (precomputed once per call). */
struct Fp8EncodeConstants {
  float maxFinite;
  uint8_t maxCode;        // code of +maxFinite
  uint8_t nanCode;
  float minNormal;        // 2^(1 − bias)
  float subnormalMagic;   // 2^(1 − bias − M + 23): its float32 ulp is the subnormal step
  uint32_t subnormalMagicBits;
  int shift;              // 23 − M dropped mantissa bits
  uint32_t roundHalfMinusOne;  // 2^(shift − 1) − 1
  uint32_t rebias;        // (127 − bias) << M
  explicit Fp8EncodeConstants(const Fp8Format& f) {
    const int M = f.mantissaBits;
    maxFinite = f.maxFinite;
    shift = 23 - M;
    roundHalfMinusOne = (1u << (shift - 1)) - 1;
    rebias = static_cast<uint32_t>(127 - f.bias) << M;
    minNormal = std::ldexp(1.0f, 1 - f.bias);
    subnormalMagic = std::ldexp(1.0f, 1 - f.bias - M + 23);
    subnormalMagicBits = floatBits(subnormalMagic);
    nanCode = f.nanCode;
    maxCode = encodeMagnitude(maxFinite);
  }
  /** Code (sign clear) of a finite magnitude a ≤ maxFinite. */
  uint8_t encodeMagnitude(float a) const {
    if (a < minNormal) {
      // One float32 addition rounds a to a multiple of the subnormal step, ties to even.
      return static_cast<uint8_t>(floatBits(a + subnormalMagic) - subnormalMagicBits);
    }
    uint32_t u = floatBits(a);
    u += roundHalfMinusOne + ((u >> shift) & 1u);
    return static_cast<uint8_t>((u >> shift) - rebias);
  }
  /** Code of an already-scaled float32 value v (saturating, NaN → sign | nanCode). */
  uint8_t encode(float v) const {
    const uint8_t sign = static_cast<uint8_t>((floatBits(v) >> 24) & 0x80u);
    if (__builtin_isnan(v)) return sign | nanCode;
    const float a = std::fabs(v);
    if (a > maxFinite) return sign | maxCode;
    return sign | encodeMagnitude(a);
  }
};

/** float32 → BF16 bits: round to nearest even on the top 16 bits; NaN stays a quiet NaN (sign
 *  and top payload bits kept). */
inline uint16_t bf16Bits(float x) {
  uint32_t u = floatBits(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u | 0x00400000u) >> 16);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

/** float32 rounded to BF16, as float32. */
inline float roundBf16(float x) { return bitsFloat(static_cast<uint32_t>(bf16Bits(x)) << 16); }

/** BF16 bits → float32 (exact). */
inline float bf16ToFloat(uint16_t bits) { return bitsFloat(static_cast<uint32_t>(bits) << 16); }

FOG8_FP8_END
