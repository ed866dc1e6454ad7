// AVX2 cast loops: 8 lanes of the same integer/float bit algorithm as encode_impl.h, with the
// statistics (amax, NaN, underflow, overflow) gathered in the same pass.
#include <immintrin.h>

#include "cast_kernels.h"
#include "encode_impl.h"

namespace {

inline __m256i encode8(const fog8::EncodeParams& p, __m256 v, __m256i& signOut, __m256i& absBitsOut) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i absMask = _mm256_set1_epi32(0x7FFFFFFF);
  const __m256i au = _mm256_and_si256(u, absMask);
  const __m256i sign = _mm256_and_si256(_mm256_srli_epi32(u, 24), _mm256_set1_epi32(0x80));
  const __m256 a = _mm256_castsi256_ps(au);
  // normal: round the float32 bits to nearest even at `shift`, rebias
  const __m256i shift = _mm256_set1_epi32(static_cast<int>(p.shift));
  const __m256i lsb = _mm256_and_si256(_mm256_srl_epi32(au, _mm_cvtsi32_si128(static_cast<int>(p.shift))), _mm256_set1_epi32(1));
  (void)shift;
  __m256i normal = _mm256_add_epi32(au, _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(p.roundHalfMinusOne)), lsb));
  normal = _mm256_sub_epi32(_mm256_srl_epi32(normal, _mm_cvtsi32_si128(static_cast<int>(p.shift))),
                            _mm256_set1_epi32(static_cast<int>(p.rebias)));
  // subnormal: one float32 addition of the magic constant
  const __m256i sub = _mm256_sub_epi32(_mm256_castps_si256(_mm256_add_ps(a, _mm256_set1_ps(p.subnormalMagic))),
                                       _mm256_set1_epi32(static_cast<int>(p.subnormalMagicBits)));
  const __m256 isSub = _mm256_cmp_ps(a, _mm256_set1_ps(p.minNormal), _CMP_LT_OQ);
  __m256i code = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(normal), _mm256_castsi256_ps(sub), isSub));
  const __m256 isOver = _mm256_cmp_ps(a, _mm256_set1_ps(p.maxFinite), _CMP_GT_OQ);
  code = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(code), _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(p.maxCode))), isOver));
  const __m256i isNan = _mm256_cmpgt_epi32(au, _mm256_set1_epi32(0x7F800000));
  code = _mm256_blendv_epi8(code, _mm256_set1_epi32(static_cast<int>(p.nanCode)), isNan);
  signOut = sign;
  absBitsOut = au;
  return _mm256_or_si256(code, sign);
}

}  // namespace

void fog8::quantizeChunkAvx2(const float* x, size_t n, const EncodeParams& p, float scale, uint8_t* codes, float* out,
                             const float* table, float invScale, ChunkStats& st) {
  const __m256 vScale = _mm256_set1_ps(scale);
  const __m256i absMask = _mm256_set1_epi32(0x7FFFFFFF);
  const __m256i infBits = _mm256_set1_epi32(0x7F800000);
  const __m256i maxBits = _mm256_set1_epi32(static_cast<int>(bitsOf(p.maxFinite)));
  const __m256i low7 = _mm256_set1_epi32(0x7F);
  const __m256 vInv = _mm256_set1_ps(invScale);
  __m256 amax = _mm256_setzero_ps();
  __m256i nanAny = _mm256_setzero_si256();
  __m256i under = _mm256_setzero_si256();  // per-lane counts (negated masks summed)
  __m256i over = _mm256_setzero_si256();
  size_t i = 0;
  // Lane counters are flushed every 2^30 steps at most, well before int32 overflow.
  uint64_t underTotal = 0, overTotal = 0;
  size_t sinceFlush = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 xv = _mm256_loadu_ps(x + i);
    const __m256 v = _mm256_mul_ps(xv, vScale);
    __m256i sign, av;
    const __m256i code = encode8(p, v, sign, av);
    const __m256i ax = _mm256_and_si256(_mm256_castps_si256(xv), absMask);
    const __m256i xNan = _mm256_cmpgt_epi32(ax, infBits);
    nanAny = _mm256_or_si256(nanAny, xNan);
    amax = _mm256_max_ps(amax, _mm256_castsi256_ps(_mm256_andnot_si256(xNan, ax)));
    // underflow: x non-zero, not NaN, code magnitude 0
    const __m256i zeroCode = _mm256_cmpeq_epi32(_mm256_and_si256(code, low7), _mm256_setzero_si256());
    const __m256i xZero = _mm256_cmpeq_epi32(ax, _mm256_setzero_si256());
    under = _mm256_sub_epi32(under, _mm256_andnot_si256(_mm256_or_si256(xZero, xNan), zeroCode));
    // overflow: |v| > max and v not NaN (x NaN ⇔ v NaN for finite non-zero scale; check v itself)
    const __m256i vNan = _mm256_cmpgt_epi32(av, infBits);
    over = _mm256_sub_epi32(over, _mm256_andnot_si256(vNan, _mm256_cmpgt_epi32(av, maxBits)));
    // pack 8 int32 codes to 8 bytes
    const __m128i lo = _mm256_castsi256_si128(code), hi = _mm256_extracti128_si256(code, 1);
    const __m128i w = _mm_packus_epi32(lo, hi);
    const __m128i bytes = _mm_packus_epi16(w, w);
    if (codes != nullptr) _mm_storel_epi64(reinterpret_cast<__m128i*>(codes + i), bytes);
    if (out != nullptr) {
      const __m256 dec = _mm256_i32gather_ps(table, code, 4);
      _mm256_storeu_ps(out + i, _mm256_mul_ps(dec, vInv));
    }
    if (++sinceFlush == (1u << 28)) {
      alignas(32) uint32_t u8[8], o8[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(u8), under);
      _mm256_store_si256(reinterpret_cast<__m256i*>(o8), over);
      for (int l = 0; l < 8; l++) { underTotal += u8[l]; overTotal += o8[l]; }
      under = over = _mm256_setzero_si256();
      sinceFlush = 0;
    }
  }
  alignas(32) float am[8];
  alignas(32) uint32_t u8[8], o8[8], n8[8];
  _mm256_store_ps(am, amax);
  _mm256_store_si256(reinterpret_cast<__m256i*>(u8), under);
  _mm256_store_si256(reinterpret_cast<__m256i*>(o8), over);
  _mm256_store_si256(reinterpret_cast<__m256i*>(n8), nanAny);
  for (int l = 0; l < 8; l++) {
    if (am[l] > st.amax) st.amax = am[l];
    underTotal += u8[l];
    overTotal += o8[l];
    if (n8[l] != 0) st.anyNan = true;
  }
  st.underflow += underTotal;
  st.overflow += overTotal;
  for (; i < n; i++) {
    const uint8_t code = encodeWithStats(p, x[i], scale, st);
    if (codes != nullptr) codes[i] = code;
    if (out != nullptr) out[i] = table[code] * invScale;
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
