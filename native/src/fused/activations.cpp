// MLP activations forward/backward (SwiGLU, Smooth-SwiGLU, GeLU with erf, xIELU; DESIGN §4) in
// vectorised float32 (simd.inc). The bodies live in activations_impl.inc and are compiled here
// once per ISA by per_isa.inc; activeIsa() picks one per call.
// Accuracy vs the float64 reference: |Δ| ≤ 1e-6·|y| + 1e-7·(magnitude of the terms) (a few ulp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "casts/casts.h"
#include "fused/cast_stage.h"
#include "common/fp8.h"
#include "common/isa.h"
#include "common/threads.h"
#include "fused/fused.h"
#include "fused/isa_regions.h"

namespace fog8::fused {

#define FOG8_ISA_IMPL "fused/activations_impl.inc"
#include "fused/per_isa.inc"

// Each entry point runs the body on the input's element type: float32 values or BF16 bits.
#define FOG8_ON_INPUT(in, call_with_IN)   \
  if ((in).bits != nullptr) {              \
    const uint16_t* IN = (in).bits;        \
    FOG8_DISPATCH(call_with_IN)            \
  } else {                                 \
    const float* IN = (in).values;         \
    FOG8_DISPATCH(call_with_IN)            \
  }

void swigluForward(ActivationInput h, float* a, int64_t R, int64_t F, bool roundBf16, uint16_t* hBits, const ChunkedCast* cast) {
  FOG8_ON_INPUT(h, gatedForwardIsa(IN, a, nullptr, R, F, false, roundBf16, hBits, cast))
}
void swigluBackward(ActivationInput h, const float* da, float* dh, int64_t R, int64_t F, bool roundBf16, const ChunkedCast* cast) {
  FOG8_ON_INPUT(h, gatedBackwardIsa(IN, nullptr, da, dh, R, F, roundBf16, cast))
}
void smoothSwigluForward(ActivationInput h, float* a, float* s, int64_t R, int64_t F, bool roundBf16, uint16_t* hBits,
                         const ChunkedCast* cast) {
  FOG8_ON_INPUT(h, gatedForwardIsa(IN, a, s, R, F, true, roundBf16, hBits, cast))
}
void smoothSwigluBackward(ActivationInput h, const float* s, const float* da, float* dh, int64_t R, int64_t F, bool roundBf16,
                          const ChunkedCast* cast) {
  FOG8_ON_INPUT(h, gatedBackwardIsa(IN, s, da, dh, R, F, roundBf16, cast))
}
void geluForward(ActivationInput x, float* y, int64_t n, bool roundBf16, uint16_t* xBits, const ChunkedCast* cast) {
  FOG8_ON_INPUT(x, geluForwardIsa(IN, y, n, roundBf16, xBits, cast))
}
void geluBackward(ActivationInput x, const float* dy, float* dx, int64_t n, bool roundBf16, const ChunkedCast* cast) {
  FOG8_ON_INPUT(x, geluBackwardIsa(IN, dy, dx, n, roundBf16, cast))
}
void xieluForward(ActivationInput x, float* y, int64_t n, const XieluParams& p, bool roundBf16, uint16_t* xBits,
                  const ChunkedCast* cast) {
  FOG8_ON_INPUT(x, xieluForwardIsa(IN, y, n, p, roundBf16, xBits, cast))
}
void xieluBackward(ActivationInput x, const float* dy, float* dx, int64_t n, const XieluParams& p, double* dAlphaP,
                   double* dAlphaN, bool roundBf16, const ChunkedCast* cast) {
  FOG8_ON_INPUT(x, xieluBackwardIsa(IN, dy, dx, n, p, dAlphaP, dAlphaN, roundBf16, cast))
}

#undef FOG8_ON_INPUT

}  // namespace fog8::fused
