/**
 * What every op shares: the kernels, the precision recipe, the scaling state, the tape, the
 * optional monitor, reusable scratch buffers, and the per-optimizer-step weight-cast epoch.
 */
import type { FloatArray, Kernels } from '../kernels/types.js';
import type { GemmPrecision, PrecisionRecipe } from '../numerics/recipe.js';
import type { ScalingState } from '../numerics/scaling.js';
import type { MonitorSink } from './monitor.js';
import type { ActivationProbe } from './boundary.js';
import { Tape } from './tape.js';

/** Growable scratch buffers shared by all ops of a model: they grow on first use, then are reused. */
export class Scratch {
  private floatPool: FloatArray[] = [];
  private u8Pool: Uint8Array[] = [];
  private u16Pool: Uint16Array[] = [];

  constructor(private readonly alloc: (n: number) => FloatArray) {}

  /** A float scratch view (the kernels' float type) of length n; `slot` distinguishes buffers needed at the same time. */
  floats(n: number, slot = 0): FloatArray {
    let b = this.floatPool[slot];
    if (!b || b.length < n) b = this.floatPool[slot] = this.alloc(n);
    return b.subarray(0, n);
  }

  u8(n: number, slot = 0): Uint8Array {
    let b = this.u8Pool[slot];
    if (!b || b.length < n) b = this.u8Pool[slot] = new Uint8Array(n);
    return b.subarray(0, n);
  }

  u16(n: number, slot = 0): Uint16Array {
    let b = this.u16Pool[slot];
    if (!b || b.length < n) b = this.u16Pool[slot] = new Uint16Array(n);
    return b.subarray(0, n);
  }

  /** Bytes currently held. */
  bytes(): number {
    let total = 0;
    for (const b of [...this.floatPool, ...this.u8Pool, ...this.u16Pool]) if (b) total += b.byteLength;
    return total;
  }
}

export class OpContext {
  /** Any backend: Float32Array buffers, or Float64Array for the reference backend's float64 mode. */
  readonly kernels: Kernels<FloatArray>;
  readonly recipe: PrecisionRecipe;
  readonly scaling: ScalingState;
  readonly tape = new Tape();
  readonly scratch: Scratch;
  /** Set for the duration of one monitored forward/backward; null otherwise. */
  monitor: MonitorSink | null = null;
  /** Sees every activation-table tensor as it is handed on (tests); null otherwise. */
  probe: ActivationProbe | null = null;
  /** False during evaluation: casts record no amax and change no scale. */
  training = true;
  /** Incremented by Model.beginOptimizerStep: cached weight casts older than this are stale. */
  weightEpoch = 0;
  /**
   * Per-GEMM precision override (issue 11, rollback recovery): GEMM keys ('layers.1.attn.dpa',
   * 'layers.0.mlp.fc2', 'lm_head') that run in BF16 although the recipe says FP8. Ops read their
   * precision through precisionOf / isOverridden when they are built.
   */
  readonly gemmOverrides: ReadonlySet<string>;

  /** The precision a GEMM runs in: BF16 when it is overridden and the recipe would make it FP8. */
  precisionOf(key: string, base: GemmPrecision): GemmPrecision {
    return base === 'fp8' && this.gemmOverrides.has(key) ? 'bf16' : base;
  }

  isOverridden(key: string): boolean {
    return this.gemmOverrides.has(key);
  }
  /**
   * Set (a negative id, never a weightEpoch) while a KV-cache decode runs: the weights are frozen
   * for the cache's lifetime, so evaluation casts are cached under this id instead of redone.
   */
  frozenWeightsEpoch: number | null = null;

  /** A zeroed float buffer of the kernels' type (Float32Array, or Float64Array in float64 mode). */
  alloc(n: number): FloatArray {
    return this.kernels.alloc(n);
  }

  constructor(kernels: Kernels<FloatArray>, recipe: PrecisionRecipe, scaling: ScalingState, gemmOverrides: readonly string[] = []) {
    this.gemmOverrides = new Set(gemmOverrides);
    if (kernels.precision === 'float64' && (recipe.gemm !== 'fp32' || recipe.activations !== 'fp32')) {
      throw new RangeError(
        `OpContext: the float64 kernels verify gradients of the fp32 recipe only (FP8/BF16 GEMMs and BF16 activations are defined on float32 values), got precision '${recipe.name}'`,
      );
    }
    this.kernels = kernels;
    this.scratch = new Scratch((n) => kernels.alloc(n));
    this.recipe = recipe;
    this.scaling = scaling;
  }
}
