// Causal GQA attention (online softmax; FP8DPA with two passes). The kernel body lives in
// attention_impl.inc and is compiled here once per ISA by per_isa.inc (`#pragma GCC target`), so this one
// translation unit carries AVX-512, AVX2+FMA and baseline code; activeIsa() picks one per call.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
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

/** Whether FOG8_ATTENTION_FULL_PATH=1 turns the interior-tile fast paths off (read per call: the
 *  tests compare both paths bit for bit in one process). */
static bool attentionFastPaths() {
  const char* env = std::getenv("FOG8_ATTENTION_FULL_PATH");
  return env == nullptr || std::strcmp(env, "1") != 0;
}

#define FOG8_ISA_IMPL "fused/attention_impl.inc"
#include "fused/per_isa.inc"

void attentionCodeTables(bool e5m2, float invScale, AttentionCodeTables& t) {
  const Fp8Table& decode = fp8Table(e5m2 ? kE5M2 : kE4M3);
  for (int c = 0; c < 256; c++) {
    const float x = decode.value[c] * invScale;  // dequantize's float32 product
    t.value[c] = x;
    // BF16 bits, ties to even, NaN made quiet: the kernels' rounding of float operands
    const uint32_t u = floatBits(x);
    const uint32_t bits = (u & 0x7FFFFFFFu) > 0x7F800000u ? (u | 0x00400000u) >> 16 : (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    t.bf16Bytes[c] = static_cast<uint8_t>(bits & 0xFF);
    t.bf16Bytes[256 + c] = static_cast<uint8_t>(bits >> 8);
  }
}

float attentionForward(const AttentionInput& q, const AttentionInput& k, const AttentionInput& v, float* o, float* lse,
                       const AttentionShape& s, const AttentionFp8Scales* fp8, CastCounts* pStats, bool wantMaxLogit) {
  FOG8_DISPATCH(attentionForwardIsa(q, k, v, o, lse, s, fp8, pStats, wantMaxLogit))
}

void attentionBackward(const AttentionInput& q, const AttentionInput& k, const AttentionInput& v, const AttentionInput& o,
                       const float* lse, const AttentionInput& dO, float* dq, float* dk, float* dv, const AttentionShape& s,
                       const AttentionFp8Scales* fp8, CastCounts* dsStats) {
  FOG8_DISPATCH(attentionBackwardIsa(q, k, v, o, lse, dO, dq, dk, dv, s, fp8, dsStats))
}

}  // namespace fog8::fused
