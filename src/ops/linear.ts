/**
 * The FP8-aware linear y (M, N) = Q(x) (M, K) · Q(W)ᵀ (N, K), forward and backward side by side.
 * Three GEMMs with explicit roles: fprop (input, weight), dgrad (grad_output, weight), wgrad
 * (grad_output, input). Q is the FP8 cast ('fp8'), BF16 rounding ('bf16') or the identity ('fp32').
 * Forward saves only Q(x) — FP8 codes (1 byte/elem), BF16 bits (2 bytes) or a float32 copy — and
 * the weight is cast once per optimizer step into a cache reused by every micro-batch. Block
 * scaling fake-quantizes per tile (1×128 for x and dy along their rows, 128×128 for W) and runs
 * float32 GEMMs on the fake-quantized copies; it saves the fake-quantized x as float32.
 *
 * Two uses beyond forward/backward: recomputeOutput() re-runs fprop from the saved Q(x) (bit-identical
 * y, so a consumer of y need not save it), and the row-range methods (castInput, fpropRows,
 * backwardRows) let the fused LM head run fprop/dgrad/wgrad chunk by chunk inside its forward; such
 * a linear is built with `transientInput`, its Q(x) living in scratch rather than being saved.
 */
import type { CastStats, FloatArray, FusedCast, GemmOperand } from '../kernels/types.js';
import type { GemmPrecision } from '../numerics/recipe.js';
import { Fp8Operand, mergeStats } from './cast.js';
import type { Boundary } from './boundary.js';
import type { OpContext } from './context.js';
import type { TapeNode } from './tape.js';

/** The per-optimizer-step cast of one weight, shared by every shape's LinearOp of that weight. */
export class WeightCastCache {
  /** OpContext.weightEpoch the cast was made in; −1 = never / stale. */
  epoch = -1;
  codes: Uint8Array | null = null; // (N, K) fp8
  bits: Uint16Array | null = null; // (N, K) bf16
  fakeQuant: FloatArray | null = null; // (N, K) block-scaled
  invScale = 1;
  /**
   * The weight's gradient when only its wgrad writes it (not a tied LM head, whose gradient the
   * embedding adds to as well): Model.zeroGrads leaves it unfilled and sets gradPending, and the
   * step's first wgrad writes dW (GEMM β = 0) instead of adding to zeros — PyTorch's
   * zero_grad(set_to_none) without the None. Same values; one pass over the weights' gradients less.
   */
  grad: FloatArray | null = null;
  gradPending = false;

  /** The wgrad's β: 0 for the first write after Model.zeroGrads (which it consumes), else 1. */
  takeGradBeta(): number {
    if (!this.gradPending) return 1;
    this.gradPending = false;
    return 0;
  }
}

export interface LinearSpec {
  layer: number;
  /** Scaling-slot prefix, e.g. 'layers.0.attn.qkv' or 'lm_head'. */
  key: string;
  /** Monitor name, e.g. 'attn.qkv'. */
  gemm: string;
  M: number;
  N: number;
  K: number;
  precision: GemmPrecision;
  /** Q(x) is consumed within one forward (fused LM head): kept in scratch, not saved. */
  transientInput?: boolean;
  /** Another op adds into this weight's gradient too (tied embeddings): it is zeroed, not overwritten. */
  sharedGrad?: boolean;
  /**
   * y and dy are held planar, as these column blocks one after another (block j: a contiguous
   * (M, width_j) matrix), so each block is a view its consumer reads directly (q, k, v of the
   * fused QKV projection; no split copies). fprop runs one GEMM per block on that block's weight
   * rows; the grad cast writes the blocks into the row layout the dgrad and wgrad GEMMs read. Same
   * values as the row layout: every element is the same dot product.
   */
  outputBlocks?: readonly number[];
}

/** Scratch slot of a transient Q(x); other ops use slots 0–7. */
const TRANSIENT_INPUT_SLOT = 8;
/** Scratch slot (u16) of backwardRows' BF16 dy. */
const BF16_GRAD_SLOT = 0;
/** Scratch slot (float) of a planar dy gathered into rows for a cast without a column-block kernel. */
const GATHERED_GRAD_SLOT = 9;
/** Scratch slot (u8) of the grad codes a producer's fused cast writes for backward. */
const FUSED_GRAD_SLOT = 9;

export class LinearOp implements TapeNode {
  readonly label: string;
  private readonly ctx: OpContext;
  private readonly spec: LinearSpec;
  private readonly weight: FloatArray; // (N, K)
  private readonly dweight: FloatArray; // (N, K) accumulated
  private readonly x: FloatArray; // (M, K)
  private readonly y: FloatArray | null; // (M, N); null for a row-chunked linear
  private readonly dy: FloatArray | null; // (M, N)
  private readonly dx: FloatArray; // (M, K) overwritten
  private readonly cache: WeightCastCache;
  private readonly inputOp: Fp8Operand | null;
  private readonly weightOp: Fp8Operand | null;
  private readonly gradOp: Fp8Operand | null;
  // What forward saves on purpose: exactly one of these, per precision.
  private readonly savedCodes: Uint8Array | null; // (M, K) fp8 codes of x
  private savedInvScale = 1;
  private readonly savedBits: Uint16Array | null; // (M, K) bf16 bits of x
  private readonly savedF32: FloatArray | null; // (M, K) float32 (fp32 copy or block fake-quant)
  /** The next forward's / backward's operand was cast by its producer (fused casts). */
  private inputPrecast = false;
  private gradPrecast: { cast: FusedCast; stats: CastStats } | null = null;
  /** Round y (forward and recompute) / dx (dgrad) to BF16 in the GEMM's store (taken from the boundary). */
  private roundY = false;
  private roundDx = false;

  constructor(
    ctx: OpContext, spec: LinearSpec, weight: FloatArray, dweight: FloatArray, cache: WeightCastCache,
    x: FloatArray, y: FloatArray | null, dy: FloatArray | null, dx: FloatArray,
  ) {
    const { M, N, K } = spec;
    const check = (name: string, a: { length: number }, n: number) => {
      if (a.length !== n) throw new TypeError(`LinearOp(${spec.key}): ${name} has length ${a.length}, expected ${n}`);
    };
    check('weight', weight, N * K);
    check('dweight', dweight, N * K);
    check('x', x, M * K);
    if (y) check('y', y, M * N);
    if (dy) check('dy', dy, M * N);
    if ((!y || !dy) && !spec.transientInput) throw new TypeError(`LinearOp(${spec.key}): y and dy may be null only with transientInput (row-chunked use)`);
    check('dx', dx, M * K);
    if (spec.outputBlocks && spec.outputBlocks.reduce((a, w) => a + w, 0) !== N) {
      throw new TypeError(`LinearOp(${spec.key}): outputBlocks ${spec.outputBlocks.join('+')} do not add up to N = ${N}`);
    }
    this.label = spec.key;
    this.ctx = ctx;
    this.spec = spec;
    this.weight = weight;
    this.dweight = dweight;
    this.cache = cache;
    this.x = x;
    this.y = y;
    this.dy = dy;
    this.dx = dx;
    const fp8 = spec.precision === 'fp8';
    this.inputOp = fp8 ? new Fp8Operand(ctx, spec.layer, spec.key, spec.gemm, 'input') : null;
    this.weightOp = fp8 ? new Fp8Operand(ctx, spec.layer, spec.key, spec.gemm, 'weight') : null;
    this.gradOp = fp8 ? new Fp8Operand(ctx, spec.layer, spec.key, spec.gemm, 'grad_output') : null;
    const tiledInput = this.inputOp?.tiled('activation') ?? false;
    const own = !spec.transientInput;
    this.savedCodes = own && fp8 && !tiledInput ? ctx.u8(M * K) : null;
    this.savedBits = own && spec.precision === 'bf16' ? ctx.u16(M * K) : null;
    this.savedF32 = own && (spec.precision === 'fp32' || tiledInput) ? ctx.alloc(M * K) : null;
    if (!spec.sharedGrad) cache.grad = dweight;
  }

  /** Takes the BF16 rounding of y and dx from their boundary: the GEMM rounds as it writes them. */
  fuseRounding(boundary: Boundary): void {
    if (this.y) this.roundY = boundary.takeForwardRounding(this.y);
    this.roundDx = boundary.takeBackwardRounding(this.dx);
  }

  /** Bytes this op keeps alive from forward to backward (0 with a transient input). */
  savedBytes(): number {
    return (this.savedCodes?.byteLength ?? 0) + (this.savedBits?.byteLength ?? 0) + (this.savedF32?.byteLength ?? 0);
  }

  private codesStore(): Uint8Array {
    return this.savedCodes ?? this.ctx.scratch.u8(this.spec.M * this.spec.K, TRANSIENT_INPUT_SLOT);
  }
  private bitsStore(): Uint16Array {
    return this.savedBits ?? this.ctx.scratch.u16(this.spec.M * this.spec.K, TRANSIENT_INPUT_SLOT);
  }
  private f32Store(): FloatArray {
    return this.savedF32 ?? this.ctx.scratch.floats(this.spec.M * this.spec.K, TRANSIENT_INPUT_SLOT);
  }

  /** The FP8 input is cast tile by tile (block scaling, as the policy says): saved fake-quantized as float32. */
  private tiledInput(): boolean {
    return this.inputOp?.tiled('activation') ?? false;
  }

  /** Casts W once per optimizer step (and afresh, unrecorded, in evaluation). */
  private weightOperand(trans: boolean): GemmOperand<FloatArray> {
    const { N, K, precision } = this.spec;
    const c = this.cache;
    const ctx = this.ctx;
    // Frozen weights (KV-cache decoding): the backend may keep its packed copy under this id.
    const frozen = !ctx.training && ctx.frozenWeightsEpoch !== null ? { frozen: -ctx.frozenWeightsEpoch } : {};
    if (precision === 'fp32') return { dtype: 'f32', data: this.weight, trans, ...frozen };
    // Evaluation recasts (the optimizer may have changed W since the last training cast), except
    // under a KV-cache decode, which freezes the weights for the cache's lifetime.
    const epoch = ctx.training ? ctx.weightEpoch : (ctx.frozenWeightsEpoch ?? -1);
    const fresh = epoch !== -1 && c.epoch === epoch;
    if (precision === 'bf16') {
      if (!c.bits) c.bits = ctx.u16(N * K, 'weightCasts');
      if (!fresh) ctx.kernels.packBf16(this.weight, c.bits);
      c.epoch = epoch;
      return { dtype: 'bf16', data: c.bits, trans, ...frozen };
    }
    const op = this.weightOp as Fp8Operand;
    if (op.tiled('weight')) {
      if (!c.fakeQuant) c.fakeQuant = ctx.alloc(N * K, 'weightCasts');
      if (!fresh) op.castTiled(this.weight, N, K, 'weight', c.fakeQuant);
      c.epoch = epoch;
      return { dtype: 'f32', data: c.fakeQuant, trans, ...frozen };
    }
    if (!c.codes) c.codes = ctx.u8(N * K, 'weightCasts');
    if (!fresh) c.invScale = op.quantize(this.weight, c.codes);
    c.epoch = epoch;
    return { dtype: op.format, data: c.codes, trans, invScale: c.invScale, ...frozen };
  }

  /** y = Q(x)·Q(W)ᵀ; saves Q(x). */
  forward(): void {
    const { M } = this.spec;
    this.fprop(this.inputPrecast ? this.savedInput(0, M) : this.castInput(), this.wholeY());
    this.inputPrecast = false;
    this.ctx.tape.record(this);
  }

  /**
   * The FP8 cast of x as the kernel producing x may make it while it writes x (a fused cast; x is
   * then never written): when x is cast whole with a scale fixed beforehand (delayed scaling) into
   * the codes forward saves, and no activation probe is set. null otherwise; then forward casts x itself.
   */
  fusedInputCast(): FusedCast | null {
    const op = this.inputOp;
    if (op === null || this.spec.transientInput || this.ctx.probe) return null; // a probe must see x itself
    const scale = op.scaleBeforeCast('activation');
    return scale === null ? null : { format: op.format, scale, codes: this.codesStore() };
  }

  /**
   * Whether the producer made fusedInputCast()'s cast this pass (its result: the stats), called by
   * the producer on every pass: with a cast, the next forward uses those codes; with null, it casts x.
   */
  inputCastBy(done: { cast: FusedCast; stats: CastStats } | null): void {
    this.inputPrecast = done !== null;
    if (done === null) return;
    (this.inputOp as Fp8Operand).record(done.stats, done.cast.scale, this.spec.M * this.spec.K);
    this.savedInvScale = 1 / Math.fround(done.cast.scale);
  }

  /**
   * The FP8 cast of dy as the kernel producing dy may make it while it writes dy: when the whole
   * row-layout dy is cast with a scale fixed beforehand. null otherwise (backward casts dy itself).
   */
  fusedGradCast(): FusedCast | null {
    const op = this.gradOp;
    if (op === null || this.spec.outputBlocks || !this.dy || this.ctx.probe) return null; // a probe must see dy itself
    const scale = op.scaleBeforeCast('activation');
    return scale === null ? null : { format: op.format, scale, codes: this.ctx.scratch.u8(this.spec.M * this.spec.N, FUSED_GRAD_SLOT) };
  }

  /** As inputCastBy, for fusedGradCast() and the next backward. */
  gradCastBy(done: { cast: FusedCast; stats: CastStats } | null): void {
    this.gradPrecast = done;
  }

  /** y (M, N) = a·Q(W)ᵀ, one GEMM per output block (planar y). */
  private fprop(a: GemmOperand<FloatArray>, y: FloatArray): void {
    const { M, N, K } = this.spec;
    const w = this.weightOperand(true); // W logical (K, N) = Wᵀ, stored (N, K)
    const blocks = this.spec.outputBlocks;
    if (!blocks) {
      this.ctx.kernels.gemm(M, N, K, a, w, y, 1, 0, this.roundY);
      return;
    }
    let n0 = 0;
    for (const width of blocks) {
      const rows = { ...w, data: w.data.subarray(n0 * K, (n0 + width) * K) }; // this block's weight rows
      this.ctx.kernels.gemm(M, width, K, a, rows, y.subarray(M * n0, M * (n0 + width)), 1, 0, this.roundY);
      n0 += width;
    }
  }

  /** Casts x (the whole tensor, so current scaling sees its full amax) into Q(x); returns it as (M, K). */
  castInput(): GemmOperand<FloatArray> {
    const { M, K, precision } = this.spec;
    const k = this.ctx.kernels;
    if (precision === 'fp32') {
      const copy = this.f32Store();
      copy.set(this.x);
      return { dtype: 'f32', data: copy, trans: false };
    }
    if (precision === 'bf16') {
      const bits = this.bitsStore();
      k.packBf16(this.x, bits);
      return { dtype: 'bf16', data: bits, trans: false };
    }
    if (this.tiledInput()) {
      const fq = this.f32Store();
      (this.inputOp as Fp8Operand).castTiled(this.x, M, K, 'activation', fq);
      return { dtype: 'f32', data: fq, trans: false };
    }
    const op = this.inputOp as Fp8Operand;
    const codes = this.codesStore();
    this.savedInvScale = op.quantize(this.x, codes);
    return { dtype: op.format, data: codes, trans: false, invScale: this.savedInvScale };
  }

  /** Q(x) as cast by castInput, rows [r0, r0 + n) (logical (n, K)). */
  private savedInput(r0: number, n: number): GemmOperand<FloatArray> {
    const { M, K, precision } = this.spec;
    const rows = <T extends FloatArray | Uint16Array | Uint8Array>(a: T): T => (r0 === 0 && n === M ? a : (a.subarray(r0 * K, (r0 + n) * K) as T));
    if (precision === 'bf16') return { dtype: 'bf16', data: rows(this.bitsStore()), trans: false };
    if (precision === 'fp32' || this.tiledInput()) return { dtype: 'f32', data: rows(this.f32Store()), trans: false };
    const op = this.inputOp as Fp8Operand;
    return { dtype: op.format, data: rows(this.codesStore()), trans: false, invScale: this.savedInvScale };
  }

  /**
   * y (M, N) = Q(x)·Q(W)ᵀ again from the saved Q(x) and this step's cached Q(W): the same GEMM on
   * the same operands, so y is bit-identical to forward's. Records no cast.
   */
  recomputeOutput(): void {
    this.fprop(this.savedInput(0, this.spec.M), this.wholeY());
  }

  private wholeY(): FloatArray {
    if (!this.y) throw new TypeError(`LinearOp(${this.spec.key}): built without y; use fpropRows`);
    return this.y;
  }

  /**
   * y (n, N) = rows [r0, r0 + n) of Q(x)·Q(W)ᵀ, after castInput(); `roundBf16`: the GEMM rounds y to
   * BF16 as it writes it (the bits of a roundBf16 pass afterwards, one pass over y less).
   */
  fpropRows(r0: number, n: number, y: FloatArray, roundBf16 = false): void {
    const { N, K } = this.spec;
    if (this.spec.outputBlocks) throw new TypeError(`LinearOp(${this.spec.key}): fpropRows runs on the row layout, not planar output blocks`);
    this.ctx.kernels.gemm(n, N, K, this.savedInput(r0, n), this.weightOperand(true), y, 1, 0, roundBf16);
  }

  /** dx = Q(dy)·Q(W); dW += Q(dy)ᵀ·Q(x). */
  backward(): void {
    const { M, N } = this.spec;
    if (this.gradPrecast) {
      const { cast, stats } = this.gradPrecast;
      this.gradPrecast = null;
      this.gradGemms({ dtype: cast.format, data: cast.codes, trans: false, invScale: 1 / Math.fround(cast.scale) }, 0, M, this.dx);
      this.recordGradCast(stats, cast.scale, M * N);
      return;
    }
    const total: CastStats = { amax: 0, underflow: 0, overflow: 0, nonzero: 0 };
    if (!this.dy) throw new TypeError(`LinearOp(${this.spec.key}): built without dy; use backwardRows`);
    const scale = this.backwardRows(0, M, this.dy, this.dx, total);
    this.recordGradCast(total, scale, M * N);
  }

  /**
   * Whether backwardRows takes dy as BF16 bits (dyBits, n·N of them, e.g. from
   * crossEntropyBf16 into bf16GradBuffer) instead of packing a float dy itself.
   */
  takesBf16Grad(): boolean {
    return this.spec.precision === 'bf16';
  }

  /** The scratch buffer backwardRows would pack a BF16 dy of n rows into: for a producer that writes the bits itself. */
  bf16GradBuffer(n: number): Uint16Array {
    return this.ctx.scratch.u16(n * this.spec.N, BF16_GRAD_SLOT);
  }

  /**
   * Whether dy may be cast in row chunks with results identical to one whole-tensor cast: only when
   * the policy fixes the scale before the cast (delayed); a current scale needs the whole tensor's
   * amax, and a tiled cast reports per call.
   */
  gradCastChunkable(): boolean {
    return this.spec.precision !== 'fp8' || this.ctx.scaling.policy.scaleFixedBeforeCast;
  }

  /**
   * dgrad and wgrad for rows [r0, r0 + n): dx (n, K) = Q(dy)·Q(W) (overwritten), dW += Q(dy)ᵀ·Q(x)[rows],
   * dy (n, N). A delayed-scaling FP8 grad cast merges its stats into `total` (recorded once by the
   * caller through recordGradCast); returns the grad cast's scale (1 when not FP8).
   */
  backwardRows(r0: number, n: number, dy: FloatArray | null, dx: FloatArray, total: CastStats, dyBits: Uint16Array | null = null): number {
    const { M, N, K, precision } = this.spec;
    const k = this.ctx.kernels;
    const s = this.ctx.scratch;
    let g: GemmOperand<FloatArray>; // logical (n, N)
    let scale = 1;
    const blocks = this.spec.outputBlocks;
    if (blocks && (r0 !== 0 || n !== M)) throw new TypeError(`LinearOp(${this.spec.key}): a planar dy is cast whole, not by rows`);
    const fp8Whole = precision === 'fp8' && !(this.gradOp as Fp8Operand).tiled('activation');
    if (blocks && dy !== null && !fp8Whole) dy = this.gatherRows(dy, blocks); // the casts below read the row layout
    if (precision === 'bf16' && dyBits !== null) {
      g = { dtype: 'bf16', data: dyBits, trans: false }; // packed by the producer (takesBf16Grad)
    } else if (dy === null) {
      throw new TypeError(`LinearOp(${this.spec.key}).backwardRows: dy is null and no BF16 dy bits were given to a ${precision} linear`);
    } else if (precision === 'fp32') {
      g = { dtype: 'f32', data: dy, trans: false };
    } else if (precision === 'bf16') {
      const bits = s.u16(n * N, BF16_GRAD_SLOT);
      k.packBf16(dy, bits);
      g = { dtype: 'bf16', data: bits, trans: false };
    } else if ((this.gradOp as Fp8Operand).tiled('activation')) {
      const fq = s.floats(n * N);
      (this.gradOp as Fp8Operand).castTiled(dy, n, N, 'activation', fq);
      g = { dtype: 'f32', data: fq, trans: false };
    } else {
      const op = this.gradOp as Fp8Operand;
      const codes = s.u8(n * N);
      scale = op.scaleFor(dy);
      if (!blocks) mergeStats(total, k.quantize(dy, op.format, scale, codes));
      else {
        // each planar block straight into its columns of the row-major codes (the stats of one cast)
        let n0 = 0;
        for (const width of blocks) {
          mergeStats(total, k.quantizeColumns(dy.subarray(n * n0, n * (n0 + width)), op.format, scale, codes, N, n0, n, width));
          n0 += width;
        }
      }
      g = { dtype: op.format, data: codes, trans: false, invScale: 1 / Math.fround(scale) };
    }
    this.gradGemms(g, r0, n, dx);
    return scale;
  }

  /** dgrad dx (n, K) = Q(dy)·Q(W) and wgrad dW += Q(dy)ᵀ·Q(x)[rows r0 …], from Q(dy) `g` (logical (n, N)). */
  private gradGemms(g: GemmOperand<FloatArray>, r0: number, n: number, dx: FloatArray): void {
    const { N, K } = this.spec;
    const k = this.ctx.kernels;
    const gT: GemmOperand<FloatArray> = { ...g, trans: true }; // logical (N, n): the same storage, transposed
    k.gemm(n, K, N, g, this.weightOperand(false), dx, 1, 0, this.roundDx && dx === this.dx); // dgrad; W logical (N, K)
    k.gemm(N, K, n, gT, this.savedInput(r0, n), this.dweight, 1, this.cache.takeGradBeta()); // wgrad, accumulated
  }

  /** A planar dy (column blocks one after another) copied into the row layout, in scratch. */
  private gatherRows(dy: FloatArray, blocks: readonly number[]): FloatArray {
    const { M, N } = this.spec;
    const rows = this.ctx.scratch.floats(M * N, GATHERED_GRAD_SLOT);
    let n0 = 0;
    for (const width of blocks) {
      this.ctx.kernels.copyColumns(dy.subarray(M * n0, M * (n0 + width)), width, 0, rows, N, n0, M, width);
      n0 += width;
    }
    return rows;
  }

  /** Records the (merged) grad_output cast of one backward: amax into the slot, stats to the monitor. */
  recordGradCast(total: CastStats, scale: number, count: number): void {
    const op = this.gradOp;
    if (op !== null && !op.tiled('activation')) op.record(total, scale, count); // a tiled cast recorded itself
  }
}
