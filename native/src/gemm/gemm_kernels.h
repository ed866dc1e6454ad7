// The interface between the portable GEMM driver (gemm.cpp) and one ISA's packing routines and
// register-tiled micro-kernel. Only plain data crosses it: ISA translation units are compiled with
// their own flags and must share no inline code with the rest of the addon.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fog8 {

enum class Dtype : int { f32 = 0, bf16 = 1, e4m3 = 2, e5m2 = 3 };

/** A logical (rows × K) operand: element (r, k) = rowMajor ? data[r·ld + k] : data[k·ld + r]. */
struct PackSource {
  Dtype dtype;
  const void* data;
  bool rowMajor;
  size_t ld;
  /** FP8 decode table (256 float32 values) when dtype is e4m3 / e5m2. */
  const float* fp8Table;
  /** FP8 → BF16 byte tables for the pair path (256 low bytes, then 256 high bytes of BF16(table[c])),
   *  when dtype is e4m3 / e5m2; else nullptr. */
  const uint8_t* bf16Bytes = nullptr;
  /** Whether the CPU has AVX512_VBMI (byte permutes for the FP8 decode of the pair path). */
  bool vbmi = false;
};

/**
 * One ISA's GEMM building blocks. Packed panels are laid out [k / kGroup][P][kGroup] for a panel of
 * width P (MR for A, NR for B): kGroup = 1 → float32 elements, kGroup = 2 → BF16 pairs.
 */
struct GemmKernelSet {
  const char* isa;
  size_t MR;
  size_t NR;
  size_t kGroup;
  size_t packedBytes;
  /** Packs rows [r0, r0 + rows) (rows ≤ P, zero padded to P) and k ∈ [k0, k0 + kc) (zero padded
   *  to a multiple of kGroup) of src into dst. */
  void (*pack)(const PackSource& src, size_t r0, size_t rows, size_t P, size_t k0, size_t kc, void* dst);
  /** acc (MR × NR, row stride ldacc) = (first ? 0 : acc) + Apanel · Bpanel over kcPadded steps. */
  void (*micro)(size_t kcPadded, const void* a, const void* b, float* acc, size_t ldacc, bool first);
  /** The first row of micro's tile only (a row panel holding one real row, e.g. M = 1 in KV-cache
   *  decoding): the same per-element arithmetic, so the same bits, for 1/MR of the work. Optional. */
  void (*microRow)(size_t kcPadded, const void* a, const void* b, float* acc, bool first);
};

/** Arguments of one BF16-pair micro-kernel call: acc/C tile (MR × NR) over kpairs k pairs.
 *  A pair (k, k+1) of row i is a[i·aRowStride + p·aPairStride] (uint32 = two BF16, low half k);
 *  B is the panel [p][NR] of pairs. first: start from 0 (else from acc). last: write
 *  C[i][j] = scale·t (+ beta·C[i][j] when beta ≠ 0) for i < rows, j < cols, rounded to BF16
 *  (as roundBf16) when roundBf16; else store t to acc. */
struct PairMicroArgs {
  size_t kpairs;
  const uint32_t* a;
  size_t aRowStride;
  size_t aPairStride;
  const uint32_t* b;
  float* acc;
  size_t ldacc;
  float* c;
  size_t ldc;
  size_t rows;
  size_t cols;
  float scale;
  float beta;
  bool first;
  bool last;
  bool roundBf16;
};

/** One register tile of the BF16-pair path. */
struct PairTile {
  size_t MR;
  size_t NR;
  void (*micro)(const PairMicroArgs& args);
  /** The same tile for one row (a row panel with one real row, e.g. M = 1 in KV-cache decoding):
   *  the same chain per output element, so the same bits, for 1/MR of the work. */
  void (*micro1)(const PairMicroArgs& args);
};

/**
 * The BF16-pair GEMM building blocks of the avx512bf16 path (BF16 / FP8 operands; FP8 decoded to
 * BF16 while packing). Packing takes a whole block and picks the A layout from the source:
 * k-contiguous rows are copied row by row ([row][pair], rowStride = padded pairs, pairStride 1),
 * row-contiguous sources are interleaved two k at a time ([pair][row], rowStride 1, pairStride =
 * rowsPadded). Padding rows and the odd k of an odd kc are zero.
 */
struct PairGemmKernels {
  const PairTile* tiles;
  size_t tileCount;
  void (*packA)(const PackSource& src, size_t r0, size_t rows, size_t rowsPadded, size_t k0, size_t kc, uint32_t* dst,
                size_t* rowStride, size_t* pairStride);
  /** B panel [p][NR] of columns [j0, j0 + cols) (zero padded to NR). */
  void (*packB)(const PackSource& src, size_t j0, size_t cols, size_t NR, size_t k0, size_t kc, uint32_t* dst);
  /** Pair rows [q0, q1) of every panel of a k-major B source (not rowMajor: element (j, k) at
   *  data[k·ld + j]), N columns, K rows (an odd last row pairs with zero): pair row q of panel P is
   *  dst[(P·panelPairs + q)·NR ..], columns past N zero. The layout packB gives, but read two
   *  whole source rows at a time instead of NR-wide strips of every row. */
  void (*packBRows)(const PackSource& src, size_t q0, size_t q1, size_t N, size_t K, size_t NR, size_t panelPairs, uint32_t* dst);
};

/** AVX-512 BF16 pair path (vdpbf16ps), or its SIMDe emulation. */
const PairGemmKernels* gemmPairKernelsAvx512();

/** Portable float32 path (no ISA flags). */
const GemmKernelSet* gemmKernelsScalar();
/** AVX2 + FMA float32 path (6 × 16 micro-tile). */
const GemmKernelSet* gemmKernelsAvx2();
/** AVX-512F float32 path, used for GEMMs with a float32 operand. */
const GemmKernelSet* gemmKernelsAvx512F32();

}  // namespace fog8
