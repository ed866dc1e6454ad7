// Decoupled AdamW in place. Per element in float64 with m and v stored as float32 and the update
// reading the stored values, exactly as the reference; element ranges split over threads.
#include <cmath>

#include "common/threads.h"
#include "fused/fused.h"

namespace fog8::fused {

void adamw(float* w, const float* g, float* m, float* v, int64_t n, const AdamWParams& p) {
  const double mCorrection = 1.0 - std::pow(p.beta1, p.step);
  const double vCorrection = 1.0 - std::pow(p.beta2, p.step);
  parallelFor(static_cast<size_t>(n), [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) {
      const double grad = g[i];
      m[i] = static_cast<float>(p.beta1 * m[i] + (1.0 - p.beta1) * grad);
      v[i] = static_cast<float>(p.beta2 * v[i] + (1.0 - p.beta2) * grad * grad);
      const double mHat = m[i] / mCorrection;
      const double vHat = v[i] / vCorrection;
      const double wi = w[i];
      w[i] = static_cast<float>(wi - p.lr * (mHat / (std::sqrt(vHat) + p.eps) + p.weightDecay * wi));
    }
  }, 16384);
}

}  // namespace fog8::fused
