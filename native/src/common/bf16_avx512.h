// BF16 rounding of 16 float32 lanes for the avx512bf16 translation units (include after
// common/isa_avx512_intrinsics.h): the bits of fog8::roundBf16 (common/fp8.h).
#pragma once

namespace {

/** x rounded to BF16 (ties to even; a NaN stays a quiet NaN with its sign and top payload bits), as float32. */
inline __m512 roundBf16x16(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)), _mm512_set1_epi32(0x7F800000));
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rnd = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7FFF), lsb));
  const __m512i quiet = _mm512_or_si512(u, _mm512_set1_epi32(0x00400000));
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_mask_blend_epi32(nan, rnd, quiet), _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
}

}  // namespace
