// Monitor reductions in float64: per-row Σx, Σx², Σx⁴ (each row summed in order, rows over
// threads) and Σx² over a whole array (fixed chunks summed in order, then the chunk sums in order),
// so both are independent of the thread count.
#include <algorithm>
#include <vector>

#include "common/threads.h"
#include "fused/fused.h"

namespace fog8::fused {

void rowMoments(const float* x, int64_t R, int64_t C, double* out) {
  parallelFor(static_cast<size_t>(R), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
      const float* row = x + r * C;
      double s1 = 0.0, s2 = 0.0, s4 = 0.0;
      for (int64_t c = 0; c < C; c++) {
        const double v = row[c];
        const double v2 = v * v;
        s1 += v;
        s2 += v2;
        s4 += v2 * v2;
      }
      out[3 * r] = s1;
      out[3 * r + 1] = s2;
      out[3 * r + 2] = s4;
    }
  }, 8);
}

double sumSquares(const float* x, int64_t n) {
  constexpr int64_t kChunk = 65536;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks));
  parallelFor(static_cast<size_t>(chunks), [&](size_t begin, size_t end) {
    for (size_t chunk = begin; chunk < end; chunk++) {
      const int64_t lo = static_cast<int64_t>(chunk) * kChunk, hi = std::min(n, lo + kChunk);
      // Four interleaved accumulators break the add latency chain; their order is fixed.
      double acc[4] = {0.0, 0.0, 0.0, 0.0};
      int64_t i = lo;
      for (; i + 4 <= hi; i += 4)
        for (int l = 0; l < 4; l++) acc[l] += static_cast<double>(x[i + l]) * x[i + l];
      for (; i < hi; i++) acc[0] += static_cast<double>(x[i]) * x[i];
      partial[chunk] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
  });
  double sum = 0.0;
  for (double p : partial) sum += p;
  return sum;
}

}  // namespace fog8::fused
