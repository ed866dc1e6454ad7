// AVX2 cast loops: 8 lanes of the same integer/float bit algorithm as encode_impl.h, with the
// statistics (amax, NaN, underflow, overflow) gathered in the same pass in vector registers.
// Branch-free per element: saturation is a min before rounding, NaN a final unsigned min on the
// code, and the dropped-bit count is an immediate (one instantiation per format).
#include <immintrin.h>

#include "../common/fp8.h"
#include "cast_kernels.h"
#include "encode_impl.h"

namespace {

/** Loop constants of one cast, held in registers (copied out of EncodeParams, which may alias). */
struct EncodeVec {
  __m256 scale, maxFinite, minNormal, magic;
  __m256i absMask, roundBias, magicBits, nanCode, minNormalBits, subnormalShift;
  explicit EncodeVec(const fog8::EncodeParams& p, float s) {
    scale = _mm256_set1_ps(s);
    maxFinite = _mm256_set1_ps(p.maxFinite);
    minNormal = _mm256_set1_ps(p.minNormal);
    magic = _mm256_set1_ps(p.subnormalMagic);
    absMask = _mm256_set1_epi32(0x7FFFFFFF);
    // (bits + roundHalfMinusOne + lsb − rebias·2^shift) >> shift: the rebias folded in (normal lanes
    // have bits ≥ minNormal bits = rebias·2^shift + 2^shift, so nothing wraps where it is used).
    roundBias = _mm256_set1_epi32(static_cast<int>(p.roundHalfMinusOne - (p.rebias << p.shift)));
    magicBits = _mm256_set1_epi32(static_cast<int>(p.subnormalMagicBits));
    nanCode = _mm256_set1_epi32(static_cast<int>(p.nanCode));
    minNormalBits = _mm256_set1_epi32(static_cast<int>(bitsOf(p.minNormal)));
    subnormalShift = _mm256_set1_epi32(static_cast<int>(p.shift << 23));
  }
};

/**
 * Per-lane statistics. Counts are mask sums (−1 per hit) in int32 lanes, flushed per block.
 * Every ±0 input encodes to ±0, so underflow = (zero FP8 values) − (zero inputs).
 */
struct StatsVec {
  __m256i amaxBits = _mm256_setzero_si256();    // max of |x| bits: above 0x7F800000 iff a NaN was seen
  __m256i zeroInputs = _mm256_setzero_si256();  // x = ±0
  __m256i zeroValues = _mm256_setzero_si256();  // FP8 value ±0 (values path; codes count bytes)
  __m256i overflow = _mm256_setzero_si256();    // |x·scale| > maxFinite, NaN excluded
};

/** amax, zero-input and overflow counts of 8 lanes: ax = |x| bits, a = |x·scale|. */
inline void addStats(StatsVec& st, __m256i ax, __m256 a, __m256 maxFinite) {
  st.amaxBits = _mm256_max_epu32(st.amaxBits, ax);
  st.zeroInputs = _mm256_add_epi32(st.zeroInputs, _mm256_cmpeq_epi32(ax, _mm256_setzero_si256()));
  st.overflow = _mm256_add_epi32(st.overflow, _mm256_castps_si256(_mm256_cmp_ps(a, maxFinite, _CMP_GT_OQ)));
}

/**
 * FP8 code magnitude (sign clear) of 8 lanes of v = x·scale, with amax and overflow (underflow is
 * counted on the packed bytes). NaN lanes: the normal path yields a number above every finite
 * code and min(·, nanCode) maps it to nanCode (all finite codes are below it); ±Inf and |v| > max
 * saturate through the clamp before rounding.
 */
template <int Shift>
inline __m256i encodeMagnitude8(const EncodeVec& k, __m256 xv, __m256& v, __m256& clamped, StatsVec& st) {
  v = _mm256_mul_ps(xv, k.scale);
  const __m256 a = _mm256_and_ps(v, _mm256_castsi256_ps(k.absMask));
  clamped = _mm256_min_ps(k.maxFinite, a);  // a NaN passes through (second operand)
  const __m256i cb = _mm256_castps_si256(clamped);
  const __m256i lsb = _mm256_srli_epi32(_mm256_slli_epi32(cb, 31 - Shift), 31);
  const __m256i normal = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(cb, k.roundBias), lsb), Shift);
  const __m256i sub = _mm256_sub_epi32(_mm256_castps_si256(_mm256_add_ps(clamped, k.magic)), k.magicBits);
  const __m256i isSub = _mm256_cmpgt_epi32(k.minNormalBits, cb);
  const __m256i code = _mm256_min_epu32(_mm256_blendv_epi8(normal, sub, isSub), k.nanCode);
  addStats(st, _mm256_and_si256(_mm256_castps_si256(xv), k.absMask), a, k.maxFinite);
  return code;
}

/** Error sums in float64 lanes (4 per register): Σx², Σ(x − x̂)², Σ|x|, Σ|x| underflowed; finite x only. */
struct ErrVec {
  __m256d sumSq = _mm256_setzero_pd();
  __m256d errSq = _mm256_setzero_pd();
  __m256d absSum = _mm256_setzero_pd();
  __m256d lostAbs = _mm256_setzero_pd();
};

/** |v| rounded to the FP8 grid (the value its code decodes to, unsigned) from the clamped |v|. */
inline __m256 roundedMagnitude8(const EncodeVec& k, __m256 clamped) {
  const __m256i exponent = _mm256_and_si256(_mm256_castps_si256(clamped), _mm256_set1_epi32(0x7F800000));
  const __m256 magic = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_max_epu32(exponent, k.minNormalBits), k.subnormalShift));
  return _mm256_sub_ps(_mm256_add_ps(clamped, magic), magic);
}

/** Adds 8 lanes: x, x̂ = decode·invScale, `rounded` the unsigned FP8 value (0 ⇔ the code is ±0). */
inline void addError8(const EncodeVec& k, __m256 xv, __m256 xhat, __m256 rounded, ErrVec& e) {
  const __m256i ax = _mm256_and_si256(_mm256_castps_si256(xv), k.absMask);
  const __m256 finite = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(0x7F800000), ax));
  const __m256 xf = _mm256_and_ps(xv, finite);
  const __m256 qf = _mm256_and_ps(xhat, finite);
  const __m256 af = _mm256_and_ps(_mm256_castsi256_ps(ax), finite);
  const __m256 lost = _mm256_and_ps(af, _mm256_cmp_ps(rounded, _mm256_setzero_ps(), _CMP_EQ_OQ));
  const __m256d x0 = _mm256_cvtps_pd(_mm256_castps256_ps128(xf)), x1 = _mm256_cvtps_pd(_mm256_extractf128_ps(xf, 1));
  const __m256d d0 = _mm256_sub_pd(x0, _mm256_cvtps_pd(_mm256_castps256_ps128(qf)));
  const __m256d d1 = _mm256_sub_pd(x1, _mm256_cvtps_pd(_mm256_extractf128_ps(qf, 1)));
  e.sumSq = _mm256_fmadd_pd(x0, x0, _mm256_fmadd_pd(x1, x1, e.sumSq));
  e.errSq = _mm256_fmadd_pd(d0, d0, _mm256_fmadd_pd(d1, d1, e.errSq));
  e.absSum = _mm256_add_pd(e.absSum, _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(af)), _mm256_cvtps_pd(_mm256_extractf128_ps(af, 1))));
  e.lostAbs = _mm256_add_pd(e.lostAbs, _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(lost)), _mm256_cvtps_pd(_mm256_extractf128_ps(lost, 1))));
}

inline double sumLanes(__m256d v) {
  alignas(32) double l[4];
  _mm256_store_pd(l, v);
  return (l[0] + l[1]) + (l[2] + l[3]);
}

/**
 * The same sums in float32 lanes, for one sub-block of kErrBlock elements (at most 64 terms per
 * lane), then added to the float64 ErrVec: about 2.5× cheaper than converting every element to
 * float64, with a relative rounding of at most ~64·2⁻²⁴ per sub-block. A sub-block holding a
 * |x| ≥ 2⁶⁰ (whose square could overflow float32), ±Inf or NaN takes the float64 path instead.
 */
struct ErrVec32 {
  __m256 sumSq = _mm256_setzero_ps();
  __m256 errSq = _mm256_setzero_ps();
  __m256 absSum = _mm256_setzero_ps();
  __m256 lostAbs = _mm256_setzero_ps();
};

constexpr size_t kErrBlock = 512;

/** Only for sub-blocks where hasHuge is false: every |x| < 2⁶⁰, so no lane is NaN or infinite. */
inline void addError8f(const EncodeVec& k, __m256 xv, __m256 xhat, __m256 rounded, ErrVec32& e) {
  const __m256 d = _mm256_sub_ps(xv, xhat);
  const __m256 af = _mm256_and_ps(xv, _mm256_castsi256_ps(k.absMask));
  e.sumSq = _mm256_fmadd_ps(xv, xv, e.sumSq);
  e.errSq = _mm256_fmadd_ps(d, d, e.errSq);
  e.absSum = _mm256_add_ps(e.absSum, af);
  e.lostAbs = _mm256_add_ps(e.lostAbs, _mm256_and_ps(af, _mm256_cmp_ps(rounded, _mm256_setzero_ps(), _CMP_EQ_OQ)));
}

inline __m256d widenSum(__m256 v) {
  return _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

inline void flushError(const ErrVec32& f, ErrVec& e) {
  e.sumSq = _mm256_add_pd(e.sumSq, widenSum(f.sumSq));
  e.errSq = _mm256_add_pd(e.errSq, widenSum(f.errSq));
  e.absSum = _mm256_add_pd(e.absSum, widenSum(f.absSum));
  e.lostAbs = _mm256_add_pd(e.lostAbs, widenSum(f.lostAbs));
}

/** Whether x[0, n) (n a multiple of 8) holds an |x| ≥ 2⁶⁰, ±Inf or NaN (those take the float64 path). */
inline bool hasHuge(const float* x, size_t n) {
  const __m256i absMask = _mm256_set1_epi32(0x7FFFFFFF);
  __m256i maxBits = _mm256_setzero_si256();
  for (size_t i = 0; i < n; i += 8) {
    maxBits = _mm256_max_epu32(maxBits, _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), absMask));
  }
  const __m256i big = _mm256_cmpgt_epi32(maxBits, _mm256_set1_epi32(0x5D7FFFFF));  // above the largest float below 2⁶⁰
  return !_mm256_testz_si256(big, big);
}

inline void mergeError(const ErrVec& e, fog8::ChunkStats& st) {
  st.sumSq += sumLanes(e.sumSq);
  st.errSq += sumLanes(e.errSq);
  st.absSum += sumLanes(e.absSum);
  st.lostAbs += sumLanes(e.lostAbs);
}

/** Total of 32 byte counters (each ≤ 255). */
inline uint64_t sumBytes(__m256i counts) {
  const __m256i sums = _mm256_sad_epu8(counts, _mm256_setzero_si256());
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sums);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

/**
 * decode(FP8(x·scale))·invScale of 8 lanes, with stats, without forming the code: one float32
 * add/subtract of 2^(e + 23 − M) (e the exponent of |v|, at least that of the smallest normal)
 * rounds |v| to M mantissa bits, ties to even — the same value the code decodes to.
 */
inline __m256 fakeQuantize8(const EncodeVec& k, __m256 xv, __m256 invScale, StatsVec& st, __m256& rounded) {
  const __m256 v = _mm256_mul_ps(xv, k.scale);
  const __m256 a = _mm256_and_ps(v, _mm256_castsi256_ps(k.absMask));
  const __m256 clamped = _mm256_min_ps(k.maxFinite, a);
  rounded = roundedMagnitude8(k, clamped);
  addStats(st, _mm256_and_si256(_mm256_castps_si256(xv), k.absMask), a, k.maxFinite);
  st.zeroValues = _mm256_add_epi32(st.zeroValues, _mm256_cmpeq_epi32(_mm256_castps_si256(rounded), _mm256_setzero_si256()));
  const __m256 sign = _mm256_andnot_ps(_mm256_castsi256_ps(k.absMask), v);
  const __m256 out = _mm256_mul_ps(_mm256_or_ps(rounded, sign), invScale);
  // NaN decodes to the one quiet NaN (as JavaScript stores it), whatever its sign or payload.
  return _mm256_blendv_ps(out, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FC00000)), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

/** Adds the lanes of `counts` (−1 per hit) into total. */
inline void flushCount(__m256i counts, uint64_t& total) {
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), counts);
  int64_t sum = 0;
  for (int l = 0; l < 8; l++) sum += lanes[l];
  total += static_cast<uint64_t>(-sum);
}

/** Folds the vector stats of one chunk (its first `elements` inputs, `zeroInputs` of them ±0) into st. */
inline void mergeStats(__m256i amaxBits, uint64_t underflow, uint64_t overflow, size_t elements, uint64_t zeroInputs,
                       fog8::ChunkStats& st) {
  alignas(32) uint32_t am[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(am), amaxBits);
  foldAmaxBits(am, 8, st);
  st.underflow += underflow;
  st.overflow += overflow;
  st.nonzero += elements - zeroInputs;
}

constexpr size_t kBlock = size_t{1} << 24;  // elements per flush: lane counts stay below 2^22

template <int Shift>
void quantizeCodes(const float* x, size_t n, const fog8::EncodeParams& p, float scale, uint8_t* codes,
                   const float* table, float invScale, fog8::ChunkStats& st) {
  const EncodeVec k(p, scale);
  const __m256 vInv = _mm256_set1_ps(invScale);
  ErrVec err;
  // x̂ of 8 lanes from the clamped |x·scale| (the value the code decodes to), for the error sums.
  ErrVec32 err32;
  bool exact = false;  // this sub-block takes the float64 error path
  const auto error8 = [&](__m256 xv, __m256 v, __m256 clamped) {
    const __m256 rounded = roundedMagnitude8(k, clamped);
    const __m256 sign = _mm256_andnot_ps(_mm256_castsi256_ps(k.absMask), v);
    const __m256 xhat = _mm256_mul_ps(_mm256_or_ps(rounded, sign), vInv);
    if (exact) addError8(k, xv, xhat, rounded, err);
    else addError8f(k, xv, xhat, rounded, err32);
  };
  const __m256i byteOrder = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i signBit = _mm256_set1_epi8(static_cast<char>(0x80));
  constexpr size_t kSteps = 255;  // 32-element steps per flush of the byte counters
  __m256i amaxBits = _mm256_setzero_si256();
  uint64_t zeroCodes = 0, zeroInputs = 0, overflow = 0;
  size_t i = 0;
  while (i + 32 <= n) {
    const size_t steps = (n - i) / 32 < kSteps ? (n - i) / 32 : kSteps;
    StatsVec s;
    __m256i zeros = _mm256_setzero_si256();
    for (size_t step = 0; step < steps; step++, i += 32) {
      if (step % (kErrBlock / 32) == 0) {  // a new error sub-block (≤ kErrBlock elements)
        flushError(err32, err);
        err32 = ErrVec32();
        const size_t left = (steps - step) * 32;
        exact = hasHuge(x + i, left < kErrBlock ? left : kErrBlock);
      }
      __m256 v0, v1, v2, v3, m0, m1, m2, m3;
      const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
      const __m256 x2 = _mm256_loadu_ps(x + i + 16), x3 = _mm256_loadu_ps(x + i + 24);
      const __m256i c0 = encodeMagnitude8<Shift>(k, x0, v0, m0, s);
      const __m256i c1 = encodeMagnitude8<Shift>(k, x1, v1, m1, s);
      const __m256i c2 = encodeMagnitude8<Shift>(k, x2, v2, m2, s);
      const __m256i c3 = encodeMagnitude8<Shift>(k, x3, v3, m3, s);
      error8(x0, v0, m0);
      error8(x1, v1, m1);
      error8(x2, v2, m2);
      error8(x3, v3, m3);
      // 4 × 8 int32 → 32 bytes. Codes ≤ 0x7F pack unsigned; the float bits pack signed, which keeps
      // each sign in the top bit. Both come out in the same 128-bit-interleaved order (4-byte groups
      // 0 2 4 6 1 3 5 7), undone by one permute.
      const __m256i mags = _mm256_packus_epi16(_mm256_packus_epi32(c0, c1), _mm256_packus_epi32(c2, c3));
      const __m256i signs = _mm256_packs_epi16(_mm256_packs_epi32(_mm256_castps_si256(v0), _mm256_castps_si256(v1)),
                                               _mm256_packs_epi32(_mm256_castps_si256(v2), _mm256_castps_si256(v3)));
      zeros = _mm256_sub_epi8(zeros, _mm256_cmpeq_epi8(mags, _mm256_setzero_si256()));
      const __m256i bytes = _mm256_or_si256(mags, _mm256_and_si256(signs, signBit));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + i), _mm256_permutevar8x32_epi32(bytes, byteOrder));
    }
    amaxBits = _mm256_max_epu32(amaxBits, s.amaxBits);
    zeroCodes += sumBytes(zeros);
    flushCount(s.zeroInputs, zeroInputs);
    flushCount(s.overflow, overflow);
  }
  flushError(err32, err);
  mergeStats(amaxBits, zeroCodes - zeroInputs, overflow, i, zeroInputs, st);
  mergeError(err, st);
  // the tail (fewer than a vector) element by element
  fog8::quantizeChunkScalar(x + i, n - i, p, scale, codes + i, nullptr, table, invScale, st, false);
}

/** The float32 bits of 8 values rounded to BF16 (RNE, NaN kept quiet), as bf16ChunkAvx2. */
inline __m256 roundBf16x8(__m256 v) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i isNan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF)), _mm256_set1_epi32(0x7F800000));
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rnd = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), lsb));
  const __m256i quiet = _mm256_or_si256(u, _mm256_set1_epi32(0x00400000));
  return _mm256_castsi256_ps(_mm256_and_si256(_mm256_blendv_epi8(rnd, quiet, isNan), _mm256_set1_epi32(static_cast<int>(0xFFFF0000u))));
}

void quantizeValues(const float* x, size_t n, const fog8::EncodeParams& p, float scale, float* out,
                    const float* table, float invScale, fog8::ChunkStats& st, bool roundOut) {
  const EncodeVec k(p, scale);
  const __m256 vInv = _mm256_set1_ps(invScale);
  __m256i amaxBits = _mm256_setzero_si256();
  uint64_t zeroValues = 0, zeroInputs = 0, overflow = 0;
  ErrVec err;
  size_t i = 0;
  while (i + 16 <= n) {
    const size_t blockEnd = i + kBlock < n ? i + kBlock : n;
    StatsVec s;
    while (i + 16 <= blockEnd) {
      // One error sub-block of ≤ kErrBlock elements, checked for huge values before it is overwritten.
      const size_t subEnd = i + kErrBlock < blockEnd ? i + kErrBlock : blockEnd;
      const size_t vecEnd = i + ((subEnd - i) / 16) * 16;
      const bool exact = hasHuge(x + i, vecEnd - i);
      ErrVec32 err32;
      for (; i < vecEnd; i += 16) {
        // Both loads before the stores: out may alias x.
        const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
        __m256 r0, r1;
        const __m256 q0 = fakeQuantize8(k, x0, vInv, s, r0);
        const __m256 q1 = fakeQuantize8(k, x1, vInv, s, r1);
        if (exact) {
          addError8(k, x0, q0, r0, err);
          addError8(k, x1, q1, r1, err);
        } else {
          addError8f(k, x0, q0, r0, err32);
          addError8f(k, x1, q1, r1, err32);
        }
        _mm256_storeu_ps(out + i, roundOut ? roundBf16x8(q0) : q0);
        _mm256_storeu_ps(out + i + 8, roundOut ? roundBf16x8(q1) : q1);
      }
      flushError(err32, err);
    }
    amaxBits = _mm256_max_epu32(amaxBits, s.amaxBits);
    flushCount(s.zeroValues, zeroValues);
    flushCount(s.zeroInputs, zeroInputs);
    flushCount(s.overflow, overflow);
  }
  mergeStats(amaxBits, zeroValues - zeroInputs, overflow, i, zeroInputs, st);
  mergeError(err, st);
  fog8::quantizeChunkScalar(x + i, n - i, p, scale, nullptr, out + i, table, invScale, st, roundOut);  // the tail
}

/**
 * decode(c)·invScale of 8 codes from their bits: normal magnitudes rebias the exponent, subnormal
 * ones convert the integer mantissa (exact), NaN codes give the quiet NaN and (E5M2) the Inf code ±Inf.
 */
template <int Shift, bool HasInfinity>
inline __m256 decode8(__m256i c, const fog8::DecodeParams& d, __m256 invScale) {
  const __m256i mag = _mm256_and_si256(c, _mm256_set1_epi32(0x7F));
  const __m256i sign = _mm256_slli_epi32(_mm256_srli_epi32(c, 7), 31);
  const __m256i normal = _mm256_slli_epi32(_mm256_add_epi32(mag, _mm256_set1_epi32(static_cast<int>(d.rebias))), Shift);
  const __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(mag), _mm256_set1_ps(d.subnormalStep));
  const __m256i isSub = _mm256_cmpgt_epi32(_mm256_set1_epi32(1 << (23 - Shift)), mag);
  __m256 value = _mm256_blendv_ps(_mm256_castsi256_ps(normal), sub, _mm256_castsi256_ps(isSub));
  if constexpr (HasInfinity) {
    const __m256i isInf = _mm256_cmpeq_epi32(mag, _mm256_set1_epi32(static_cast<int>(d.infCode)));
    value = _mm256_blendv_ps(value, _mm256_castsi256_ps(_mm256_set1_epi32(0x7F800000)), _mm256_castsi256_ps(isInf));
  }
  value = _mm256_mul_ps(_mm256_or_ps(value, _mm256_castsi256_ps(sign)), invScale);
  const __m256i isNan = _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(static_cast<int>(d.maxFiniteCode)));
  const __m256i nanBits = _mm256_set1_epi32(0x7FC00000);
  const __m256i mask = HasInfinity ? _mm256_andnot_si256(_mm256_cmpeq_epi32(mag, _mm256_set1_epi32(static_cast<int>(d.infCode))), isNan) : isNan;
  return _mm256_blendv_ps(value, _mm256_castsi256_ps(nanBits), _mm256_castsi256_ps(mask));
}

template <int Shift, bool HasInfinity>
void dequantizeCodes(const uint8_t* codes, size_t n, const fog8::DecodeParams& d, const float* table, float invScale,
                     float* out) {
  const fog8::DecodeParams local = d;  // out may alias nothing we read, but keep the params in registers
  const __m256 vInv = _mm256_set1_ps(invScale);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i));
    _mm256_storeu_ps(out + i, decode8<Shift, HasInfinity>(_mm256_cvtepu8_epi32(bytes), local, vInv));
    _mm256_storeu_ps(out + i + 8, decode8<Shift, HasInfinity>(_mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8)), local, vInv));
  }
  for (; i < n; i++) out[i] = table[codes[i]] * invScale;
}

}  // namespace

void fog8::quantizeChunkAvx2(const float* x, size_t n, const EncodeParams& p, float scale, uint8_t* codes, float* out,
                             const float* table, float invScale, ChunkStats& st, bool roundOut) {
  if (codes != nullptr && out != nullptr) {
    quantizeChunkScalar(x, n, p, scale, codes, out, table, invScale, st, roundOut);
  } else if (codes != nullptr) {
    if (p.shift == 20) quantizeCodes<20>(x, n, p, scale, codes, table, invScale, st);
    else quantizeCodes<21>(x, n, p, scale, codes, table, invScale, st);
  } else if (out != nullptr) {
    quantizeValues(x, n, p, scale, out, table, invScale, st, roundOut);
  } else {
    quantizeChunkScalar(x, n, p, scale, codes, out, table, invScale, st, roundOut);
  }
}

void fog8::dequantizeChunkAvx2(const uint8_t* codes, size_t n, const DecodeParams& d, const float* table, float invScale,
                               float* out) {
  if (d.shift == 20) {
    if (d.hasInfinity) dequantizeCodes<20, true>(codes, n, d, table, invScale, out);
    else dequantizeCodes<20, false>(codes, n, d, table, invScale, out);
  } else {
    if (d.hasInfinity) dequantizeCodes<21, true>(codes, n, d, table, invScale, out);
    else dequantizeCodes<21, false>(codes, n, d, table, invScale, out);
  }
}

void fog8::bf16ChunkAvx2(const float* x, size_t n, uint16_t* bits, float* rounded) {
  const __m256i absMask = _mm256_set1_epi32(0x7FFFFFFF);
  const __m256i infBits = _mm256_set1_epi32(0x7F800000);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    const __m256i isNan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absMask), infBits);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i rnd = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), lsb));
    const __m256i quiet = _mm256_or_si256(u, _mm256_set1_epi32(0x00400000));
    const __m256i r = _mm256_and_si256(_mm256_blendv_epi8(rnd, quiet, isNan), _mm256_set1_epi32(static_cast<int>(0xFFFF0000u)));
    if (rounded != nullptr) _mm256_storeu_si256(reinterpret_cast<__m256i*>(rounded + i), r);
    if (bits != nullptr) {
      const __m256i h = _mm256_srli_epi32(r, 16);
      const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(bits + i), w);
    }
  }
  for (; i < n; i++) {
    uint32_t u = bitsOf(x[i]);
    uint32_t r = (u & 0x7FFFFFFFu) > 0x7F800000u ? ((u | 0x00400000u) & 0xFFFF0000u) : ((u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u);
    if (rounded != nullptr) std::memcpy(rounded + i, &r, 4);
    if (bits != nullptr) bits[i] = static_cast<uint16_t>(r >> 16);
  }
}
