// Float32 panel packing shared by every ISA translation unit (included inside an anonymous
// namespace so each ISA gets its own copy compiled with its own flags). Operands are decoded while
// packing: FP8 through the 256-entry table, BF16 by a shift; all are exact in float32. (The
// avx512bf16 BF16-pair packing lives in gemm_avx512bf16.cpp.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gemm_kernels.h"

namespace {

inline float bf16BitsToFloat(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t floatToBf16Exact(float f) {  // only for values exact in BF16 (FP8, BF16)
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>(u >> 16);
}

template <typename Load>
inline void packFloatPanel(Load load, const fog8::PackSource& s, size_t r0, size_t rows, size_t P, size_t k0, size_t kc, float* dst) {
  if (s.rowMajor) {
    for (size_t r = 0; r < rows; r++) {
      const size_t base = (r0 + r) * s.ld + k0;
      for (size_t k = 0; k < kc; k++) dst[k * P + r] = load(base + k);
    }
  } else {
    for (size_t k = 0; k < kc; k++) {
      const size_t base = (k0 + k) * s.ld + r0;
      float* d = dst + k * P;
      for (size_t r = 0; r < rows; r++) d[r] = load(base + r);
    }
  }
  if (rows < P) {
    for (size_t k = 0; k < kc; k++)
      for (size_t r = rows; r < P; r++) dst[k * P + r] = 0.0f;
  }
}

/** Float32 panel [k][P] of any operand dtype. */
void packFloat(const fog8::PackSource& s, size_t r0, size_t rows, size_t P, size_t k0, size_t kc, void* out) {
  float* dst = static_cast<float*>(out);
  switch (s.dtype) {
    case fog8::Dtype::f32: {
      const float* p = static_cast<const float*>(s.data);
      packFloatPanel([p](size_t i) { return p[i]; }, s, r0, rows, P, k0, kc, dst);
      break;
    }
    case fog8::Dtype::bf16: {
      const uint16_t* p = static_cast<const uint16_t*>(s.data);
      packFloatPanel([p](size_t i) { return bf16BitsToFloat(p[i]); }, s, r0, rows, P, k0, kc, dst);
      break;
    }
    default: {
      const uint8_t* p = static_cast<const uint8_t*>(s.data);
      const float* t = s.fp8Table;
      packFloatPanel([p, t](size_t i) { return t[p[i]]; }, s, r0, rows, P, k0, kc, dst);
      break;
    }
  }
}

}  // namespace
