// RMSNorm forward/backward. The bodies live in rmsnorm_impl.inc and are compiled here once per ISA
// with `#pragma GCC target` (as attention.cpp): row sums in float64 lanes, elementwise float32
// (within a few ulp of the float64 reference); results do not depend on the thread count.
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
#include "fused/rmsnorm_impl.inc"
#undef FOG8_VW
}  // namespace isa_avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
namespace isa_avx2 {
#define FOG8_VW 8
#include "fused/simd.inc"
#include "fused/rmsnorm_impl.inc"
#undef FOG8_VW
}  // namespace isa_avx2
#pragma GCC pop_options
#endif

namespace isa_base {
#define FOG8_VW 4
#include "fused/simd.inc"
#include "fused/rmsnorm_impl.inc"
#undef FOG8_VW
}  // namespace isa_base

void rmsnormForward(const float* x, const float* gain, float* y, float* rstd, int64_t R, int64_t C, double eps) {
#if FOG8_FUSED_MULTI_ISA
  switch (activeIsa()) {
    case Isa::avx512bf16: return isa_avx512::rmsnormForwardIsa(x, gain, y, rstd, R, C, eps);
    case Isa::avx2: return isa_avx2::rmsnormForwardIsa(x, gain, y, rstd, R, C, eps);
    default: break;
  }
#endif
  isa_base::rmsnormForwardIsa(x, gain, y, rstd, R, C, eps);
}

void rmsnormBackward(const float* dy, const float* x, const float* gain, const float* rstd, float* dx, float* dgain,
                     int64_t R, int64_t C) {
#if FOG8_FUSED_MULTI_ISA
  switch (activeIsa()) {
    case Isa::avx512bf16: return isa_avx512::rmsnormBackwardIsa(dy, x, gain, rstd, dx, dgain, R, C);
    case Isa::avx2: return isa_avx2::rmsnormBackwardIsa(dy, x, gain, rstd, dx, dgain, R, C);
    default: break;
  }
#endif
  isa_base::rmsnormBackwardIsa(dy, x, gain, rstd, dx, dgain, R, C);
}

}  // namespace fog8::fused
