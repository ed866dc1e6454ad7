// Token embedding: the gather of the forward and the scatter-add of the backward, as the reference
// computes them (scale·value in float64, rounded to float32 as it is stored). Memory-bound: one
// plain loop (the compiler vectorises it), threaded; the backward splits columns, never rows, so
// rows with the same token add into their table row in row order whatever the thread count.
#include <cstdint>

#include "common/threads.h"
#include "fused/fused.h"

namespace fog8::fused {

void embeddingForward(const float* table, const int32_t* tokens, double scale, float* h, int64_t R, int64_t C) {
  parallelFor(static_cast<size_t>(R), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
      const float* row = table + static_cast<int64_t>(tokens[r]) * C;
      float* out = h + static_cast<int64_t>(r) * C;
      for (int64_t c = 0; c < C; c++) out[c] = static_cast<float>(scale * static_cast<double>(row[c]));
    }
  }, 64);
}

void embeddingBackward(const float* dh, const int32_t* tokens, double scale, float* dtable, int64_t R, int64_t C) {
  parallelFor(static_cast<size_t>(C), [&](size_t begin, size_t end) {
    const int64_t c0 = static_cast<int64_t>(begin), c1 = static_cast<int64_t>(end);
    for (int64_t r = 0; r < R; r++) {
      float* row = dtable + static_cast<int64_t>(tokens[r]) * C;
      const float* g = dh + r * C;
      for (int64_t c = c0; c < c1; c++) row[c] = static_cast<float>(static_cast<double>(row[c]) + scale * static_cast<double>(g[c]));
    }
  }, 16);
}

}  // namespace fog8::fused
