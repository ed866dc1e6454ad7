// Whether fused kernels compile extra per-ISA regions with `#pragma GCC target` (GCC on x86 only;
// elsewhere the baseline region alone is built and used).
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
#define FOG8_FUSED_MULTI_ISA 1
#include <immintrin.h>  // simd.inc names maxps / minps in the x86 regions
#else
#define FOG8_FUSED_MULTI_ISA 0
#endif
