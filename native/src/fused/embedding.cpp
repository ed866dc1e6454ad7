// Token embedding gather and its gradient scatter-add (formerly TypeScript loops over a whole
// activation). The arithmetic is JavaScript's on Float32Array elements, so these kernels give the
// bits those loops gave on every ISA: h = float(scale·table) with the product in float64;
// dtable = float(dtable + scale·dh) with product and sum in float64, rows in order. The bodies live
// in embedding_impl.inc, compiled once per ISA by per_isa.inc.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/fp8.h"
#include "common/isa.h"
#include "common/threads.h"
#include "fused/fused.h"
#include "fused/isa_regions.h"

namespace fog8::fused {

// No floating-point contraction in this file: scale·dh and the add are rounded separately, as
// JavaScript rounds them (an FMA would change the last bits).
#pragma GCC optimize("fp-contract=off")
#define FOG8_ISA_IMPL "fused/embedding_impl.inc"
#include "fused/per_isa.inc"

void embeddingForward(const float* table, const int32_t* tokens, float* h, int64_t R, int64_t C, double scale) {
  FOG8_DISPATCH(embeddingForwardIsa(table, tokens, h, R, C, scale))
}

void embeddingBackward(const float* dh, const int32_t* tokens, float* dtable, int64_t R, int64_t C, double scale) {
  FOG8_DISPATCH(embeddingBackwardIsa(dh, tokens, dtable, R, C, scale))
}

}  // namespace fog8::fused
