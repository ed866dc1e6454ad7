/**
 * The precision-aware linear y = x·Wᵀ (x (M, K), W (N, K), y (M, N)), forward and backward side by
 * side. Three GEMMs, each with its operand roles written out (DESIGN §3):
 *   fprop  y  = Q(x)·Q(W)ᵀ          roles input, weight
 *   dgrad  dx = Q(dy)·Q(W)          roles grad_output, weight
 *   wgrad  dW += Q(dy)ᵀ·Q(x)        roles grad_output, input
 * Q is the FP8 cast ('fp8'), BF16 rounding ('bf16') or the identity ('fp32'). Forward saves only
 * Q(x) — FP8 codes (1 byte/elem), BF16 bits (2 bytes) or a float32 copy — and the weight is cast
 * once per optimizer step into a cache reused by every micro-batch. Block scaling fake-quantizes
 * per tile (1×128 for x and dy along their rows, 128×128 for W) and runs float32 GEMMs on the
 * fake-quantized copies; it saves the fake-quantized x as float32.
 */
import type { GemmOperand } from '../kernels/types.js';
import type { GemmPrecision } from '../numerics/recipe.js';
import { Fp8Operand } from './cast.js';
import type { OpContext } from './context.js';
import type { TapeNode } from './tape.js';

/** The per-optimizer-step cast of one weight, shared by every shape's LinearOp of that weight. */
export class WeightCastCache {
  /** OpContext.weightEpoch the cast was made in; −1 = never / stale. */
  epoch = -1;
  codes: Uint8Array | null = null; // (N, K) fp8
  bits: Uint16Array | null = null; // (N, K) bf16
  fakeQuant: Float32Array | null = null; // (N, K) block-scaled
  invScale = 1;
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
}

export class LinearOp implements TapeNode {
  readonly label: string;
  private readonly ctx: OpContext;
  private readonly spec: LinearSpec;
  private readonly weight: Float32Array; // (N, K)
  private readonly dweight: Float32Array; // (N, K) accumulated
  private readonly x: Float32Array; // (M, K)
  private readonly y: Float32Array; // (M, N)
  private readonly dy: Float32Array; // (M, N)
  private readonly dx: Float32Array; // (M, K) overwritten
  private readonly cache: WeightCastCache;
  private readonly inputOp: Fp8Operand | null;
  private readonly weightOp: Fp8Operand | null;
  private readonly gradOp: Fp8Operand | null;
  // What forward saves on purpose: exactly one of these, per precision.
  private readonly savedCodes: Uint8Array | null; // (M, K) fp8 codes of x
  private savedInvScale = 1;
  private readonly savedBits: Uint16Array | null; // (M, K) bf16 bits of x
  private readonly savedF32: Float32Array | null; // (M, K) float32 (fp32 copy or block fake-quant)

  constructor(
    ctx: OpContext, spec: LinearSpec, weight: Float32Array, dweight: Float32Array, cache: WeightCastCache,
    x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array,
  ) {
    const { M, N, K } = spec;
    const check = (name: string, a: { length: number }, n: number) => {
      if (a.length !== n) throw new TypeError(`LinearOp(${spec.key}): ${name} has length ${a.length}, expected ${n}`);
    };
    check('weight', weight, N * K);
    check('dweight', dweight, N * K);
    check('x', x, M * K);
    check('y', y, M * N);
    check('dy', dy, M * N);
    check('dx', dx, M * K);
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
    const block = fp8 && ctx.recipe.scaling === 'block';
    this.inputOp = fp8 ? new Fp8Operand(ctx, spec.layer, spec.key, spec.gemm, 'input') : null;
    this.weightOp = fp8 ? new Fp8Operand(ctx, spec.layer, spec.key, spec.gemm, 'weight') : null;
    this.gradOp = fp8 ? new Fp8Operand(ctx, spec.layer, spec.key, spec.gemm, 'grad_output') : null;
    this.savedCodes = fp8 && !block ? new Uint8Array(M * K) : null;
    this.savedBits = spec.precision === 'bf16' ? new Uint16Array(M * K) : null;
    this.savedF32 = spec.precision === 'fp32' || block ? new Float32Array(M * K) : null;
  }

  /** Bytes this op keeps alive from forward to backward. */
  savedBytes(): number {
    return (this.savedCodes?.byteLength ?? 0) + (this.savedBits?.byteLength ?? 0) + (this.savedF32?.byteLength ?? 0);
  }

  private blockScaling(): boolean {
    return this.spec.precision === 'fp8' && this.ctx.recipe.scaling === 'block';
  }

  /** Casts W once per optimizer step (and afresh, unrecorded, in evaluation). */
  private weightOperand(trans: boolean): GemmOperand {
    const { N, K, precision } = this.spec;
    const c = this.cache;
    const ctx = this.ctx;
    if (precision === 'fp32') return { dtype: 'f32', data: this.weight, trans };
    const fresh = ctx.training && c.epoch === ctx.weightEpoch;
    if (precision === 'bf16') {
      if (!c.bits) c.bits = new Uint16Array(N * K);
      if (!fresh) ctx.kernels.packBf16(this.weight, c.bits);
      c.epoch = ctx.training ? ctx.weightEpoch : -1;
      return { dtype: 'bf16', data: c.bits, trans };
    }
    const op = this.weightOp as Fp8Operand;
    if (this.blockScaling()) {
      if (!c.fakeQuant) c.fakeQuant = new Float32Array(N * K);
      const b = ctx.recipe.blockSizeWeight;
      if (!fresh) op.castBlock(this.weight, N, K, b, b, c.fakeQuant);
      c.epoch = ctx.training ? ctx.weightEpoch : -1;
      return { dtype: 'f32', data: c.fakeQuant, trans };
    }
    if (!c.codes) c.codes = new Uint8Array(N * K);
    if (!fresh) c.invScale = op.quantize(this.weight, c.codes);
    c.epoch = ctx.training ? ctx.weightEpoch : -1;
    return { dtype: op.format, data: c.codes, trans, invScale: c.invScale };
  }

  /** y = Q(x)·Q(W)ᵀ; saves Q(x). */
  forward(): void {
    const { M, N, K, precision } = this.spec;
    const k = this.ctx.kernels;
    let a: GemmOperand;
    if (precision === 'fp32') {
      (this.savedF32 as Float32Array).set(this.x);
      a = { dtype: 'f32', data: this.x, trans: false };
    } else if (precision === 'bf16') {
      k.packBf16(this.x, this.savedBits as Uint16Array);
      a = { dtype: 'bf16', data: this.savedBits as Uint16Array, trans: false };
    } else if (this.blockScaling()) {
      const fq = this.savedF32 as Float32Array;
      (this.inputOp as Fp8Operand).castBlock(this.x, M, K, 1, this.ctx.recipe.blockSizeActivation, fq);
      a = { dtype: 'f32', data: fq, trans: false };
    } else {
      const op = this.inputOp as Fp8Operand;
      this.savedInvScale = op.quantize(this.x, this.savedCodes as Uint8Array);
      a = { dtype: op.format, data: this.savedCodes as Uint8Array, trans: false, invScale: this.savedInvScale };
    }
    const w = this.weightOperand(true); // logical (K, N) = Wᵀ, stored (N, K)
    k.gemm(M, N, K, a, w, this.y, 1, 0);
    this.ctx.tape.record(this);
  }

  /** dx = Q(dy)·Q(W); dW += Q(dy)ᵀ·Q(x). */
  backward(): void {
    const { M, N, K, precision } = this.spec;
    const k = this.ctx.kernels;
    const s = this.ctx.scratch;
    let g: GemmOperand; // logical (M, N)
    let gT: GemmOperand; // logical (N, M): the same storage, transposed
    let xs: GemmOperand; // saved Q(x), logical (M, K)
    if (precision === 'fp32') {
      g = { dtype: 'f32', data: this.dy, trans: false };
      xs = { dtype: 'f32', data: this.savedF32 as Float32Array, trans: false };
    } else if (precision === 'bf16') {
      const bits = s.u16(M * N);
      k.packBf16(this.dy, bits);
      g = { dtype: 'bf16', data: bits, trans: false };
      xs = { dtype: 'bf16', data: this.savedBits as Uint16Array, trans: false };
    } else if (this.blockScaling()) {
      const fq = s.f32(M * N);
      (this.gradOp as Fp8Operand).castBlock(this.dy, M, N, 1, this.ctx.recipe.blockSizeActivation, fq);
      g = { dtype: 'f32', data: fq, trans: false };
      xs = { dtype: 'f32', data: this.savedF32 as Float32Array, trans: false };
    } else {
      const op = this.gradOp as Fp8Operand;
      const codes = s.u8(M * N);
      const inv = op.quantize(this.dy, codes);
      g = { dtype: op.format, data: codes, trans: false, invScale: inv };
      xs = { dtype: (this.inputOp as Fp8Operand).format, data: this.savedCodes as Uint8Array, trans: false, invScale: this.savedInvScale };
    }
    gT = { ...g, trans: true };
    const w = this.weightOperand(false); // logical (N, K)
    k.gemm(M, K, N, g, w, this.dx, 1, 0); // dgrad
    k.gemm(N, K, M, gT, xs, this.dweight, 1, 1); // wgrad, accumulated
  }
}
