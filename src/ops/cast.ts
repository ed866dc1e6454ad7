/**
 * One scaled FP8 operand: its scaling slot, format (per role, from the recipe) and the single
 * point where its casts happen. Every scale decision — which scale a cast uses, what a fused
 * kernel's amax does afterwards, block tiling — is the scaling policy's (src/numerics/policy.ts);
 * this class only applies it. Every cast is reported to the monitor if one is set.
 */
import type { CastStats, FloatArray } from '../kernels/types.js';
import { formatForRole, type ScalingRole } from '../numerics/recipe.js';
import { blockGrid } from '../numerics/block.js';
import type { ScalingPolicy, TileKind } from '../numerics/policy.js';
import type { ScalingSlot } from '../numerics/scaling.js';
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
  private readonly policy: ScalingPolicy;

  /** key: the GEMM's slot prefix, e.g. 'layers.0.attn.qkv'; gemm: its monitor name, e.g. 'attn.qkv'. */
  constructor(ctx: OpContext, layer: number, key: string, gemm: string, role: ScalingRole) {
    this.ctx = ctx;
    this.layer = layer;
    this.gemm = gemm;
    this.role = role;
    this.slot = ctx.scaling.slot(`${key}.${role}`, role);
    this.format = formatForRole(ctx.recipe, role);
    this.policy = ctx.scaling.policy;
  }

  /** The scale for one whole-tensor cast of x (all parts share it), as the policy decides. */
  scaleFor(x: FloatArray | FloatArray[]): number {
    const parts = (Array.isArray(x) ? x : [x]).map((part) => float32(part, 'scaleFor'));
    return this.policy.castScale(this.slot, parts, this.ctx.training);
  }

  /**
   * The scale of a whole-tensor cast when the policy fixes it before the cast (delayed scaling), so
   * the kernel producing the tensor may cast it as it writes it (a fused cast); null when the
   * tensor must be measured first, or is cast tile by tile.
   */
  scaleBeforeCast(kind: TileKind): number | null {
    if (!this.policy.scaleFixedBeforeCast || this.tiled(kind)) return null;
    return this.policy.castScale(this.slot, [], this.ctx.training);
  }

  /** The scale for a cast inside a fused kernel; `bound`: a known bound of its amax, or null. */
  fusedScale(bound: number | null): number {
    return this.policy.fusedCastScale(this.slot, bound);
  }

  /** Records a fused kernel's cast made with fusedScale(bound) (amax, monitor) and hands its amax to the policy. */
  recordFused(stats: CastStats, scale: number, count: number, bound: number | null): void {
    this.record(stats, scale, count);
    this.policy.afterFusedCast(this.slot, bound, stats.amax, this.ctx.training);
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

  /** Whether this operand is cast tile by tile (castTiled) under the policy, for a cast of `kind`. */
  tiled(kind: TileKind): boolean {
    return this.policy.tiling(kind) !== null;
  }

  /**
   * Tiled (block) scaling: out = x fake-quantized with the policy's scale per tile of x (rows,
   * cols). The slot records the whole tensor's amax; the reported scale is the smallest tile scale.
   */
  castTiled(x: FloatArray, rows: number, cols: number, kind: TileKind, out: FloatArray): void {
    const tiling = this.policy.tiling(kind);
    if (tiling === null) throw new RangeError(`Fp8Operand.castTiled(${this.slot.key}): the '${this.policy.mode}' policy has no tiling`);
    const { rows: blockRows, cols: blockCols } = tiling;
    const scales = this.policy.tileScales(this.slot, float32(x, 'castTiled'), rows, cols, kind);
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
