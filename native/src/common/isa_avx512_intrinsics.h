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

// Keeps vector values opaque to the optimizer (the peak loops): in a register on real AVX-512; in
// memory when emulated (SIMDe's 512-bit types do not fit one AVX2 register).
#if FOG8_AVX512_EMULATED
#define FOG8_OPAQUE_VECTORS(array) asm volatile("" : "+m"(array))
#else
#define FOG8_OPAQUE_VECTORS(c)                                                                                 \
  asm volatile("" : "+v"(c[0]), "+v"(c[1]), "+v"(c[2]), "+v"(c[3]), "+v"(c[4]), "+v"(c[5]), "+v"(c[6]), "+v"(c[7]), \
               "+v"(c[8]), "+v"(c[9]), "+v"(c[10]), "+v"(c[11]))
#endif
