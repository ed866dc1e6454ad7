// Rotary position embedding, rotate-half pairs (i, i + D/2). The caller passes the D/2 float64
// frequencies (theta and any Llama-3.1 scaling applied in TS); cos/sin tables of angle
// t·frequency[i] are computed in float64 like the reference and cached for the last (T, D, frequencies).
#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <vector>

#include "common/fp8.h"
#include "common/threads.h"
#include "fused/fused.h"

namespace fog8::fused {
namespace {

struct RopeTable {
  int64_t T = 0, D = 0;
  std::vector<double> frequency;  // (D/2)
  std::vector<double> cos, sin;   // (T, D/2)
};

std::mutex tableMutex;
std::shared_ptr<const RopeTable> lastTable;  // kept between calls: RoPE runs with the same T and D every layer

std::shared_ptr<const RopeTable> ropeTable(int64_t T, int64_t D, const double* frequency) {
  std::mutex& mutex = tableMutex;
  std::shared_ptr<const RopeTable>& last = lastTable;
  const int64_t half = D / 2;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (last && last->T >= T && last->D == D && std::equal(frequency, frequency + half, last->frequency.begin())) return last;
  }
  auto table = std::make_shared<RopeTable>();
  table->T = T;
  table->D = D;
  table->frequency.assign(frequency, frequency + half);
  table->cos.resize(static_cast<size_t>(T * half));
  table->sin.resize(static_cast<size_t>(T * half));
  for (int64_t i = 0; i < half; i++) {
    for (int64_t t = 0; t < T; t++) {
      const double angle = static_cast<double>(t) * frequency[i];
      table->cos[t * half + i] = std::cos(angle);
      table->sin[t * half + i] = std::sin(angle);
    }
  }
  std::lock_guard<std::mutex> lock(mutex);
  last = table;
  return table;
}

template <bool kRound>
void rotate(const float* src, float* dst, int64_t B, int64_t T, int64_t H, int64_t D, const double* frequency, double sign) {
  if (D == 0) return;
  const std::shared_ptr<const RopeTable> table = ropeTable(T, D, frequency);
  const int64_t half = D / 2;
  parallelFor(static_cast<size_t>(B * T), [&](size_t begin, size_t end) {
    for (size_t bt = begin; bt < end; bt++) {
      const int64_t t = static_cast<int64_t>(bt) % T;
      const double* cosRow = table->cos.data() + t * half;
      const double* sinRow = table->sin.data() + t * half;
      for (int64_t h = 0; h < H; h++) {
        const int64_t base = (static_cast<int64_t>(bt) * H + h) * D;
        for (int64_t i = 0; i < half; i++) {
          const double c = cosRow[i], s = sign * sinRow[i];
          const double x1 = src[base + i], x2 = src[base + i + half];  // both read first: dst may alias src
          const float y1 = static_cast<float>(x1 * c - x2 * s), y2 = static_cast<float>(x1 * s + x2 * c);
          dst[base + i] = kRound ? fog8::roundBf16(y1) : y1;
          dst[base + i + half] = kRound ? fog8::roundBf16(y2) : y2;
        }
      }
    }
  }, 4);
}

}  // namespace

size_t ropeTableBytes() {
  std::lock_guard<std::mutex> lock(tableMutex);
  if (!lastTable) return 0;
  return (lastTable->frequency.capacity() + lastTable->cos.capacity() + lastTable->sin.capacity()) * sizeof(double);
}

void ropeForward(const float* x, float* y, int64_t B, int64_t T, int64_t H, int64_t D, const double* frequency, bool roundBf16) {
  if (roundBf16) rotate<true>(x, y, B, T, H, D, frequency, 1.0);
  else rotate<false>(x, y, B, T, H, D, frequency, 1.0);
}

void ropeBackward(const float* dy, float* dx, int64_t B, int64_t T, int64_t H, int64_t D, const double* frequency, bool roundBf16) {
  if (roundBf16) rotate<true>(dy, dx, B, T, H, D, frequency, -1.0);
  else rotate<false>(dy, dx, B, T, H, D, frequency, -1.0);
}

}  // namespace fog8::fused
