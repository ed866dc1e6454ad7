// The L1 stage of a fused FP8 cast (casts/casts.h FusedCast) for kernels that write their float
// output row by row: rows are gathered in the stage and cast a stage-full at a time, so the float
// output never goes to memory and the quantize loop runs on long stretches. ISA-independent (plain
// C++ compiled with the base flags), shared by the per-ISA kernel bodies.
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

#include "casts/casts.h"

namespace fog8::fused {

/** Elements a fused cast stages in L1 per piece (16 KiB). */
constexpr size_t kCastPiece = 4096;

/**
 * Output rows of `width` elements that follow each other in the output (row r at r·width), staged
 * for `cast`. take(r, n) hands out the stage space of rows r … r + n − 1 (casting what the stage held
 * first when they would not fit); flush() casts what is left. Holds max(kCastPiece, n·width)
 * elements, allocated only with a cast.
 */
class RowStage {
 public:
  RowStage(const FusedCast* cast, size_t width) : cast_(cast), width_(width) {}
  float* take(size_t r, size_t n) {
    const size_t need = n * width_;
    if (rows_ > 0 && (rows_ * width_ + need > storage_.size())) flush();
    if (storage_.size() < std::max(kCastPiece, need)) storage_.resize(std::max(kCastPiece, need));
    if (rows_ == 0) first_ = r;
    float* p = storage_.data() + rows_ * width_;
    rows_ += n;
    return p;
  }
  void flush() {
    if (rows_ > 0) cast_->cast(storage_.data(), first_ * width_, rows_ * width_);
    rows_ = 0;
  }

 private:
  const FusedCast* cast_;
  size_t width_;
  std::vector<float> storage_;
  size_t first_ = 0, rows_ = 0;
};

}  // namespace fog8::fused
