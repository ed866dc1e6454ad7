/**
 * The one narrow compute interface of fog8. Ops call these methods and nothing else; the pure-TS
 * reference backend (`reference.ts`) is the living spec and the native addon (`native.ts`) its
 * fast twin. Every tensor is a dense row-major typed array; shapes are passed explicitly and
 * written in comments as (dim, dim). Every argument of every method — its array type, its length
 * in terms of the other arguments, its allowed values — is also described as data in
 * `signatures.ts`, from which `withValidation` checks calls (TypeError / RangeError naming the
 * argument) and the native backend forwards them; a compile-time check there keeps the table and
 * this interface in step. Outputs are written into caller-owned buffers (no allocation in hot loops).
 */

/**
 * The float buffers of a backend. Every backend computes in float32 (the native addon, and the
 * reference by default); the reference backend also has a float64 evaluation mode — same code, no
 * float32 rounding anywhere — which exists to verify gradients to 1e-6 by finite differences.
 */
export type FloatArray = Float32Array | Float64Array;

/** The arithmetic of a backend: 'float32' (Float32Array buffers) or 'float64' (Float64Array). */
export type KernelPrecision = 'float32' | 'float64';

/** FP8 storage formats (DESIGN §2). */
export type Fp8FormatName = 'e4m3' | 'e5m2';

/** Element type of a GEMM operand. FP8 operands are codes, BF16 operands are the upper 16 bits. */
export type OperandDtype = 'f32' | 'bf16' | 'e4m3' | 'e5m2';

/**
 * Llama-3.1 RoPE frequency scaling (HF `rope_scaling` `rope_type: "llama3"`): frequencies whose
 * wavelength 2π/f exceeds originalContext/lowFreqFactor are divided by factor, those shorter than
 * originalContext/highFreqFactor are kept, those between are interpolated.
 */
export interface RopeScaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalContext: number;
}

/** Result of a quantize pass (one read of the input). */
export interface CastStats {
  /** max |x| of the *unscaled* input; NaN if any input is NaN; may be Infinity. */
  amax: number;
  /** Count of non-zero, non-NaN inputs whose code decodes to ±0 (underflow). */
  underflow: number;
  /** Count of inputs that are not ±0 (NaN included): the denominator of the underflow fraction. */
  nonzero: number;
  /** Count of non-NaN inputs with |x·scale| > format max, i.e. that were saturated to ±max. */
  overflow: number;
  /**
   * Harm done by the cast, over the finite inputs, in float64 (issue 11): Σx², Σ(x − x̂)² with
   * x̂ = decode(code)·fround(1/scale) the dequantized value, Σ|x|, and Σ|x| over the inputs whose
   * code is ±0 (underflow). Relative error = √(errSq/sumSq); mass lost = lostAbs/absSum.
   * Reported by quantize/quantizeDequantize of both backends and the reference attention casts;
   * absent where a kernel does not compute them.
   */
  sumSq?: number;
  errSq?: number;
  absSum?: number;
  lostAbs?: number;
}

/**
 * One GEMM operand. `trans` says how the logical operand is stored:
 * for A (logical M×K): trans=false → stored (M, K); trans=true → stored (K, M).
 * for B (logical K×N): trans=false → stored (K, N); trans=true → stored (N, K).
 * `invScale` (default 1) is the dequantization factor 1/scale of FP8 operands; the GEMM applies
 * invScaleA·invScaleB once to the float32 accumulator (DESIGN §2), never per element.
 */
export interface GemmOperand<Buf extends FloatArray = Float32Array> {
  dtype: OperandDtype;
  /** 'f32': the backend's float buffer (Buf); 'bf16': Uint16Array; FP8: Uint8Array codes. */
  data: Buf | Uint16Array | Uint8Array;
  trans: boolean;
  invScale?: number;
  /**
   * An id (integer ≥ 1) promising that `data` will not change while the id is in use (KV-cache
   * decoding freezes the weights): a backend may then keep its packed copy of this B operand
   * under the id instead of packing it again every call. Results are the same with or without.
   */
  frozen?: number;
}

/**
 * FP8 codes standing for a float tensor: element i is decode(data[i])·invScale (invScale default 1),
 * the product rounded to the backend's float — exactly what dequantize(data, format, invScale, out)
 * writes. Attention takes its inputs in this form (FP8DPA's saved casts) and decodes them as it
 * loads its tiles, so no float copy is made; the result is that of the float call on the
 * dequantized tensor, bit for bit.
 */
export interface Fp8Codes {
  format: Fp8FormatName;
  data: Uint8Array;
  invScale?: number;
}

/** An attention input: the backend's float buffer, or FP8 codes that stand for one (Fp8Codes). */
export type AttentionInput<Buf extends FloatArray = Float32Array> = Buf | Fp8Codes;

/** Per-cast scales for the FP8 quantization points *inside* attention (DESIGN §3 FP8DPA). */
export interface AttentionFp8Scales {
  /** scale for P (softmax output), cast E4M3. */
  p: number;
  /** scale for dS (= P ⊙ (dP − rowsum(dO ⊙ O))), cast E5M2. Backward only; dP itself is never cast. */
  ds: number;
  /**
   * Inverse scale (1/scale, default 1) of q, k and v. The caller hands the kernels the FP8 values
   * themselves (decode(code), exact in BF16: their codes with invScale 1) and this factor; the kernels apply it (and the other
   * inverse scales) to the float32 accumulators of QKᵀ, P̂·V, dO·Vᵀ, dŜ·K and dŜᵀ·Q, never to an
   * operand, as the GEMM applies invScaleA·invScaleB (docs/kernels.md "Attention").
   */
  qkvInv?: number;
  /** Inverse scale (default 1) of do_ (its FP8 values are handed over, as for qkvInv). Backward only. */
  doInv?: number;
}

/** Shape of a causal GQA attention call. q: (B, T, Hq, D); k, v: (B, T, Hkv, D); Hq % Hkv == 0. */
export interface AttentionShape {
  B: number;
  T: number;
  Hq: number;
  Hkv: number;
  D: number;
  /** multiplies q·k before masking and softmax. */
  softmaxScale: number;
  /**
   * BF16 attention (default false; ignored with fp8 scales, whose operands are FP8 values): every
   * product operand is BF16 — q, k, v, do_ are read rounded to BF16 (a no-op when they arrive BF16)
   * and P = exp(s − lse) and dS are rounded to BF16 before their products, as flash attention in
   * BF16 does; the forward then normalises P before P·V (two passes, as FP8DPA).
   */
  bf16Operands?: boolean;
}

/** Optional work of attentionForward. */
export interface AttentionForwardOptions {
  /**
   * Compute maxLogit (default true). It covers all T×T pairs, masked ones included, so it costs
   * about 50 % more QKᵀ work; pass false on steps nobody monitors (maxLogit is then NaN).
   */
  maxLogit?: boolean;
}

export interface AttentionForwardStats {
  /** max over the batch of softmaxScale·q·k (before masking — all T×T pairs); NaN when not requested. */
  maxLogit: number;
  /** stats of the P cast (only when fp8 scales were given). */
  p?: CastStats;
}

export interface AttentionBackwardStats {
  /** stats of the dS cast (only when fp8 scales were given). */
  ds?: CastStats;
}

/** AdamW hyper-parameters for one update; `step` is 1-based (bias correction). */
export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
}

/** xIELU parameters after the softplus reparametrisation (DESIGN §4). */
/** An FP8 cast a kernel makes of its own float output as it writes it (a fused cast): codes = FP8(output·scale). */
export interface FusedCast {
  format: Fp8FormatName;
  scale: number;
  codes: Uint8Array;
}

/** xieluBackward's parameter gradients, and its fused cast's stats (null without one). */
export interface XieluBackwardResult {
  dAlphaP: number;
  dAlphaN: number;
  cast: CastStats | null;
}

export interface XieluParams {
  alphaP: number;
  alphaN: number;
  beta: number;
  eps: number;
}

/**
 * Buf is the backend's float buffer type: Float32Array, or Float64Array for the reference backend's
 * float64 mode (then every float argument below is a Float64Array and nothing is rounded to float32
 * except what a cast defines: FP8/BF16 casts read their input rounded to float32).
 */
/**
 * `roundBf16` (the optional last argument of the casts that write floats, the norms, RoPE, the
 * activations and crossEntropyBackward): the float output is rounded to BF16 (RNE, as roundBf16) as it is written — the
 * same bits as a roundBf16 pass over it afterwards, one pass less (DESIGN §3 BF16 wide tensors).
 * Statistics a kernel returns are of its unrounded output.
 */
export interface Kernels<Buf extends FloatArray = Float32Array> {
  /** 'reference' or 'native'. */
  readonly name: 'reference' | 'native';
  /** 'float32', or 'float64' for the reference backend's gradient-verification mode. */
  readonly precision: KernelPrecision;
  /** A zeroed float buffer of this backend's type, length n. */
  alloc(n: number): Buf;
  /** Which code path runs, e.g. 'typescript', 'avx512bf16', 'avx2', 'scalar'. */
  readonly isa: string;
  /** Worker threads used by the parallel kernels (1 for the reference). */
  readonly threads: number;
  /**
   * Bytes the backend itself holds between calls, read live (the native GEMM packing buffers and RoPE's
   * cos/sin table; 0 for the reference): part of what a training step holds.
   */
  readonly workspaceBytes: number;

  // ---- casts -------------------------------------------------------------------------------
  /** codes[i] = FP8(x[i]·scale) (product in float32, RNE, saturating, NaN→NaN). x, codes: (n). */
  quantize(x: Buf, format: Fp8FormatName, scale: number, codes: Uint8Array): CastStats;
  /**
   * quantize into a column block of a wider code matrix: codes[r·codesCols + codesCol0 + c] =
   * FP8(x[r·cols + c]·scale) for x (R, cols), codes (R, codesCols) row-major; the other columns are
   * left alone. Codes and stats are those of quantize(x). Casts a tensor held as column blocks (the
   * planar QKV gradient) straight into the row layout a GEMM reads.
   */
  quantizeColumns(x: Buf, format: Fp8FormatName, scale: number, codes: Uint8Array, codesCols: number, codesCol0: number, R: number, cols: number): CastStats;
  /** out[i] = decode(codes[i]) · invScale (product in float32). */
  dequantize(codes: Uint8Array, format: Fp8FormatName, invScale: number, out: Buf, roundBf16?: boolean): void;
  /** Fake-quantize in one pass: out[i] = decode(FP8(x[i]·scale)) · (1/scale). Stats as quantize. */
  quantizeDequantize(x: Buf, format: Fp8FormatName, scale: number, out: Buf, roundBf16?: boolean): CastStats;
  /** out[i] = x[i] rounded to BF16 (RNE on the top 16 bits; NaN stays NaN), as float32. */
  roundBf16(x: Buf, out: Buf): void;
  /** bits[i] = upper 16 bits of roundBf16(x[i]). */
  packBf16(x: Buf, bits: Uint16Array): void;
  /** out[i] = the BF16 value bits[i] encodes (exact; the inverse of packBf16 on BF16 values). */
  unpackBf16(bits: Uint16Array, out: Buf): void;

  // ---- GEMM --------------------------------------------------------------------------------
  /**
   * C (M, N) = alpha · invScaleA · invScaleB · op(A)(M×K) · op(B)(K×N) + beta · C, float32
   * accumulation. With beta = 0, C is overwritten (its old contents, even NaN, are ignored).
   * Threads split output tiles only, so results do not depend on the thread count. roundBf16:
   * C is rounded to BF16 as it is written (the bits of a roundBf16 pass after the GEMM).
   */
  gemm(M: number, N: number, K: number, a: GemmOperand<Buf>, b: GemmOperand<Buf>, c: Buf, alpha?: number, beta?: number, roundBf16?: boolean): void;

  // ---- normalisation, position ------------------------------------------------------------
  /**
   * y = x / sqrt(mean(x²) + eps) · gain (gain null → 1). x, y: (R, C); gain: (C); rstd: (R) saved.
   * xSaved (R, C), when given, receives a copy of x as the kernel reads it (the input a caller keeps
   * for backward, without a separate copy pass).
   */
  rmsnormForward(
    x: Buf, gain: Buf | null, y: Buf, rstd: Buf, R: number, C: number, eps: number, roundBf16?: boolean, xSaved?: Buf | null, cast?: FusedCast | null,
  ): CastStats | null;
  /** dx = ∂L/∂x (overwritten); dgain += ∂L/∂gain (accumulated; skipped when null). */
  rmsnormBackward(dy: Buf, x: Buf, gain: Buf | null, rstd: Buf, dx: Buf, dgain: Buf | null, R: number, C: number, roundBf16?: boolean): void;
  /**
   * Rotary embedding on x (B, T, H, D), position = t, rotate-half pairs (i, i + D/2),
   * angle = t · f_i with f_i = theta^(−2i/D), i < D/2, rescaled by `scaling` when given
   * (Llama-3.1, see ropeFrequencies). y may alias x.
   */
  ropeForward(x: Buf, y: Buf, B: number, T: number, H: number, D: number, theta: number, scaling?: RopeScaling | null, roundBf16?: boolean): void;
  /** The transpose (inverse rotation) of ropeForward: dx from dy. dx may alias dy. */
  ropeBackward(dy: Buf, dx: Buf, B: number, T: number, H: number, D: number, theta: number, scaling?: RopeScaling | null, roundBf16?: boolean): void;

  // ---- loss --------------------------------------------------------------------------------
  /**
   * Softmax cross-entropy per row. logits (R, V); targets (R) (−1 = ignored row: loss 0);
   * losses (R) = lse − logit[target]; lse (R) saved for backward.
   */
  crossEntropyForward(logits: Buf, targets: Int32Array, losses: Buf, lse: Buf, R: number, V: number): void;
  /** dlogits (R, V) = dloss[r] · (softmax(logits[r]) − onehot(target[r])); 0 for ignored rows. */
  crossEntropyBackward(logits: Buf, targets: Int32Array, lse: Buf, dloss: Buf, dlogits: Buf, R: number, V: number, roundBf16?: boolean): void;
  /**
   * crossEntropyForward (losses, lse), then crossEntropyBackward's dlogits (R, V) as BF16 bits — bit
   * for bit packBf16 of its float output — in one pass over the logits (each row both ways while it
   * is in cache; the LM head's BF16 dgrad/wgrad operand without a float32 dlogits in between).
   */
  crossEntropyBf16(logits: Buf, targets: Int32Array, losses: Buf, lse: Buf, dloss: Buf, bits: Uint16Array, R: number, V: number): void;

  // ---- attention ---------------------------------------------------------------------------
  /**
   * Causal GQA attention, computed tile by tile (memory O(T·D) per head, never T×T).
   * q (B, T, Hq, D), k, v (B, T, Hkv, D) → o (B, T, Hq, D), lse (B, Hq, T) saved.
   * q, k, v may each be FP8 codes (Fp8Codes), decoded as the tiles are loaded: the same results
   * as the float call on their dequantized values.
   * With fp8 scales (FP8DPA): q, k, v hold the FP8 values of the shared Q/K/V cast (decode(code),
   * unscaled: in practice their codes with invScale 1) and scales.qkvInv its inverse scale; P = exp(S − lse) is formed exactly normalised
   * (two passes: lse first, then P), P̃ = decode(E4M3(P·scales.p)) and
   * o = (pInv·qkvInv)·Σ P̃·v, S = (softmaxScale·qkvInv²)·Σ q·k: the inverse scales multiply the
   * float32 accumulators, never an operand (docs/kernels.md "Attention"). o is cast by the caller.
   * With shape.bf16Operands (BF16 attention): q, k, v are BF16 values, P̃ = bf16(P), two passes.
   * `options.maxLogit: false` skips the max-logit work (masked pairs) and returns maxLogit NaN.
   */
  attentionForward(
    q: AttentionInput<Buf>, k: AttentionInput<Buf>, v: AttentionInput<Buf>, o: Buf, lse: Buf, shape: AttentionShape,
    fp8: AttentionFp8Scales | null, options?: AttentionForwardOptions,
  ): AttentionForwardStats;
  /**
   * Backward of attentionForward. do_ (B, T, Hq, D): in FP8 mode its E5M2 values with
   * scales.doInv (o is the caller's E4M3 O, real values: its codes with invScale = O's inverse
   * scale). q, k, v, o, do_ may each be FP8 codes (Fp8Codes), as in the forward. Writes dq (B, T, Hq, D),
   * dk, dv (B, T, Hkv, D) (overwritten, float32: the caller casts them).
   * Dᵢ = doInv·rowsum(dO ⊙ O); P recomputed from lse; dP = (doInv·qkvInv)·dO·vᵀ (float32
   * accumulation, never cast); dS = P ⊙ (dP − D) (P in float32); with fp8:
   * dS̃ = decode(E5M2(dS·scales.ds)), P̃ as in forward, dq = (softmaxScale·dsInv·qkvInv)·dS̃·k,
   * dk = (same)·dS̃ᵀ·q, dv = (pInv·doInv)·P̃ᵀ·dO; with bf16Operands: dS̃ = bf16(dS), P̃ = bf16(P).
   */
  attentionBackward(
    q: AttentionInput<Buf>, k: AttentionInput<Buf>, v: AttentionInput<Buf>, o: AttentionInput<Buf>, lse: Buf, do_: AttentionInput<Buf>,
    dq: Buf, dk: Buf, dv: Buf, shape: AttentionShape, fp8: AttentionFp8Scales | null,
  ): AttentionBackwardStats;

  // ---- activations -------------------------------------------------------------------------
  // The input h / x of every activation kernel is float values or, as a Uint16Array, the BF16 bits
  // of its values (a BF16 tensor kept at half the bytes): the result is the same as on the float
  // values those bits encode (unpackBf16), bit for bit. A forward's optional last argument (hBits /
  // xBits) receives packBf16 of its input as the kernel reads it: the BF16 copy a caller keeps for
  // the backward, without a packBf16 pass of its own. With `cast` (last argument, FusedCast) the
  // kernel casts its float output (a, dh, y, dx), rounded as roundBf16 says, to FP8 as it writes it
  // and returns the cast's stats (those of quantize on that output); the float output array is then
  // not written. Without it the kernels return null.
  /** h (R, 2F) = [gate | up] per row → a (R, Buf) = silu(gate) ⊙ up. */
  swigluForward(h: Buf | Uint16Array, a: Buf, R: number, F: number, roundBf16?: boolean, hBits?: Uint16Array | null, cast?: FusedCast | null): CastStats | null;
  swigluBackward(h: Buf | Uint16Array, da: Buf, dh: Buf, R: number, F: number, roundBf16?: boolean, cast?: FusedCast | null): CastStats | null;
  /** Smooth-SwiGLU: s[r] = max_j |gate[r, j]| (0 → 1), a = silu(gate) ⊙ up / s. s (R) saved. */
  smoothSwigluForward(
    h: Buf | Uint16Array, a: Buf, s: Buf, R: number, F: number, roundBf16?: boolean, hBits?: Uint16Array | null, cast?: FusedCast | null,
  ): CastStats | null;
  /** No gradient flows through s (DESIGN §4). */
  smoothSwigluBackward(h: Buf | Uint16Array, s: Buf, da: Buf, dh: Buf, R: number, F: number, roundBf16?: boolean, cast?: FusedCast | null): CastStats | null;
  /** GeLU with erf: y = x · Φ(x). x, y: (n). */
  geluForward(x: Buf | Uint16Array, y: Buf, roundBf16?: boolean, xBits?: Uint16Array | null, cast?: FusedCast | null): CastStats | null;
  geluBackward(x: Buf | Uint16Array, dy: Buf, dx: Buf, roundBf16?: boolean, cast?: FusedCast | null): CastStats | null;
  /** xIELU (DESIGN §4). */
  xieluForward(x: Buf | Uint16Array, y: Buf, p: XieluParams, roundBf16?: boolean, xBits?: Uint16Array | null, cast?: FusedCast | null): CastStats | null;
  /** Writes dx; returns ∂L/∂alphaP and ∂L/∂alphaN (the caller chains through softplus), and the fused cast's stats. */
  xieluBackward(x: Buf | Uint16Array, dy: Buf, dx: Buf, p: XieluParams, roundBf16?: boolean, cast?: FusedCast | null): XieluBackwardResult;

  // ---- element-wise, copies ----------------------------------------------------------------
  /**
   * acc (n) += x (n) (float32 sums), then rounded to BF16 in the same pass when `roundBf16`
   * (default false): the residual add and the residual-gradient fork with their BF16 rounding.
   */
  addInPlace(acc: Buf, x: Buf, roundBf16?: boolean): void;
  /**
   * Token embedding: h (R, C) = scale·table[tokens[r]] (table (V, C)), each product formed in float64
   * and stored in the buffer's precision (JavaScript's arithmetic on the elements).
   */
  embeddingForward(table: Buf, tokens: Int32Array, h: Buf, R: number, C: number, V: number, scale: number): void;
  /** Its gradient: dtable[tokens[r]] += scale·dh[r] for r = 0 … R − 1 in order (float64 product and sum per element). */
  embeddingBackward(dh: Buf, tokens: Int32Array, dtable: Buf, R: number, C: number, V: number, scale: number): void;
  /**
   * Copies a column block: dst[r, dstCol0 + c] = src[r, srcCol0 + c] for r < R, c < cols, with src
   * (R, srcCols) and dst (R, dstCols) row-major (the QKV split and its backward concat).
   */
  copyColumns(src: Buf, srcCols: number, srcCol0: number, dst: Buf, dstCols: number, dstCol0: number, R: number, cols: number): void;

  // ---- optimizer, monitors -----------------------------------------------------------------
  /**
   * Decoupled AdamW on float32 state, in place: m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
   * w −= lr·(m̂/(√v̂ + eps) + weightDecay·w) with m̂ = m/(1−β1^step), v̂ = v/(1−β2^step).
   */
  adamw(w: Buf, g: Buf, m: Buf, v: Buf, p: AdamWParams): void;
  /** Per row of x (R, C): out[3r] = Σx, out[3r+1] = Σx², out[3r+2] = Σx⁴ (float64 accumulation). */
  rowMoments(x: Buf, R: number, C: number, out: Float64Array): void;
  /** Σ x² over the whole array in float64 (for gradient norms). */
  sumSquares(x: Buf): number;
}
