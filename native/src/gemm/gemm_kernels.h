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

/** Portable float32 path (no ISA flags). */
const GemmKernelSet* gemmKernelsScalar();
/** AVX2 + FMA float32 path (6 × 16 micro-tile). */
const GemmKernelSet* gemmKernelsAvx2();
/** AVX-512F float32 path, used for GEMMs with a float32 operand. */
const GemmKernelSet* gemmKernelsAvx512F32();
/** AVX-512 BF16 path (vdpbf16ps on BF16 pairs), for BF16 / FP8 operands. */
const GemmKernelSet* gemmKernelsAvx512Bf16();

}  // namespace fog8
