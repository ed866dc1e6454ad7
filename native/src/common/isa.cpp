#include "isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace fog8 {
namespace {

std::atomic<int> chosen{-1};

Isa fromEnvironment() {
  Isa best = bestSupportedIsa();
  const char* env = std::getenv("FOG8_ISA");
  if (env == nullptr || *env == '\0') return best;
  Isa wanted = best;
  if (std::strcmp(env, "scalar") == 0) wanted = Isa::scalar;
  else if (std::strcmp(env, "avx2") == 0) wanted = Isa::avx2;
  else if (std::strcmp(env, "avx512bf16") == 0) wanted = Isa::avx512bf16;
  // Only lower paths can be forced: running an unsupported one would kill the process.
  return static_cast<int>(wanted) < static_cast<int>(best) ? wanted : best;
}

}  // namespace

Isa bestSupportedIsa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // Every feature the avx512bf16 code is compiled for (GEMM: F, BW, VL, BF16; fused: F, BW, DQ, VL).
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16"))
    return Isa::avx512bf16;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
    return avx512Emulated() ? Isa::avx512bf16 : Isa::avx2;  // the emulated AVX-512 code needs only AVX2
#endif
  return Isa::scalar;
}

bool avx512Emulated() {
#if FOG8_AVX512_EMULATED
  return true;
#else
  return false;
#endif
}

bool cpuHasVbmi() {
#if FOG8_AVX512_EMULATED
  return true;
#elif defined(__x86_64__) || defined(__i386__)
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vbmi") != 0;
  }();
  return has;
#else
  return false;
#endif
}

Isa activeIsa() {
  int v = chosen.load(std::memory_order_acquire);
  if (v < 0) {
    v = static_cast<int>(fromEnvironment());
    chosen.store(v, std::memory_order_release);
  }
  return static_cast<Isa>(v);
}

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::avx512bf16: return "avx512bf16";
    case Isa::avx2: return "avx2";
    default: return "scalar";
  }
}

void setActiveIsa(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(bestSupportedIsa()))
    throw std::invalid_argument(std::string("this CPU does not support the ") + isaName(isa) + " path");
  chosen.store(static_cast<int>(isa), std::memory_order_release);
}

}  // namespace fog8
