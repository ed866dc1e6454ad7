// A small persistent thread pool shared by every kernel of the addon.
// Work is split into deterministic contiguous ranges, so a kernel whose ranges write disjoint
// outputs gives bit-identical results for any thread count.
#pragma once
#include <cstddef>
#include <functional>

namespace fog8 {

/** Threads the pool uses (≥ 1): FOG8_THREADS if set, else the hardware concurrency. */
size_t numThreads();

/** Changes the thread count (clamped to [1, 256]); for tests and benchmarks. Not thread-safe
 *  with respect to running kernels: call it between kernels. */
void setNumThreads(size_t n);

/** Index of the calling pool thread in [0, numThreads()) inside a parallel region, 0 outside. */
size_t currentThreadIndex();

/**
 * Calls fn(begin, end) over contiguous ranges covering [0, n): at most numThreads() ranges, each
 * at least `grain` long (except when n < grain), split as evenly as possible; range r always goes
 * to thread r. Runs inline when one range suffices or when called from inside a parallel region.
 * Exceptions thrown by fn are rethrown on the calling thread (the first one wins).
 */
void parallelFor(size_t n, const std::function<void(size_t begin, size_t end)>& fn, size_t grain = 1);

/** Calls fn(threadIndex, threadCount) once on each of `threads` pool threads (≤ numThreads()). */
void parallelRun(size_t threads, const std::function<void(size_t threadIndex, size_t threadCount)>& fn);

}  // namespace fog8
