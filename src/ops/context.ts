/**
 * What every op shares: the kernels, the precision recipe, the scaling state, the tape, the
 * optional monitor, reusable scratch buffers, and the per-optimizer-step weight-cast epoch.
 */
import type { Kernels } from '../kernels/types.js';
import type { PrecisionRecipe } from '../numerics/recipe.js';
import type { ScalingState } from '../numerics/scaling.js';
import type { MonitorSink } from './monitor.js';
import { Tape } from './tape.js';

/** Growable scratch buffers shared by all ops of a model: they grow on first use, then are reused. */
export class Scratch {
  private f32Pool: Float32Array[] = [];
  private u8Pool: Uint8Array[] = [];
  private u16Pool: Uint16Array[] = [];

  /** A float32 scratch view of length n; `slot` distinguishes buffers needed at the same time. */
  f32(n: number, slot = 0): Float32Array {
    let b = this.f32Pool[slot];
    if (!b || b.length < n) b = this.f32Pool[slot] = new Float32Array(n);
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
    for (const b of [...this.f32Pool, ...this.u8Pool, ...this.u16Pool]) if (b) total += b.byteLength;
    return total;
  }
}

export class OpContext {
  readonly kernels: Kernels;
  readonly recipe: PrecisionRecipe;
  readonly scaling: ScalingState;
  readonly tape = new Tape();
  readonly scratch = new Scratch();
  /** Set for the duration of one monitored forward/backward; null otherwise. */
  monitor: MonitorSink | null = null;
  /** False during evaluation: casts record no amax and change no scale. */
  training = true;
  /** Incremented by Model.beginOptimizerStep: cached weight casts older than this are stale. */
  weightEpoch = 0;

  constructor(kernels: Kernels, recipe: PrecisionRecipe, scaling: ScalingState) {
    this.kernels = kernels;
    this.recipe = recipe;
    this.scaling = scaling;
  }
}
