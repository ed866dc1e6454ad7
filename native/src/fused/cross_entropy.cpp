// Softmax cross-entropy over the vocabulary. The row body lives in cross_entropy_impl.inc and is
// compiled here once per ISA by per_isa.inc; activeIsa() picks one.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/fp8.h"
#include "common/isa.h"
#include "common/threads.h"
#include "fused/fused.h"
#include "fused/isa_regions.h"

namespace fog8::fused {

#define FOG8_ISA_IMPL "fused/cross_entropy_impl.inc"
#include "fused/per_isa.inc"

void crossEntropyForward(const float* logits, const int32_t* targets, float* losses, float* lse, int64_t R,
                         int64_t V) {
  FOG8_DISPATCH(crossEntropyForwardIsa(logits, targets, losses, lse, R, V))
}

void crossEntropyBackward(const float* logits, const int32_t* targets, const float* lse, const float* dloss,
                          float* dlogits, int64_t R, int64_t V, bool roundBf16) {
  FOG8_DISPATCH(crossEntropyBackwardIsa(logits, targets, lse, dloss, dlogits, nullptr, R, V, roundBf16))
}

void crossEntropyBf16(const float* logits, const int32_t* targets, float* losses, float* lse, const float* dloss,
                      uint16_t* bits, int64_t R, int64_t V) {
  FOG8_DISPATCH(crossEntropyBf16Isa(logits, targets, losses, lse, dloss, bits, R, V))
}

}  // namespace fog8::fused
