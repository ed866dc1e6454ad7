/**
 * Scaling policies (DESIGN §3): one object per scaling mode that owns every decision the mode
 * makes, so the ops never branch on the mode:
 *   - the scale of a whole-tensor cast (castScale),
 *   - the scale of a cast formed inside a fused kernel, where the tensor cannot be measured
 *     first (fusedCastScale), and what the kernel's measured amax does afterwards (afterFusedCast),
 *   - what happens to a slot at the end of a pass (endOfPass),
 *   - the tiling of block scaling (tiling, tileScales),
 *   - whether a tensor may be cast in chunks (scaleFixedBeforeCast).
 * Scales change only through ScalingSlot.setScale, called from here (and from state restore).
 */
import type { FloatFormat } from './formats.js';
import { fp8Format } from './formats.js';
import { amax } from './amax.js';
import { blockScales } from './block.js';
import { formatForRole, type PrecisionRecipe, type ScalingMode } from './recipe.js';
import { computeScale, currentScale, type ScalingSlot } from './scaling.js';

/** What a tiled cast covers: activations and gradients (1×blockSizeActivation) or weights (blockSizeWeight²). */
export type TileKind = 'activation' | 'weight';

export interface Tiling {
  readonly rows: number;
  readonly cols: number;
}

export interface ScalingPolicy {
  readonly mode: ScalingMode;
  /**
   * True when every cast's scale is fixed before its tensor exists (delayed): a tensor may then be
   * cast in row chunks, stats merged, with results identical to one whole-tensor cast.
   */
  readonly scaleFixedBeforeCast: boolean;
  /** One scale per tile of this shape for a cast of `kind`, or null for one scale per tensor. */
  tiling(kind: TileKind): Tiling | null;
  /**
   * Scale for a whole-tensor cast of `parts` (one scale shared by all parts) into `slot`. When
   * `training`, a scale derived from the tensor is also stored in the slot (monitor, checkpoints).
   */
  castScale(slot: ScalingSlot, parts: readonly Float32Array[], training: boolean): number;
  /**
   * Scale for a cast formed inside a fused kernel (FP8 attention's P and dS): nothing can be
   * measured before it. `bound` is a known upper bound of the tensor's amax (P ≤ 1), or null.
   */
  fusedCastScale(slot: ScalingSlot, bound: number | null): number;
  /**
   * After a fused cast made with fusedCastScale(slot, bound): its amax as the kernel measured it
   * (the op records it into the slot separately).
   */
  afterFusedCast(slot: ScalingSlot, bound: number | null, measuredAmax: number, training: boolean): void;
  /** End-of-pass update of one slot (DESIGN §3 step 2 under delayed scaling). */
  endOfPass(slot: ScalingSlot): void;
  /** Per-tile scales of x (rows, cols) under tiling(kind) (row-major over tiles); only for a tiling policy. */
  tileScales(slot: ScalingSlot, x: Float32Array, rows: number, cols: number, kind: TileKind): Float32Array;
}

function formatOf(recipe: PrecisionRecipe, slot: ScalingSlot): FloatFormat {
  return fp8Format(formatForRole(recipe, slot.role));
}

function amaxOf(parts: readonly Float32Array[]): number {
  let a = 0;
  for (const p of parts) a = Math.max(a, amax(p)); // NaN propagates
  return a;
}

/**
 * Delayed scaling (the paper's recipe, Transformer Engine semantics): every cast uses the slot's
 * scale; the slot's amax history rolls at the end of each pass and gives the next scale.
 */
class DelayedScaling implements ScalingPolicy {
  readonly mode = 'delayed' as const;
  readonly scaleFixedBeforeCast = true;
  constructor(private readonly recipe: PrecisionRecipe) {}

  tiling(): Tiling | null {
    return null;
  }

  castScale(slot: ScalingSlot): number {
    return slot.scale;
  }

  fusedCastScale(slot: ScalingSlot): number {
    return slot.scale;
  }

  afterFusedCast(): void {}

  /**
   * If the recorded amax is 0 nothing changes; otherwise amax* (max over the window including the
   * new value — NaN if any entry is NaN — or the new value for `most_recent`) gives the new scale,
   * and the window rolls (oldest drops, slot 0 cleared).
   */
  endOfPass(slot: ScalingSlot): void {
    const history = slot.amaxHistory;
    const recorded = history[0];
    if (recorded === 0) return;
    let amaxStar = recorded;
    if (this.recipe.amaxAlgo === 'max') {
      for (let i = 1; i < history.length; i++) amaxStar = Math.max(amaxStar, history[i]);
    }
    // Roll by one toward the front: index 1 (the oldest) drops, the new amax goes to the end.
    history.copyWithin(0, 1);
    history[history.length - 1] = recorded;
    history[0] = 0;
    slot.setScale(computeScale(amaxStar, formatOf(this.recipe, slot).maxFinite, this.recipe.margin, slot.scale));
  }

  tileScales(slot: ScalingSlot): Float32Array {
    throw new RangeError(`DelayedScaling.tileScales(${slot.key}): delayed scaling has one scale per tensor (no tiling)`);
  }
}

/**
 * Current scaling: a whole-tensor cast takes its scale from the tensor's own amax just before the
 * cast (no history). A fused cast cannot measure first: it uses its known bound, else the amax
 * the kernel measured in the previous pass (stored as the slot's scale by afterFusedCast; the
 * very first such cast uses scale 1, as delayed scaling does).
 */
class CurrentScaling implements ScalingPolicy {
  readonly mode: ScalingMode = 'current';
  readonly scaleFixedBeforeCast = false;
  constructor(protected readonly recipe: PrecisionRecipe) {}

  tiling(_kind: TileKind): Tiling | null {
    return null;
  }

  castScale(slot: ScalingSlot, parts: readonly Float32Array[], training: boolean): number {
    const s = currentScale(amaxOf(parts), formatOf(this.recipe, slot), this.recipe.margin);
    if (training) slot.setScale(s);
    return s;
  }

  fusedCastScale(slot: ScalingSlot, bound: number | null): number {
    return bound === null ? slot.scale : currentScale(bound, formatOf(this.recipe, slot), this.recipe.margin);
  }

  /** The slot keeps the scale of the next such cast: the bound's, or the one from this amax ("most recent"). */
  afterFusedCast(slot: ScalingSlot, bound: number | null, measuredAmax: number, training: boolean): void {
    if (!training) return;
    slot.setScale(bound !== null
      ? this.fusedCastScale(slot, bound)
      : computeScale(measuredAmax, formatOf(this.recipe, slot).maxFinite, this.recipe.margin, slot.scale));
  }

  /** No history: the recorded amax is only cleared. */
  endOfPass(slot: ScalingSlot): void {
    slot.amaxHistory[0] = 0;
  }

  tileScales(slot: ScalingSlot, _x: Float32Array, _rows: number, _cols: number, _kind: TileKind): Float32Array {
    throw new RangeError(`CurrentScaling.tileScales(${slot.key}): current scaling has one scale per tensor (no tiling)`);
  }
}

/**
 * Block scaling: one current scale per 1×blockSizeActivation tile of activations and gradients
 * and per blockSizeWeight² block of weights. A cast outside the tiled GEMM operands would be
 * scaled as under current scaling (the recipe refuses FP8 attention with block scaling).
 */
class BlockScaling extends CurrentScaling {
  override readonly mode: ScalingMode = 'block';

  override tiling(kind: TileKind): Tiling {
    return kind === 'weight'
      ? { rows: this.recipe.blockSizeWeight, cols: this.recipe.blockSizeWeight }
      : { rows: 1, cols: this.recipe.blockSizeActivation };
  }

  override tileScales(slot: ScalingSlot, x: Float32Array, rows: number, cols: number, kind: TileKind): Float32Array {
    const t = this.tiling(kind);
    return blockScales(x, rows, cols, t.rows, t.cols, formatOf(this.recipe, slot), this.recipe.margin);
  }
}

const POLICIES = new WeakMap<PrecisionRecipe, ScalingPolicy>();

/** The policy of `recipe.scaling` (one object per recipe, reused). */
export function scalingPolicy(recipe: PrecisionRecipe): ScalingPolicy {
  let p = POLICIES.get(recipe);
  if (p === undefined) {
    const make: Record<ScalingMode, () => ScalingPolicy> = {
      delayed: () => new DelayedScaling(recipe),
      current: () => new CurrentScaling(recipe),
      block: () => new BlockScaling(recipe),
    };
    p = make[recipe.scaling]();
    POLICIES.set(recipe, p);
  }
  return p;
}
