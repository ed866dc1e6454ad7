// Fused kernels of the fog8 addon as plain C++ on raw pointers and sizes (no N-API here; the
// marshalling lives in bind_fused.cpp). Shapes follow src/kernels/types.ts; every buffer is dense
// row-major float32 unless said otherwise. Callers have validated lengths.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fog8 {
class ChunkedCast;  // casts/casts.h
}  // namespace fog8

namespace fog8::fused {

/** Statistics of one cast (see CastStats in src/kernels/types.ts). */
struct CastCounts {
  /** max |x| of the unscaled input; NaN if any input was NaN. */
  float amax = 0.0f;
  uint64_t underflow = 0;
  uint64_t overflow = 0;
  /** inputs that are not ±0 (NaN included): the denominator of the underflow fraction. */
  uint64_t nonzero = 0;
  /** over the finite inputs: Σx², Σ(x − x̂)², Σ|x|, Σ|x| of those whose FP8 value is 0 (float64). */
  double sumSq = 0.0;
  double errSq = 0.0;
  double absSum = 0.0;
  double lostAbs = 0.0;
};

struct AttentionShape {
  int64_t B, T, Hq, Hkv, D;
  float softmaxScale;
  /** BF16 attention without fp8: operands read as BF16, P and dS rounded to BF16 (types.ts). */
  bool bf16Operands = false;
};

/** Scales of the two FP8 casts inside attention (P: E4M3, dS: E5M2; dP is never cast), and the
 *  inverse scales of the FP8 operands q, k, v (qkvInv) and dO (doInv), applied to accumulators. */
struct AttentionFp8Scales {
  float p, ds;
  float qkvInv = 1.0f, doInv = 1.0f;
};

/**
 * An attention input (types.ts AttentionInput): float32 values, or FP8 codes that stand for
 * decode(code)·invScale (float32 product, as dequantize writes it), decoded as the kernels load
 * their tiles through the call's tables (attentionCodeTables).
 */
struct AttentionInput {
  const float* values = nullptr;
  const uint8_t* codes = nullptr;
  /** codes only: value[c] = decode(c)·invScale in float32, and its BF16 bits (RNE, NaN quiet) as
   *  256 low bytes then 256 high bytes (the avx512bf16 kernels' byte-permute decode). */
  const float* value = nullptr;
  const uint8_t* bf16Bytes = nullptr;
};

/** The tables of one FP8-codes input. */
struct AttentionCodeTables {
  alignas(64) float value[256];
  alignas(64) uint8_t bf16Bytes[512];
};

/** Fills `t` for E4M3 (e5m2 false) or E5M2 codes with inverse scale `invScale`. */
void attentionCodeTables(bool e5m2, float invScale, AttentionCodeTables& t);

struct AdamWParams {
  double lr, beta1, beta2, eps, weightDecay;
  double step;
};

struct XieluParams {
  double alphaP, alphaN, beta, eps;
};

// ---- normalisation, position ------------------------------------------------------------------
/** x, y: (R, C); gain: (C) or null; rstd: (R). */
// roundBf16 (every kernel that has it): the output is rounded to BF16 as it is stored (DESIGN §3
// BF16 wide tensors), the same bits as a separate roundBf16 pass over it.
/** xSaved (R, C), when not null, receives a copy of x as it is read. */
void rmsnormForward(const float* x, const float* gain, float* y, float* rstd, int64_t R, int64_t C, double eps,
                    bool roundBf16 = false, float* xSaved = nullptr, const ChunkedCast* cast = nullptr);
/** dx (R, C) overwritten; dgain (C) accumulated when not null. */
void rmsnormBackward(const float* dy, const float* x, const float* gain, const float* rstd, float* dx, float* dgain,
                     int64_t R, int64_t C, bool roundBf16 = false);
/** x, y: (B, T, H, D), D even; y may alias x. */
// frequency: D/2 rotation frequencies (float64), angle = t·frequency[i].
void ropeForward(const float* x, float* y, int64_t B, int64_t T, int64_t H, int64_t D, const double* frequency,
                 bool roundBf16 = false);
void ropeBackward(const float* dy, float* dx, int64_t B, int64_t T, int64_t H, int64_t D, const double* frequency,
                  bool roundBf16 = false);

// ---- loss ---------------------------------------------------------------------------------------
/** logits (R, V); targets (R) in {-1} ∪ [0, V); losses, lse (R). */
void crossEntropyForward(const float* logits, const int32_t* targets, float* losses, float* lse, int64_t R, int64_t V);
void crossEntropyBackward(const float* logits, const int32_t* targets, const float* lse, const float* dloss,
                          float* dlogits, int64_t R, int64_t V, bool roundBf16 = false);
/** crossEntropyForward, then crossEntropyBackward's dlogits as BF16 bits (those of packBf16 of its
 *  float output, for a BF16 GEMM operand), each row both ways while it is in L1. */
void crossEntropyBf16(const float* logits, const int32_t* targets, float* losses, float* lse, const float* dloss,
                      uint16_t* bits, int64_t R, int64_t V);

// ---- attention ----------------------------------------------------------------------------------
/**
 * q (B, T, Hq, D), k, v (B, T, Hkv, D) → o (B, T, Hq, D), lse (B, Hq, T). fp8 null → plain
 * float32 online softmax; else FP8DPA with pStats filled. Returns maxLogit over all T×T pairs, or NaN
 * without that work when wantMaxLogit is false.
 */
float attentionForward(const AttentionInput& q, const AttentionInput& k, const AttentionInput& v, float* o, float* lse,
                       const AttentionShape& s, const AttentionFp8Scales* fp8, CastCounts* pStats, bool wantMaxLogit);
/** dq (B, T, Hq, D), dk, dv (B, T, Hkv, D) overwritten (float32, cast by the caller); dsStats filled when fp8. */
void attentionBackward(const AttentionInput& q, const AttentionInput& k, const AttentionInput& v, const AttentionInput& o,
                       const float* lse, const AttentionInput& dO, float* dq, float* dk, float* dv, const AttentionShape& s,
                       const AttentionFp8Scales* fp8, CastCounts* dsStats);

// ---- activations ----------------------------------------------------------------------------------
/** An activation's input: float32 values, or the BF16 bits of its values (exactly one is non-null);
 *  the result is the same on both, bit for bit. */
struct ActivationInput {
  const float* values;
  const uint16_t* bits;
};
/** h (R, 2F) = [gate | up]; a (R, F). A forward's hBits / xBits, when not null, receive packBf16 of
 *  its input as it is read (the BF16 copy a caller keeps for backward). With `cast` (a fused FP8
 *  cast, casts/casts.h) the float output (a, y, dh, dx) is not written: it goes, rounded as the flag
 *  says, into the cast's codes; the statistics are cast->result(). */
void swigluForward(ActivationInput h, float* a, int64_t R, int64_t F, bool roundBf16 = false, uint16_t* hBits = nullptr,
                   const ChunkedCast* cast = nullptr);
void swigluBackward(ActivationInput h, const float* da, float* dh, int64_t R, int64_t F, bool roundBf16 = false,
                    const ChunkedCast* cast = nullptr);
/** s (R) = max_j |gate| (0 → 1). */
void smoothSwigluForward(ActivationInput h, float* a, float* s, int64_t R, int64_t F, bool roundBf16 = false,
                         uint16_t* hBits = nullptr, const ChunkedCast* cast = nullptr);
void smoothSwigluBackward(ActivationInput h, const float* s, const float* da, float* dh, int64_t R, int64_t F, bool roundBf16 = false,
                          const ChunkedCast* cast = nullptr);
void geluForward(ActivationInput x, float* y, int64_t n, bool roundBf16 = false, uint16_t* xBits = nullptr, const ChunkedCast* cast = nullptr);
void geluBackward(ActivationInput x, const float* dy, float* dx, int64_t n, bool roundBf16 = false, const ChunkedCast* cast = nullptr);
void xieluForward(ActivationInput x, float* y, int64_t n, const XieluParams& p, bool roundBf16 = false,
                  uint16_t* xBits = nullptr, const ChunkedCast* cast = nullptr);
/** Writes dx; returns ∂L/∂alphaP, ∂L/∂alphaN through the out-parameters. */
void xieluBackward(ActivationInput x, const float* dy, float* dx, int64_t n, const XieluParams& p, double* dAlphaP,
                   double* dAlphaN, bool roundBf16 = false, const ChunkedCast* cast = nullptr);

/** Bytes of the cos/sin table RoPE keeps between calls. */
size_t ropeTableBytes();

// ---- element-wise, copies -------------------------------------------------------------------------
/** acc[i] = acc[i] + x[i] (float32), rounded to BF16 when roundBf16. acc, x: (n). */
void addInPlace(float* acc, const float* x, int64_t n, bool roundBf16);
/** dst[r, dstCol0 + c] = src[r, srcCol0 + c] for r < R, c < cols; src (R, srcCols), dst (R, dstCols). */
void copyColumns(const float* src, int64_t srcCols, int64_t srcCol0, float* dst, int64_t dstCols, int64_t dstCol0,
                 int64_t R, int64_t cols);

// ---- token embedding -------------------------------------------------------------------------------
/** h (R, C) = float(scale·table[tokens[r]]) (product in float64); tokens in [0, V) (checked by the caller). */
void embeddingForward(const float* table, const int32_t* tokens, float* h, int64_t R, int64_t C, double scale);
/** dtable[tokens[r]] += scale·dh[r] for r in order (float64 product and sum, rounded once to float32). */
void embeddingBackward(const float* dh, const int32_t* tokens, float* dtable, int64_t R, int64_t C, double scale);

// ---- optimizer, monitors ----------------------------------------------------------------------------
void adamw(float* w, const float* g, float* m, float* v, int64_t n, const AdamWParams& p);
/** out (3R): Σx, Σx², Σx⁴ per row, float64 accumulation. */
void rowMoments(const float* x, int64_t R, int64_t C, double* out);
/** Σx² in float64, in a fixed order independent of the thread count. */
double sumSquares(const float* x, int64_t n);

}  // namespace fog8::fused
