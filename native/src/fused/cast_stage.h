// Where a fused kernel writes its float output, piece by piece: the output array, or — with a fused
// FP8 cast (casts/casts.h ChunkedCast) — an L1 stage that the cast turns into codes, so the float
// output never goes to memory. ISA-independent (plain C++ compiled with the base flags), shared by
// the per-ISA kernel bodies.
#pragma once
#include <algorithm>
#include <cstddef>
#include <memory>

#include "casts/casts.h"

namespace fog8::fused {

/** Elements a fused cast stages in L1 per piece (16 KiB). */
constexpr size_t kCastPiece = 4096;

/**
 * One thread's output of a kernel: take(at, n) is where output elements [at, at + n) go — y + at,
 * or with a cast the stage. Pieces that follow each other in the output (short rows, one after
 * another) gather in the stage; it is cast when the next piece would not fit or does not follow on,
 * and by flush(), which the kernel calls after its last piece. The stage holds max(kCastPiece, the
 * largest piece) elements, allocated only with a cast; piece(n) is how much of a range of n to take
 * at a time (all of it without a cast).
 */
class OutputStage {
 public:
  OutputStage(float* y, const ChunkedCast* cast) : y_(y), cast_(cast) {}
  float* take(size_t at, size_t n) {
    if (cast_ == nullptr) return y_ + at;
    if (count_ > 0 && (at != first_ + count_ || count_ + n > capacity_)) flush();
    if (n > capacity_) {
      capacity_ = std::max(kCastPiece, n);
      stage_.reset(new float[capacity_]);
    }
    if (count_ == 0) first_ = at;
    float* p = stage_.get() + count_;
    count_ += n;
    return p;
  }
  /** Casts what the stage holds (nothing without a cast). */
  void flush() {
    if (count_ > 0) cast_->cast(stage_.get(), first_, count_);
    count_ = 0;
  }
  size_t piece(size_t n) const { return cast_ == nullptr ? n : std::min(n, kCastPiece); }

 private:
  float* y_;
  const ChunkedCast* cast_;
  std::unique_ptr<float[]> stage_;
  size_t capacity_ = 0, first_ = 0, count_ = 0;
};

}  // namespace fog8::fused
