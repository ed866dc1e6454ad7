// Rotary position embedding, rotate-half pairs (i, i + D/2). The caller passes the D/2 float64
// frequencies (theta and any Llama-3.1 scaling applied in TS); cos/sin tables of angle
// t·frequency[i] are computed in float64 like the reference and cached for the last (T, D, frequencies).
#include <algorithm>
#include <cstring>
#include <cmath>
#include <memory>
#include <mutex>
#include <vector>

#include "common/fp8.h"
#include "common/isa.h"
#include "common/threads.h"
#include "fused/isa_regions.h"
#include "fused/fused.h"

namespace fog8::fused {

// No floating-point contraction in this file: the rotation's float64 products are rounded
// separately on every ISA (an FMA would change the last bits between ISAs).
#pragma GCC optimize("fp-contract=off")
#define FOG8_ISA_IMPL "fused/rope_impl.inc"
#include "fused/per_isa.inc"

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
  FOG8_DISPATCH(rotateIsa<kRound>(src, dst, B, T, H, D, table->cos.data(), table->sin.data(), sign))
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
