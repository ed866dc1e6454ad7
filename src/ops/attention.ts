/**
 * Causal GQA attention (q (B, T, Hq, D), k, v (B, T, Hkv, D) → o (B, T, Hq, D)), forward and
 * backward side by side, through kernels.attentionForward/Backward.
 *
 * FP8DPA (recipe gemm 'fp8' with fp8Attention, DESIGN §3): Q, K and V are cast E4M3 with ONE
 * shared scale (slot role 'qkv', amax over all three); P is cast inside the kernel with the 'p'
 * slot's scale; O is cast E4M3 ('o' slot) and saved as codes; in backward dO is cast E5M2 ('do'),
 * and dP, dS are cast inside the kernel ('dp', 'ds'). Forward saves only the FP8 codes of Q, K, V
 * and O plus the float32 log-sum-exp; backward reads the FP8 O (as fused FP8 attention kernels do).
 * The P/dP/dS scales are fixed in forward and reused in backward. Under 'current' scaling the
 * in-kernel casts use P's known bound (amax 1) for P; dP and dS cannot be measured before the
 * fused kernel forms them, so their scales come from the previous backward's amaxes (the op sets
 * them after each training backward; the very first backward casts with scale 1, as delayed does).
 * Otherwise forward saves float32 copies of q, k, v, o (BF16-rounded q, k, v and dO under 'bf16').
 */
import type { AttentionFp8Scales, AttentionShape, CastStats, FloatArray, Fp8FormatName } from '../kernels/types.js';
import { fp8Format } from '../numerics/formats.js';
import { computeScale, currentScale } from '../numerics/scaling.js';
import { Fp8Operand, mergeStats } from './cast.js';
import type { OpContext } from './context.js';
import type { TapeNode } from './tape.js';
import { wantsTensorStats } from './monitor.js';

export class AttentionOp implements TapeNode {
  readonly label: string;
  private readonly shape: AttentionShape;
  private readonly fp8: boolean;
  private readonly lse: FloatArray; // (B, Hq, T)
  // FP8DPA saves
  private readonly qCodes: Uint8Array | null; // (B, T, Hq, D)
  private readonly kCodes: Uint8Array | null; // (B, T, Hkv, D)
  private readonly vCodes: Uint8Array | null;
  private readonly oCodes: Uint8Array | null; // (B, T, Hq, D)
  private qkvInv = 1;
  private oInv = 1;
  private scales: AttentionFp8Scales = { p: 1, dp: 1, ds: 1 };
  // wide saves
  private readonly qSaved: FloatArray | null;
  private readonly kSaved: FloatArray | null;
  private readonly vSaved: FloatArray | null;
  private readonly oSaved: FloatArray | null;
  private readonly ops: Record<'qkv' | 'p' | 'o' | 'do' | 'dp' | 'ds', Fp8Operand> | null;

  constructor(
    private readonly ctx: OpContext, private readonly layer: number, key: string, shape: AttentionShape,
    private readonly q: FloatArray, private readonly k: FloatArray, private readonly v: FloatArray, private readonly o: FloatArray,
    private readonly dO: FloatArray, private readonly dq: FloatArray, private readonly dk: FloatArray, private readonly dv: FloatArray,
  ) {
    this.label = key;
    this.shape = { ...shape };
    const { B, T, Hq, Hkv, D } = shape;
    const nq = B * T * Hq * D;
    const nkv = B * T * Hkv * D;
    for (const [name, a, n] of [['q', q, nq], ['k', k, nkv], ['v', v, nkv], ['o', o, nq], ['dO', dO, nq], ['dq', dq, nq], ['dk', dk, nkv], ['dv', dv, nkv]] as const) {
      if (a.length !== n) throw new TypeError(`AttentionOp(${key}): ${name} has length ${a.length}, expected ${n}`);
    }
    const r = ctx.recipe;
    // The recipe refuses fp8Attention with block scaling; a per-GEMM override keeps this one in BF16.
    this.fp8 = r.gemm === 'fp8' && r.fp8Attention && !ctx.isOverridden(key);
    this.lse = ctx.alloc(B * Hq * T);
    const gemm = 'attn.dpa';
    this.ops = this.fp8
      ? {
          qkv: new Fp8Operand(ctx, layer, key, gemm, 'qkv'),
          p: new Fp8Operand(ctx, layer, key, gemm, 'p'),
          o: new Fp8Operand(ctx, layer, key, gemm, 'o'),
          do: new Fp8Operand(ctx, layer, key, gemm, 'do'),
          dp: new Fp8Operand(ctx, layer, key, gemm, 'dp'),
          ds: new Fp8Operand(ctx, layer, key, gemm, 'ds'),
        }
      : null;
    this.qCodes = this.fp8 ? new Uint8Array(nq) : null;
    this.kCodes = this.fp8 ? new Uint8Array(nkv) : null;
    this.vCodes = this.fp8 ? new Uint8Array(nkv) : null;
    this.oCodes = this.fp8 ? new Uint8Array(nq) : null;
    this.qSaved = this.fp8 ? null : ctx.alloc(nq);
    this.kSaved = this.fp8 ? null : ctx.alloc(nkv);
    this.vSaved = this.fp8 ? null : ctx.alloc(nkv);
    this.oSaved = this.fp8 ? null : ctx.alloc(nq);
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

  /** q, k, v decoded from the codes forward saved, into scratch slots 1–3 (shared by forward and backward). */
  private dequantizeQkv(fmt: Fp8FormatName): [FloatArray, FloatArray, FloatArray] {
    const kn = this.ctx.kernels;
    const s = this.ctx.scratch;
    const qh = s.floats(this.q.length, 1);
    const kh = s.floats(this.k.length, 2);
    const vh = s.floats(this.v.length, 3);
    kn.dequantize(this.qCodes as Uint8Array, fmt, this.qkvInv, qh);
    kn.dequantize(this.kCodes as Uint8Array, fmt, this.qkvInv, kh);
    kn.dequantize(this.vCodes as Uint8Array, fmt, this.qkvInv, vh);
    return [qh, kh, vh];
  }

  forward(): void {
    const kn = this.ctx.kernels;
    let stats;
    if (this.fp8) {
      const ops = this.ops as NonNullable<typeof this.ops>;
      const r = this.ctx.recipe;
      const qkvScale = ops.qkv.scaleFor([this.q, this.k, this.v]);
      const fmt = ops.qkv.format;
      const total: CastStats = { amax: 0, underflow: 0, overflow: 0, nonzero: 0 };
      mergeStats(total, kn.quantize(this.q, fmt, qkvScale, this.qCodes as Uint8Array));
      mergeStats(total, kn.quantize(this.k, fmt, qkvScale, this.kCodes as Uint8Array));
      mergeStats(total, kn.quantize(this.v, fmt, qkvScale, this.vCodes as Uint8Array));
      ops.qkv.record(total, qkvScale, this.q.length + this.k.length + this.v.length);
      this.qkvInv = 1 / Math.fround(qkvScale);
      const [qh, kh, vh] = this.dequantizeQkv(fmt);
      const pScale = r.scaling === 'current' ? currentScale(1, fp8Format(ops.p.format), r.margin) : ops.p.slot.scale;
      this.scales = { p: pScale, dp: ops.dp.slot.scale, ds: ops.ds.slot.scale };
      stats = kn.attentionForward(qh, kh, vh, this.o, this.lse, this.shape, this.scales, { maxLogit: wantsTensorStats(this.ctx.monitor) });
      if (stats.p) ops.p.record(stats.p, pScale, this.causalCount());
      this.oInv = ops.o.quantize(this.o, this.oCodes as Uint8Array);
    } else {
      if (this.ctx.recipe.gemm === 'bf16' || this.ctx.isOverridden(this.label)) {
        kn.roundBf16(this.q, this.q);
        kn.roundBf16(this.k, this.k);
        kn.roundBf16(this.v, this.v);
      }
      (this.qSaved as FloatArray).set(this.q);
      (this.kSaved as FloatArray).set(this.k);
      (this.vSaved as FloatArray).set(this.v);
      stats = kn.attentionForward(this.q, this.k, this.v, this.o, this.lse, this.shape, null, { maxLogit: wantsTensorStats(this.ctx.monitor) });
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
      const fmt = ops.qkv.format;
      const [qh, kh, vh] = this.dequantizeQkv(fmt);
      const oh = s.floats(this.o.length, 4);
      const doh = s.floats(this.dO.length, 5);
      kn.dequantize(this.oCodes as Uint8Array, ops.o.format, this.oInv, oh);
      ops.do.fakeQuantize(this.dO, doh);
      const st = kn.attentionBackward(qh, kh, vh, oh, this.lse, doh, this.dq, this.dk, this.dv, this.shape, this.scales);
      if (st.dp) ops.dp.record(st.dp, this.scales.dp, this.causalCount());
      if (st.ds) ops.ds.record(st.ds, this.scales.ds, this.causalCount());
      // Current scaling: ScalingState never updates these slots, so the op keeps them at
      // "most recent" (without this they stay at 1 and most of dS underflows E5M2).
      if (this.ctx.recipe.scaling === 'current' && this.ctx.training) {
        const margin = this.ctx.recipe.margin;
        if (st.dp) ops.dp.slot.scale = computeScale(st.dp.amax, fp8Format(ops.dp.format).maxFinite, margin, ops.dp.slot.scale);
        if (st.ds) ops.ds.slot.scale = computeScale(st.ds.amax, fp8Format(ops.ds.format).maxFinite, margin, ops.ds.slot.scale);
      }
    } else {
      let dO = this.dO;
      if (this.ctx.recipe.gemm === 'bf16' || this.ctx.isOverridden(this.label)) {
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
