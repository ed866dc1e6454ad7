// MLP activations forward/backward (SwiGLU, Smooth-SwiGLU, GeLU with erf, xIELU; DESIGN §4) in
// vectorised float32 (simd.inc). The bodies live in activations_impl.inc and are compiled here
// once per ISA by per_isa.inc; activeIsa() picks one per call.
// Accuracy vs the float64 reference: |Δ| ≤ 1e-6·|y| + 1e-7·(magnitude of the terms) (a few ulp).
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

#define FOG8_ISA_IMPL "fused/activations_impl.inc"
#include "fused/per_isa.inc"

void swigluForward(const float* h, float* a, int64_t R, int64_t F, bool roundBf16) {
  FOG8_DISPATCH(gatedForwardIsa(h, a, nullptr, R, F, false, roundBf16))
}
void swigluBackward(const float* h, const float* da, float* dh, int64_t R, int64_t F, bool roundBf16) {
  FOG8_DISPATCH(gatedBackwardIsa(h, nullptr, da, dh, R, F, roundBf16))
}
void smoothSwigluForward(const float* h, float* a, float* s, int64_t R, int64_t F, bool roundBf16) {
  FOG8_DISPATCH(gatedForwardIsa(h, a, s, R, F, true, roundBf16))
}
void smoothSwigluBackward(const float* h, const float* s, const float* da, float* dh, int64_t R, int64_t F, bool roundBf16) {
  FOG8_DISPATCH(gatedBackwardIsa(h, s, da, dh, R, F, roundBf16))
}
void geluForward(const float* x, float* y, int64_t n, bool roundBf16) { FOG8_DISPATCH(geluForwardIsa(x, y, n, roundBf16)) }
void geluBackward(const float* x, const float* dy, float* dx, int64_t n, bool roundBf16) {
  FOG8_DISPATCH(geluBackwardIsa(x, dy, dx, n, roundBf16))
}
void xieluForward(const float* x, float* y, int64_t n, const XieluParams& p, bool roundBf16) {
  FOG8_DISPATCH(xieluForwardIsa(x, y, n, p, roundBf16))
}
void xieluBackward(const float* x, const float* dy, float* dx, int64_t n, const XieluParams& p, double* dAlphaP,
                   double* dAlphaN, bool roundBf16) {
  FOG8_DISPATCH(xieluBackwardIsa(x, dy, dx, n, p, dAlphaP, dAlphaN, roundBf16))
}

}  // namespace fog8::fused
