// The AVX-512 intrinsics for the avx512bf16 translation units: the compiler's own (<immintrin.h>),
// or SIMDe's portable versions of the same names when the addon is built with
// fog8_avx512_emulated=1 (FOG8_AVX512_EMULATED: AVX-512 logic executed on an AVX2 CPU, for tests).
#pragma once
#include <cstring>

#if FOG8_AVX512_EMULATED
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#else
#include <immintrin.h>
#endif

namespace {

/** Reinterprets the bits of one vector type as another of the same size (e.g. __m512i → __m512bh);
 *  a C-style vector cast does not compile against SIMDe's types, this does in both builds and
 *  compiles to nothing. */
template <typename To, typename From>
inline To bitCast(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bitCast needs types of the same size");
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

}  // namespace

// Keeps twelve named vector values opaque to the optimizer (the peak loops): in registers on real
// AVX-512; in memory when emulated (SIMDe's 512-bit types do not fit one AVX2 register). Named
// variables, not an array: GCC keeps an array of vectors in memory across the barrier, and the
// store-to-load round trip per instruction then measures forwarding latency, not the core's rate.
#if FOG8_AVX512_EMULATED
#define FOG8_OPAQUE_12(a, b, c, d, e, f, g, h, i, j, k, l) \
  asm volatile("" : "+m"(a), "+m"(b), "+m"(c), "+m"(d), "+m"(e), "+m"(f), "+m"(g), "+m"(h), "+m"(i), "+m"(j), "+m"(k), "+m"(l))
#else
#define FOG8_OPAQUE_12(a, b, c, d, e, f, g, h, i, j, k, l) \
  asm volatile("" : "+v"(a), "+v"(b), "+v"(c), "+v"(d), "+v"(e), "+v"(f), "+v"(g), "+v"(h), "+v"(i), "+v"(j), "+v"(k), "+v"(l))
#endif
