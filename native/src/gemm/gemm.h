// Blocked, packed GEMM with runtime ISA dispatch (see gemm.cpp for the blocking scheme).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gemm_kernels.h"

namespace fog8 {

/** One GEMM operand as raw memory. For A (M×K): trans=false → stored (M, K), true → (K, M).
 *  For B (K×N): trans=false → stored (K, N), true → (N, K). */
struct GemmOperandView {
  Dtype dtype;
  const void* data;
  bool trans;
  float invScale;
  /** ≥ 1: the data does not change while this id is in use, so B's packed panels may be reused
   *  (KV-cache decoding); 0: pack every call. */
  uint64_t frozen = 0;
};

/** C (M, N) = alpha·invScaleA·invScaleB·op(A)·op(B) + beta·C with float32 accumulation; beta = 0
 *  ignores C's old contents. Results do not depend on the thread count. */
void gemm(size_t M, size_t N, size_t K, const GemmOperandView& a, const GemmOperandView& b, float* c, float alpha, float beta,
          bool roundBf16Out = false);

/** Register tiles of the active ISA's BF16/FP8 GEMM path, as "MRxNR" (one fixed tile on ISAs
 *  without variants). */
std::vector<std::string> gemmTiles();

/** The variant (tile and blocking) the BF16/FP8 GEMMs use, "MRxNR-kcKC-mcMC-ncNC" on avx512bf16,
 *  the fixed kernel's "MRxNR" elsewhere. Every variant gives bit-identical results. */
std::string gemmVariant();

/** Sets the variant by name (see gemmVariant); "default" restores the built-in choice. Throws
 *  std::invalid_argument for a malformed name, an unknown tile or blocking out of range. */
void setGemmVariant(const std::string& name);

}  // namespace fog8
