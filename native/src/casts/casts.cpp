// Cast drivers: pick the ISA chunk loop, split the array into contiguous per-thread chunks, merge
// the per-chunk statistics (max and sums: independent of the split).
#include "casts.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "../common/isa.h"
#include "../common/threads.h"
#include "cast_kernels.h"
#include "encode_impl.h"

namespace fog8 {

void quantizeChunkScalar(const float* x, size_t n, const EncodeParams& p, float scale, uint8_t* codes, float* out,
                         const float* table, float invScale, ChunkStats& st, bool roundOut) {
  for (size_t i = 0; i < n; i++) {
    const float xi = x[i];  // read before out[i] is written: out may alias x
    const uint8_t code = encodeWithStats(p, xi, scale, st);
    const float xhat = table[code] * invScale;
    addError(st, xi, xhat, code);
    if (codes != nullptr) codes[i] = code;
    if (out != nullptr) out[i] = roundOut ? roundBf16(xhat) : xhat;
  }
}

namespace {

constexpr size_t kGrain = 1 << 16;  // elements per thread below which threading does not pay

EncodeParams paramsOf(const Fp8Format& f) {
  const Fp8EncodeConstants k(f);
  return EncodeParams{k.maxFinite, k.minNormal, k.subnormalMagic, k.subnormalMagicBits, k.roundHalfMinusOne,
                      k.rebias, static_cast<uint32_t>(k.shift), k.maxCode, k.nanCode};
}

DecodeParams decodeParamsOf(const Fp8Format& f) {
  const Fp8EncodeConstants k(f);
  const uint32_t infCode = f.hasInfinity ? (((1u << f.exponentBits) - 1) << f.mantissaBits) : 0xFFu;
  return DecodeParams{static_cast<uint32_t>(k.shift), k.rebias, std::ldexp(1.0f, 1 - f.bias - f.mantissaBits), k.maxCode,
                      f.hasInfinity, infCode};
}

QuantizeChunkFn quantizeChunk() {
  switch (activeIsa()) {
    case Isa::avx512bf16: return quantizeChunkAvx512;
    case Isa::avx2: return quantizeChunkAvx2;
    default: return quantizeChunkScalar;
  }
}

/** The statistics of a cast from its per-thread parts (max and sums: independent of the split). */
CastResult mergeParts(const std::vector<ChunkStats>& parts) {
  ChunkStats total;
  for (const ChunkStats& s : parts) {
    if (s.amax > total.amax) total.amax = s.amax;
    total.anyNan = total.anyNan || s.anyNan;
    total.underflow += s.underflow;
    total.overflow += s.overflow;
    total.nonzero += s.nonzero;
    total.sumSq += s.sumSq;
    total.errSq += s.errSq;
    total.absSum += s.absSum;
    total.lostAbs += s.lostAbs;
  }
  return CastResult{total.anyNan ? NAN : static_cast<double>(total.amax), static_cast<double>(total.underflow),
                    static_cast<double>(total.overflow), static_cast<double>(total.nonzero),
                    total.sumSq, total.errSq, total.absSum, total.lostAbs};
}

CastResult runQuantize(const float* x, size_t n, const Fp8Format& f, float scale, uint8_t* codes, float* out, bool roundOut) {
  const ChunkedCast cast(f, scale, codes);
  parallelFor(n, [&](size_t begin, size_t end) {
    cast.castTo(x + begin, end - begin, codes ? codes + begin : nullptr, out ? out + begin : nullptr, roundOut);
  }, kGrain);
  return cast.result();
}

}  // namespace

CastResult quantizeArray(const float* x, size_t n, const Fp8Format& f, float scale, uint8_t* codes) {
  return runQuantize(x, n, f, scale, codes, nullptr, false);
}

ChunkedCast::ChunkedCast(const Fp8Format& f, float scale, uint8_t* codes)
    : params_(paramsOf(f)), table_(fp8Table(f).value), scale_(scale), invScale_(1.0f / scale), chunk_(quantizeChunk()),
      codes_(codes), parts_(numThreads()) {}

void ChunkedCast::castTo(const float* x, size_t n, uint8_t* codes, float* out, bool roundOut) const {
  chunk_(x, n, params_, scale_, codes, out, table_, invScale_, parts_[currentThreadIndex()], roundOut);
}

CastResult ChunkedCast::result() const { return mergeParts(parts_); }

CastResult quantizeColumnsArray(const float* x, size_t rows, size_t cols, const Fp8Format& f, float scale, uint8_t* codes,
                                size_t codesCols, size_t codesCol0) {
  const ChunkedCast cast(f, scale, nullptr);
  // Rows are cast a block at a time into an L1-sized buffer (x's rows are contiguous: one chunk call
  // per block, as quantizeArray) and copied out to their strided places.
  constexpr size_t kBlockBytes = 16384;
  const size_t blockRows = std::max<size_t>(1, kBlockBytes / std::max<size_t>(cols, 1));
  parallelFor(rows, [&](size_t r0, size_t r1) {
    std::vector<uint8_t> block(blockRows * cols);
    for (size_t b = r0; b < r1; b += blockRows) {
      const size_t n = std::min(blockRows, r1 - b);
      cast.castTo(x + b * cols, n * cols, block.data(), nullptr, false);
      for (size_t r = 0; r < n; r++) std::copy_n(block.data() + r * cols, cols, codes + (b + r) * codesCols + codesCol0);
    }
  }, std::max<size_t>(1, kGrain / std::max<size_t>(cols, 1)));
  return cast.result();
}

CastResult quantizeDequantizeArray(const float* x, size_t n, const Fp8Format& f, float scale, float* out, bool roundBf16Out) {
  return runQuantize(x, n, f, scale, nullptr, out, roundBf16Out);
}

void dequantizeArray(const uint8_t* codes, size_t n, const Fp8Format& f, float invScale, float* out, bool roundBf16Out) {
  const float* table = fp8Table(f).value;
  const DecodeParams d = decodeParamsOf(f);
  const bool vector = activeIsa() != Isa::scalar;
  parallelFor(n, [&](size_t begin, size_t end) {
    if (vector && roundBf16Out) {
      // Blocks that stay in L1 between the decode and the rounding.
      for (size_t b = begin; b < end; b += 4096) {
        const size_t m = std::min<size_t>(4096, end - b);
        dequantizeChunkAvx2(codes + b, m, d, table, invScale, out + b);
        bf16ChunkAvx2(out + b, m, nullptr, out + b);
      }
    } else if (vector) {
      dequantizeChunkAvx2(codes + begin, end - begin, d, table, invScale, out + begin);
    } else {
      for (size_t i = begin; i < end; i++) out[i] = roundBf16Out ? roundBf16(table[codes[i]] * invScale) : table[codes[i]] * invScale;
    }
  }, kGrain);
}

void roundBf16Array(const float* x, size_t n, float* out) {
  const bool vector = activeIsa() != Isa::scalar;
  parallelFor(n, [&](size_t begin, size_t end) {
    if (vector) {
      bf16ChunkAvx2(x + begin, end - begin, nullptr, out + begin);
    } else {
      for (size_t i = begin; i < end; i++) out[i] = roundBf16(x[i]);
    }
  }, kGrain);
}

void packBf16Array(const float* x, size_t n, uint16_t* bits) {
  const bool vector = activeIsa() != Isa::scalar;
  parallelFor(n, [&](size_t begin, size_t end) {
    if (vector) {
      bf16ChunkAvx2(x + begin, end - begin, bits + begin, nullptr);
    } else {
      for (size_t i = begin; i < end; i++) bits[i] = bf16Bits(x[i]);
    }
  }, kGrain);
}

void unpackBf16Array(const uint16_t* bits, size_t n, float* out) {
  // A shift per element: the compiler vectorises it on every ISA build; memory-bound anyway.
  parallelFor(n, [&](size_t begin, size_t end) {
    uint32_t* o = reinterpret_cast<uint32_t*>(out);
    for (size_t i = begin; i < end; i++) o[i] = static_cast<uint32_t>(bits[i]) << 16;
  }, kGrain);
}

}  // namespace fog8
