// Causal GQA attention (online softmax; FP8DPA with two passes). The kernel body lives in
// attention_impl.inc and is compiled here once per ISA with `#pragma GCC target`, so this one
// translation unit carries AVX-512, AVX2+FMA and baseline code; activeIsa() picks one per call.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

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
#include "fused/attention_impl.inc"
#undef FOG8_VW
}  // namespace isa_avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
namespace isa_avx2 {
#define FOG8_VW 8
#include "fused/simd.inc"
#include "fused/attention_impl.inc"
#undef FOG8_VW
}  // namespace isa_avx2
#pragma GCC pop_options
#endif

namespace isa_base {
#define FOG8_VW 4
#include "fused/simd.inc"
#include "fused/attention_impl.inc"
#undef FOG8_VW
}  // namespace isa_base

float attentionForward(const float* q, const float* k, const float* v, float* o, float* lse, const AttentionShape& s,
                       const AttentionFp8Scales* fp8, CastCounts* pStats, bool wantMaxLogit) {
#if FOG8_FUSED_MULTI_ISA
  switch (activeIsa()) {
    case Isa::avx512bf16: return isa_avx512::attentionForwardIsa(q, k, v, o, lse, s, fp8, pStats, wantMaxLogit);
    case Isa::avx2: return isa_avx2::attentionForwardIsa(q, k, v, o, lse, s, fp8, pStats, wantMaxLogit);
    default: break;
  }
#endif
  return isa_base::attentionForwardIsa(q, k, v, o, lse, s, fp8, pStats, wantMaxLogit);
}

void attentionBackward(const float* q, const float* k, const float* v, const float* o, const float* lse,
                       const float* dO, float* dq, float* dk, float* dv, const AttentionShape& s,
                       const AttentionFp8Scales* fp8, CastCounts* dpStats, CastCounts* dsStats) {
#if FOG8_FUSED_MULTI_ISA
  switch (activeIsa()) {
    case Isa::avx512bf16:
      return isa_avx512::attentionBackwardIsa(q, k, v, o, lse, dO, dq, dk, dv, s, fp8, dpStats, dsStats);
    case Isa::avx2: return isa_avx2::attentionBackwardIsa(q, k, v, o, lse, dO, dq, dk, dv, s, fp8, dpStats, dsStats);
    default: break;
  }
#endif
  isa_base::attentionBackwardIsa(q, k, v, o, lse, dO, dq, dk, dv, s, fp8, dpStats, dsStats);
}

}  // namespace fog8::fused
