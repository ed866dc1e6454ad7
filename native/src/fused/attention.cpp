// Causal GQA attention (online softmax; FP8DPA with two passes). The kernel body lives in
// attention_impl.inc and is compiled here once per ISA by per_isa.inc (`#pragma GCC target`), so this one
// translation unit carries AVX-512, AVX2+FMA and baseline code; activeIsa() picks one per call.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/aligned_buffer.h"
#include "common/fp8.h"
#include "common/isa.h"
#include "common/threads.h"
#include "fused/fused.h"
#include "fused/isa_regions.h"
#if FOG8_FUSED_MULTI_ISA
// vdpbf16ps for the avx512bf16 region (SIMDe's versions in the emulated build).
#include "common/isa_avx512_intrinsics.h"
#endif

namespace fog8::fused {

#define FOG8_ISA_IMPL "fused/attention_impl.inc"
#include "fused/per_isa.inc"

float attentionForward(const float* q, const float* k, const float* v, float* o, float* lse, const AttentionShape& s,
                       const AttentionFp8Scales* fp8, CastCounts* pStats, bool wantMaxLogit) {
  FOG8_DISPATCH(attentionForwardIsa(q, k, v, o, lse, s, fp8, pStats, wantMaxLogit))
}

void attentionBackward(const float* q, const float* k, const float* v, const float* o, const float* lse,
                       const float* dO, float* dq, float* dk, float* dv, const AttentionShape& s,
                       const AttentionFp8Scales* fp8, CastCounts* dsStats) {
  FOG8_DISPATCH(attentionBackwardIsa(q, k, v, o, lse, dO, dq, dk, dv, s, fp8, dsStats))
}

}  // namespace fog8::fused
