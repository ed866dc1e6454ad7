// AVX-512 GEMM paths. Float32 operands: 8 × 32 tile of FMAs (driver: gemm.cpp's gemm). BF16 / FP8
// operands: packed as BF16 pairs along k (FP8 decoded while packing) and multiplied with vdpbf16ps
// (exact BF16 products, float32 accumulation) in one of several register tiles (driver: gemm.cpp's
// gemmPairs): each accumulator lane is one output column, each step consumes two k. With
// FOG8_AVX512_EMULATED the same code runs on SIMDe (see common/isa_avx512_intrinsics.h).
#include "../common/isa_avx512_intrinsics.h"
#include "../common/bf16_avx512.h"
#include "gemm_kernels.h"
#include "pack_impl.h"

namespace {

constexpr size_t kMR = 8;
constexpr size_t kNR = 32;

void microF32(size_t kc, const void* aPacked, const void* bPacked, float* acc, size_t ld, bool first) {
  const float* a = static_cast<const float*>(aPacked);
  const float* b = static_cast<const float*>(bPacked);
  __m512 c[kMR][2];
  for (size_t i = 0; i < kMR; i++) {
    c[i][0] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + i * ld);
    c[i][1] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + i * ld + 16);
  }
  for (size_t k = 0; k < kc; k++, a += kMR, b += kNR) {
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = _mm512_loadu_ps(b + 16);
    for (size_t i = 0; i < kMR; i++) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      c[i][0] = _mm512_fmadd_ps(ai, b0, c[i][0]);
      c[i][1] = _mm512_fmadd_ps(ai, b1, c[i][1]);
    }
  }
  for (size_t i = 0; i < kMR; i++) {
    _mm512_storeu_ps(acc + i * ld, c[i][0]);
    _mm512_storeu_ps(acc + i * ld + 16, c[i][1]);
  }
}

// ---- BF16-pair path with whole-block packing (the driver is gemm.cpp's gemmPairs) -----------

// VBMI (byte permutes) is not implied by AVX512_BF16 (Cooper Lake has BF16 without it): the FP8
// decode uses it only where the CPU has it (PackSource::vbmi), else a table lookup per code.
#if FOG8_AVX512_EMULATED
#define FOG8_TARGET_VBMI
#else
#define FOG8_TARGET_VBMI __attribute__((target("avx512vbmi")))
#endif

/** 32 BF16 values from 32 FP8 codes: `d` holds in each 16-bit lane one code in both bytes; the
 *  even (low) byte of the lane comes from the low-byte table, the odd (high) byte from the
 *  high-byte table; two-source byte permutes (7-bit index, 128-byte table half) pick from the
 *  half that bit 7 selects. Exact for any 256-entry table, NaN codes included. */
FOG8_TARGET_VBMI inline __m512i decodeLanesVbmi(__m512i d, const __m512i (&lo)[4], const __m512i (&hi)[4]) {
  const __mmask64 upper = _mm512_movepi8_mask(d);
  const __m512i l = _mm512_mask_blend_epi8(upper, _mm512_permutex2var_epi8(lo[0], d, lo[1]), _mm512_permutex2var_epi8(lo[2], d, lo[3]));
  const __m512i h = _mm512_mask_blend_epi8(upper, _mm512_permutex2var_epi8(hi[0], d, hi[1]), _mm512_permutex2var_epi8(hi[2], d, hi[3]));
  return _mm512_mask_blend_epi8(static_cast<__mmask64>(0xAAAAAAAAAAAAAAAAull), l, h);
}

/** n FP8 codes → BF16 bits with VBMI: per 32 codes, each code is widened to a 16-bit lane with
 *  the code in both bytes; two-source byte permutes (7-bit index, 128-byte table) pick the low
 *  (even bytes) or high (odd bytes) BF16 byte from the table half that bit 7 selects. Exact for
 *  any 256-entry table, NaN codes included. bytes: 256 low bytes, then 256 high bytes. */
FOG8_TARGET_VBMI void decodeFp8Vbmi(const uint8_t* x, size_t n, const uint8_t* bytes, uint16_t* dst) {
  __m512i lo[4], hi[4];
  for (int q = 0; q < 4; q++) {
    lo[q] = _mm512_loadu_si512(bytes + 64 * q);
    hi[q] = _mm512_loadu_si512(bytes + 256 + 64 * q);
  }
  size_t j = 0;
  for (; j + 32 <= n; j += 32) {
    // zero-extended codes (sign-extend and mask: SIMDe 0.7.4 has no _mm512_cvtepu8_epi16)
    const __m512i w = _mm512_and_si512(_mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + j))), _mm512_set1_epi16(0xFF));
    _mm512_storeu_si512(dst + j, decodeLanesVbmi(_mm512_or_si512(w, _mm512_slli_epi16(w, 8)), lo, hi));
  }
  for (; j < n; j++) dst[j] = static_cast<uint16_t>(bytes[x[j]] | (bytes[256 + x[j]] << 8));
}

/** n BF16 values of a BF16 or FP8 source from element offset o. */
void loadBf16Run(const fog8::PackSource& s, size_t o, size_t n, uint16_t* dst) {
  if (s.dtype == fog8::Dtype::bf16) {
    std::memcpy(dst, static_cast<const uint16_t*>(s.data) + o, n * sizeof(uint16_t));
    return;
  }
  const uint8_t* x = static_cast<const uint8_t*>(s.data) + o;
  if (s.vbmi) {
    decodeFp8Vbmi(x, n, s.bf16Bytes, dst);
    return;
  }
  const uint8_t* bytes = s.bf16Bytes;
  for (size_t j = 0; j < n; j++) dst[j] = static_cast<uint16_t>(bytes[x[j]] | (bytes[256 + x[j]] << 8));
}

/** Pairs (x[j], y[j]) → uint32 with x in the low half, for 16 BF16 values each, stored at dst
 *  (AVX2 unpacks within 128-bit lanes, then the lanes put back in order). */
inline void storePairs(__m256i x, __m256i y, uint32_t* dst) {
  const __m256i lo = _mm256_unpacklo_epi16(x, y);  // elements 0-3, 8-11
  const __m256i hi = _mm256_unpackhi_epi16(x, y);  // elements 4-7, 12-15
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_permute2x128_si256(lo, hi, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
}

// Byte b of the permute of half h (two rows' 32 codes in one zmm, row k low, k + 1 high): output
// lane b / 2 is column 16h + lane / 2 of row lane % 2.
alignas(64) const uint8_t kPairIndex[2][64] = {
    {0, 0, 32, 32, 1, 1, 33, 33, 2, 2, 34, 34, 3, 3, 35, 35, 4, 4, 36, 36, 5, 5, 37, 37, 6, 6, 38, 38, 7, 7, 39, 39,
     8, 8, 40, 40, 9, 9, 41, 41, 10, 10, 42, 42, 11, 11, 43, 43, 12, 12, 44, 44, 13, 13, 45, 45, 14, 14, 46, 46, 15, 15, 47, 47},
    {16, 16, 48, 48, 17, 17, 49, 49, 18, 18, 50, 50, 19, 19, 51, 51, 20, 20, 52, 52, 21, 21, 53, 53, 22, 22, 54, 54, 23, 23, 55, 55,
     24, 24, 56, 56, 25, 25, 57, 57, 26, 26, 58, 58, 27, 27, 59, 59, 28, 28, 60, 60, 29, 29, 61, 61, 30, 30, 62, 62, 31, 31, 63, 63}};

// 16-bit permute indices of pairBf16x16: lane 2c from x (column c), 2c + 1 from y (index 32 + c),
// for columns 0–15 (half 0) and 16–31 (half 1) of 32-column rows.
alignas(64) const uint16_t kPairWords[2][32] = {
    {0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39, 8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47},
    {16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55, 24, 56, 25, 57, 26, 58, 27, 59, 28, 60, 29, 61, 30, 62, 31, 63}};

/** Pair rows p < pairs of the [pair][column] layout from a BF16 source, dst + p·dstStride, columns
 *  c < n: pair(src[(k0 + 2p)·ld + c0 + c], src[(k0 + 2p + 1)·ld + c0 + c]); 32 columns per two
 *  16-bit two-source permutes (the wgrad layout of a BF16 dyᵀ packs A this way at every k block). */
void interleavePairsBf16(const uint16_t* src, size_t ld, size_t k0, size_t pairs, size_t c0, size_t n, uint32_t* dst, size_t dstStride) {
  const __m512i index0 = _mm512_load_si512(kPairWords[0]), index1 = _mm512_load_si512(kPairWords[1]);
  for (size_t p = 0; p < pairs; p++) {
    const uint16_t* x = src + (k0 + 2 * p) * ld + c0;
    const uint16_t* y = x + ld;
    uint32_t* d = dst + p * dstStride;
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
      const __m512i xv = _mm512_loadu_si512(x + j), yv = _mm512_loadu_si512(y + j);
      _mm512_storeu_si512(d + j, _mm512_permutex2var_epi16(xv, index0, yv));
      _mm512_storeu_si512(d + j + 16, _mm512_permutex2var_epi16(xv, index1, yv));
    }
    if (j < n) {  // the last n − j < 32 columns via zero-padded copies (the source may end sooner)
      alignas(64) uint16_t xs[32] = {}, ys[32] = {};
      alignas(64) uint32_t out[32];
      std::memcpy(xs, x + j, (n - j) * sizeof(uint16_t));
      std::memcpy(ys, y + j, (n - j) * sizeof(uint16_t));
      const __m512i xv = _mm512_load_si512(xs), yv = _mm512_load_si512(ys);
      _mm512_store_si512(out, _mm512_permutex2var_epi16(xv, index0, yv));
      _mm512_store_si512(out + 16, _mm512_permutex2var_epi16(xv, index1, yv));
      std::memcpy(d + j, out, (n - j) * sizeof(uint32_t));
    }
  }
}

/** One BF16 value of a BF16 or FP8 source at element offset o. */
inline uint32_t bf16At(const fog8::PackSource& s, size_t o) {
  if (s.dtype == fog8::Dtype::bf16) return static_cast<const uint16_t*>(s.data)[o];
  const uint8_t c = static_cast<const uint8_t*>(s.data)[o];
  return static_cast<uint32_t>(s.bf16Bytes[c] | (s.bf16Bytes[256 + c] << 8));
}

/** Pair rows p < pairs of the [pair][column] layout, dst + p·dstStride, columns c < n:
 *  pair(decode(src[(k0 + 2p)·ld + c0 + c]), decode(src[(k0 + 2p + 1)·ld + c0 + c])) — FP8 codes
 *  of two source rows straight into BF16 pairs with VBMI. Per 32 columns the two rows' codes sit
 *  in one zmm (row k low half, k + 1 high half); one byte permute puts each code in both bytes of
 *  its output lane, already in pair order (lane 2c from row k, 2c + 1 from row k + 1), then
 *  decodeLanesVbmi. One pass, no intermediate rows, tables and permutes loaded once per block:
 *  the wgrad layout (A = dyᵀ) packs A this way at every k block. */
FOG8_TARGET_VBMI void interleavePairsFp8Vbmi(const uint8_t* src, size_t ld, size_t k0, size_t pairs, size_t c0, size_t n,
                                             const uint8_t* bytes, uint32_t* dst, size_t dstStride) {
  __m512i lo[4], hi[4];
  for (int q = 0; q < 4; q++) {
    lo[q] = _mm512_loadu_si512(bytes + 64 * q);
    hi[q] = _mm512_loadu_si512(bytes + 256 + 64 * q);
  }
  const __m512i index0 = _mm512_load_si512(kPairIndex[0]), index1 = _mm512_load_si512(kPairIndex[1]);
  for (size_t p = 0; p < pairs; p++) {
    const uint8_t* x = src + (k0 + 2 * p) * ld + c0;
    const uint8_t* y = x + ld;
    uint32_t* d = dst + p * dstStride;
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
      const __m512i codes = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + j))),
                                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + j)), 1);
      _mm512_storeu_si512(d + j, decodeLanesVbmi(_mm512_permutexvar_epi8(index0, codes), lo, hi));
      _mm512_storeu_si512(d + j + 16, decodeLanesVbmi(_mm512_permutexvar_epi8(index1, codes), lo, hi));
    }
    if (j < n) {
      // The last n − j < 32 columns through the same vector decode, via zero-padded copies (the
      // source may end within 32 bytes; a unit of 88 rows spent 8 % of a wgrad here one by one).
      alignas(32) uint8_t xs[32] = {}, ys[32] = {};
      alignas(64) uint32_t out[32];
      std::memcpy(xs, x + j, n - j);
      std::memcpy(ys, y + j, n - j);
      const __m512i codes = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_load_si256(reinterpret_cast<const __m256i*>(xs))),
                                               _mm256_load_si256(reinterpret_cast<const __m256i*>(ys)), 1);
      _mm512_store_si512(out, decodeLanesVbmi(_mm512_permutexvar_epi8(index0, codes), lo, hi));
      _mm512_store_si512(out + 16, decodeLanesVbmi(_mm512_permutexvar_epi8(index1, codes), lo, hi));
      std::memcpy(d + j, out, (n - j) * sizeof(uint32_t));
    }
  }
}

/** Pair rows q ∈ [q0, q1) of every NR-wide panel from two whole source rows each (packBRows):
 *  column c of pair row q lands at dst + (c / NR)·panelPairs·NR + q·NR + c % NR. Per 32 columns
 *  (FP8 with VBMI: the two rows' codes in one zmm, one byte permute into pair order per 16-column
 *  half, then decodeLanesVbmi; BF16: one 16-bit two-source permute per half); NR is a multiple of 16, so each 16-column
 *  half lies in one panel. The source rows stream sequentially (a panel at a time read NR-wide
 *  strips of every row, which the hardware prefetchers do not follow: 10–13 % of a small-M wgrad). */
FOG8_TARGET_VBMI void packPairBRows(const fog8::PackSource& s, size_t q0, size_t q1, size_t N, size_t K, size_t NR, size_t panelPairs,
                                    uint32_t* dst) {
  const bool fp8 = s.dtype != fog8::Dtype::bf16;
  __m512i lo[4], hi[4], index0 = _mm512_setzero_si512(), index1 = _mm512_setzero_si512();
  if (fp8 && s.vbmi) {
    for (int q = 0; q < 4; q++) {
      lo[q] = _mm512_loadu_si512(s.bf16Bytes + 64 * q);
      hi[q] = _mm512_loadu_si512(s.bf16Bytes + 256 + 64 * q);
    }
    index0 = _mm512_load_si512(kPairIndex[0]);
    index1 = _mm512_load_si512(kPairIndex[1]);
  }
  const __m512i wordIndex0 = _mm512_load_si512(kPairWords[0]), wordIndex1 = _mm512_load_si512(kPairWords[1]);
  const size_t panelWords = panelPairs * NR;
  const auto out = [&](size_t q, size_t c) { return dst + (c / NR) * panelWords + q * NR + c % NR; };
  const size_t vecCols = (fp8 && !s.vbmi) ? 0 : N / 32 * 32;
  for (size_t q = q0; q < q1; q++) {
    const size_t k = 2 * q;
    const bool hasRow1 = k + 1 < K;
    size_t j = 0;
    if (hasRow1 && fp8 && s.vbmi) {
      const uint8_t* x = static_cast<const uint8_t*>(s.data) + k * s.ld;
      const uint8_t* y = x + s.ld;
      for (; j < vecCols; j += 32) {
        const __m512i codes = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + j))),
                                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + j)), 1);
        _mm512_storeu_si512(out(q, j), decodeLanesVbmi(_mm512_permutexvar_epi8(index0, codes), lo, hi));
        _mm512_storeu_si512(out(q, j + 16), decodeLanesVbmi(_mm512_permutexvar_epi8(index1, codes), lo, hi));
      }
    } else if (hasRow1 && !fp8) {
      const uint16_t* x = static_cast<const uint16_t*>(s.data) + k * s.ld;
      const uint16_t* y = x + s.ld;
      for (; j < vecCols; j += 32) {
        const __m512i xv = _mm512_loadu_si512(x + j), yv = _mm512_loadu_si512(y + j);
        _mm512_storeu_si512(out(q, j), _mm512_permutex2var_epi16(xv, wordIndex0, yv));
        _mm512_storeu_si512(out(q, j + 16), _mm512_permutex2var_epi16(xv, wordIndex1, yv));
      }
    }
    // Remaining columns (and an odd last row, paired with zero), one at a time.
    for (; j < N; j++) {
      const uint32_t x = bf16At(s, k * s.ld + j), y = hasRow1 ? bf16At(s, (k + 1) * s.ld + j) : 0;
      *out(q, j) = x | y << 16;
    }
    const size_t padded = (N + NR - 1) / NR * NR;
    if (padded > N) std::memset(out(q, N), 0, (padded - N) * sizeof(uint32_t));
  }
}

/** dst[j] = pair(row0[j], row1[j]) for j < n, from two rows (k and k + 1) of a row-contiguous
 *  source starting at element offsets o0 and o1 (row1 absent → zeros). */
void interleaveRows(const fog8::PackSource& s, size_t o0, size_t o1, bool hasRow1, size_t n, uint32_t* dst) {
  // BF16 rows are interleaved straight from the source; FP8 ones are decoded into row buffers
  // first (interleavePairsFp8Vbmi does both in one pass where the CPU has VBMI).
  if (hasRow1 && s.dtype == fog8::Dtype::bf16) {
    const uint16_t* x = static_cast<const uint16_t*>(s.data) + o0;
    const uint16_t* y = static_cast<const uint16_t*>(s.data) + o1;
    size_t j = 0;
    for (; j + 16 <= n; j += 16)
      storePairs(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + j)), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + j)), dst + j);
    for (; j < n; j++) dst[j] = x[j] | static_cast<uint32_t>(y[j]) << 16;
    return;
  }
  constexpr size_t kChunk = 256;
  alignas(64) uint16_t x[kChunk], y[kChunk];
  for (size_t j0 = 0; j0 < n; j0 += kChunk) {
    const size_t m = n - j0 < kChunk ? n - j0 : kChunk;
    loadBf16Run(s, o0 + j0, m, x);
    if (hasRow1) loadBf16Run(s, o1 + j0, m, y);
    else std::memset(y, 0, m * sizeof(uint16_t));
    uint32_t* d = dst + j0;
    size_t j = 0;
    for (; j + 16 <= m; j += 16)
      storePairs(_mm256_load_si256(reinterpret_cast<const __m256i*>(x + j)), _mm256_load_si256(reinterpret_cast<const __m256i*>(y + j)), d + j);
    for (; j < m; j++) d[j] = x[j] | static_cast<uint32_t>(y[j]) << 16;
  }
}

/** The [pair][column] layout of source rows k0 .. k0 + kc − 1 (an odd last row pairs with zeros),
 *  columns c0 .. c0 + n − 1, each pair row `stride` wide with zeros past n. */
void interleavePairBlock(const fog8::PackSource& s, size_t k0, size_t kc, size_t c0, size_t n, size_t stride, uint32_t* dst) {
  const size_t kp = (kc + 1) / 2;
  size_t p = 0;
  if (s.dtype != fog8::Dtype::bf16 && s.vbmi) {
    interleavePairsFp8Vbmi(static_cast<const uint8_t*>(s.data), s.ld, k0, kc / 2, c0, n, s.bf16Bytes, dst, stride);
    p = kc / 2;
  } else if (s.dtype == fog8::Dtype::bf16) {
    interleavePairsBf16(static_cast<const uint16_t*>(s.data), s.ld, k0, kc / 2, c0, n, dst, stride);
    p = kc / 2;
  }
  for (; p < kp; p++) {
    const size_t k = k0 + 2 * p;
    interleaveRows(s, k * s.ld + c0, (k + 1) * s.ld + c0, 2 * p + 1 < kc, n, dst + p * stride);
  }
  if (stride > n)
    for (p = 0; p < kp; p++) std::memset(dst + p * stride + n, 0, (stride - n) * sizeof(uint32_t));
}

/** One k-contiguous row: kc BF16 values from element offset o, zero padded to kcPadded. */
void copyRow(const fog8::PackSource& s, size_t o, size_t kc, size_t kcPadded, uint16_t* dst) {
  loadBf16Run(s, o, kc, dst);
  for (size_t k = kc; k < kcPadded; k++) dst[k] = 0;
}

void packPairA(const fog8::PackSource& s, size_t r0, size_t rows, size_t rowsPadded, size_t k0, size_t kc, uint32_t* dst,
               size_t* rowStride, size_t* pairStride) {
  const size_t kp = (kc + 1) / 2;
  if (s.rowMajor) {
    // [row][pair]: a copy (BF16) or decode (FP8) of each row; no transpose.
    const size_t stride = kp;
    for (size_t r = 0; r < rows; r++) copyRow(s, (r0 + r) * s.ld + k0, kc, 2 * kp, reinterpret_cast<uint16_t*>(dst + r * stride));
    if (rowsPadded > rows) std::memset(dst + rows * stride, 0, (rowsPadded - rows) * stride * sizeof(uint32_t));
    *rowStride = stride;
    *pairStride = 1;
  } else {
    // [pair][row]: rows k and k + 1 of the source interleaved. (Moving each row panel's MR words
    // into a run of its own, so a micro-kernel call reads contiguous bytes instead of MR·4 of
    // every pair's cache line, measured no faster on the Zen 4's wgrads.)
    interleavePairBlock(s, k0, kc, r0, rows, rowsPadded, dst);
    *rowStride = 1;
    *pairStride = rowsPadded;
  }
}

/** dst[c·dstStride + r] = src[r·srcStride + c] for r, c < 16 (32-bit elements): 32-bit and 64-bit
 *  unpacks within 128-bit lanes, then two stages of 128-bit lane shuffles. */
inline void transpose16x16(const uint32_t* src, size_t srcStride, uint32_t* dst, size_t dstStride) {
  __m512i c[4][4];  // c[g][m], lane L: rows 4g .. 4g + 3 of column 4L + m
  for (int g = 0; g < 4; g++) {
    const __m512i a0 = _mm512_loadu_si512(src + (4 * g) * srcStride), a1 = _mm512_loadu_si512(src + (4 * g + 1) * srcStride);
    const __m512i a2 = _mm512_loadu_si512(src + (4 * g + 2) * srcStride), a3 = _mm512_loadu_si512(src + (4 * g + 3) * srcStride);
    const __m512i t0 = _mm512_unpacklo_epi32(a0, a1), t1 = _mm512_unpackhi_epi32(a0, a1);
    const __m512i t2 = _mm512_unpacklo_epi32(a2, a3), t3 = _mm512_unpackhi_epi32(a2, a3);
    c[g][0] = _mm512_unpacklo_epi64(t0, t2);
    c[g][1] = _mm512_unpackhi_epi64(t0, t2);
    c[g][2] = _mm512_unpacklo_epi64(t1, t3);
    c[g][3] = _mm512_unpackhi_epi64(t1, t3);
  }
  for (int m = 0; m < 4; m++) {
    const __m512i e0 = _mm512_shuffle_i32x4(c[0][m], c[1][m], 0x44), e1 = _mm512_shuffle_i32x4(c[0][m], c[1][m], 0xEE);
    const __m512i e2 = _mm512_shuffle_i32x4(c[2][m], c[3][m], 0x44), e3 = _mm512_shuffle_i32x4(c[2][m], c[3][m], 0xEE);
    _mm512_storeu_si512(dst + (m)*dstStride, _mm512_shuffle_i32x4(e0, e2, 0x88));
    _mm512_storeu_si512(dst + (4 + m) * dstStride, _mm512_shuffle_i32x4(e0, e2, 0xDD));
    _mm512_storeu_si512(dst + (8 + m) * dstStride, _mm512_shuffle_i32x4(e1, e3, 0x88));
    _mm512_storeu_si512(dst + (12 + m) * dstStride, _mm512_shuffle_i32x4(e1, e3, 0xDD));
  }
}

void packPairB(const fog8::PackSource& s, size_t j0, size_t cols, size_t NR, size_t k0, size_t kc, uint32_t* dst) {
  const size_t kp = (kc + 1) / 2;
  if (s.rowMajor) {
    // Columns are k-contiguous (fprop's Wᵀ): 16 columns at a time, each decoded into a row of
    // pairs, then 16 × 16 transposes into the panel (columns past cols are zero rows).
    constexpr size_t kChunk = 256;
    alignas(64) uint32_t rows[16][kChunk];
    for (size_t g = 0; g < NR; g += 16) {
      for (size_t q0 = 0; q0 < kp; q0 += kChunk) {
        const size_t q1 = kp < q0 + kChunk ? kp : q0 + kChunk, n = q1 - q0;
        const size_t kk = (kc < 2 * q1 ? kc : 2 * q1) - 2 * q0;
        for (size_t r = 0; r < 16; r++) {
          if (g + r < cols) copyRow(s, (j0 + g + r) * s.ld + k0 + 2 * q0, kk, 2 * n, reinterpret_cast<uint16_t*>(rows[r]));
          else std::memset(rows[r], 0, n * sizeof(uint32_t));
        }
        size_t q = 0;
        for (; q + 16 <= n; q += 16) transpose16x16(&rows[0][q], kChunk, dst + (q0 + q) * NR + g, NR);
        for (; q < n; q++)
          for (size_t r = 0; r < 16; r++) dst[(q0 + q) * NR + g + r] = rows[r][q];
      }
    }
  } else {
    interleavePairBlock(s, k0, kc, j0, cols, NR, dst);
  }
}

/** x, opaque to the optimizer: a product passed through it cannot be fused with the add that
 *  follows (GCC contracts a multiply and an add into an FMA in C++ even with -std=c++17), so the
 *  epilogue's s·acc and beta·C round before their sum whatever the tile's code layout. */
inline __m512 separately(__m512 x) {
#if FOG8_AVX512_EMULATED
  __asm__("" : "+m"(x));  // SIMDe's __m512 is a struct
#else
  __asm__("" : "+v"(x));
#endif
  return x;
}

/** MR × (16·NV) register tile: MR·NV zmm accumulators (MR·NV + NV + 1 ≤ 32 registers). Each
 *  step broadcasts one pair of every A row (embedded broadcast) against NV vectors of B pairs. */
template <int MR, int NV>
void microPairs(const fog8::PairMicroArgs& p) {
  __m512 c[MR][NV];
  if (p.first) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) c[i][v] = _mm512_setzero_ps();
  } else {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) c[i][v] = _mm512_loadu_ps(p.acc + i * p.ldacc + 16 * v);
  }
  if (p.last) {
    // The tile's C lines are written (and read when beta ≠ 0) after the k loop; C rows lie ldc
    // apart, which no hardware prefetcher follows, so each line would be a miss at the store.
    // Requesting them now (with write intent) overlaps those misses with the k loop.
    const size_t rows = p.rows < static_cast<size_t>(MR) ? p.rows : MR;
    for (size_t i = 0; i < rows; i++)
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) __builtin_prefetch(p.c + i * p.ldc + 16 * v, 1, 3);
  }
  const uint32_t* a = p.a;
  const uint32_t* b = p.b;
  const size_t rs = p.aRowStride, ks = p.aPairStride;
  for (size_t k = 0; k < p.kpairs; k++, a += ks, b += 16 * NV) {
    __m512bh bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) bv[v] = bitCast<__m512bh>(_mm512_loadu_si512(b + 16 * v));
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      const __m512bh ai = bitCast<__m512bh>(_mm512_set1_epi32(static_cast<int>(a[i * rs])));
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) c[i][v] = _mm512_dpbf16_ps(c[i][v], ai, bv[v]);
    }
  }
  if (!p.last) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) _mm512_storeu_ps(p.acc + i * p.ldacc + 16 * v, c[i][v]);
    return;
  }
  // C = scale·t (+ beta·C): two roundings and a sum, as the portable driver (no FMA contraction);
  // then, for an output rounded to BF16, that rounding here in registers rather than in a second
  // pass over C (the same function of the same float32 value, so the same bits).
  const __m512 s = _mm512_set1_ps(p.scale), beta = _mm512_set1_ps(p.beta);
  const bool withBeta = p.beta != 0.0f, round = p.roundBf16;
  if (p.rows >= static_cast<size_t>(MR) && p.cols >= static_cast<size_t>(16 * NV)) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      float* cRow = p.c + i * p.ldc;
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) {
        __m512 r = separately(_mm512_mul_ps(s, c[i][v]));
        if (withBeta) r = _mm512_add_ps(r, separately(_mm512_mul_ps(beta, _mm512_loadu_ps(cRow + 16 * v))));
        if (round) r = roundBf16x16(r);
        _mm512_storeu_ps(cRow + 16 * v, r);
      }
    }
    return;
  }
  // Edge tile: each row through a stack copy of its C columns (no masked moves: SIMDe 0.7.4 lacks
  // them), with the same vector arithmetic as a full tile.
  const size_t rows = p.rows < static_cast<size_t>(MR) ? p.rows : MR;
  const size_t cols = p.cols < static_cast<size_t>(16 * NV) ? p.cols : 16 * NV;
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) {
    if (static_cast<size_t>(i) >= rows) break;
    float* cRow = p.c + i * p.ldc;
    alignas(64) float t[16 * NV] = {};
    if (withBeta) std::memcpy(t, cRow, cols * sizeof(float));
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      __m512 r = separately(_mm512_mul_ps(s, c[i][v]));
      if (withBeta) r = _mm512_add_ps(r, separately(_mm512_mul_ps(beta, _mm512_load_ps(t + 16 * v))));
      if (round) r = roundBf16x16(r);
      _mm512_store_ps(t + 16 * v, r);
    }
    std::memcpy(cRow, t, cols * sizeof(float));
  }
}

const fog8::PairTile kPairTiles[] = {
    {8, 32, microPairs<8, 2>, microPairs<1, 2>},  {12, 32, microPairs<12, 2>, microPairs<1, 2>}, {14, 32, microPairs<14, 2>, microPairs<1, 2>},
    {8, 48, microPairs<8, 3>, microPairs<1, 3>},  {6, 64, microPairs<6, 4>, microPairs<1, 4>},   {4, 64, microPairs<4, 4>, microPairs<1, 4>},
};
const fog8::PairGemmKernels kPairs{kPairTiles, sizeof kPairTiles / sizeof kPairTiles[0], packPairA, packPairB, packPairBRows};

// Row 0 of microF32: the same FMA chain per output element.
void microRowF32(size_t kc, const void* aPacked, const void* bPacked, float* acc, bool first) {
  const float* a = static_cast<const float*>(aPacked);
  const float* b = static_cast<const float*>(bPacked);
  __m512 c0 = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc);
  __m512 c1 = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + 16);
  for (size_t k = 0; k < kc; k++, a += kMR, b += kNR) {
    const __m512 ai = _mm512_set1_ps(a[0]);
    c0 = _mm512_fmadd_ps(ai, _mm512_loadu_ps(b), c0);
    c1 = _mm512_fmadd_ps(ai, _mm512_loadu_ps(b + 16), c1);
  }
  _mm512_storeu_ps(acc, c0);
  _mm512_storeu_ps(acc + 16, c1);
}

const fog8::GemmKernelSet kF32{"avx512bf16", kMR, kNR, 1, sizeof(float), packFloat, microF32, microRowF32};

}  // namespace

const fog8::GemmKernelSet* fog8::gemmKernelsAvx512F32() { return &kF32; }
const fog8::PairGemmKernels* fog8::gemmPairKernelsAvx512() { return &kPairs; }
