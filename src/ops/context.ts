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

/**
 * What a model's ops hold, by kind: tensors passed between ops and what forward saves for backward
 * ('activations'), the per-step weight casts ('weightCasts'), and the growable scratch ('scratch').
 */
export type HeldKind = 'activations' | 'weightCasts' | 'scratch';

/**
 * Bytes of every buffer a model's ops allocate, by kind: every op allocates through OpContext, so
 * this is the model's whole per-shape memory (Model.memory; test/train/memory.test.ts holds it to
 * the measured ArrayBuffer bytes). A replaced scratch buffer is released.
 */
export class HeldBytes {
  readonly bytes: Record<HeldKind, number> = { activations: 0, weightCasts: 0, scratch: 0 };
  take<T extends ArrayBufferView>(kind: HeldKind, buffer: T): T {
    this.bytes[kind] += buffer.byteLength;
    return buffer;
  }
  release(kind: HeldKind, buffer: ArrayBufferView | undefined): void {
    if (buffer) this.bytes[kind] -= buffer.byteLength;
  }
}

/** Growable scratch buffers shared by all ops of a model: they grow on first use, then are reused. */
export class Scratch {
  private floatPool: FloatArray[] = [];
  private u8Pool: Uint8Array[] = [];
  private u16Pool: Uint16Array[] = [];

  constructor(private readonly alloc: (n: number) => FloatArray, private readonly held = new HeldBytes()) {}

  private grow<T extends ArrayBufferView & { length: number }>(pool: T[], slot: number, n: number, make: (n: number) => T): T {
    let b = pool[slot];
    if (!b || b.length < n) {
      this.held.release('scratch', b);
      b = pool[slot] = this.held.take('scratch', make(n));
    }
    return b;
  }

  /** A float scratch view (the kernels' float type) of length n; `slot` distinguishes buffers needed at the same time. */
  floats(n: number, slot = 0): FloatArray {
    return this.grow(this.floatPool, slot, n, this.alloc).subarray(0, n);
  }

  u8(n: number, slot = 0): Uint8Array {
    return this.grow(this.u8Pool, slot, n, (m) => new Uint8Array(m)).subarray(0, n);
  }

  u16(n: number, slot = 0): Uint16Array {
    return this.grow(this.u16Pool, slot, n, (m) => new Uint16Array(m)).subarray(0, n);
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
  /** Bytes of every buffer allocated through this context (alloc, u8, u16, i32, scratch), by kind. */
  readonly held = new HeldBytes();
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

  /** A zeroed float buffer of the kernels' type (Float32Array, or Float64Array in float64 mode), counted in `held`. */
  alloc(n: number, kind: HeldKind = 'activations'): FloatArray {
    return this.held.take(kind, this.kernels.alloc(n));
  }

  /** Zeroed byte / 16-bit / int32 buffers (FP8 codes, BF16 bits, token ids), counted in `held`. */
  u8(n: number, kind: HeldKind = 'activations'): Uint8Array {
    return this.held.take(kind, new Uint8Array(n));
  }
  u16(n: number, kind: HeldKind = 'activations'): Uint16Array {
    return this.held.take(kind, new Uint16Array(n));
  }
  i32(n: number, kind: HeldKind = 'activations'): Int32Array {
    return this.held.take(kind, new Int32Array(n));
  }
  f64(n: number, kind: HeldKind = 'activations'): Float64Array {
    return this.held.take(kind, new Float64Array(n));
  }

  constructor(kernels: Kernels<FloatArray>, recipe: PrecisionRecipe, scaling: ScalingState, gemmOverrides: readonly string[] = []) {
    this.gemmOverrides = new Set(gemmOverrides);
    if (kernels.precision === 'float64' && (recipe.gemm !== 'fp32' || recipe.activations !== 'fp32')) {
      throw new RangeError(
        `OpContext: the float64 kernels verify gradients of the fp32 recipe only (FP8/BF16 GEMMs and BF16 activations are defined on float32 values), got precision '${recipe.name}'`,
      );
    }
    this.kernels = kernels;
    this.scratch = new Scratch((n) => kernels.alloc(n), this.held);
    this.recipe = recipe;
    this.scaling = scaling;
  }
}
