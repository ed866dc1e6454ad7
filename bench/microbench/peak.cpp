// Dispatcher of the peak loops: runs one on each of `threads` pool threads and times the region.
#include "peak.h"

#include <chrono>
#include <ctime>
#include <stdexcept>
#include <string>
#include <vector>

#include "../../native/src/common/isa.h"
#include "../../native/src/common/threads.h"

namespace {
/** CPU seconds of the calling thread: the loop's own, not those of the runtime's other threads
 *  (a JIT compiling in the background made a process-wide CPU clock read the first peak low). */
double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
}  // namespace

double fog8::peakScalarFma(uint64_t iterations) {
  float c[8] = {0, 1, 2, 3, 4, 5, 6, 7};  // distinct, so the chains cannot be merged
  for (uint64_t i = 0; i < iterations; i++)
    for (int j = 0; j < 8; j++) c[j] = c[j] * 0.999999f + 1e-7f;
  volatile float sink = c[0] + c[1] + c[2] + c[3] + c[4] + c[5] + c[6] + c[7];
  (void)sink;
  return static_cast<double>(iterations) * 8.0 * 2.0;
}

double fog8::measurePeakGflops(const char* kind, unsigned threads, double seconds, bool cpuClock) {
  using Loop = double (*)(uint64_t);
  const std::string k(kind);
  const Isa best = bestSupportedIsa();
  Loop loop = nullptr;
  if (k == "scalar") loop = peakScalarFma;
  else if (k == "fma256" && best >= Isa::avx2) loop = peakFma256;
  else if (k == "fma512" && best >= Isa::avx512bf16) loop = peakFma512;
  else if (k == "bf16dot512" && best >= Isa::avx512bf16) loop = peakDpbf16x512;
  else if (k == "bf16dot256" && best >= Isa::avx512bf16) loop = peakDpbf16x256;  // the path implies AVX512VL (or emulation)
  if (loop == nullptr) throw std::invalid_argument("peak kind '" + k + "' is not supported on this CPU");
  // Calibrate on one thread, then run every thread for about the requested time.
  uint64_t iters = 1 << 16;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    loop(iters);
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dt > 0.02 || iters > (1ull << 40)) {
      iters = static_cast<uint64_t>(static_cast<double>(iters) * seconds / dt) + 1;
      break;
    }
    iters *= 4;
  }
  std::vector<double> flops(threads, 0.0), cpu(threads, 0.0);
  auto t0 = std::chrono::steady_clock::now();
  parallelRun(threads, [&](size_t t, size_t) {
    const double c0 = threadCpuSeconds();
    flops[t] = loop(iters);
    cpu[t] = threadCpuSeconds() - c0;
  });
  double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (cpuClock) {
    dt = 0;
    for (double c : cpu) dt += c / threads;  // mean CPU time of the looping threads
  }
  double total = 0;
  for (double f : flops) total += f;
  return total / dt / 1e9;
}
