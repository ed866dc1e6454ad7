// Interface between the cast driver (casts.cpp) and one ISA's chunk loops. Plain data only (ISA
// translation units share no inline code with the rest of the addon).
#pragma once
#include <cstddef>
#include <cstdint>

namespace fog8 {

/** Numbers of the FP8 encode algorithm (see common/fp8.h, Fp8EncodeConstants). */
struct EncodeParams {
  float maxFinite;
  float minNormal;
  float subnormalMagic;
  uint32_t subnormalMagicBits;
  uint32_t roundHalfMinusOne;
  uint32_t rebias;
  uint32_t shift;
  uint32_t maxCode;
  uint32_t nanCode;
};

/** Numbers of the arithmetic FP8 decode (codes → float32 without a table). */
struct DecodeParams {
  uint32_t shift;          // 23 − mantissa bits
  uint32_t rebias;         // (127 − bias) << mantissa bits
  float subnormalStep;     // value of the smallest subnormal, 2^(1 − bias − M)
  uint32_t maxFiniteCode;  // largest finite code magnitude; above it NaN (or the Inf code)
  bool hasInfinity;
  uint32_t infCode;        // code magnitude of Inf when hasInfinity
};

/** Statistics of one chunk: amax ignores NaN (anyNan says whether one was seen). */
struct ChunkStats {
  float amax = 0.0f;
  bool anyNan = false;
  uint64_t underflow = 0;
  uint64_t overflow = 0;
  uint64_t nonzero = 0;  // inputs that are not ±0 (NaN included)
  // Error the cast introduced, over the finite inputs (float64 sums): Σx², Σ(x − x̂)² with
  // x̂ = decode(code)·invScale, Σ|x|, and Σ|x| over the inputs whose code is ±0 (underflow).
  double sumSq = 0.0;
  double errSq = 0.0;
  double absSum = 0.0;
  double lostAbs = 0.0;
};

/**
 * codes[i] = FP8(x[i]·scale); out (if non-null) = decode(code)·invScale using table, rounded to
 * BF16 as it is stored when roundOut (statistics are of the unrounded x̂).
 */
using QuantizeChunkFn = void (*)(const float* x, size_t n, const EncodeParams& p, float scale, uint8_t* codes,
                                 float* out, const float* table, float invScale, ChunkStats& stats, bool roundOut);

void quantizeChunkScalar(const float* x, size_t n, const EncodeParams& p, float scale, uint8_t* codes, float* out,
                         const float* table, float invScale, ChunkStats& stats, bool roundOut);
void quantizeChunkAvx2(const float* x, size_t n, const EncodeParams& p, float scale, uint8_t* codes, float* out,
                       const float* table, float invScale, ChunkStats& stats, bool roundOut);
/** quantizeChunkAvx2 in 16 lanes (the avx512bf16 path); both-outputs calls go to the AVX2 loop. */
void quantizeChunkAvx512(const float* x, size_t n, const EncodeParams& p, float scale, uint8_t* codes, float* out,
                         const float* table, float invScale, ChunkStats& stats, bool roundOut);
/** out[i] = table[codes[i]]·invScale (product in float32), computed from the code bits. */
void dequantizeChunkAvx2(const uint8_t* codes, size_t n, const DecodeParams& d, const float* table, float invScale,
                         float* out);
/** bits[i] = BF16(x[i]) (RNE; NaN kept quiet) and/or rounded[i] = that value as float32. */
void bf16ChunkAvx2(const float* x, size_t n, uint16_t* bits, float* rounded);

}  // namespace fog8
