/**
 * The block wiring for one (B, T) shape: every op of the model, built once with its buffers and
 * reused every step (no allocation in the hot loop). The block reads the config's knobs only.
 * Forward activations and backward gradients live in buffers shared by all layers; what backward
 * needs is saved by each op on purpose (see each op's savedBytes()). The one exception is the fc1
 * output h, which the MLP activation's backward reads: one buffer per layer, or one shared buffer
 * refilled by recomputing fc1 in backward (`recomputeMlp`: less memory, one more GEMM per layer). Every tensor handed from one op
 * to the next is an entry of the activation table (activation-table.ts), bound here to its buffer;
 * a Boundary per producer op rounds the entries the recipe makes BF16 (recipe.activations).
 */
import type { FloatArray, Fp8Codes } from '../kernels/types.js';
import { isGatedMlp, type ModelConfig } from './config.js';
import { EMBED_NAME, FINAL_NORM_NAME, layerParamNames, lmHeadParamName, type ParameterStore } from './params.js';
import type { GemmPrecision } from '../numerics/recipe.js';
import type { OpContext } from '../ops/context.js';
import { LinearOp, type WeightCastCache } from '../ops/linear.js';
import { RmsNormOp, TanhOp } from '../ops/norm.js';
import { RopeOp } from '../ops/rope.js';
import { AttentionOp } from '../ops/attention.js';
import { ActivationOp, RowScaleOp } from '../ops/activations.js';
import { ForkOp, LayerScaleOp, residualAdd } from '../ops/elementwise.js';
import { EmbeddingOp } from '../ops/embedding.js';
import { LmHeadLossOp } from '../ops/lm-head-loss.js';
import { Boundary, type BoundTensor, type FusesRounding } from '../ops/boundary.js';
import { buildActivationTable, isRoundedBf16, type Producer } from './activation-table.js';
import { Fp8Operand } from '../ops/cast.js';
import { attendCached, type CachedAttentionCast, type KvCache, type KvStorage } from './kv-cache.js';
import { P_BOUND } from '../ops/attention.js';
import { wantsTensorStats } from '../ops/monitor.js';

/** The QKV split's "op": q, k and v are views of the planar projection output, so there is nothing to do. */
const VIEWS_ONLY = { forward(): void {} };
/** Scratch slot (float) of the row-layout QKV copy the monitor reads (linear.ts uses 8–9, attention 1–5, the head 6–7). */
const QKV_ROWS_SLOT = 10;

/** Consecutive blocks of R·width elements of a planar buffer. */
function planarBlocks(buffer: FloatArray, R: number, widths: readonly number[]): FloatArray[] {
  let at = 0;
  return widths.map((w) => buffer.subarray(at, (at += R * w)));
}

interface SavesForBackward {
  savedBytes(): number;
}

interface LayerOps {
  fork1: ForkOp;
  inputNorm: RmsNormOp | null;
  qkv: LinearOp;
  qNorm: RmsNormOp | TanhOp | null;
  kNorm: RmsNormOp | TanhOp | null;
  qRope: RopeOp;
  kRope: RopeOp;
  attention: AttentionOp;
  out: LinearOp;
  attnPost: RmsNormOp | LayerScaleOp | null;
  fork2: ForkOp;
  postAttnNorm: RmsNormOp | null;
  fc1: LinearOp;
  act: ActivationOp;
  fc2: LinearOp;
  rowScale: RowScaleOp | null;
  mlpPost: RmsNormOp | LayerScaleOp | null;
}

export class ModelGraph {
  readonly B: number;
  readonly T: number;
  private readonly R: number;
  private readonly ctx: OpContext;
  private readonly c: ModelConfig;
  // forward buffers shared by every layer
  private readonly res: FloatArray; // (R, d) residual stream, updated in place
  private readonly xa: FloatArray; // (R, d) pre-norm output
  private readonly qkvOut: FloatArray; // planar: q (R, Wq), then k (R, Wkv), then v (R, Wkv)
  private readonly q: FloatArray; // (R, Hq·D)
  private readonly k: FloatArray; // (R, Hkv·D)
  private readonly v: FloatArray; // (R, Hkv·D)
  private readonly qn: FloatArray; // (R, Hq·D) after QK norm (aliases q without one)
  private readonly kn: FloatArray; // (R, Hkv·D)
  private readonly o: FloatArray; // (R, Hq·D)
  private readonly ao: FloatArray; // (R, d) out-proj output
  private readonly bo: FloatArray; // (R, d) branch output (aliases ao without post-op)
  private readonly h: FloatArray[]; // per layer (R, F1) fc1 output (one shared buffer unless kept per layer in float32)
  private readonly a: FloatArray; // (R, F) activation output
  private readonly mo: FloatArray; // (R, d) fc2 output
  private readonly bm: FloatArray; // (R, d)
  private readonly xf: FloatArray; // (R, d) final norm output (aliases res without one)
  /** (R, V) logits for forwardLogits (generation), allocated on first use; training never holds them. */
  private fullLogits: FloatArray | null = null;
  private readonly layers: LayerOps[] = [];
  /** Per layer, the Boundary of each producer op of the activation table. */
  private readonly bounds: Partial<Record<Producer, Boundary>>[] = [];
  /** Boundaries of the ops outside the blocks (embedding, final norm, LM head). */
  private readonly top: Partial<Record<Producer, Boundary>> = {};
  /** Per layer: whether the two residual adds round the stream to BF16 themselves (taken from their boundaries). */
  private readonly residualRound: { attn: boolean; mlp: boolean }[] = [];
  private readonly embedding: EmbeddingOp;
  private readonly finalNorm: RmsNormOp | null;
  private readonly lmHead: LinearOp;
  private readonly loss: LmHeadLossOp;
  /** Buffers of the cached (incremental decoding) path, allocated on first use. */
  private decode: { qCodes: Uint8Array; kCodes: Uint8Array; vCodes: Uint8Array; oCodes: Uint8Array; ops: ({ qkv: Fp8Operand; p: Fp8Operand; o: Fp8Operand } | null)[] } | null = null;

  constructor(
    ctx: OpContext, c: ModelConfig, params: ParameterStore<FloatArray>, grads: ParameterStore<FloatArray>, B: number, T: number,
    weightCache: (key: string) => WeightCastCache, recomputeMlp: boolean,
  ) {
    this.ctx = ctx;
    this.c = c;
    this.B = B;
    this.T = T;
    const R = (this.R = B * T);
    const d = c.dModel;
    const D = c.headDim;
    const Wq = c.nHeads * D;
    const Wkv = c.nKvHeads * D;
    const gated = isGatedMlp(c.mlp);
    const F = c.ffnDim;
    const F1 = gated ? 2 * F : F;
    const V = c.vocabSize;
    const f = (n: number) => ctx.alloc(n);
    this.res = f(R * d);
    this.xa = c.preNorm ? f(R * d) : this.res;
    // The QKV projection writes q, k and v as column blocks one after another (LinearSpec.outputBlocks):
    // the split is three views, forward and backward, and costs no copy.
    this.qkvOut = f(R * (Wq + 2 * Wkv));
    [this.q, this.k, this.v] = planarBlocks(this.qkvOut, R, [Wq, Wkv, Wkv]);
    this.qn = c.qkNorm === 'none' ? this.q : f(R * Wq);
    this.kn = c.qkNorm === 'none' ? this.k : f(R * Wkv);
    this.o = f(R * Wq);
    this.ao = f(R * d);
    const branchPost = c.postNorm || c.layerScale;
    this.bo = branchPost ? f(R * d) : this.ao;
    // How the MLP activation's backward gets each layer's fc1 output h back: recomputed (one
    // shared float32 h), or kept per layer — as BF16 bits when the table makes h a BF16 tensor
    // (exact: h holds BF16 values; the activation kernels read the bits, and forward's float32 h
    // is one buffer shared by the layers), else in float32.
    const keepBits = !recomputeMlp && isRoundedBf16(c, ctx.recipe.activations, 'fc1.out');
    const sharedH = recomputeMlp || keepBits ? f(R * F1) : null;
    this.h = Array.from({ length: c.nLayers }, () => sharedH ?? f(R * F1));
    const hBits = keepBits ? Array.from({ length: c.nLayers }, () => ctx.u16(R * F1)) : null;
    this.a = f(R * F);
    this.mo = f(R * d);
    this.bm = branchPost ? f(R * d) : this.mo;
    this.xf = c.finalNorm ? f(R * d) : this.res;
    // gradient buffers shared by every layer
    const dres = f(R * d);
    const dbranch = f(R * d); // gradient w.r.t. a branch's input, added into dres by the fork
    const dqkv = f(R * (Wq + 2 * Wkv)); // planar, as qkvOut
    const [dq, dk, dv] = planarBlocks(dqkv, R, [Wq, Wkv, Wkv]);
    const dqn = c.qkNorm === 'none' ? dq : f(R * Wq);
    const dkn = c.qkNorm === 'none' ? dk : f(R * Wkv);
    const dO = f(R * Wq);
    const dao = branchPost ? f(R * d) : dres;
    const dxPre = c.preNorm ? f(R * d) : dbranch; // gradient w.r.t. a pre-norm's output
    const dh = f(R * F1);
    const da = f(R * F);
    const dmoPre = c.mlp === 'smooth-swiglu' ? f(R * d) : null; // gradient w.r.t. fc2 output before × s
    const dmo = branchPost ? f(R * d) : dres;
    const dxf = c.finalNorm ? f(R * d) : dres;

    const P = (n: string) => params.get(n);
    const G = (n: string) => grads.get(n);
    const eps = c.normEps;
    const blockPrecision: GemmPrecision = ctx.recipe.gemm;
    const lin = (
      layer: number, name: string, names: string[], N: number, K: number, x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray,
      outputBlocks?: number[],
    ) => {
      const key = `layers.${layer}.${name}`;
      const spec = { layer, key, gemm: name, M: R, N, K, precision: ctx.precisionOf(key, blockPrecision), outputBlocks };
      return new LinearOp(ctx, spec, params.span(names), grads.span(names), weightCache(key), x, y, dy, dx);
    };

    this.embedding = new EmbeddingOp(ctx, R, d, V, c.inputUpscale, P(EMBED_NAME), G(EMBED_NAME), this.res, dres);
    for (let i = 0; i < c.nLayers; i++) {
      const n = layerParamNames(i);
      const pre = `layers.${i}`;
      const qkNormOp = (which: 'q' | 'k', x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray, heads: number) => {
        const rows = R * heads;
        switch (c.qkNorm) {
          case 'none': return null;
          case 'rmsnorm': return new RmsNormOp(ctx, `${pre}.attn.${which}_norm`, rows, D, eps, null, null, x, y, dy, dx);
          case 'rmsnorm-gain': {
            const g = which === 'q' ? n.qNormGain : n.kNormGain;
            return new RmsNormOp(ctx, `${pre}.attn.${which}_norm`, rows, D, eps, P(g), G(g), x, y, dy, dx);
          }
          case 'tanh': {
            const g = which === 'q' ? n.qNormAlpha : n.kNormAlpha;
            return new TanhOp(ctx, `${pre}.attn.${which}_norm`, P(g), G(g), x, y, dy, dx);
          }
          default: { const never: never = c.qkNorm; throw new RangeError(`unknown qkNorm ${String(never)}`); }
        }
      };
      const branchPostOp = (normName: string, scaleName: string, x: FloatArray, y: FloatArray, dy: FloatArray, dx: FloatArray, label: string) => {
        if (c.postNorm && c.layerScale) throw new RangeError('model config: postNorm and layerScale cannot both be on');
        if (c.postNorm) return new RmsNormOp(ctx, label, R, d, eps, P(normName), G(normName), x, y, dy, dx);
        if (c.layerScale) return new LayerScaleOp(ctx, label, R, d, P(scaleName), G(scaleName), x, y, dy, dx);
        return null;
      };
      const fc1 = lin(i, 'mlp.fc1', gated ? [n.gate, n.up] : [n.up], F1, d, this.xa, this.h[i], dh, dxPre);
      const act = new ActivationOp(
        ctx, `${pre}.mlp.act`, c.mlp, R, F, this.h[i], this.a, da, dh,
        c.mlp === 'xielu' ? { ap: P(n.alphaP), an: P(n.alphaN), dap: G(n.alphaP), dan: G(n.alphaN) } : null,
        recomputeMlp
          ? () => {
              // h is recomputed in backward, not kept; rounded again exactly as forward handed it on
              fc1.recomputeOutput();
              this.bounds[i].fc1?.roundForward();
            }
          : (hBits?.[i] ?? 'own'),
      );
      this.layers.push({
        fork1: new ForkOp(ctx, `${pre}.attn.fork`, dres, dbranch),
        inputNorm: c.preNorm ? new RmsNormOp(ctx, `${pre}.input_norm`, R, d, eps, P(n.inputNorm), G(n.inputNorm), this.res, this.xa, dxPre, dbranch) : null,
        qkv: lin(i, 'attn.qkv', [n.q, n.k, n.v], Wq + 2 * Wkv, d, this.xa, this.qkvOut, dqkv, dxPre, [Wq, Wkv, Wkv]),
        qNorm: qkNormOp('q', this.q, this.qn, dqn, dq, c.nHeads),
        kNorm: qkNormOp('k', this.k, this.kn, dkn, dk, c.nKvHeads),
        qRope: new RopeOp(ctx, `${pre}.attn.q_rope`, B, T, c.nHeads, D, c.ropeTheta, c.ropeScaling, this.qn, dqn),
        kRope: new RopeOp(ctx, `${pre}.attn.k_rope`, B, T, c.nKvHeads, D, c.ropeTheta, c.ropeScaling, this.kn, dkn),
        attention: new AttentionOp(
          ctx, i, `${pre}.attn.dpa`, { B, T, Hq: c.nHeads, Hkv: c.nKvHeads, D, softmaxScale: c.softmaxScale },
          this.qn, this.kn, this.v, this.o, dO, dqn, dkn, dv,
        ),
        out: lin(i, 'attn.out', [n.o], d, Wq, this.o, this.ao, dao, dO),
        attnPost: branchPostOp(n.attnPostNorm, n.attnLayerScale, this.ao, this.bo, dres, dao, `${pre}.attn.post`),
        fork2: new ForkOp(ctx, `${pre}.mlp.fork`, dres, dbranch),
        postAttnNorm: c.preNorm
          ? new RmsNormOp(ctx, `${pre}.post_attention_norm`, R, d, eps, P(n.postAttnNorm), G(n.postAttnNorm), this.res, this.xa, dxPre, dbranch)
          : null,
        fc1,
        act,
        fc2: lin(i, 'mlp.fc2', [n.down], d, F, this.a, this.mo, dmoPre ?? dmo, da),
        rowScale: c.mlp === 'smooth-swiglu' ? new RowScaleOp(ctx, `${pre}.mlp.rescale`, R, d, act.s, this.mo, this.mo, dmo, dmoPre as FloatArray) : null,
        mlpPost: branchPostOp(n.mlpPostNorm, n.mlpLayerScale, this.mo, this.bm, dres, dmo, `${pre}.mlp.post`),
      });
    }
    this.finalNorm = c.finalNorm ? new RmsNormOp(ctx, 'model.norm', R, d, eps, P(FINAL_NORM_NAME), G(FINAL_NORM_NAME), this.res, this.xf, dxf, dres) : null;
    const headPrecision: GemmPrecision = ctx.recipe.gemm === 'fp8' && !ctx.recipe.fp8LmHead ? 'bf16' : ctx.recipe.gemm;
    // The fused head never holds (R, V) logits: the linear has no y/dy buffers, only chunks.
    this.lmHead = new LinearOp(
      ctx, {
        layer: -1, key: 'lm_head', gemm: 'lm_head', M: R, N: V, K: d, precision: ctx.precisionOf('lm_head', headPrecision),
        transientInput: true, sharedGrad: lmHeadParamName(c) === EMBED_NAME,
      },
      // Tied: the head's wgrad accumulates into the embedding's gradient, like the embedding's scatter-add.
      P(lmHeadParamName(c)), G(lmHeadParamName(c)), weightCache('lm_head'), this.xf, null, null, dxf,
    );
    const bf16 = ctx.recipe.activations === 'bf16';
    this.loss = new LmHeadLossOp(ctx, this.lmHead, R, V, dxf, undefined, bf16);

    // The activation table bound to the buffers above: the one place that decides each tensor's dtype.
    const buffers: Record<string, FloatArray | null> = {
      'embedding.out': this.res,
      'input_norm.out': this.xa,
      'qkv.out': this.qkvOut,
      'split.q': this.q,
      'split.k': this.k,
      'split.v': this.v,
      'q_norm.out': this.qn,
      'k_norm.out': this.kn,
      'q_rope.out': this.qn,
      'k_rope.out': this.kn,
      'attention.out': this.o,
      'attn_out.out': this.ao,
      'attn_post.out': this.bo,
      'attn_residual.out': this.res,
      'post_attn_norm.out': this.xa,
      'fc1.out': this.h[0], // per layer: bound below
      'act.out': this.a,
      'fc2.out': this.mo,
      'rescale.out': this.mo,
      'mlp_post.out': this.bm,
      'mlp_residual.out': this.res,
      'final_norm.out': this.xf,
      'd.lm_head.in': dxf,
      'd.final_norm.in': dres,
      'd.mlp_post.in': dmo,
      'd.rescale.in': dmoPre,
      'd.fc2.in': da,
      'd.act.in': dh,
      'd.fc1.in': dxPre,
      'd.post_attn_norm.in': dbranch,
      'd.mlp_fork.out': dres,
      'd.attn_post.in': dao,
      'd.attn_out.in': dO,
      'd.attention.q': dqn,
      'd.attention.k': dkn,
      'd.attention.v': dv,
      'd.q_rope.in': dqn,
      'd.k_rope.in': dkn,
      'd.q_norm.in': dq,
      'd.k_norm.in': dk,
      'd.split.in': dqkv,
      'd.qkv.in': dxPre,
      'd.input_norm.in': dbranch,
      'd.attn_fork.out': dres,
    };
    const byProducer = new Map<Producer, { perLayer: boolean; fwd: BoundTensor[]; bwd: BoundTensor[] }>();
    for (const spec of buildActivationTable(c, ctx.recipe.activations)) {
      if (spec.rounding === 'op' && !(spec.name in buffers)) continue; // the op rounds and reports it itself (LM head chunks)
      const buffer = buffers[spec.name];
      if (!buffer || buffer.length !== R * spec.cols) {
        throw new Error(`ModelGraph: activation table entry ${spec.name} has no buffer of R·${spec.cols} elements (got ${buffer?.length ?? 'none'})`);
      }
      let e = byProducer.get(spec.producer);
      if (!e) byProducer.set(spec.producer, (e = { perLayer: spec.perLayer, fwd: [], bwd: [] }));
      (spec.pass === 'forward' ? e.fwd : e.bwd).push({ name: spec.name, buffer, round: spec.dtype === 'bf16' && spec.rounding === 'round' });
    }
    for (let i = 0; i < c.nLayers; i++) this.bounds.push({});
    for (const [producer, e] of byProducer) {
      if (!e.perLayer) this.top[producer] = new Boundary(ctx, producer, -1, e.fwd, e.bwd);
      else {
        for (let i = 0; i < c.nLayers; i++) {
          const fwd = e.fwd.map((t) => (t.name === 'fc1.out' ? { ...t, buffer: this.h[i] } : t));
          this.bounds[i][producer] = new Boundary(ctx, `layers.${i}.${producer}`, i, fwd, e.bwd);
        }
      }
    }
    // Where the producing kernel can round as it writes, it takes the rounding from its boundary
    // (the same bits in one pass instead of two).
    for (let i = 0; i < c.nLayers; i++) {
      const b = this.bounds[i];
      const L = this.layers[i];
      const fused: [Producer, FusesRounding | null][] = [
        ['attn_fork', L.fork1], ['mlp_fork', L.fork2], ['input_norm', L.inputNorm], ['post_attn_norm', L.postAttnNorm],
        ['q_rope', L.qRope], ['k_rope', L.kRope], ['attention', L.attention], ['act', L.act],
        ['q_norm', L.qNorm instanceof RmsNormOp ? L.qNorm : null], ['k_norm', L.kNorm instanceof RmsNormOp ? L.kNorm : null],
        ['attn_post', L.attnPost instanceof RmsNormOp ? L.attnPost : null], ['mlp_post', L.mlpPost instanceof RmsNormOp ? L.mlpPost : null],
        ['qkv', L.qkv], ['attn_out', L.out], ['fc1', L.fc1], ['fc2', L.fc2],
      ];
      for (const [producer, op] of fused) {
        const boundary = b[producer];
        if (op && boundary) op.fuseRounding(boundary);
      }
      // fc2's input and fc1's grad_output are cast by the activation's kernels as they write them
      L.act.fuseCasts(L.fc2, L.fc1);
      // the pre-norms' outputs are cast for the qkv and fc1 linears by the RMSNorm kernel
      L.inputNorm?.fuseCast(L.qkv);
      L.postAttnNorm?.fuseCast(L.fc1);
      this.residualRound.push({
        attn: b.attn_residual?.takeForwardRounding(this.res) ?? false,
        mlp: b.mlp_residual?.takeForwardRounding(this.res) ?? false,
      });
    }
    if (this.finalNorm && this.top.final_norm) this.finalNorm.fuseRounding(this.top.final_norm);
  }

  /** Runs one op's forward between its boundaries (see Boundary): rounding and probe points of the table. */
  private run(b: Boundary | undefined, op: { forward(): void } | null): void {
    if (!op) return;
    b?.armBackward();
    op.forward();
    b?.afterForward();
  }

  /** Bytes kept alive from forward to backward (every op's saved buffers) for one step. */
  savedBytes(): number {
    const all: SavesForBackward[] = [this.embedding, this.lmHead, this.loss];
    if (this.finalNorm) all.push(this.finalNorm);
    for (const l of this.layers) for (const op of Object.values(l)) if (op) all.push(op as SavesForBackward);
    return all.reduce((s, op) => s + op.savedBytes(), 0);
  }

  /** qkvOut in the row layout (R, Wq + 2·Wkv), in scratch: per-sequence statistics read a sequence's rows. */
  private qkvRows(): FloatArray {
    const widths = [this.q.length, this.k.length, this.v.length].map((n) => n / this.R);
    const W = widths[0] + widths[1] + widths[2];
    const rows = this.ctx.scratch.floats(this.R * W, QKV_ROWS_SLOT);
    let col0 = 0;
    [this.q, this.k, this.v].forEach((block, j) => {
      this.ctx.kernels.copyColumns(block, widths[j], 0, rows, W, col0, this.R, widths[j]);
      col0 += widths[j];
    });
    return rows;
  }

  private tap(layer: number, name: Parameters<NonNullable<OpContext['monitor']>['tensor']>[1], x: FloatArray): void {
    const m = this.ctx.monitor;
    if (m) m.tensor(layer, name, x, this.B, x.length / this.B);
  }

  /** Runs the forward pass up to the LM head's input (recorded on the tape when it is recording). */
  private forwardBody(inputs: Int32Array, cache: KvCache | null = null): void {
    const e = this.top.embedding;
    e?.armBackward();
    this.embedding.forward(inputs);
    e?.afterForward();
    for (let i = 0; i < this.layers.length; i++) {
      const L = this.layers[i];
      const b = this.bounds[i];
      this.tap(i, 'qkv_input', this.res);
      this.run(b.attn_fork, L.fork1);
      this.run(b.input_norm, L.inputNorm);
      this.run(b.qkv, L.qkv);
      if (wantsTensorStats(this.ctx.monitor)) this.tap(i, 'qkv', this.qkvRows());
      this.run(b.split, VIEWS_ONLY);
      this.run(b.q_norm, L.qNorm);
      this.run(b.k_norm, L.kNorm);
      this.tap(i, 'q', this.qn);
      this.tap(i, 'k', this.kn);
      if (cache) this.attendWithCache(i, L, cache);
      else {
        this.run(b.q_rope, L.qRope);
        this.run(b.k_rope, L.kRope);
        this.run(b.attention, L.attention);
      }
      this.run(b.attn_out, L.out);
      this.run(b.attn_post, L.attnPost);
      residualAdd(this.ctx, this.res, this.bo, this.residualRound[i].attn);
      b.attn_residual?.afterForward();
      this.run(b.mlp_fork, L.fork2);
      this.run(b.post_attn_norm, L.postAttnNorm);
      this.run(b.fc1, L.fc1);
      this.tap(i, 'mlp_intermediate', this.h[i]);
      this.run(b.act, L.act);
      this.tap(i, 'mlp_post_act', this.a);
      this.run(b.fc2, L.fc2);
      this.run(b.rescale, L.rowScale);
      this.tap(i, 'mlp_out', this.mo);
      this.run(b.mlp_post, L.mlpPost);
      residualAdd(this.ctx, this.res, this.bm, this.residualRound[i].mlp);
      b.mlp_residual?.afterForward();
      this.tap(i, 'activation', this.res);
    }
    this.run(this.top.final_norm, this.finalNorm);
  }

  /** How a KV cache stores layer i's K and V, as its attention casts them: FP8 codes (FP8DPA), BF16
   *  (BF16 attention: the bf16 recipe or a per-GEMM override of attn.dpa), else float32. */
  kvStorage(i: number): KvStorage {
    const a = this.layers[i].attention;
    return a.fp8 ? 'fp8' : a.bf16 ? 'bf16' : 'fp32';
  }

  /**
   * Attention of layer i for the T new rows at positions cache.length.. (B = 1): RoPE at those
   * positions, K/V cast as AttentionOp casts them and appended to the cache, then attendCached
   * over every cached position. Mirrors AttentionOp.forward in evaluation mode.
   */
  private attendWithCache(i: number, L: LayerOps, cache: KvCache): void {
    const c = this.c;
    const ctx = this.ctx;
    const kn = ctx.kernels;
    const n = this.T;
    const pos = cache.length;
    const D = c.headDim;
    const storage = this.kvStorage(i);
    if (!(this.qn instanceof Float32Array) || !(this.kn instanceof Float32Array) || !(this.v instanceof Float32Array) || !(this.o instanceof Float32Array)) {
      throw new TypeError('ModelGraph: the KV cache runs on float32 kernels');
    }
    if (!this.decode) {
      this.decode = {
        qCodes: ctx.u8(this.qn.length),
        kCodes: ctx.u8(this.kn.length),
        vCodes: ctx.u8(this.v.length),
        oCodes: ctx.u8(this.o.length),
        ops: this.layers.map((_, l) => {
          if (this.kvStorage(l) !== 'fp8') return null;
          const key = `layers.${l}.attn.dpa`;
          return { qkv: new Fp8Operand(ctx, l, key, 'attn.dpa', 'qkv'), p: new Fp8Operand(ctx, l, key, 'attn.dpa', 'p'), o: new Fp8Operand(ctx, l, key, 'attn.dpa', 'o') };
        }),
      };
    }
    const dec = this.decode;
    const b = this.bounds[i];
    L.qRope.forwardAt(pos, cache.maxLen);
    b.q_rope?.afterForward();
    L.kRope.forwardAt(pos, cache.maxLen);
    b.k_rope?.afterForward();
    const layerCache = cache.layers[i];
    const r = ctx.recipe;
    let q: Float32Array | Fp8Codes = this.qn;
    let pScale: number | null = null;
    let qInv = 1;
    const ops = dec.ops[i];
    if (ops) {
      const scale = ops.qkv.scaleFor([this.qn, this.kn, this.v]);
      kn.quantize(this.qn, ops.qkv.format, scale, dec.qCodes);
      kn.quantize(this.kn, ops.qkv.format, scale, dec.kCodes);
      kn.quantize(this.v, ops.qkv.format, scale, dec.vCodes);
      const inv = 1 / Math.fround(scale);
      q = { format: ops.qkv.format, data: dec.qCodes }; // the FP8 values (decoded by attendCached); inv scales the accumulators
      qInv = inv;
      layerCache.writeCodes(pos, dec.kCodes, dec.vCodes, inv);
      pScale = ops.p.fusedScale(P_BOUND);
    } else {
      if (storage === 'bf16' && r.activations !== 'bf16') {
        kn.roundBf16(this.qn, this.qn);
        kn.roundBf16(this.kn, this.kn);
        kn.roundBf16(this.v, this.v);
      }
      layerCache.writeFloat(pos, this.kn, this.v);
    }
    const len = pos + n;
    const width = c.nKvHeads * D;
    const k = cache.kScratch.subarray(0, len * width);
    const v = cache.vScratch.subarray(0, len * width);
    const kvInv = cache.invScratch.subarray(0, len);
    layerCache.read(len, k, v, kvInv);
    // The cast AttentionOp's kernel applies: FP8DPA, BF16 attention (recipe 'bf16'), or none.
    const cast: CachedAttentionCast = pScale !== null ? { mode: 'fp8', pScale, qInv, kvInv } : { mode: storage === 'bf16' ? 'bf16' : 'fp32' };
    attendCached(q, k, v, this.o, { n, pos, Hq: c.nHeads, Hkv: c.nKvHeads, D, softmaxScale: c.softmaxScale }, cast);
    if (ops) {
      // O is cast E4M3 and handed on dequantized, as AttentionOp.forward does.
      const oInv = ops.o.quantize(this.o, dec.oCodes);
      kn.dequantize(dec.oCodes, ops.o.format, oInv, this.o);
    }
    if (r.activations === 'bf16') kn.roundBf16(this.o, this.o);
    b.attention?.afterForward();
  }

  /**
   * (T, V) logits of T new tokens (B = 1) at positions cache.length.. with every earlier position
   * read from the cache; appends their K/V and advances cache.length by T. Evaluation only.
   */
  forwardCached(inputs: Int32Array, cache: KvCache): FloatArray {
    if (this.B !== 1) throw new RangeError(`ModelGraph.forwardCached: B must be 1, got ${this.B}`);
    if (this.ctx.tape.recording) throw new Error('ModelGraph.forwardCached is for evaluation');
    if (cache.length + this.T > cache.maxLen) throw new RangeError(`ModelGraph.forwardCached: ${cache.length} cached + ${this.T} new positions exceed the cache's ${cache.maxLen}`);
    this.forwardBody(inputs, cache);
    cache.length += this.T;
    if (!this.fullLogits) this.fullLogits = this.ctx.alloc(this.R * this.c.vocabSize);
    this.loss.logits(this.fullLogits);
    return this.fullLogits;
  }

  /** (R, V) logits (evaluation only: the view is reused by the next call; allocated on first use). */
  forwardLogits(inputs: Int32Array): FloatArray {
    if (this.ctx.tape.recording) throw new Error('ModelGraph.forwardLogits is for evaluation; training uses forwardLoss');
    this.forwardBody(inputs);
    if (!this.fullLogits) this.fullLogits = this.ctx.alloc(this.R * this.c.vocabSize);
    this.loss.logits(this.fullLogits);
    return this.fullLogits;
  }

  /**
   * Forward to the mean loss over non-ignored targets. With `gradScale` (training: the tape is
   * recording) the fused LM head + loss also runs its backward, scaled by gradScale.
   */
  forwardLoss(inputs: Int32Array, targets: Int32Array, gradScale: number | null = null): number {
    if ((gradScale !== null) !== this.ctx.tape.recording) {
      throw new Error(`ModelGraph.forwardLoss: gradScale must be given exactly when the tape records (recording: ${this.ctx.tape.recording})`);
    }
    this.forwardBody(inputs);
    this.top.lm_head?.armBackward(); // its backward rounds the head's input gradient, written during forward
    return this.loss.forward(targets, gradScale);
  }

  /** The tape replays every recorded op backward. */
  backward(): void {
    this.ctx.tape.backward();
  }
}
