// RMSNorm forward/backward. Row reductions and per-element math in float64, rounded once on store,
// as the reference does; rows split over threads, dgain split over columns (each column summed
// over rows in order), so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common/threads.h"
#include "fused/fused.h"

namespace fog8::fused {

void rmsnormForward(const float* x, const float* gain, float* y, float* rstd, int64_t R, int64_t C, double eps) {
  parallelFor(static_cast<size_t>(R), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
      const float* xr = x + r * C;
      float* yr = y + r * C;
      double sumSq = 0.0;
      for (int64_t c = 0; c < C; c++) sumSq += static_cast<double>(xr[c]) * xr[c];
      const float inv = static_cast<float>(1.0 / std::sqrt(sumSq / static_cast<double>(C) + eps));
      rstd[r] = inv;
      if (gain == nullptr) {
        for (int64_t c = 0; c < C; c++) yr[c] = static_cast<float>(static_cast<double>(xr[c]) * inv);
      } else {
        for (int64_t c = 0; c < C; c++) yr[c] = static_cast<float>(static_cast<double>(xr[c]) * inv * gain[c]);
      }
    }
  }, 16);
}

void rmsnormBackward(const float* dy, const float* x, const float* gain, const float* rstd, float* dx, float* dgain,
                     int64_t R, int64_t C) {
  parallelFor(static_cast<size_t>(R), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
      const float* xr = x + r * C;
      const float* dyr = dy + r * C;
      float* dxr = dx + r * C;
      const double inv = rstd[r];
      double dot = 0.0;  // Σ x·g·dy
      for (int64_t c = 0; c < C; c++) dot += static_cast<double>(xr[c]) * (gain == nullptr ? 1.0 : gain[c]) * dyr[c];
      const double k = (inv * inv * dot) / static_cast<double>(C);
      for (int64_t c = 0; c < C; c++) {
        const double g = gain == nullptr ? 1.0 : gain[c];
        dxr[c] = static_cast<float>(inv * (g * dyr[c] - xr[c] * k));
      }
    }
  }, 16);
  if (dgain == nullptr) return;
  parallelFor(static_cast<size_t>(C), [&](size_t begin, size_t end) {
    std::vector<double> sums(end - begin, 0.0);
    for (int64_t r = 0; r < R; r++) {
      const float* xr = x + r * C;
      const float* dyr = dy + r * C;
      const double inv = rstd[r];
      for (size_t c = begin; c < end; c++) sums[c - begin] += static_cast<double>(dyr[c]) * xr[c] * inv;
    }
    for (size_t c = begin; c < end; c++) dgain[c] = static_cast<float>(dgain[c] + sums[c - begin]);
  }, 64);
}

}  // namespace fog8::fused
