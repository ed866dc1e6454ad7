// Persistent worker pool: the calling thread runs slot 0, workers 1..n-1 wait for the next region.
// One region runs at a time (regionMutex), so JS worker threads that call the addon concurrently
// are serialised rather than corrupting the pool.
//
// Waiting spins before it blocks: a worker polls for the next region, and the caller for the
// workers' end, for up to kSpinMicros before sleeping on the condition variable. A training step
// calls hundreds of kernels back to back with a few microseconds of JavaScript between them, and
// a futex wake-up costs tens of microseconds on a VM, per region and per side (OpenMP runtimes
// spin the same way, for far longer by default). Past the spin the pool sleeps as before, so an
// idle process burns at most kSpinMicros per worker after its last kernel.
#include "threads.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace fog8 {
namespace {

thread_local size_t tlsThreadIndex = 0;
thread_local bool tlsInsideRegion = false;

constexpr int64_t kSpinMicros = 200;

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

/** Polls done() for up to kSpinMicros; whether it became true. */
template <typename Done>
bool spinUntil(Done done) {
  const auto limit = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
  for (;;) {
    for (int i = 0; i < 64; i++) {
      if (done()) return true;
      cpuRelax();
    }
    if (std::chrono::steady_clock::now() >= limit) return done();
  }
}

size_t threadsFromEnvironment() {
  const char* env = std::getenv("FOG8_THREADS");
  if (env != nullptr && *env != '\0') {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1) return static_cast<size_t>(std::min(v, 256L));
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

class Pool {
 public:
  Pool() : threadCount_(threadsFromEnvironment()) {}
  ~Pool() { stopWorkers(); }

  size_t threads() const { return threadCount_; }

  void setThreads(size_t n) {
    std::lock_guard<std::mutex> region(regionMutex_);
    n = std::max<size_t>(1, std::min<size_t>(n, 256));
    if (n == threadCount_) return;
    stopWorkers();
    threadCount_ = n;
  }

  void run(size_t slots, const std::function<void(size_t, size_t)>& fn) {
    if (slots <= 1 || tlsInsideRegion) {
      bool saved = tlsInsideRegion;
      tlsInsideRegion = true;
      try {
        for (size_t s = 0; s < slots; s++) fn(s, slots);
      } catch (...) {
        tlsInsideRegion = saved;
        throw;
      }
      tlsInsideRegion = saved;
      return;
    }
    std::lock_guard<std::mutex> region(regionMutex_);
    slots = std::min(slots, threadCount_);
    startWorkers();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &fn;
      jobSlots_ = slots;
      pending_.store(slots - 1, std::memory_order_relaxed);
      firstError_ = nullptr;
      generation_.store(generation_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
    wake_.notify_all();
    tlsInsideRegion = true;
    tlsThreadIndex = 0;
    std::exception_ptr mine = nullptr;
    try {
      fn(0, slots);
    } catch (...) {
      mine = std::current_exception();
    }
    tlsInsideRegion = false;
    spinUntil([&] { return pending_.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    job_ = nullptr;
    if (mine) std::rethrow_exception(mine);
    if (firstError_) std::rethrow_exception(firstError_);
  }

 private:
  void startWorkers() {
    if (!workers_.empty()) return;
    stop_ = false;
    uint64_t current;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current = generation_.load(std::memory_order_relaxed);
    }
    // Workers start from the generation before the region about to be posted, never after it.
    for (size_t i = 1; i < threadCount_; i++) workers_.emplace_back([this, i, current] { workerLoop(i, current); });
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  void workerLoop(size_t index, uint64_t seen) {
    tlsThreadIndex = index;
    for (;;) {
      const std::function<void(size_t, size_t)>* job = nullptr;
      size_t slots = 0;
      {
        const auto posted = [&] { return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; };
        spinUntil(posted);
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, posted);
        if (stop_.load(std::memory_order_relaxed)) return;
        seen = generation_.load(std::memory_order_relaxed);
        job = job_;
        slots = jobSlots_;
      }
      if (index < slots) {
        std::exception_ptr err = nullptr;
        tlsInsideRegion = true;
        try {
          (*job)(index, slots);
        } catch (...) {
          err = std::current_exception();
        }
        tlsInsideRegion = false;
        std::lock_guard<std::mutex> lock(mutex_);
        if (err && !firstError_) firstError_ = err;
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.notify_one();
      }
    }
  }

  size_t threadCount_;
  std::mutex regionMutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  const std::function<void(size_t, size_t)>* job_ = nullptr;
  size_t jobSlots_ = 0;
  // Written under mutex_; atomic so that the spinning side may poll them without it.
  std::atomic<size_t> pending_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr firstError_ = nullptr;
};

Pool& pool() {
  // Leaked on purpose: joining threads from a static destructor at process exit can deadlock.
  static Pool* instance = new Pool();
  return *instance;
}

}  // namespace

size_t numThreads() { return pool().threads(); }

void setNumThreads(size_t n) { pool().setThreads(n); }

size_t currentThreadIndex() { return tlsThreadIndex; }

void parallelRun(size_t threads, const std::function<void(size_t, size_t)>& fn) {
  pool().run(std::max<size_t>(1, std::min(threads, numThreads())), fn);
}

void parallelFor(size_t n, const std::function<void(size_t, size_t)>& fn, size_t grain) {
  if (n == 0) return;
  grain = std::max<size_t>(1, grain);
  size_t ranges = std::min(numThreads(), (n + grain - 1) / grain);
  if (ranges <= 1 || tlsInsideRegion) {
    fn(0, n);
    return;
  }
  pool().run(ranges, [&](size_t r, size_t count) {
    size_t base = n / count, extra = n % count;
    size_t begin = r * base + std::min(r, extra);
    size_t end = begin + base + (r < extra ? 1 : 0);
    if (begin < end) fn(begin, end);
  });
}

}  // namespace fog8
