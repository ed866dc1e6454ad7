// Token embedding gather and its gradient scatter-add (the step's last TypeScript loops over a
// whole activation). The arithmetic is JavaScript's on Float32Array elements, so these kernels give
// the bits the TypeScript loops gave: h = float(scale·table) with the product in float64;
// dtable = float(dtable + scale·dh) with product and sum in float64, rows in order.
#include <cstdint>

#include "common/threads.h"
#include "fused/fused.h"

namespace fog8::fused {

// No floating-point contraction in this file: scale·dh and the add are rounded separately, as
// JavaScript rounds them (an FMA would change the last bits).
#pragma GCC optimize("fp-contract=off")

void embeddingForward(const float* table, const int32_t* tokens, float* h, int64_t R, int64_t C, double scale) {
  parallelFor(static_cast<size_t>(R), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
      const float* row = table + static_cast<int64_t>(tokens[r]) * C;
      float* out = h + static_cast<int64_t>(r) * C;
      for (int64_t c = 0; c < C; c++) out[c] = static_cast<float>(scale * static_cast<double>(row[c]));
    }
  }, 64);
}

void embeddingBackward(const float* dh, const int32_t* tokens, float* dtable, int64_t R, int64_t C, double scale) {
  // Threads split the columns: every element of dtable adds its rows in order (a token may repeat),
  // whatever the thread count.
  parallelFor(static_cast<size_t>(C), [&](size_t begin, size_t end) {
    const int64_t c0 = static_cast<int64_t>(begin), c1 = static_cast<int64_t>(end);
    for (int64_t r = 0; r < R; r++) {
      float* row = dtable + static_cast<int64_t>(tokens[r]) * C;
      const float* g = dh + r * C;
      for (int64_t c = c0; c < c1; c++) row[c] = static_cast<float>(static_cast<double>(row[c]) + scale * static_cast<double>(g[c]));
    }
  }, 32);
}

}  // namespace fog8::fused
