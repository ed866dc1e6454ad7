// Runtime choice of the instruction-set path: the best the CPU supports, or a lower one forced by
// FOG8_ISA=scalar|avx2|avx512bf16 (a request above what the CPU supports falls back, see reason).
#pragma once
#include <string>

namespace fog8 {

enum class Isa { scalar = 0, avx2 = 1, avx512bf16 = 2 };

/** The path in use (decided once, on first call). */
Isa activeIsa();
const char* isaName(Isa isa);
/** Best path the CPU supports, regardless of FOG8_ISA. */
Isa bestSupportedIsa();
/** Forces a path (tests, benchmarks); throws std::invalid_argument if the CPU lacks it. */
void setActiveIsa(Isa isa);
/** Whether this build's avx512bf16 path is SIMDe emulation compiled for AVX2 (gyp variable
 *  fog8_avx512_emulated=1, for tests): then bestSupportedIsa() offers it on any AVX2+FMA+F16C
 *  CPU; its results are those of the AVX-512 code, its speed means nothing. */
bool avx512Emulated();
/** Whether the avx512bf16 path may use AVX512_VBMI byte permutes (the CPU has them, or the
 *  emulated build, where SIMDe provides them). */
bool cpuHasVbmi();

}  // namespace fog8
