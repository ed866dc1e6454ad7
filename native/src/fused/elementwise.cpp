// Element-wise and copy kernels of the step's glue: the in-place add of the residual stream and
// of its gradient fork (with the BF16 rounding of the sum fused, DESIGN §3 BF16 wide tensors), and
// the column-block copy of the QKV split. The add is compiled once per ISA by per_isa.inc.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/fp8.h"
#include "common/isa.h"
#include "common/threads.h"
#include "fused/fused.h"
#include "fused/isa_regions.h"

namespace fog8::fused {

#define FOG8_ISA_IMPL "fused/elementwise_impl.inc"
#include "fused/per_isa.inc"

void addInPlace(float* acc, const float* x, int64_t n, bool roundBf16) { FOG8_DISPATCH(addInPlaceIsa(acc, x, n, roundBf16)) }

void copyColumns(const float* src, int64_t srcCols, int64_t srcCol0, float* dst, int64_t dstCols, int64_t dstCol0,
                 int64_t R, int64_t cols) {
  parallelFor(static_cast<size_t>(R), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
      const int64_t i = static_cast<int64_t>(r);
      std::memcpy(dst + i * dstCols + dstCol0, src + i * srcCols + srcCol0, static_cast<size_t>(cols) * sizeof(float));
    }
  }, 256);
}

}  // namespace fog8::fused
