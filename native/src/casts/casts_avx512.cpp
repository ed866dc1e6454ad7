// AVX-512 cast loops: 16 lanes of the same integer/float bit algorithm as the AVX2 loops
// (casts_avx2.cpp) and encode_impl.h, with the statistics in mask registers — one vpmovsdb packs 16
// codes, and the counts are masked adds. The codes are bit-identical to every other path; the error
// sums use the same float32-per-512-element-sub-block scheme as the AVX2 loop (float64 for a
// sub-block holding a huge, infinite or NaN input), so they agree with the reference to ~1e-7.
#include "../common/isa_avx512_intrinsics.h"
#include "../common/bf16_avx512.h"

#include "../common/fp8.h"
#include "cast_kernels.h"
#include "encode_impl.h"

namespace {

/** Loop constants of one cast in registers (copied out of EncodeParams, which may alias). */
struct Encode16 {
  __m512 scale, maxFinite, magic, invScale;
  __m512i absMask, rebias, magicBits, nanCode, minNormalBits, subnormalShift, expMask, one;
  Encode16(const fog8::EncodeParams& p, float s, float inv) {
    scale = _mm512_set1_ps(s);
    maxFinite = _mm512_set1_ps(p.maxFinite);
    magic = _mm512_set1_ps(p.subnormalMagic);
    invScale = _mm512_set1_ps(inv);
    absMask = _mm512_set1_epi32(0x7FFFFFFF);
    rebias = _mm512_set1_epi32(static_cast<int>(p.rebias));
    magicBits = _mm512_set1_epi32(static_cast<int>(p.subnormalMagicBits));
    nanCode = _mm512_set1_epi32(static_cast<int>(p.nanCode));
    minNormalBits = _mm512_set1_epi32(static_cast<int>(bitsOf(p.minNormal)));
    subnormalShift = _mm512_set1_epi32(static_cast<int>(p.shift << 23));
    expMask = _mm512_set1_epi32(0x7F800000);
    one = _mm512_set1_epi32(1);
  }
};

/** Per-lane counters (+1 per hit, masked adds), flushed per kBlock elements. */
struct Counts16 {
  __m512i amaxBits = _mm512_setzero_si512();   // max of |x| bits: above 0x7F800000 iff a NaN was seen
  __m512i zeroInputs = _mm512_setzero_si512();  // x = ±0
  __m512i underflow = _mm512_setzero_si512();   // x ≠ ±0 whose FP8 value is ±0
  __m512i overflow = _mm512_setzero_si512();    // |x·scale| > maxFinite, NaN excluded
};

/** The cast of 16 inputs: everything the codes, values and sums paths need. */
struct Cast16 {
  __m512 v;          // x·scale
  __m512 rounded;    // min(maxFinite, |v|) on the FP8 grid: the unsigned value the code decodes to (NaN stays NaN)
  __m512i ax;        // |x| bits
  __mmask16 zeroOut; // the FP8 value is ±0
};

/** The shared front of every cast: v, the rounded magnitude, and the counts. */
inline Cast16 cast16(const Encode16& k, __m512 xv, Counts16& c) {
  Cast16 r;
  r.v = _mm512_mul_ps(xv, k.scale);
  const __m512 a = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(r.v), k.absMask));
  const __m512 clamped = _mm512_min_ps(k.maxFinite, a);  // a NaN passes through (second operand)
  // One float32 add/subtract of 2^(e + 23 − M) rounds |v| to M mantissa bits, ties to even (the
  // exponent at least that of the smallest normal, so subnormals land on their fixed grid).
  const __m512i exponent = _mm512_and_si512(_mm512_castps_si512(clamped), k.expMask);
  const __m512 magic = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_max_epu32(exponent, k.minNormalBits), k.subnormalShift));
  r.rounded = _mm512_sub_ps(_mm512_add_ps(clamped, magic), magic);
  r.ax = _mm512_and_si512(_mm512_castps_si512(xv), k.absMask);
  r.zeroOut = _mm512_cmp_ps_mask(r.rounded, _mm512_setzero_ps(), _CMP_EQ_OQ);
  c.amaxBits = _mm512_max_epu32(c.amaxBits, r.ax);
  const __mmask16 zeroIn = _mm512_cmpeq_epi32_mask(r.ax, _mm512_setzero_si512());
  c.zeroInputs = _mm512_mask_add_epi32(c.zeroInputs, zeroIn, c.zeroInputs, k.one);
  c.underflow = _mm512_mask_add_epi32(c.underflow, static_cast<__mmask16>(~zeroIn & r.zeroOut), c.underflow, k.one);
  c.overflow = _mm512_mask_add_epi32(c.overflow, _mm512_cmp_ps_mask(a, k.maxFinite, _CMP_GT_OQ), c.overflow, k.one);
  return r;
}

/**
 * The FP8 code (sign included, as a signed byte in each lane), read off the rounded magnitude, which
 * is on the FP8 grid already: a normal one rebiases its exponent and keeps M mantissa bits; a
 * subnormal one (below the smallest normal) is its integer multiple of the subnormal step, the
 * mantissa bits of rounded + subnormalMagic. A NaN gives a number above every finite code on the
 * normal path, which the unsigned min maps to nanCode; ±Inf and |v| > max were clamped to max.
 */
template <int Shift>
inline __m512i code16(const Encode16& k, const Cast16& r) {
  const __m512i rb = _mm512_castps_si512(r.rounded);
  const __m512i normal = _mm512_sub_epi32(_mm512_srli_epi32(rb, Shift), k.rebias);
  const __m512i sub = _mm512_sub_epi32(_mm512_castps_si512(_mm512_add_ps(r.rounded, k.magic)), k.magicBits);
  const __m512i mag = _mm512_min_epu32(_mm512_mask_blend_epi32(_mm512_cmpgt_epi32_mask(k.minNormalBits, rb), normal, sub), k.nanCode);
  // The code as a signed byte in an int32 lane, for the saturating pack (vpmovsdb): mag, or mag − 128
  // = mag | ~0x7F where v's sign bit is set.
  const __mmask16 negative = _mm512_cmpgt_epi32_mask(_mm512_setzero_si512(), _mm512_castps_si512(r.v));
  return _mm512_mask_or_epi32(mag, negative, mag, _mm512_set1_epi32(-128));
}

/** x̂ = decode(code)·invScale: the signed rounded magnitude times invScale. */
inline __m512 value16(const Encode16& k, const Cast16& r) {
  const __m512i sign = _mm512_andnot_si512(k.absMask, _mm512_castps_si512(r.v));
  return _mm512_mul_ps(_mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r.rounded), sign)), k.invScale);
}

/** Error sums of one sub-block in float32 lanes (inputs all finite and below 2⁶⁰). */
struct Err32 {
  __m512 sumSq = _mm512_setzero_ps(), errSq = _mm512_setzero_ps(), absSum = _mm512_setzero_ps(), lostAbs = _mm512_setzero_ps();
};
/** The running sums in float64 lanes. */
struct Err64 {
  __m256d sumSq = _mm256_setzero_pd(), errSq = _mm256_setzero_pd(), absSum = _mm256_setzero_pd(), lostAbs = _mm256_setzero_pd();
};

inline void addError32(__m512 xv, __m512 xhat, const Cast16& r, Err32& e) {
  const __m512 d = _mm512_sub_ps(xv, xhat);
  const __m512 af = _mm512_castsi512_ps(r.ax);
  e.sumSq = _mm512_fmadd_ps(xv, xv, e.sumSq);
  e.errSq = _mm512_fmadd_ps(d, d, e.errSq);
  e.absSum = _mm512_add_ps(e.absSum, af);
  e.lostAbs = _mm512_mask_add_ps(e.lostAbs, r.zeroOut, e.lostAbs, af);
}

/** Quarter q (4 lanes) of v in float64. */
template <int Q>
inline __m256d quarter(__m512 v) { return _mm256_cvtps_pd(_mm512_extractf32x4_ps(v, Q)); }
/** The 16 lanes of v summed into 4 float64 lanes. */
inline __m256d widenSum(__m512 v) {
  return _mm256_add_pd(_mm256_add_pd(quarter<0>(v), quarter<1>(v)), _mm256_add_pd(quarter<2>(v), quarter<3>(v)));
}
/** Quarter Q of the float64 sums Σx² and Σ(x − x̂)². */
template <int Q>
inline void addSquares(__m512 x, __m512 xhat, __m256d& sumSq, __m256d& errSq) {
  const __m256d xd = quarter<Q>(x), d = _mm256_sub_pd(xd, quarter<Q>(xhat));
  sumSq = _mm256_fmadd_pd(xd, xd, sumSq);
  errSq = _mm256_fmadd_pd(d, d, errSq);
}

/** The same sums in float64 over the finite lanes (a sub-block with a huge, infinite or NaN input). */
inline void addError64(const Encode16& k, __m512 xv, __m512 xhat, const Cast16& r, Err64& e) {
  const __mmask16 finite = _mm512_cmpgt_epi32_mask(k.expMask, r.ax);
  const __m512 xf = _mm512_maskz_mov_ps(finite, xv);
  const __m512 qf = _mm512_maskz_mov_ps(finite, xhat);
  const __m512 af = _mm512_maskz_mov_ps(finite, _mm512_castsi512_ps(r.ax));
  const __m512 lost = _mm512_maskz_mov_ps(r.zeroOut, af);
  addSquares<0>(xf, qf, e.sumSq, e.errSq);
  addSquares<1>(xf, qf, e.sumSq, e.errSq);
  addSquares<2>(xf, qf, e.sumSq, e.errSq);
  addSquares<3>(xf, qf, e.sumSq, e.errSq);
  e.absSum = _mm256_add_pd(e.absSum, widenSum(af));
  e.lostAbs = _mm256_add_pd(e.lostAbs, widenSum(lost));
}

inline void flushError(const Err32& f, Err64& e) {
  e.sumSq = _mm256_add_pd(e.sumSq, widenSum(f.sumSq));
  e.errSq = _mm256_add_pd(e.errSq, widenSum(f.errSq));
  e.absSum = _mm256_add_pd(e.absSum, widenSum(f.absSum));
  e.lostAbs = _mm256_add_pd(e.lostAbs, widenSum(f.lostAbs));
}

inline double sumLanes(__m256d v) {
  alignas(32) double l[4];
  _mm256_store_pd(l, v);
  return (l[0] + l[1]) + (l[2] + l[3]);
}

inline uint64_t sumLanes(__m512i v) {
  alignas(64) uint32_t l[16];
  _mm512_store_si512(l, v);
  uint64_t s = 0;
  for (int i = 0; i < 16; i++) s += l[i];
  return s;
}

/** Whether x[0, n) (n a multiple of 16) holds an |x| ≥ 2⁶⁰, ±Inf or NaN (those take the float64 sums). */
inline bool hasHuge(const float* x, size_t n) {
  const __m512i absMask = _mm512_set1_epi32(0x7FFFFFFF);
  __m512i maxBits = _mm512_setzero_si512();
  for (size_t i = 0; i < n; i += 16) maxBits = _mm512_max_epu32(maxBits, _mm512_and_si512(_mm512_loadu_si512(x + i), absMask));
  return _mm512_cmpgt_epi32_mask(maxBits, _mm512_set1_epi32(0x5D7FFFFF)) != 0;  // above the largest float below 2⁶⁰ (bits < 2³¹: a signed compare)
}

constexpr size_t kBlock = size_t{1} << 24;  // elements per counter flush: lane counts stay below 2^20
constexpr size_t kErrBlock = 512;           // elements per float32 error sub-block (≤ 32 terms per lane)

void mergeCounts(const Counts16& c, size_t elements, fog8::ChunkStats& st) {
  alignas(64) uint32_t am[16];
  _mm512_store_si512(am, c.amaxBits);
  foldAmaxBits(am, 16, st);
  st.underflow += sumLanes(c.underflow);
  st.overflow += sumLanes(c.overflow);
  st.nonzero += elements - sumLanes(c.zeroInputs);
}

void mergeError(const Err64& e, fog8::ChunkStats& st) {
  st.sumSq += sumLanes(e.sumSq);
  st.errSq += sumLanes(e.errSq);
  st.absSum += sumLanes(e.absSum);
  st.lostAbs += sumLanes(e.lostAbs);
}

/**
 * The vector body shared by the codes and the values loops: sub-blocks of kErrBlock elements (each
 * checked for huge inputs before any output is stored: out may alias x), counters flushed per
 * kBlock. `store(i, xv, r)` writes lane group i's output and returns x̂. Returns the elements done.
 */
template <typename Store>
size_t castBody(const float* x, size_t n, const Encode16& k, fog8::ChunkStats& st, Store store) {
  Err64 err;
  size_t i = 0;
  while (i + 16 <= n) {
    const size_t blockEnd = i + kBlock < n ? i + kBlock : n;
    const size_t start = i;
    Counts16 c;
    while (i + 16 <= blockEnd) {
      const size_t subEnd = i + kErrBlock < blockEnd ? i + kErrBlock : blockEnd;
      const size_t vecEnd = i + ((subEnd - i) / 16) * 16;
      if (hasHuge(x + i, vecEnd - i)) {
        for (; i < vecEnd; i += 16) {
          const __m512 xv = _mm512_loadu_ps(x + i);
          const Cast16 r = cast16(k, xv, c);
          addError64(k, xv, store(i, r), r, err);
        }
      } else {
        Err32 e32;
        for (; i < vecEnd; i += 16) {
          const __m512 xv = _mm512_loadu_ps(x + i);
          const Cast16 r = cast16(k, xv, c);
          addError32(xv, store(i, r), r, e32);
        }
        flushError(e32, err);
      }
    }
    mergeCounts(c, i - start, st);
  }
  mergeError(err, st);
  return i;
}

template <int Shift>
void quantizeCodes(const float* x, size_t n, const fog8::EncodeParams& p, float scale, uint8_t* codes,
                   const float* table, float invScale, fog8::ChunkStats& st) {
  const Encode16 k(p, scale, invScale);
  size_t i = castBody(x, n, k, st, [&](size_t at, const Cast16& r) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + at), _mm512_cvtsepi32_epi8(code16<Shift>(k, r)));
    return value16(k, r);
  });
  // the tail (fewer than a vector) element by element
  fog8::quantizeChunkScalar(x + i, n - i, p, scale, codes + i, nullptr, table, invScale, st, false);
}

void quantizeValues(const float* x, size_t n, const fog8::EncodeParams& p, float scale, float* out,
                    const float* table, float invScale, fog8::ChunkStats& st, bool roundOut) {
  const Encode16 k(p, scale, invScale);
  const __m512 quietNan = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FC00000));
  size_t i = castBody(x, n, k, st, [&](size_t at, const Cast16& r) {
    const __m512 q = value16(k, r);
    // NaN decodes to the one quiet NaN (as JavaScript stores it), whatever its sign or payload.
    const __m512 o = _mm512_mask_mov_ps(q, _mm512_cmp_ps_mask(r.v, r.v, _CMP_UNORD_Q), quietNan);
    _mm512_storeu_ps(out + at, roundOut ? roundBf16x16(o) : o);
    return q;
  });
  fog8::quantizeChunkScalar(x + i, n - i, p, scale, nullptr, out + i, table, invScale, st, roundOut);  // the tail
}

}  // namespace

void fog8::quantizeChunkAvx512(const float* x, size_t n, const EncodeParams& p, float scale, uint8_t* codes, float* out,
                               const float* table, float invScale, ChunkStats& st, bool roundOut) {
  if (codes != nullptr && out == nullptr) {
    if (p.shift == 20) quantizeCodes<20>(x, n, p, scale, codes, table, invScale, st);
    else quantizeCodes<21>(x, n, p, scale, codes, table, invScale, st);
  } else if (codes == nullptr && out != nullptr) {
    quantizeValues(x, n, p, scale, out, table, invScale, st, roundOut);
  } else {
    quantizeChunkAvx2(x, n, p, scale, codes, out, table, invScale, st, roundOut);
  }
}
