// Softmax cross-entropy over the vocabulary: each row reduced in float64 (max-shifted
// log-sum-exp) as the reference does, rows split over threads.
#include <cmath>

#include "common/threads.h"
#include "fused/fused.h"

namespace fog8::fused {

void crossEntropyForward(const float* logits, const int32_t* targets, float* losses, float* lse, int64_t R,
                         int64_t V) {
  parallelFor(static_cast<size_t>(R), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
      const float* row = logits + r * V;
      float max = -INFINITY;
      for (int64_t v = 0; v < V; v++) max = row[v] > max ? row[v] : max;
      double sum = 0.0;
      for (int64_t v = 0; v < V; v++) sum += std::exp(static_cast<double>(row[v]) - max);
      const double rowLse = max + std::log(sum);
      lse[r] = static_cast<float>(rowLse);
      const int32_t target = targets[r];
      losses[r] = target < 0 ? 0.0f : static_cast<float>(rowLse - row[target]);
    }
  }, 4);
}

void crossEntropyBackward(const float* logits, const int32_t* targets, const float* lse, const float* dloss,
                          float* dlogits, int64_t R, int64_t V) {
  parallelFor(static_cast<size_t>(R), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
      const float* row = logits + r * V;
      float* out = dlogits + r * V;
      const int32_t target = targets[r];
      if (target < 0) {
        for (int64_t v = 0; v < V; v++) out[v] = 0.0f;
        continue;
      }
      const double rowLse = lse[r], scale = dloss[r];
      for (int64_t v = 0; v < V; v++) out[v] = static_cast<float>(scale * std::exp(row[v] - rowLse));
      out[target] = static_cast<float>(scale * (std::exp(row[target] - rowLse) - 1.0));
    }
  }, 4);
}

}  // namespace fog8::fused
