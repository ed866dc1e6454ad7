// In-repo peak microbenchmark: independent chains of FMA / BF16-dot instructions, no memory
// traffic, so the measured rate is the core's arithmetic peak for that instruction.
#pragma once
#include <cstdint>

namespace fog8 {

/** Each runs `iterations` rounds of its instruction loop and returns the float ops performed. */
double peakFma256(uint64_t iterations);     // AVX2 FMA, 256-bit: 16 flops per instruction
double peakFma512(uint64_t iterations);     // AVX-512F FMA, 512-bit: 32 flops
double peakDpbf16x256(uint64_t iterations); // vdpbf16ps ymm (AVX512_BF16 + VL): 32 flops
double peakDpbf16x512(uint64_t iterations); // vdpbf16ps zmm: 64 flops
double peakScalarFma(uint64_t iterations);  // portable float32 multiply-add loop (compiler's choice)

/** GFLOP/s of `kind` ('fma256' | 'fma512' | 'bf16dot256' | 'bf16dot512' | 'scalar') on `threads`
 *  pool threads for about `seconds`; throws std::invalid_argument for an unsupported kind.
 *  cpuClock: divide by the process CPU time per thread instead of the wall time — on a machine
 *  shared with other work this is the rate while the threads actually ran (compare it only with
 *  other rates taken the same way). */
double measurePeakGflops(const char* kind, unsigned threads, double seconds, bool cpuClock = false);

}  // namespace fog8
