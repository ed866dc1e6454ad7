/**
 * One scaled FP8 operand: its scaling slot, format (per role, from the recipe) and the single
 * point where its casts happen. Delayed scaling casts with the slot's scale and records the
 * amax; current scaling first derives the scale from the tensor's own amax; block scaling
 * fake-quantizes tile by tile (see castBlock). Every cast is reported to the monitor if one is set.
 */
import type { CastStats, FloatArray } from '../kernels/types.js';
import { amax } from '../numerics/amax.js';
import { fp8Format } from '../numerics/formats.js';
import { formatForRole, type ScalingRole } from '../numerics/recipe.js';
import { blockScales, blockGrid } from '../numerics/block.js';
import { currentScale, type ScalingSlot } from '../numerics/scaling.js';
import type { OpContext } from './context.js';

export function mergeStats(into: CastStats, s: CastStats): void {
  into.amax = Number.isNaN(into.amax) || Number.isNaN(s.amax) ? NaN : Math.max(into.amax, s.amax);
  into.underflow += s.underflow;
  into.overflow += s.overflow;
  into.nonzero += s.nonzero;
  // Error sums: a part without them (a kernel that does not compute them) makes the total NaN = unknown.
  into.sumSq = (into.sumSq ?? 0) + (s.sumSq ?? NaN);
  into.errSq = (into.errSq ?? 0) + (s.errSq ?? NaN);
  into.absSum = (into.absSum ?? 0) + (s.absSum ?? NaN);
  into.lostAbs = (into.lostAbs ?? 0) + (s.lostAbs ?? NaN);
}

/** FP8 casts are defined on float32 values; OpContext refuses FP8 recipes on float64 kernels, so this only guards. */
function float32(x: FloatArray, what: string): Float32Array {
  if (!(x instanceof Float32Array)) throw new TypeError(`Fp8Operand.${what}: FP8 casts need Float32Array buffers, got ${x.constructor.name}`);
  return x;
}

export class Fp8Operand {
  readonly slot: ScalingSlot;
  readonly format: 'e4m3' | 'e5m2';
  readonly layer: number;
  readonly gemm: string;
  readonly role: ScalingRole;
  private readonly ctx: OpContext;

  /** key: the GEMM's slot prefix, e.g. 'layers.0.attn.qkv'; gemm: its monitor name, e.g. 'attn.qkv'. */
  constructor(ctx: OpContext, layer: number, key: string, gemm: string, role: ScalingRole) {
    this.ctx = ctx;
    this.layer = layer;
    this.gemm = gemm;
    this.role = role;
    this.slot = ctx.scaling.slot(`${key}.${role}`, role);
    this.format = formatForRole(ctx.recipe, role);
  }

  /**
   * The scale for a cast of x: the slot's (delayed) or from x's own amax (current). In current
   * mode during training the slot's scale is set to it so the monitor and checkpoints see it.
   */
  scaleFor(x: FloatArray | FloatArray[]): number {
    if (this.ctx.recipe.scaling !== 'current') return this.slot.scale;
    let a = 0;
    for (const part of Array.isArray(x) ? x : [x]) a = Math.max(a, amax(float32(part, 'scaleFor')));
    const s = currentScale(a, fp8Format(this.format), this.ctx.recipe.margin);
    if (this.ctx.training) this.slot.scale = s;
    return s;
  }

  /** Records a cast's amax into the slot (training only) and reports it to the monitor. */
  record(stats: CastStats, scale: number, count: number): void {
    if (this.ctx.training) this.slot.recordAmax(stats.amax);
    const m = this.ctx.monitor;
    if (m) m.cast({ layer: this.layer, gemm: this.gemm, role: this.role, format: this.format, scale, stats, count });
  }

  /** codes = FP8(x·scale); returns the dequantization factor 1/scale. */
  quantize(x: FloatArray, codes: Uint8Array): number {
    const scale = this.scaleFor(x);
    const stats = this.ctx.kernels.quantize(x, this.format, scale, codes);
    this.record(stats, scale, x.length);
    return 1 / Math.fround(scale);
  }

  /** out = decode(FP8(x·scale))/scale in one pass; returns the scale used. */
  fakeQuantize(x: FloatArray, out: FloatArray): number {
    const scale = this.scaleFor(x);
    const stats = this.ctx.kernels.quantizeDequantize(x, this.format, scale, out);
    this.record(stats, scale, x.length);
    return scale;
  }

  /**
   * Block scaling: out = x fake-quantized with one current scale per (blockRows × blockCols) tile
   * of x (rows, cols). The slot records the whole tensor's amax; the reported scale is the
   * smallest tile scale.
   */
  castBlock(x: FloatArray, rows: number, cols: number, blockRows: number, blockCols: number, out: FloatArray): void {
    const fmt = fp8Format(this.format);
    const scales = blockScales(float32(x, 'castBlock'), rows, cols, blockRows, blockCols, fmt, this.ctx.recipe.margin);
    const { tileCols } = blockGrid(rows, cols, blockRows, blockCols);
    const total: CastStats = { amax: 0, underflow: 0, overflow: 0, nonzero: 0 };
    for (let r = 0; r < rows; r++) {
      const tileRow = Math.floor(r / blockRows);
      for (let c0 = 0; c0 < cols; c0 += blockCols) {
        const c1 = Math.min(cols, c0 + blockCols);
        const scale = scales[tileRow * tileCols + c0 / blockCols];
        const seg = x.subarray(r * cols + c0, r * cols + c1);
        mergeStats(total, this.ctx.kernels.quantizeDequantize(seg, this.format, scale, out.subarray(r * cols + c0, r * cols + c1)));
      }
    }
    let minScale = Infinity;
    for (const s of scales) minScale = Math.min(minScale, s);
    this.record(total, minScale, x.length);
  }
}
