// AVX2 + FMA GEMM path: float32 panels (FP8 / BF16 decoded while packing, exactly), 6 × 16
// register tile = 12 ymm accumulators, one FMA chain per output element in k order.
#include <immintrin.h>

#include "gemm_kernels.h"
#include "pack_impl.h"

namespace {

constexpr size_t kMR = 6;
constexpr size_t kNR = 16;

void microAvx2(size_t kc, const void* aPacked, const void* bPacked, float* acc, size_t ld, bool first) {
  const float* a = static_cast<const float*>(aPacked);
  const float* b = static_cast<const float*>(bPacked);
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (first) {
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
  } else {
    c00 = _mm256_loadu_ps(acc + 0 * ld); c01 = _mm256_loadu_ps(acc + 0 * ld + 8);
    c10 = _mm256_loadu_ps(acc + 1 * ld); c11 = _mm256_loadu_ps(acc + 1 * ld + 8);
    c20 = _mm256_loadu_ps(acc + 2 * ld); c21 = _mm256_loadu_ps(acc + 2 * ld + 8);
    c30 = _mm256_loadu_ps(acc + 3 * ld); c31 = _mm256_loadu_ps(acc + 3 * ld + 8);
    c40 = _mm256_loadu_ps(acc + 4 * ld); c41 = _mm256_loadu_ps(acc + 4 * ld + 8);
    c50 = _mm256_loadu_ps(acc + 5 * ld); c51 = _mm256_loadu_ps(acc + 5 * ld + 8);
  }
  for (size_t k = 0; k < kc; k++, a += kMR, b += kNR) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
    __m256 ai;
    ai = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(ai, b0, c00); c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(ai, b0, c10); c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(ai, b0, c20); c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(ai, b0, c30); c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(ai, b0, c40); c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(ai, b0, c50); c51 = _mm256_fmadd_ps(ai, b1, c51);
  }
  _mm256_storeu_ps(acc + 0 * ld, c00); _mm256_storeu_ps(acc + 0 * ld + 8, c01);
  _mm256_storeu_ps(acc + 1 * ld, c10); _mm256_storeu_ps(acc + 1 * ld + 8, c11);
  _mm256_storeu_ps(acc + 2 * ld, c20); _mm256_storeu_ps(acc + 2 * ld + 8, c21);
  _mm256_storeu_ps(acc + 3 * ld, c30); _mm256_storeu_ps(acc + 3 * ld + 8, c31);
  _mm256_storeu_ps(acc + 4 * ld, c40); _mm256_storeu_ps(acc + 4 * ld + 8, c41);
  _mm256_storeu_ps(acc + 5 * ld, c50); _mm256_storeu_ps(acc + 5 * ld + 8, c51);
}

// Row 0 of microAvx2: the same FMA chain per output element.
void microRowAvx2(size_t kc, const void* aPacked, const void* bPacked, float* acc, bool first) {
  const float* a = static_cast<const float*>(aPacked);
  const float* b = static_cast<const float*>(bPacked);
  __m256 c0 = first ? _mm256_setzero_ps() : _mm256_loadu_ps(acc);
  __m256 c1 = first ? _mm256_setzero_ps() : _mm256_loadu_ps(acc + 8);
  for (size_t k = 0; k < kc; k++, a += kMR, b += kNR) {
    const __m256 ai = _mm256_broadcast_ss(a);
    c0 = _mm256_fmadd_ps(ai, _mm256_load_ps(b), c0);
    c1 = _mm256_fmadd_ps(ai, _mm256_load_ps(b + 8), c1);
  }
  _mm256_storeu_ps(acc, c0);
  _mm256_storeu_ps(acc + 8, c1);
}

const fog8::GemmKernelSet kAvx2{"avx2", kMR, kNR, 1, sizeof(float), packFloat, microAvx2, microRowAvx2};

}  // namespace

const fog8::GemmKernelSet* fog8::gemmKernelsAvx2() { return &kAvx2; }
