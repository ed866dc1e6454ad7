// Decoupled AdamW in place. Per element in float64 with m and v stored as float32 and the update
// reading the stored values, exactly as the reference (same operations in the same order, so the
// results are bit-identical); element ranges split over threads. The loop is compiled a second
// time for AVX2 *without* FMA: 4-lane float64 vectors, and no multiply-add can be contracted (a
// fused multiply-add would round differently from the reference).
#include <cmath>
#include <cstdint>
#include <immintrin.h>

#include "common/isa.h"
#include "common/threads.h"
#include "fused/fused.h"
#include "fused/isa_regions.h"

namespace fog8::fused {
namespace {

struct AdamWConstants {
  double beta1, oneMinusBeta1, beta2, oneMinusBeta2, mCorrection, vCorrection, lr, eps, weightDecay;
};

#define FOG8_ADAMW_BODY                                                                                   \
  for (int64_t i = 0; i < n; i++) {                                                                       \
    const double grad = g[i];                                                                             \
    const float mi = static_cast<float>(c.beta1 * m[i] + c.oneMinusBeta1 * grad);                          \
    const float vi = static_cast<float>(c.beta2 * v[i] + c.oneMinusBeta2 * grad * grad);                   \
    m[i] = mi;                                                                                            \
    v[i] = vi;                                                                                            \
    const double mHat = mi / c.mCorrection;                                                               \
    const double vHat = vi / c.vCorrection;                                                               \
    const double wi = w[i];                                                                               \
    w[i] = static_cast<float>(wi - c.lr * (mHat / (__builtin_sqrt(vHat) + c.eps) + c.weightDecay * wi));   \
  }

void adamwBase(float* __restrict w, const float* __restrict g, float* __restrict m, float* __restrict v, int64_t n,
               const AdamWConstants& c) {
  FOG8_ADAMW_BODY
}

#if FOG8_FUSED_MULTI_ISA
#pragma GCC push_options
#pragma GCC target("avx2,no-fma")
/** The same operations on 4 float64 lanes (AVX without FMA: nothing can be contracted). */
void adamwAvx2(float* __restrict w, const float* __restrict g, float* __restrict m, float* __restrict v, int64_t n,
               const AdamWConstants& c) {
  const __m256d beta1 = _mm256_set1_pd(c.beta1), oneMinusBeta1 = _mm256_set1_pd(c.oneMinusBeta1);
  const __m256d beta2 = _mm256_set1_pd(c.beta2), oneMinusBeta2 = _mm256_set1_pd(c.oneMinusBeta2);
  const __m256d mCorrection = _mm256_set1_pd(c.mCorrection), vCorrection = _mm256_set1_pd(c.vCorrection);
  const __m256d lr = _mm256_set1_pd(c.lr), eps = _mm256_set1_pd(c.eps), weightDecay = _mm256_set1_pd(c.weightDecay);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d grad = _mm256_cvtps_pd(_mm_loadu_ps(g + i));
    const __m128 mi = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(beta1, _mm256_cvtps_pd(_mm_loadu_ps(m + i))),
                                                    _mm256_mul_pd(oneMinusBeta1, grad)));
    const __m128 vi = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(beta2, _mm256_cvtps_pd(_mm_loadu_ps(v + i))),
                                                    _mm256_mul_pd(_mm256_mul_pd(oneMinusBeta2, grad), grad)));
    _mm_storeu_ps(m + i, mi);
    _mm_storeu_ps(v + i, vi);
    const __m256d mHat = _mm256_div_pd(_mm256_cvtps_pd(mi), mCorrection);
    const __m256d vHat = _mm256_div_pd(_mm256_cvtps_pd(vi), vCorrection);
    const __m256d wi = _mm256_cvtps_pd(_mm_loadu_ps(w + i));
    const __m256d step = _mm256_add_pd(_mm256_div_pd(mHat, _mm256_add_pd(_mm256_sqrt_pd(vHat), eps)),
                                       _mm256_mul_pd(weightDecay, wi));
    _mm_storeu_ps(w + i, _mm256_cvtpd_ps(_mm256_sub_pd(wi, _mm256_mul_pd(lr, step))));
  }
  adamwBase(w + i, g + i, m + i, v + i, n - i, c);
}
#pragma GCC pop_options
#endif

#undef FOG8_ADAMW_BODY

}  // namespace

void adamw(float* w, const float* g, float* m, float* v, int64_t n, const AdamWParams& p) {
  const AdamWConstants c{p.beta1, 1.0 - p.beta1, p.beta2, 1.0 - p.beta2, 1.0 - std::pow(p.beta1, p.step),
                         1.0 - std::pow(p.beta2, p.step), p.lr, p.eps, p.weightDecay};
#if FOG8_FUSED_MULTI_ISA
  const bool vector = activeIsa() != Isa::scalar;
#else
  const bool vector = false;
#endif
  parallelFor(static_cast<size_t>(n), [&](size_t begin, size_t end) {
    const int64_t count = static_cast<int64_t>(end - begin);
#if FOG8_FUSED_MULTI_ISA
    if (vector) return adamwAvx2(w + begin, g + begin, m + begin, v + begin, count, c);
#endif
    (void)vector;
    adamwBase(w + begin, g + begin, m + begin, v + begin, count, c);
  }, 16384);
}

}  // namespace fog8::fused
