// AVX-512 peak loops: FMA zmm and vdpbf16ps ymm / zmm, 12 independent chains each, started from
// distinct values and kept opaque (asm barrier) so that the compiler cannot merge them. With
// FOG8_AVX512_EMULATED they run on SIMDe: correct, but their speed means nothing.
#include "../../native/src/common/isa_avx512_intrinsics.h"

#include "peak.h"

namespace {

/** Sums the 12 chains into a volatile, so that none of their work can be optimised away. */
void keepChainsAlive(const __m512 (&c)[12]) {
  __m512 s = c[0];
  for (int j = 1; j < 12; j++) s = _mm512_add_ps(s, c[j]);
  float lanes[16];  // summed by hand: SIMDe 0.7.4 has no _mm512_reduce_add_ps
  _mm512_storeu_ps(lanes, s);
  float total = 0.0f;
  for (float x : lanes) total += x;
  volatile float sink = total;
  (void)sink;
}

}  // namespace

double fog8::peakFma512(uint64_t iterations) {
  __m512 c[12];
  for (int j = 0; j < 12; j++) c[j] = _mm512_set1_ps(static_cast<float>(j));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (uint64_t i = 0; i < iterations; i++)
  {
    for (int j = 0; j < 12; j++) c[j] = _mm512_fmadd_ps(a, c[j], b);
    FOG8_OPAQUE_VECTORS(c);
  }
  keepChainsAlive(c);
  return static_cast<double>(iterations) * 12.0 * 32.0;
}

double fog8::peakDpbf16x512(uint64_t iterations) {
  __m512 c[12];
  for (int j = 0; j < 12; j++) c[j] = _mm512_set1_ps(static_cast<float>(j));
  const __m512bh a = bitCast<__m512bh>(_mm512_set1_epi32(0x3F803F80)), b = bitCast<__m512bh>(_mm512_set1_epi32(0x33D633D6));
  for (uint64_t i = 0; i < iterations; i++)
  {
    for (int j = 0; j < 12; j++) c[j] = _mm512_dpbf16_ps(c[j], a, b);
    FOG8_OPAQUE_VECTORS(c);
  }
  keepChainsAlive(c);
  return static_cast<double>(iterations) * 12.0 * 64.0;
}

double fog8::peakDpbf16x256(uint64_t iterations) {
  __m256 c[12];
  for (int j = 0; j < 12; j++) c[j] = _mm256_set1_ps(static_cast<float>(j));
  const __m256bh a = bitCast<__m256bh>(_mm256_set1_epi32(0x3F803F80)), b = bitCast<__m256bh>(_mm256_set1_epi32(0x33D633D6));
  for (uint64_t i = 0; i < iterations; i++)
  {
    for (int j = 0; j < 12; j++) c[j] = _mm256_dpbf16_ps(c[j], a, b);
    FOG8_OPAQUE_VECTORS(c);
  }
  __m256 s = c[0];
  for (int j = 1; j < 12; j++) s = _mm256_add_ps(s, c[j]);
  volatile float sink = _mm256_cvtss_f32(s);
  (void)sink;
  return static_cast<double>(iterations) * 12.0 * 32.0;
}
