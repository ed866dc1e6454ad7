// Portable GEMM driver (BLIS-style blocking; the ISA supplies packing and the micro-kernel).
//
//   1. B is packed once, whole: NR-wide panels over all of K, in KC-long blocks (parallel over
//      panels; packing is exact, so its split does not matter).
//   2. The output is cut into units of MC rows × NCU columns; threads take units from an atomic
//      counter. For each unit: for each KC block, pack that MC×KC block of A into the thread's
//      buffer, then run the micro-kernel over every (NR panel, MR panel) pair, accumulating into
//      the thread's MC×NCU float32 accumulator; finally C = s·acc + beta·C.
//
// Each output element is one float32 accumulation chain over k = 0..K−1 in order, whichever
// thread computes it and however M and N are cut, so results are bit-identical for any thread
// count (K is never split between threads).
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "../common/aligned_buffer.h"
#include "../common/fp8.h"
#include "../common/isa.h"
#include "../common/threads.h"

namespace fog8 {
namespace {

constexpr size_t kKC = 256;        // k block: MR×KC of A and KC×NR of B stay in L1/L2
constexpr size_t kMCTarget = 96;   // rows per unit
constexpr size_t kNCMax = 512;     // columns per unit (accumulator MC×NCU ≤ 192 KiB)

std::mutex gemmMutex;              // the packed-B and per-thread buffers serve one GEMM at a time
AlignedBuffer packedB;
std::vector<AlignedBuffer> threadPackedA;
std::vector<AlignedBuffer> threadAcc;

size_t roundUp(size_t x, size_t m) { return (x + m - 1) / m * m; }

// Packed B panels of frozen operands (GemmOperandView::frozen), for the newest id only: decoding
// with a KV cache multiplies the same weights by one row per token, where packing B would cost
// as much as the product itself. A new id drops the entries of the old one.
struct FrozenPack {
  const void* data;
  Dtype dtype;
  bool trans;
  size_t N, K;
  const GemmKernelSet* ks;
  AlignedBuffer panels;
  bool ready;  // panels hold the packed operand (false until packing finished)
};
uint64_t frozenId = 0;
std::vector<std::unique_ptr<FrozenPack>> frozenPacks;

const float* tableFor(Dtype d) {
  if (d == Dtype::e4m3) return fp8Table(kE4M3).value;
  if (d == Dtype::e5m2) return fp8Table(kE5M2).value;
  return nullptr;
}

const GemmKernelSet* kernelsFor(Dtype a, Dtype b) {
  switch (activeIsa()) {
    case Isa::avx512bf16:
      // A float32 operand must not be rounded to BF16: use the float32 FMA path then.
      return (a == Dtype::f32 || b == Dtype::f32) ? gemmKernelsAvx512F32() : gemmKernelsAvx512Bf16();
    case Isa::avx2: return gemmKernelsAvx2();
    default: return gemmKernelsScalar();
  }
}

}  // namespace

void gemm(size_t M, size_t N, size_t K, const GemmOperandView& a, const GemmOperandView& b, float* c, float alpha, float beta) {
  if (M == 0 || N == 0) return;
  const float s = alpha * a.invScale * b.invScale;
  if (K == 0) {
    for (size_t i = 0; i < M * N; i++) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    return;
  }
  std::lock_guard<std::mutex> lock(gemmMutex);
  const GemmKernelSet& ks = *kernelsFor(a.dtype, b.dtype);
  const size_t MR = ks.MR, NR = ks.NR, G = ks.kGroup, bytes = ks.packedBytes;

  // Logical A (M×K) and Bᵀ (N×K) as (rows × K) sources.
  const PackSource srcA{a.dtype, a.data, !a.trans, a.trans ? M : K, tableFor(a.dtype)};
  const PackSource srcB{b.dtype, b.data, b.trans, b.trans ? K : N, tableFor(b.dtype)};

  const size_t kBlocks = (K + kKC - 1) / kKC;
  const size_t lastKc = K - (kBlocks - 1) * kKC;
  const size_t Kp = (kBlocks - 1) * kKC + roundUp(lastKc, G);  // padded K of a packed panel
  const size_t nPanels = (N + NR - 1) / NR;

  // Unit shape: enough units to keep every thread busy, rows first.
  // A single-row-panel GEMM of a small model (decoding one token) is a few hundred µs of packing:
  // waking a second thread costs more than it saves, most of all on a loaded machine.
  const bool smallRowPanel = M < MR && N * K < (size_t{1} << 22);
  const size_t threads = (M * N * K < 48 * 48 * 48 || smallRowPanel) ? 1 : numThreads();
  size_t mBlocks = (M + kMCTarget - 1) / kMCTarget;
  if (mBlocks % threads != 0 && mBlocks > threads) mBlocks = roundUp(mBlocks, threads);
  const size_t MC = std::min(roundUp((M + mBlocks - 1) / mBlocks, MR), roundUp(M, MR));
  mBlocks = (M + MC - 1) / MC;
  size_t nBlocks = (N + kNCMax - 1) / kNCMax;
  while (mBlocks * nBlocks < 2 * threads && nBlocks < nPanels) nBlocks++;
  const size_t NCU = roundUp((N + nBlocks - 1) / nBlocks, NR);
  nBlocks = (N + NCU - 1) / NCU;
  const size_t units = mBlocks * nBlocks;

  const size_t packedBytes = nPanels * Kp * NR * bytes;
  FrozenPack* frozen = nullptr;
  bool packed = false;
  if (b.frozen != 0) {
    if (b.frozen != frozenId) frozenPacks.clear(), frozenId = b.frozen;
    for (auto& f : frozenPacks)
      if (f->data == b.data && f->dtype == b.dtype && f->trans == b.trans && f->N == N && f->K == K && f->ks == &ks) frozen = f.get(), packed = f->ready;
    if (!frozen) {
      frozenPacks.push_back(std::make_unique<FrozenPack>(FrozenPack{b.data, b.dtype, b.trans, N, K, &ks, AlignedBuffer(), false}));
      frozen = frozenPacks.back().get();
    }
  }
  char* bBase = static_cast<char*>(frozen ? frozen->panels.reserve(packedBytes) : packedB.reserve(packedBytes));
  if (threadPackedA.size() < threads) {
    threadPackedA.resize(threads);
    threadAcc.resize(threads);
  }

  const auto packPanels = [&](size_t p0, size_t p1) {
    for (size_t p = p0; p < p1; p++) {
      const size_t j0 = p * NR, cols = std::min(NR, N - j0);
      for (size_t kb = 0; kb < kBlocks; kb++) {
        const size_t k0 = kb * kKC, kc = std::min(kKC, K - k0);
        ks.pack(srcB, j0, cols, NR, k0, kc, bBase + (p * Kp + k0) * NR * bytes);
      }
    }
  };
  if (packed) {
    // reused from an earlier call with the same frozen id
  } else if (threads == 1) {
    packPanels(0, nPanels);
  } else {
    parallelFor(nPanels, packPanels, 4);
  }
  if (frozen) frozen->ready = true;

  std::atomic<size_t> nextUnit{0};
  parallelRun(std::min(threads, units), [&](size_t t, size_t) {
    char* aBuf = static_cast<char*>(threadPackedA[t].reserve(MC * kKC * bytes));
    float* acc = static_cast<float*>(threadAcc[t].reserve(MC * NCU * sizeof(float)));
    for (size_t u = nextUnit.fetch_add(1); u < units; u = nextUnit.fetch_add(1)) {
      const size_t i0 = (u / nBlocks) * MC, rows = std::min(MC, M - i0);
      const size_t j0 = (u % nBlocks) * NCU, cols = std::min(NCU, N - j0);
      const size_t rowPanels = (rows + MR - 1) / MR, colPanels = (cols + NR - 1) / NR;
      for (size_t kb = 0; kb < kBlocks; kb++) {
        const size_t k0 = kb * kKC, kc = std::min(kKC, K - k0), kcp = roundUp(kc, G);
        for (size_t rp = 0; rp < rowPanels; rp++) {
          const size_t r0 = i0 + rp * MR;
          ks.pack(srcA, r0, std::min(MR, M - r0), MR, k0, kc, aBuf + rp * kcp * MR * bytes);
        }
        for (size_t cp = 0; cp < colPanels; cp++) {
          const char* bPanel = bBase + ((j0 / NR + cp) * Kp + k0) * NR * bytes;
          for (size_t rp = 0; rp < rowPanels; rp++) {
            float* tile = acc + rp * MR * NCU + cp * NR;
            // A panel with one real row (M = 1: decoding) computes that row alone, same arithmetic.
            if (ks.microRow != nullptr && rows - rp * MR == 1) ks.microRow(kcp, aBuf + rp * kcp * MR * bytes, bPanel, tile, kb == 0);
            else ks.micro(kcp, aBuf + rp * kcp * MR * bytes, bPanel, tile, NCU, kb == 0);
          }
        }
      }
      for (size_t i = 0; i < rows; i++) {
        const float* accRow = acc + i * NCU;
        float* cRow = c + (i0 + i) * N + j0;
        if (beta == 0.0f) {
          for (size_t j = 0; j < cols; j++) cRow[j] = s * accRow[j];
        } else {
          for (size_t j = 0; j < cols; j++) cRow[j] = s * accRow[j] + beta * cRow[j];
        }
      }
    }
  });
}

}  // namespace fog8
