// Softmax cross-entropy over the vocabulary. The row body lives in cross_entropy_impl.inc and is
// compiled here once per ISA with `#pragma GCC target` (as attention.cpp); activeIsa() picks one.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/fp8.h"
#include "common/isa.h"
#include "common/threads.h"
#include "fused/fused.h"
#include "fused/isa_regions.h"

namespace fog8::fused {

#if FOG8_FUSED_MULTI_ISA
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")
namespace isa_avx512 {
#define FOG8_VW 16
#include "fused/simd.inc"
#include "fused/cross_entropy_impl.inc"
#undef FOG8_VW
}  // namespace isa_avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
namespace isa_avx2 {
#define FOG8_VW 8
#include "fused/simd.inc"
#include "fused/cross_entropy_impl.inc"
#undef FOG8_VW
}  // namespace isa_avx2
#pragma GCC pop_options
#endif

namespace isa_base {
#define FOG8_VW 4
#include "fused/simd.inc"
#include "fused/cross_entropy_impl.inc"
#undef FOG8_VW
}  // namespace isa_base

void crossEntropyForward(const float* logits, const int32_t* targets, float* losses, float* lse, int64_t R,
                         int64_t V) {
#if FOG8_FUSED_MULTI_ISA
  switch (activeIsa()) {
    case Isa::avx512bf16: return isa_avx512::crossEntropyForwardIsa(logits, targets, losses, lse, R, V);
    case Isa::avx2: return isa_avx2::crossEntropyForwardIsa(logits, targets, losses, lse, R, V);
    default: break;
  }
#endif
  isa_base::crossEntropyForwardIsa(logits, targets, losses, lse, R, V);
}

void crossEntropyBackward(const float* logits, const int32_t* targets, const float* lse, const float* dloss,
                          float* dlogits, int64_t R, int64_t V) {
#if FOG8_FUSED_MULTI_ISA
  switch (activeIsa()) {
    case Isa::avx512bf16: return isa_avx512::crossEntropyBackwardIsa(logits, targets, lse, dloss, dlogits, R, V);
    case Isa::avx2: return isa_avx2::crossEntropyBackwardIsa(logits, targets, lse, dloss, dlogits, R, V);
    default: break;
  }
#endif
  isa_base::crossEntropyBackwardIsa(logits, targets, lse, dloss, dlogits, R, V);
}

}  // namespace fog8::fused
