// AVX-512 GEMM paths. Float32 operands: 8 × 32 tile of FMAs. BF16 / FP8 operands: packed as BF16
// pairs along k and multiplied with vdpbf16ps (exact BF16 products, float32 accumulation), 8 × 32
// tile: each accumulator lane is one output column, each step consumes two k. With
// FOG8_AVX512_EMULATED the same code runs on SIMDe (see common/isa_avx512_intrinsics.h).
#include "../common/isa_avx512_intrinsics.h"
#include "gemm_kernels.h"
#include "pack_impl.h"

namespace {

constexpr size_t kMR = 8;
constexpr size_t kNR = 32;

void microF32(size_t kc, const void* aPacked, const void* bPacked, float* acc, size_t ld, bool first) {
  const float* a = static_cast<const float*>(aPacked);
  const float* b = static_cast<const float*>(bPacked);
  __m512 c[kMR][2];
  for (size_t i = 0; i < kMR; i++) {
    c[i][0] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + i * ld);
    c[i][1] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + i * ld + 16);
  }
  for (size_t k = 0; k < kc; k++, a += kMR, b += kNR) {
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = _mm512_loadu_ps(b + 16);
    for (size_t i = 0; i < kMR; i++) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      c[i][0] = _mm512_fmadd_ps(ai, b0, c[i][0]);
      c[i][1] = _mm512_fmadd_ps(ai, b1, c[i][1]);
    }
  }
  for (size_t i = 0; i < kMR; i++) {
    _mm512_storeu_ps(acc + i * ld, c[i][0]);
    _mm512_storeu_ps(acc + i * ld + 16, c[i][1]);
  }
}

void microBf16(size_t kcPadded, const void* aPacked, const void* bPacked, float* acc, size_t ld, bool first) {
  const uint32_t* a = static_cast<const uint32_t*>(aPacked);  // [k/2][MR] pairs
  const uint16_t* b = static_cast<const uint16_t*>(bPacked);  // [k/2][NR][2]
  __m512 c[kMR][2];
  for (size_t i = 0; i < kMR; i++) {
    c[i][0] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + i * ld);
    c[i][1] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + i * ld + 16);
  }
  for (size_t kp = 0; kp < kcPadded / 2; kp++, a += kMR, b += 2 * kNR) {
    const __m512bh b0 = bitCast<__m512bh>(_mm512_loadu_si512(b));
    const __m512bh b1 = bitCast<__m512bh>(_mm512_loadu_si512(b + 32));
    for (size_t i = 0; i < kMR; i++) {
      const __m512bh ai = bitCast<__m512bh>(_mm512_set1_epi32(static_cast<int>(a[i])));
      c[i][0] = _mm512_dpbf16_ps(c[i][0], ai, b0);
      c[i][1] = _mm512_dpbf16_ps(c[i][1], ai, b1);
    }
  }
  for (size_t i = 0; i < kMR; i++) {
    _mm512_storeu_ps(acc + i * ld, c[i][0]);
    _mm512_storeu_ps(acc + i * ld + 16, c[i][1]);
  }
}

// Row 0 of microF32 / microBf16: the same instruction chain per output element.
void microRowF32(size_t kc, const void* aPacked, const void* bPacked, float* acc, bool first) {
  const float* a = static_cast<const float*>(aPacked);
  const float* b = static_cast<const float*>(bPacked);
  __m512 c0 = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc);
  __m512 c1 = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + 16);
  for (size_t k = 0; k < kc; k++, a += kMR, b += kNR) {
    const __m512 ai = _mm512_set1_ps(a[0]);
    c0 = _mm512_fmadd_ps(ai, _mm512_loadu_ps(b), c0);
    c1 = _mm512_fmadd_ps(ai, _mm512_loadu_ps(b + 16), c1);
  }
  _mm512_storeu_ps(acc, c0);
  _mm512_storeu_ps(acc + 16, c1);
}

void microRowBf16(size_t kcPadded, const void* aPacked, const void* bPacked, float* acc, bool first) {
  const uint32_t* a = static_cast<const uint32_t*>(aPacked);
  const uint16_t* b = static_cast<const uint16_t*>(bPacked);
  __m512 c0 = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc);
  __m512 c1 = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + 16);
  for (size_t kp = 0; kp < kcPadded / 2; kp++, a += kMR, b += 2 * kNR) {
    const __m512bh ai = bitCast<__m512bh>(_mm512_set1_epi32(static_cast<int>(a[0])));
    c0 = _mm512_dpbf16_ps(c0, ai, bitCast<__m512bh>(_mm512_loadu_si512(b)));
    c1 = _mm512_dpbf16_ps(c1, ai, bitCast<__m512bh>(_mm512_loadu_si512(b + 32)));
  }
  _mm512_storeu_ps(acc, c0);
  _mm512_storeu_ps(acc + 16, c1);
}

const fog8::GemmKernelSet kF32{"avx512bf16", kMR, kNR, 1, sizeof(float), packFloat, microF32, microRowF32};
const fog8::GemmKernelSet kBf16{"avx512bf16", kMR, kNR, 2, sizeof(uint16_t), packPairs, microBf16, microRowBf16};

}  // namespace

const fog8::GemmKernelSet* fog8::gemmKernelsAvx512F32() { return &kF32; }
const fog8::GemmKernelSet* fog8::gemmKernelsAvx512Bf16() { return &kBf16; }
