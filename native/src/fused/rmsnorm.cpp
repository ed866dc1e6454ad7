// RMSNorm forward/backward. The bodies live in rmsnorm_impl.inc and are compiled here once per ISA
// by per_isa.inc: row sums in float64 lanes, elementwise float32
// (within a few ulp of the float64 reference); results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "casts/casts.h"
#include "common/fp8.h"
#include "common/isa.h"
#include "common/threads.h"
#include "fused/cast_stage.h"
#include "fused/fused.h"
#include "fused/isa_regions.h"

namespace fog8::fused {

#define FOG8_ISA_IMPL "fused/rmsnorm_impl.inc"
#include "fused/per_isa.inc"

void rmsnormForward(const float* x, const float* gain, float* y, float* rstd, int64_t R, int64_t C, double eps, bool roundBf16,
                    float* xSaved, const ChunkedCast* cast) {
  FOG8_DISPATCH(rmsnormForwardIsa(x, gain, y, rstd, R, C, eps, roundBf16, xSaved, cast))
}

void rmsnormBackward(const float* dy, const float* x, const float* gain, const float* rstd, float* dx, float* dgain,
                     int64_t R, int64_t C, bool roundBf16) {
  FOG8_DISPATCH(rmsnormBackwardIsa(dy, x, gain, rstd, dx, dgain, R, C, roundBf16))
}

}  // namespace fog8::fused
