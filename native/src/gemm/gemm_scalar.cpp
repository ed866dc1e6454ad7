// Portable GEMM path: plain C++ micro-kernel (4 × 8), no ISA flags.
#include "gemm_kernels.h"
#include "pack_impl.h"

namespace {

constexpr size_t kMR = 4;
constexpr size_t kNR = 8;

void microScalar(size_t kc, const void* aPacked, const void* bPacked, float* acc, size_t ld, bool first) {
  const float* a = static_cast<const float*>(aPacked);
  const float* b = static_cast<const float*>(bPacked);
  float c[kMR][kNR];
  for (size_t i = 0; i < kMR; i++)
    for (size_t j = 0; j < kNR; j++) c[i][j] = first ? 0.0f : acc[i * ld + j];
  for (size_t k = 0; k < kc; k++, a += kMR, b += kNR)
    for (size_t i = 0; i < kMR; i++)
      for (size_t j = 0; j < kNR; j++) c[i][j] += a[i] * b[j];
  for (size_t i = 0; i < kMR; i++)
    for (size_t j = 0; j < kNR; j++) acc[i * ld + j] = c[i][j];
}

const fog8::GemmKernelSet kScalar{"scalar", kMR, kNR, 1, sizeof(float), packFloat, microScalar, nullptr};

}  // namespace

const fog8::GemmKernelSet* fog8::gemmKernelsScalar() { return &kScalar; }
