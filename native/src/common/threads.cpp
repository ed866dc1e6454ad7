// Persistent worker pool: the calling thread runs slot 0, workers 1..n-1 wait on a condition
// variable for the next region. One region runs at a time (regionMutex), so JS worker threads
// that call the addon concurrently are serialised rather than corrupting the pool.
#include "threads.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace fog8 {
namespace {

thread_local size_t tlsThreadIndex = 0;
thread_local bool tlsInsideRegion = false;

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
      pending_ = slots - 1;
      firstError_ = nullptr;
      generation_++;
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
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
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
      current = generation_;
    }
    // Workers start from the generation before the region about to be posted, never after it.
    for (size_t i = 1; i < threadCount_; i++) workers_.emplace_back([this, i, current] { workerLoop(i, current); });
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
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
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
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
        if (--pending_ == 0) done_.notify_one();
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
  size_t pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
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
