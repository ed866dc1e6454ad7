// AVX-512 peak loops: FMA zmm and vdpbf16ps ymm / zmm, 12 independent chains each, started from
// distinct values and kept opaque (asm barrier) so that the compiler cannot merge them. The chains
// are named variables, not an array: see FOG8_OPAQUE_12. With FOG8_AVX512_EMULATED they run on
// SIMDe: correct, but their speed means nothing.
#include "../../native/src/common/isa_avx512_intrinsics.h"

#include "peak.h"

// Declares c0..c11 of type T, chain j starting at make(j).
#define FOG8_PEAK_CHAINS(T, make)                                                                              \
  T c0 = make(0.0f), c1 = make(1.0f), c2 = make(2.0f), c3 = make(3.0f), c4 = make(4.0f), c5 = make(5.0f),        \
    c6 = make(6.0f), c7 = make(7.0f), c8 = make(8.0f), c9 = make(9.0f), c10 = make(10.0f), c11 = make(11.0f)
// One round: every chain advances by one `step(c)`; then the barrier.
#define FOG8_PEAK_ROUND(step)                                                                                  \
  c0 = step(c0); c1 = step(c1); c2 = step(c2); c3 = step(c3); c4 = step(c4); c5 = step(c5);                     \
  c6 = step(c6); c7 = step(c7); c8 = step(c8); c9 = step(c9); c10 = step(c10); c11 = step(c11);                 \
  FOG8_OPAQUE_12(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11)

namespace {

/** Sums the 12 chains into a volatile, so that none of their work can be optimised away. */
template <class Add, class V>
void keepChainsAlive(Add add, V c0, V c1, V c2, V c3, V c4, V c5, V c6, V c7, V c8, V c9, V c10, V c11) {
  V s = add(add(add(c0, c1), add(c2, c3)), add(add(c4, c5), add(c6, c7)));
  s = add(s, add(add(c8, c9), add(c10, c11)));
  float lanes[sizeof(V) / sizeof(float)];  // summed by hand: SIMDe 0.7.4 has no _mm512_reduce_add_ps
  __builtin_memcpy(lanes, &s, sizeof(V));
  float total = 0.0f;
  for (float x : lanes) total += x;
  volatile float sink = total;
  (void)sink;
}

inline __m512 set512(float x) { return _mm512_set1_ps(x); }
inline __m256 set256(float x) { return _mm256_set1_ps(x); }

}  // namespace

double fog8::peakFma512(uint64_t iterations) {
  FOG8_PEAK_CHAINS(__m512, set512);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
#define FOG8_STEP(c) _mm512_fmadd_ps(a, c, b)
  for (uint64_t i = 0; i < iterations; i++) { FOG8_PEAK_ROUND(FOG8_STEP); }
#undef FOG8_STEP
  keepChainsAlive([](__m512 x, __m512 y) { return _mm512_add_ps(x, y); }, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11);
  return static_cast<double>(iterations) * 12.0 * 32.0;
}

double fog8::peakDpbf16x512(uint64_t iterations) {
  FOG8_PEAK_CHAINS(__m512, set512);
  const __m512bh a = bitCast<__m512bh>(_mm512_set1_epi32(0x3F803F80)), b = bitCast<__m512bh>(_mm512_set1_epi32(0x33D633D6));
#define FOG8_STEP(c) _mm512_dpbf16_ps(c, a, b)
  for (uint64_t i = 0; i < iterations; i++) { FOG8_PEAK_ROUND(FOG8_STEP); }
#undef FOG8_STEP
  keepChainsAlive([](__m512 x, __m512 y) { return _mm512_add_ps(x, y); }, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11);
  return static_cast<double>(iterations) * 12.0 * 64.0;
}

double fog8::peakDpbf16x256(uint64_t iterations) {
  FOG8_PEAK_CHAINS(__m256, set256);
  const __m256bh a = bitCast<__m256bh>(_mm256_set1_epi32(0x3F803F80)), b = bitCast<__m256bh>(_mm256_set1_epi32(0x33D633D6));
#define FOG8_STEP(c) _mm256_dpbf16_ps(c, a, b)
  for (uint64_t i = 0; i < iterations; i++) { FOG8_PEAK_ROUND(FOG8_STEP); }
#undef FOG8_STEP
  keepChainsAlive([](__m256 x, __m256 y) { return _mm256_add_ps(x, y); }, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11);
  return static_cast<double>(iterations) * 12.0 * 32.0;
}
