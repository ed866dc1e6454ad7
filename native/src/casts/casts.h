// FP8 / BF16 casts over whole arrays: threaded over contiguous chunks, statistics in the same pass.
#pragma once
#include <cstddef>
#include <cstdint>

#include <vector>

#include "../common/fp8.h"
#include "cast_kernels.h"

namespace fog8 {

/** Result of a quantize pass (see Kernels.CastStats): amax is NaN if any input is NaN. */
struct CastResult {
  double amax;
  double underflow;
  double overflow;
  double nonzero;
  /** Over the finite inputs: Σx², Σ(x − x̂)², Σ|x|, Σ|x| of the underflowed ones (x̂ = decode(code)·(1/scale)). */
  double sumSq;
  double errSq;
  double absSum;
  double lostAbs;
};

/** codes (n) = FP8(x·scale), product in float32. */
CastResult quantizeArray(const float* x, size_t n, const Fp8Format& f, float scale, uint8_t* codes);
/**
 * codes[r·codesCols + codesCol0 + j] = FP8(x[r·cols + j]·scale) for x (rows, cols): quantizeArray into
 * a column block of a wider code matrix. Same codes and statistics.
 */
CastResult quantizeColumnsArray(const float* x, size_t rows, size_t cols, const Fp8Format& f, float scale, uint8_t* codes,
                                size_t codesCols, size_t codesCol0);
/** out (n) = decode(FP8(x·scale))·(1/scale) in one pass, rounded to BF16 as stored when roundBf16Out (stats of the unrounded). */
CastResult quantizeDequantizeArray(const float* x, size_t n, const Fp8Format& f, float scale, float* out, bool roundBf16Out = false);
/**
 * One FP8 cast (format, scale) applied chunk by chunk with the ISA's quantize loop, from any pool
 * thread (each thread's statistics kept apart); result() is the statistics of all chunks (amax and
 * counts exactly, the float64 error sums up to the order of their terms). The array drivers cast
 * their threads' ranges with it, and a kernel that produces a tensor casts its output with it as
 * it writes it (a fused cast: cast(x, at, n) writes codes[at, at + n); the float tensor never goes
 * to memory).
 */
class ChunkedCast {
 public:
  /** codes: where cast() writes (null when only castTo is used). */
  ChunkedCast(const Fp8Format& f, float scale, uint8_t* codes);
  /** codes[at, at + n) = FP8(x[0, n)·scale). */
  void cast(const float* x, size_t at, size_t n) const { castTo(x, n, codes_ + at, nullptr, false); }
  /** codes (when not null) = FP8(x·scale) and/or out (when not null) = their values, rounded to BF16 when roundOut. */
  void castTo(const float* x, size_t n, uint8_t* codes, float* out, bool roundOut) const;
  CastResult result() const;

 private:
  EncodeParams params_;
  const float* table_;
  float scale_;
  float invScale_;
  QuantizeChunkFn chunk_;
  uint8_t* codes_;
  mutable std::vector<ChunkStats> parts_;
};

/** out (n) = decode(codes)·invScale (product in float32), rounded to BF16 when roundBf16Out. */
void dequantizeArray(const uint8_t* codes, size_t n, const Fp8Format& f, float invScale, float* out, bool roundBf16Out = false);
/** out (n) = x rounded to BF16 as float32. */
void roundBf16Array(const float* x, size_t n, float* out);
/** bits (n) = upper 16 bits of roundBf16(x). */
void packBf16Array(const float* x, size_t n, uint16_t* bits);
/** out[i] = the BF16 value bits[i] encodes (bits << 16 as float32 bits; exact). */
void unpackBf16Array(const uint16_t* bits, size_t n, float* out);

}  // namespace fog8
