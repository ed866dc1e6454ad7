/**
 * Causal GQA attention (q (B, T, Hq, D), k, v (B, T, Hkv, D) → o (B, T, Hq, D)), forward and
 * backward side by side, through kernels.attentionForward/Backward.
 *
 * FP8DPA (recipe gemm 'fp8' with fp8Attention; DESIGN §3, Transformer Engine's fp8_dpa without
 * fp8_mha). Six scaling slots:
 *   qkv  E4M3  Q, K and V with ONE shared scale (amax over all three), before the kernel;
 *   p    E4M3  P = softmax(S), inside the kernel (forward, and recomputed identically in backward);
 *   o    E4M3  O = P̂·V̂, after the kernel: O is handed on DEQUANTIZED, so the out-projection casts
 *              its input again with its own input scale, as TE does;
 *   do   E5M2  dO, before the backward kernel;
 *   ds   E5M2  dS = P ⊙ (dP − rowsum(dO ⊙ O)), inside the kernel (dP = dO·Vᵀ stays float32);
 *   dqkv E5M2  dQ, dK, dV with ONE shared scale (amax over all three), after the kernel, handed
 *              on dequantized to the QKV projection's backward (which casts again as grad_output).
 * Where the scales are applied: the kernels receive the FP8 VALUES of Q, K, V and dO — as their
 * codes (types.ts Fp8Codes, inverse scale 1), which the kernels decode as they load their tiles
 * (exact in BF16, so the avx512bf16 kernel multiplies them on vdpbf16ps; no dequantized float copy
 * is made) — and the inverse scales qkvInv, doInv in the fp8 argument; P̃ and dS̃ are FP8 values
 * formed inside the kernel. Every inverse scale multiplies a float32 accumulator once — S by
 * softmaxScale·qkvInv², O by pInv·qkvInv, dP by doInv·qkvInv, dQ and dK by softmaxScale·dsInv·qkvInv,
 * dV by pInv·doInv, rowsum(dO ⊙ O) by doInv — as the GEMM applies invScaleA·invScaleB; the reference
 * kernel computes the same formula (docs/kernels.md "Attention").
 * Forward saves the FP8 codes of Q, K, V and O plus the float32 log-sum-exp. The backward uses the
 * E4M3 O (its codes with inverse scale oInv: decode·oInv, the values the out-projection saw) in
 * rowsum(dO ⊙ O), as TE's delayed-scaling path does (it hands cuDNN's backward the FP8 O with its
 * descale); dO is cast into scratch codes and handed over as codes too.
 * The P scale is fixed in forward and reused in backward (both must produce the same P̂); the dS
 * scale is read when the backward runs. Under 'current' scaling the in-kernel casts cannot measure
 * their tensor first: P uses its known bound (amax 1), dS the previous backward's amax (the very
 * first backward casts with scale 1, as delayed does).
 * BF16 attention (recipe 'bf16', or a per-GEMM override of 'attn.dpa'): every product operand is
 * BF16 (DESIGN §3: 'bf16' rounds every GEMM operand) — q, k, v and dO are rounded here, P and dS
 * inside the kernel (shape.bf16Operands: P = exp(S − lse) exactly normalised, then bf16(P), as
 * flash attention in BF16 rounds P before P·V), so the avx512bf16 kernel runs on vdpbf16ps too.
 * Otherwise (fp32, or fp8 without fp8Attention) the kernel runs in float32 with P unrounded.
 * Forward saves float32 copies of q, k, v, o (BF16-rounded q, k, v and dO under BF16 attention).
 * With BF16 wide tensors (recipe activations 'bf16', activation table entry 'attention.out',
 * rounding 'op') the op rounds O to BF16 itself, before saving it, so the backward's
 * rowsum(dO ⊙ O) reads the O handed on; q, k, v and dO then arrive BF16 and are not rounded again.
 */
import type { AttentionFp8Scales, AttentionShape, CastStats, FloatArray, Fp8Codes } from '../kernels/types.js';
import { Fp8Operand, mergeStats } from './cast.js';
import type { OpContext } from './context.js';
import type { TapeNode } from './tape.js';
import type { Boundary, FusesRounding } from './boundary.js';
import { wantsTensorStats } from './monitor.js';

/** P = softmax(S) ≤ 1: the known amax bound of the in-kernel P cast. */
export const P_BOUND = 1;

const NO_CODES = new Uint8Array(0);

export class AttentionOp implements TapeNode, FusesRounding {
  readonly label: string;
  /** FP8DPA: the dQ/dK/dV fake-quantizations round to BF16 as they write (taken from the op's boundary). */
  private roundDqkv: [boolean, boolean, boolean] = [false, false, false];
  private readonly shape: AttentionShape;
  /** FP8DPA (an FP8 recipe with fp8Attention, not overridden). */
  readonly fp8: boolean;
  /** BF16 attention (recipe 'bf16' or a per-GEMM override): every product operand BF16. */
  readonly bf16: boolean;
  private readonly lse: FloatArray; // (B, Hq, T)
  // FP8DPA saves
  private readonly qCodes: Uint8Array | null; // (B, T, Hq, D)
  private readonly kCodes: Uint8Array | null; // (B, T, Hkv, D)
  private readonly vCodes: Uint8Array | null;
  private readonly oCodes: Uint8Array | null; // (B, T, Hq, D)
  // The saved codes as kernel inputs (o's invScale set by each forward, do_'s data by each backward).
  private readonly qIn: Fp8Codes | null;
  private readonly kIn: Fp8Codes | null;
  private readonly vIn: Fp8Codes | null;
  private readonly oIn: Fp8Codes | null;
  private readonly doIn: Fp8Codes | null;
  private qkvInv = 1;
  private oInv = 1;
  private pScale = 1;
  // wide saves
  private readonly qSaved: FloatArray | null;
  private readonly kSaved: FloatArray | null;
  private readonly vSaved: FloatArray | null;
  private readonly oSaved: FloatArray | null;
  private readonly ops: Record<'qkv' | 'p' | 'o' | 'do' | 'ds' | 'dqkv', Fp8Operand> | null;

  constructor(
    private readonly ctx: OpContext, private readonly layer: number, key: string, shape: AttentionShape,
    private readonly q: FloatArray, private readonly k: FloatArray, private readonly v: FloatArray, private readonly o: FloatArray,
    private readonly dO: FloatArray, private readonly dq: FloatArray, private readonly dk: FloatArray, private readonly dv: FloatArray,
  ) {
    this.label = key;
    const { B, T, Hq, Hkv, D } = shape;
    const nq = B * T * Hq * D;
    const nkv = B * T * Hkv * D;
    for (const [name, a, n] of [['q', q, nq], ['k', k, nkv], ['v', v, nkv], ['o', o, nq], ['dO', dO, nq], ['dq', dq, nq], ['dk', dk, nkv], ['dv', dv, nkv]] as const) {
      if (a.length !== n) throw new TypeError(`AttentionOp(${key}): ${name} has length ${a.length}, expected ${n}`);
    }
    const r = ctx.recipe;
    // The recipe refuses fp8Attention with block scaling; a per-GEMM override keeps this one in BF16.
    this.fp8 = r.gemm === 'fp8' && r.fp8Attention && !ctx.isOverridden(key);
    this.bf16 = !this.fp8 && (r.gemm === 'bf16' || ctx.isOverridden(key));
    this.shape = { ...shape, bf16Operands: this.bf16 };
    this.lse = ctx.alloc(B * Hq * T);
    const gemm = 'attn.dpa';
    this.ops = this.fp8
      ? {
          qkv: new Fp8Operand(ctx, layer, key, gemm, 'qkv'),
          p: new Fp8Operand(ctx, layer, key, gemm, 'p'),
          o: new Fp8Operand(ctx, layer, key, gemm, 'o'),
          do: new Fp8Operand(ctx, layer, key, gemm, 'do'),
          ds: new Fp8Operand(ctx, layer, key, gemm, 'ds'),
          dqkv: new Fp8Operand(ctx, layer, key, gemm, 'dqkv'),
        }
      : null;
    this.qCodes = this.fp8 ? ctx.u8(nq) : null;
    this.kCodes = this.fp8 ? ctx.u8(nkv) : null;
    this.vCodes = this.fp8 ? ctx.u8(nkv) : null;
    this.oCodes = this.fp8 ? ctx.u8(nq) : null;
    const ops = this.ops;
    this.qIn = ops && this.qCodes ? { format: ops.qkv.format, data: this.qCodes } : null;
    this.kIn = ops && this.kCodes ? { format: ops.qkv.format, data: this.kCodes } : null;
    this.vIn = ops && this.vCodes ? { format: ops.qkv.format, data: this.vCodes } : null;
    this.oIn = ops && this.oCodes ? { format: ops.o.format, data: this.oCodes, invScale: 1 } : null;
    this.doIn = ops ? { format: ops.do.format, data: NO_CODES } : null;
    this.qSaved = this.fp8 ? null : ctx.alloc(nq);
    this.kSaved = this.fp8 ? null : ctx.alloc(nkv);
    this.vSaved = this.fp8 ? null : ctx.alloc(nkv);
    this.oSaved = this.fp8 ? null : ctx.alloc(nq);
  }

  /** Only the FP8DPA path writes dQ/dK/dV through a cast that can round; the wide path leaves them to the boundary. */
  fuseRounding(boundary: Boundary): void {
    if (!this.fp8) return;
    this.roundDqkv = [boundary.takeBackwardRounding(this.dq), boundary.takeBackwardRounding(this.dk), boundary.takeBackwardRounding(this.dv)];
  }

  savedBytes(): number {
    let n = this.lse.byteLength;
    for (const b of [this.qCodes, this.kCodes, this.vCodes, this.oCodes, this.qSaved, this.kSaved, this.vSaved, this.oSaved]) n += b?.byteLength ?? 0;
    return n;
  }

  /** Causal (lower-triangle) score count: the number of P elements cast. */
  private causalCount(): number {
    const { B, T, Hq } = this.shape;
    return (B * Hq * T * (T + 1)) / 2;
  }

  forward(): void {
    const kn = this.ctx.kernels;
    let stats;
    if (this.fp8) {
      const ops = this.ops as NonNullable<typeof this.ops>;
      const qkvScale = ops.qkv.scaleFor([this.q, this.k, this.v]);
      const fmt = ops.qkv.format;
      const total: CastStats = { amax: 0, underflow: 0, overflow: 0, nonzero: 0 };
      mergeStats(total, kn.quantize(this.q, fmt, qkvScale, this.qCodes as Uint8Array));
      mergeStats(total, kn.quantize(this.k, fmt, qkvScale, this.kCodes as Uint8Array));
      mergeStats(total, kn.quantize(this.v, fmt, qkvScale, this.vCodes as Uint8Array));
      ops.qkv.record(total, qkvScale, this.q.length + this.k.length + this.v.length);
      this.qkvInv = 1 / Math.fround(qkvScale);
      const pScale = ops.p.fusedScale(P_BOUND);
      this.pScale = pScale;
      // q, k, v as their codes (inverse scale 1: the FP8 values); qkvInv scales the accumulators.
      const [qIn, kIn, vIn] = [this.qIn, this.kIn, this.vIn] as Fp8Codes[];
      stats = kn.attentionForward(qIn, kIn, vIn, this.o, this.lse, this.shape, { p: pScale, ds: 1 /* backward only */, qkvInv: this.qkvInv }, { maxLogit: wantsTensorStats(this.ctx.monitor) });
      if (stats.p) ops.p.recordFused(stats.p, pScale, this.causalCount(), P_BOUND);
      // O is cast E4M3 and handed on dequantized: the out-projection reads exactly the saved Ô.
      this.oInv = ops.o.quantize(this.o, this.oCodes as Uint8Array);
      // handed on BF16 under BF16 wide tensors, as TE converts it (rounded as it is dequantized)
      kn.dequantize(this.oCodes as Uint8Array, ops.o.format, this.oInv, this.o, this.ctx.recipe.activations === 'bf16');
    } else {
      // BF16 attention (recipe or per-GEMM override) rounds its inputs unless they arrive BF16 already.
      if (this.bf16 && this.ctx.recipe.activations !== 'bf16') {
        kn.roundBf16(this.q, this.q);
        kn.roundBf16(this.k, this.k);
        kn.roundBf16(this.v, this.v);
      }
      (this.qSaved as FloatArray).set(this.q);
      (this.kSaved as FloatArray).set(this.k);
      (this.vSaved as FloatArray).set(this.v);
      stats = kn.attentionForward(this.q, this.k, this.v, this.o, this.lse, this.shape, null, { maxLogit: wantsTensorStats(this.ctx.monitor) });
      if (this.ctx.recipe.activations === 'bf16') kn.roundBf16(this.o, this.o);
      (this.oSaved as FloatArray).set(this.o);
    }
    if (wantsTensorStats(this.ctx.monitor)) this.ctx.monitor?.maxLogit(this.layer, stats.maxLogit);
    this.ctx.tape.record(this);
  }

  backward(): void {
    const kn = this.ctx.kernels;
    const s = this.ctx.scratch;
    if (this.fp8) {
      const ops = this.ops as NonNullable<typeof this.ops>;
      const [qIn, kIn, vIn, oIn, doIn] = [this.qIn, this.kIn, this.vIn, this.oIn, this.doIn] as Fp8Codes[];
      // The E4M3 O as its saved codes with O's inverse scale (decode·oInv: the O handed on, before
      // any rounding downstream), and dO as its E5M2 codes (inverse scale 1: the FP8 values; the
      // kernel applies doInv to its accumulators), cast into scratch that lives while this backward runs.
      oIn.invScale = this.oInv;
      doIn.data = s.u8(this.dO.length);
      const doInv = ops.do.quantize(this.dO, doIn.data);
      const scales: AttentionFp8Scales = { p: this.pScale, ds: ops.ds.fusedScale(null), qkvInv: this.qkvInv, doInv }; // dS has no known bound
      const st = kn.attentionBackward(qIn, kIn, vIn, oIn, this.lse, doIn, this.dq, this.dk, this.dv, this.shape, scales);
      doIn.data = NO_CODES; // holds no scratch between steps
      if (st.ds) ops.ds.recordFused(st.ds, scales.ds, this.causalCount(), null);
      // dQ, dK, dV: one shared E5M2 scale, handed on dequantized (in place).
      const dqkvScale = ops.dqkv.scaleFor([this.dq, this.dk, this.dv]);
      const total: CastStats = { amax: 0, underflow: 0, overflow: 0, nonzero: 0 };
      const grads = [this.dq, this.dk, this.dv];
      for (let i = 0; i < 3; i++) mergeStats(total, kn.quantizeDequantize(grads[i], ops.dqkv.format, dqkvScale, grads[i], this.roundDqkv[i]));
      ops.dqkv.record(total, dqkvScale, this.dq.length + this.dk.length + this.dv.length);
    } else {
      let dO = this.dO;
      // BF16 attention (recipe or per-GEMM override) rounds its inputs unless they arrive BF16 already.
      if (this.bf16 && this.ctx.recipe.activations !== 'bf16') {
        dO = s.floats(this.dO.length, 5);
        kn.roundBf16(this.dO, dO);
      }
      kn.attentionBackward(
        this.qSaved as FloatArray, this.kSaved as FloatArray, this.vSaved as FloatArray, this.oSaved as FloatArray,
        this.lse, dO, this.dq, this.dk, this.dv, this.shape, null,
      );
    }
  }
}
