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
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common/aligned_buffer.h"
#include "../common/fp8.h"
#include "../common/isa.h"
#include "../common/threads.h"
#include "../casts/casts.h"

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
  const void* layout;  // the kernel set / tile + blocking the panels were packed for
  size_t layoutKey;
  AlignedBuffer panels;
  bool ready;  // panels hold the packed operand (false until packing finished)
};
uint64_t frozenId = 0;
std::vector<std::unique_ptr<FrozenPack>> frozenPacks;

/** The frozen-pack entry of b (created empty when new), or null when b is not frozen. */
FrozenPack* frozenPackFor(const GemmOperandView& b, size_t N, size_t K, const void* layout, size_t layoutKey) {
  if (b.frozen == 0) return nullptr;
  if (b.frozen != frozenId) frozenPacks.clear(), frozenId = b.frozen;
  for (auto& f : frozenPacks)
    if (f->data == b.data && f->dtype == b.dtype && f->trans == b.trans && f->N == N && f->K == K && f->layout == layout && f->layoutKey == layoutKey) return f.get();
  frozenPacks.push_back(std::make_unique<FrozenPack>(FrozenPack{b.data, b.dtype, b.trans, N, K, layout, layoutKey, AlignedBuffer(), false}));
  return frozenPacks.back().get();
}

/**
 * Packs B's nPanels panels with pack(p0, p1), on this thread or split over panels, unless b is a
 * frozen operand whose panels an earlier call already packed; marks a frozen pack ready.
 */
void packPanelsOnce(FrozenPack* frozen, size_t threads, size_t nPanels, size_t grain, const std::function<void(size_t, size_t)>& pack) {
  if (frozen && frozen->ready) return;
  if (threads == 1) {
    pack(0, nPanels);
  } else {
    parallelFor(nPanels, pack, grain);
  }
  if (frozen) frozen->ready = true;
}

/** One thread for a GEMM of one row panel on a small model (decoding a token): waking a pool
 *  thread costs more than the few hundred µs of work, most of all on a loaded machine. */
size_t gemmThreads(size_t M, size_t N, size_t K, size_t MR) {
  const bool smallRowPanel = M < MR && N * K < (size_t{1} << 22);
  return (M * N * K < 48 * 48 * 48 || smallRowPanel) ? 1 : numThreads();
}

/** How the output is cut into units: MC rows × NCU columns, mBlocks × nBlocks of them. */
struct UnitGrid {
  size_t MC, NCU, mBlocks, nBlocks;
  size_t units() const { return mBlocks * nBlocks; }
};

/** Unit shape of both GEMM drivers: about mcTarget rows (block count a multiple of the thread
 *  count when there are more blocks than threads), columns cut into nBlocksWanted blocks, then
 *  finer until there are at least two units per thread (rows first). */
UnitGrid unitGrid(size_t M, size_t N, size_t MR, size_t NR, size_t mcTarget, size_t nBlocksWanted, size_t threads) {
  const size_t nPanels = (N + NR - 1) / NR;
  size_t mBlocks = (M + mcTarget - 1) / mcTarget;
  if (mBlocks % threads != 0 && mBlocks > threads) mBlocks = roundUp(mBlocks, threads);
  const size_t MC = std::min(roundUp((M + mBlocks - 1) / mBlocks, MR), roundUp(M, MR));
  mBlocks = (M + MC - 1) / MC;
  size_t nBlocks = nBlocksWanted;
  while (mBlocks * nBlocks < 2 * threads && nBlocks < nPanels) nBlocks++;
  const size_t NCU = roundUp((N + nBlocks - 1) / nBlocks, NR);
  return UnitGrid{MC, NCU, mBlocks, (N + NCU - 1) / NCU};
}

const float* tableFor(Dtype d) {
  if (d == Dtype::e4m3) return fp8Table(kE4M3).value;
  if (d == Dtype::e5m2) return fp8Table(kE5M2).value;
  return nullptr;
}

/** FP8 → BF16 byte tables of the pair path's VBMI decode (PackSource::bf16Bytes). */
struct Bf16ByteTable {
  uint8_t bytes[512];
  explicit Bf16ByteTable(const float* t) {
    for (int c = 0; c < 256; c++) {
      const uint32_t h = floatBits(t[c]) >> 16;  // exact: every FP8 value is a BF16 value
      bytes[c] = static_cast<uint8_t>(h);
      bytes[256 + c] = static_cast<uint8_t>(h >> 8);
    }
  }
};

const uint8_t* bf16BytesFor(Dtype d) {
  static const Bf16ByteTable e4m3(fp8Table(kE4M3).value);
  static const Bf16ByteTable e5m2(fp8Table(kE5M2).value);
  if (d == Dtype::e4m3) return e4m3.bytes;
  if (d == Dtype::e5m2) return e5m2.bytes;
  return nullptr;
}

// ---- the BF16-pair path's variants (register tile and blocking; see gemmPairs) ---------------

struct PairVariant {
  size_t tile;  // index into PairGemmKernels::tiles
  size_t KC;    // k per block (even)
  size_t MC;    // rows per unit (a multiple of the tile's MR)
  size_t NC;    // most columns per unit (a multiple of the tile's NR)
};

bool variantValid(const PairGemmKernels& pk, const PairVariant& v) {
  if (v.tile >= pk.tileCount) return false;
  const PairTile& t = pk.tiles[v.tile];
  return v.KC >= 2 && v.KC <= 4096 && v.KC % 2 == 0 && v.MC >= t.MR && v.MC <= 1024 && v.MC % t.MR == 0 &&
         v.NC >= t.NR && v.NC <= 8192 && v.NC % t.NR == 0;
}

std::string variantName(const PairGemmKernels& pk, const PairVariant& v) {
  const PairTile& t = pk.tiles[v.tile];
  return std::to_string(t.MR) + "x" + std::to_string(t.NR) + "-kc" + std::to_string(v.KC) + "-mc" + std::to_string(v.MC) +
         "-nc" + std::to_string(v.NC);
}

/** The default before any tuning: 12×32 tile, k blocks of 384 (B panel 24 KiB in L1), 96 rows ×
 *  1024 columns per unit (A block 72 KiB and accumulator 384 KiB in L2; fewer columns re-pack a
 *  deep-K GEMM's A more often). */
PairVariant defaultPairVariant(const PairGemmKernels& pk) {
  for (size_t i = 0; i < pk.tileCount; i++)
    if (pk.tiles[i].MR == 12 && pk.tiles[i].NR == 32) return PairVariant{i, 384, 96, 1024};
  return PairVariant{0, 384, pk.tiles[0].MR * 8, pk.tiles[0].NR * 32};
}

std::mutex variantMutex;
bool pairVariantSet = false;
PairVariant pairVariant{0, 0, 0, 0};

PairVariant currentPairVariant(const PairGemmKernels& pk) {
  std::lock_guard<std::mutex> lock(variantMutex);
  if (!pairVariantSet) {
    pairVariant = defaultPairVariant(pk);
    pairVariantSet = true;
  }
  return pairVariant;
}

/** Rounds a finished rows × cols block of C (row stride ldc) to BF16 in place while it is still
 *  in cache: the bits of a roundBf16 pass over C after the GEMM. Inside the GEMM's worker threads
 *  roundBf16Array's parallelFor runs inline. */
void roundBlockBf16(float* c, size_t ldc, size_t rows, size_t cols) {
  for (size_t i = 0; i < rows; i++) roundBf16Array(c + i * ldc, cols, c + i * ldc);
}

/** Bytes per element of a BF16 / FP8 operand. */
size_t elementBytes(Dtype d) { return d == Dtype::bf16 ? 2 : d == Dtype::f32 ? 4 : 1; }

/**
 * Software prefetch (into L2) of the source of the A block a thread packs next, spread over the
 * micro-kernel calls of the block it computes now. The block's source is `segs` runs of `bytes`
 * bytes, `stride` apart (a k-contiguous A: one run per row; a row-contiguous one, wgrad's dyᵀ: one
 * per k): short strided runs that the hardware prefetchers do not follow, so without this the
 * packing waits on L3 / DRAM (8–13 % of a deep-K GEMM's time on the Zen 4).
 */
class BlockPrefetch {
 public:
  void start(const char* first, size_t segs, size_t bytes, size_t stride, size_t calls) {
    first_ = first;
    segs_ = segs;
    stride_ = stride;
    linesPerSeg_ = (bytes + 63) / 64 + ((reinterpret_cast<uintptr_t>(first) % 64 + bytes % 64) > 64 ? 1 : 0);
    lines_ = segs * linesPerSeg_;
    perCall_ = (lines_ + calls - 1) / std::max<size_t>(calls, 1);
    next_ = 0;
  }
  void stop() { next_ = lines_ = 0; }
  /** Requests the next share of lines (call once per micro-kernel call). */
  void step() {
    const size_t end = std::min(lines_, next_ + perCall_);
    for (; next_ < end; next_++) {
      const size_t seg = next_ / linesPerSeg_, line = next_ % linesPerSeg_;
      __builtin_prefetch(first_ + seg * stride_ + line * 64, 0, 2);
    }
  }

 private:
  const char* first_ = nullptr;
  size_t segs_ = 0, stride_ = 0, linesPerSeg_ = 1, lines_ = 0, perCall_ = 0, next_ = 0;
};

/**
 * BF16-pair GEMM (avx512bf16 path, BF16 / FP8 operands): B packed once into NR-wide panels of
 * pairs; the output cut into units of MC rows × NCU columns taken by threads from a counter; per
 * unit and k block, A's MC×KC block is packed (copied or decoded, no transpose for k-contiguous
 * sources) and the micro-kernel runs over every (B panel, A row panel), keeping the tile in
 * registers over the block; the last block writes C directly (scale, beta), earlier ones park
 * the tile in the thread's accumulator (an output rounded to BF16 is rounded there too, in
 * registers). Each output element is one chain over k pairs in order,
 * whatever the variant or thread count, so every variant gives the same bits.
 */
void gemmPairs(size_t M, size_t N, size_t K, const PackSource& srcA, const PackSource& srcB, float* c, float s, float beta,
               const PairGemmKernels& pk, const PairVariant& v, const GemmOperandView& bView, bool roundOut) {
  const PairTile& tile = pk.tiles[v.tile];
  const size_t MR = tile.MR, NR = tile.NR, KC = v.KC;
  const size_t kBlocks = (K + KC - 1) / KC;
  const size_t lastKc = K - (kBlocks - 1) * KC;
  const size_t panelPairs = (kBlocks - 1) * (KC / 2) + (lastKc + 1) / 2;
  const size_t nPanels = (N + NR - 1) / NR;

  const size_t threads = gemmThreads(M, N, K, MR);
  // With one k block there is no accumulator to keep in L2, so a unit takes every column: its
  // A block is then packed once instead of once per column block.
  const UnitGrid grid = unitGrid(M, N, MR, NR, v.MC, kBlocks == 1 ? 1 : (N + v.NC - 1) / v.NC, threads);
  const size_t MC = grid.MC, NCU = grid.NCU, nBlocks = grid.nBlocks, units = grid.units();

  const size_t bBytes = nPanels * panelPairs * NR * sizeof(uint32_t);
  FrozenPack* frozen = frozenPackFor(bView, N, K, &tile, KC);
  uint32_t* bBase = static_cast<uint32_t*>(frozen ? frozen->panels.reserve(bBytes) : packedB.reserve(bBytes));
  if (threadPackedA.size() < threads) {
    threadPackedA.resize(threads);
    threadAcc.resize(threads);
  }
  if (srcB.rowMajor) {
    // k-contiguous columns (fprop's Wᵀ): a panel at a time.
    packPanelsOnce(frozen, threads, nPanels, 2, [&](size_t p0, size_t p1) {
      for (size_t p = p0; p < p1; p++) {
        const size_t j0 = p * NR, cols = std::min(NR, N - j0);
        for (size_t kb = 0; kb < kBlocks; kb++) {
          const size_t k0 = kb * KC, kc = std::min(KC, K - k0);
          pk.packB(srcB, j0, cols, NR, k0, kc, bBase + (p * panelPairs + kb * (KC / 2)) * NR);
        }
      }
    });
  } else {
    // k-major rows (dgrad's W, wgrad's x): pair rows across every panel (k blocks of KC pairs
    // follow one another in a panel, so pair row q of the panel is k = 2q, 2q + 1).
    packPanelsOnce(frozen, threads, panelPairs, 16, [&](size_t q0, size_t q1) { pk.packBRows(srcB, q0, q1, N, K, NR, panelPairs, bBase); });
  }

  // The source of A's block (rows i0.., k0..) as strided runs, for BlockPrefetch.
  const size_t aEsz = elementBytes(srcA.dtype);
  const auto prefetchBlock = [&](BlockPrefetch& pf, size_t i0, size_t k0, size_t calls) {
    const size_t rows = std::min(MC, M - i0), kc = std::min(KC, K - k0);
    const char* base = static_cast<const char*>(srcA.data);
    if (srcA.rowMajor) pf.start(base + (i0 * srcA.ld + k0) * aEsz, rows, kc * aEsz, srcA.ld * aEsz, calls);
    else pf.start(base + (k0 * srcA.ld + i0) * aEsz, kc, rows * aEsz, srcA.ld * aEsz, calls);
  };

  std::atomic<size_t> nextUnit{0};
  parallelRun(std::min(threads, units), [&](size_t t, size_t) {
    uint32_t* aBuf = static_cast<uint32_t*>(threadPackedA[t].reserve(MC * (KC / 2) * sizeof(uint32_t)));
    float* acc = kBlocks > 1 ? static_cast<float*>(threadAcc[t].reserve(MC * NCU * sizeof(float))) : nullptr;
    BlockPrefetch pf;
    // A thread claims its next unit when it starts the last k block of the current one, so that
    // block's micro-kernel calls can prefetch the next unit's first A block.
    for (size_t u = nextUnit.fetch_add(1), claimed = units; u < units; u = claimed, claimed = units) {
      const size_t i0 = (u / nBlocks) * MC, rows = std::min(MC, M - i0);
      const size_t j0 = (u % nBlocks) * NCU, cols = std::min(NCU, N - j0);
      const size_t rowPanels = (rows + MR - 1) / MR, colPanels = (cols + NR - 1) / NR;
      for (size_t kb = 0; kb < kBlocks; kb++) {
        const size_t k0 = kb * KC, kc = std::min(KC, K - k0);
        if (kb + 1 < kBlocks) {
          prefetchBlock(pf, i0, k0 + KC, colPanels * rowPanels);
        } else {
          claimed = nextUnit.fetch_add(1);
          if (claimed < units) prefetchBlock(pf, (claimed / nBlocks) * MC, 0, colPanels * rowPanels);
          else pf.stop();
        }
        size_t rs = 0, ks = 0;
        pk.packA(srcA, i0, rows, rowPanels * MR, k0, kc, aBuf, &rs, &ks);
        PairMicroArgs args{};
        args.kpairs = (kc + 1) / 2;
        args.aRowStride = rs;
        args.aPairStride = ks;
        args.ldacc = NCU;
        args.ldc = N;
        args.scale = s;
        args.beta = beta;
        args.first = kb == 0;
        args.last = kb + 1 == kBlocks;
        args.roundBf16 = roundOut;  // in the micro-kernel's last-block epilogue
        for (size_t cp = 0; cp < colPanels; cp++) {
          args.b = bBase + ((j0 / NR + cp) * panelPairs + kb * (KC / 2)) * NR;
          args.cols = std::min(NR, cols - cp * NR);
          for (size_t rp = 0; rp < rowPanels; rp++) {
            args.a = aBuf + rp * MR * rs;
            args.acc = acc == nullptr ? nullptr : acc + rp * MR * NCU + cp * NR;
            args.c = c + (i0 + rp * MR) * N + j0 + cp * NR;
            args.rows = std::min(MR, rows - rp * MR);
            pf.step();
            if (args.rows == 1 && tile.micro1 != nullptr) tile.micro1(args);  // one real row: same bits, 1/MR of the work
            else tile.micro(args);
          }
        }
      }
    }
  });
}

const GemmKernelSet* kernelsFor(Dtype a, Dtype b) {
  switch (activeIsa()) {
    case Isa::avx512bf16:
      // Only GEMMs with a float32 operand get here (it must not be rounded to BF16): BF16 / FP8
      // pairs take gemmPairs.
      return gemmKernelsAvx512F32();
    case Isa::avx2: return gemmKernelsAvx2();
    default: return gemmKernelsScalar();
  }
}

}  // namespace

void gemm(size_t M, size_t N, size_t K, const GemmOperandView& a, const GemmOperandView& b, float* c, float alpha, float beta,
          bool roundBf16Out) {
  if (M == 0 || N == 0) return;
  const float s = alpha * a.invScale * b.invScale;
  if (K == 0) {
    for (size_t i = 0; i < M * N; i++) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    if (roundBf16Out) roundBlockBf16(c, N, M, N);
    return;
  }
  std::lock_guard<std::mutex> lock(gemmMutex);
  if (activeIsa() == Isa::avx512bf16 && a.dtype != Dtype::f32 && b.dtype != Dtype::f32) {
    const PairGemmKernels& pk = *gemmPairKernelsAvx512();
    PackSource pa{a.dtype, a.data, !a.trans, a.trans ? M : K, tableFor(a.dtype), bf16BytesFor(a.dtype), cpuHasVbmi()};
    PackSource pb{b.dtype, b.data, b.trans, b.trans ? K : N, tableFor(b.dtype), bf16BytesFor(b.dtype), cpuHasVbmi()};
    gemmPairs(M, N, K, pa, pb, c, s, beta, pk, currentPairVariant(pk), b, roundBf16Out);
    return;
  }
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
  const size_t threads = gemmThreads(M, N, K, MR);
  const UnitGrid grid = unitGrid(M, N, MR, NR, kMCTarget, (N + kNCMax - 1) / kNCMax, threads);
  const size_t MC = grid.MC, NCU = grid.NCU, nBlocks = grid.nBlocks, units = grid.units();

  const size_t bBytes = nPanels * Kp * NR * bytes;
  FrozenPack* frozen = frozenPackFor(b, N, K, &ks, 0);
  char* bBase = static_cast<char*>(frozen ? frozen->panels.reserve(bBytes) : packedB.reserve(bBytes));
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
  packPanelsOnce(frozen, threads, nPanels, 4, packPanels);

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
      if (roundBf16Out) roundBlockBf16(c + i0 * N + j0, N, rows, cols);
    }
  });
}

std::vector<std::string> gemmTiles() {
  std::vector<std::string> out;
  if (activeIsa() == Isa::avx512bf16) {
    const PairGemmKernels& pk = *gemmPairKernelsAvx512();
    for (size_t i = 0; i < pk.tileCount; i++) out.push_back(std::to_string(pk.tiles[i].MR) + "x" + std::to_string(pk.tiles[i].NR));
  } else {
    const GemmKernelSet& ks = *kernelsFor(Dtype::bf16, Dtype::bf16);
    out.push_back(std::to_string(ks.MR) + "x" + std::to_string(ks.NR));
  }
  return out;
}

std::string gemmVariant() {
  if (activeIsa() == Isa::avx512bf16) {
    const PairGemmKernels& pk = *gemmPairKernelsAvx512();
    return variantName(pk, currentPairVariant(pk));
  }
  return gemmTiles()[0];
}

void setGemmVariant(const std::string& name) {
  if (activeIsa() != Isa::avx512bf16) {
    if (name == "default" || name == gemmTiles()[0]) return;
    throw std::invalid_argument("the " + std::string(isaName(activeIsa())) + " path has one GEMM kernel, '" + gemmTiles()[0] +
                                "'; got '" + name + "'");
  }
  const PairGemmKernels& pk = *gemmPairKernelsAvx512();
  PairVariant v = defaultPairVariant(pk);
  if (name != "default") {
    size_t mr = 0, nr = 0, kc = 0, mc = 0, nc = 0;
    char tail = 0;
    if (std::sscanf(name.c_str(), "%zux%zu-kc%zu-mc%zu-nc%zu%c", &mr, &nr, &kc, &mc, &nc, &tail) != 5)
      throw std::invalid_argument("GEMM variant '" + name + "' is not of the form MRxNR-kcKC-mcMC-ncNC");
    v.tile = pk.tileCount;
    for (size_t i = 0; i < pk.tileCount; i++)
      if (pk.tiles[i].MR == mr && pk.tiles[i].NR == nr) v.tile = i;
    v.KC = kc;
    v.MC = mc;
    v.NC = nc;
    if (!variantValid(pk, v))
      throw std::invalid_argument("GEMM variant '" + name + "': the tile must be one of the path's tiles, kc even in [2, 4096], mc a multiple of MR in [MR, 1024], nc a multiple of NR in [NR, 8192]");
  }
  std::lock_guard<std::mutex> gemmLock(gemmMutex);  // not while a GEMM runs
  std::lock_guard<std::mutex> lock(variantMutex);
  pairVariant = v;
  pairVariantSet = true;
}

}  // namespace fog8
