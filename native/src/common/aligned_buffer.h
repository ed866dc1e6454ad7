// A grow-only, 64-byte-aligned scratch buffer reused across kernel calls (no allocation per call
// once it has reached the working size).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace fog8 {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), bytes_(o.bytes_) { o.data_ = nullptr; o.bytes_ = 0; }
  ~AlignedBuffer() {
    std::free(data_);
    held().fetch_sub(bytes_, std::memory_order_relaxed);
  }

  /** Bytes held by every AlignedBuffer of the process (the addon's workspace, e.g. GEMM packing). */
  static size_t heldBytes() { return held().load(std::memory_order_relaxed); }

  /** At least `bytes` bytes, 64-byte aligned; contents are not preserved when it grows. */
  void* reserve(size_t bytes) {
    if (bytes > bytes_) {
      std::free(data_);
      held().fetch_sub(bytes_, std::memory_order_relaxed);
      size_t rounded = (bytes + 63) & ~static_cast<size_t>(63);
      data_ = std::aligned_alloc(64, rounded);
      if (data_ == nullptr) {
        bytes_ = 0;
        throw std::bad_alloc();
      }
      bytes_ = rounded;
      held().fetch_add(rounded, std::memory_order_relaxed);
    }
    return data_;
  }

 private:
  static std::atomic<size_t>& held() {
    static std::atomic<size_t> total{0};
    return total;
  }
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace fog8
