/**
 * FP8 scaling state (DESIGN §3): per scaled operand a float32 `scale` and an amax history,
 * updated at one explicit point with Transformer Engine's delayed-scaling rules, and saved in
 * checkpoints. The recipe (frozen knobs) is passed in; the state never copies it.
 *
 * Scale arithmetic is float32 like TE's: scale = fround(fround(fmax / amax*) / 2^margin), every
 * step rounded to float32; amax* that is 0, negative, NaN or infinite keeps the previous scale,
 * and a quotient that overflows float32 becomes FLT_MAX.
 */
import type { FloatFormat } from './formats.js';
import { scalingPolicy, type ScalingPolicy } from './policy.js';
import {
  SCALING_ROLES,
  assertPrecisionRecipe,
  isBackwardRole,
  type PrecisionRecipe,
  type ScalingRole,
} from './recipe.js';

/** Largest finite float32, the clamp for scales whose quotient overflows. */
export const FLT_MAX = 3.4028234663852886e38;

/**
 * Scale from an amax (DESIGN §3): (fmax / amax) / 2^margin in float32 arithmetic. Returns
 * `previousScale` if amax is not a positive finite number; FLT_MAX if the quotient overflows.
 */
export function computeScale(amax: number, fmax: number, margin: number, previousScale: number): number {
  if (!(amax > 0) || amax === Infinity) return previousScale; // 0, negative, NaN, +inf
  const quotient = Math.fround(Math.fround(fmax) / Math.fround(amax));
  const scale = Math.fround(quotient / Math.fround(2 ** margin));
  return scale === Infinity ? FLT_MAX : scale;
}

/** Current scaling: the scale from the tensor's own amax (no history); 1 if amax is 0/NaN/inf. */
export function currentScale(amax: number, format: FloatFormat, margin: number): number {
  return computeScale(amax, format.maxFinite, margin, 1);
}

/** Scale and amax history of one scaled operand, e.g. key 'layers.0.attn.qkv', role 'input'. */
export class ScalingSlot {
  readonly key: string;
  readonly role: ScalingRole;
  /** (H) amax window; slot 0 collects the amax of the pass in progress. */
  readonly amaxHistory: Float32Array;
  #scale = 1;

  constructor(key: string, role: ScalingRole, amaxHistoryLen: number) {
    isBackwardRole(role); // validates the role
    if (!Number.isInteger(amaxHistoryLen) || amaxHistoryLen < 1) {
      throw new RangeError(`ScalingSlot: amaxHistoryLen must be a positive integer, got ${amaxHistoryLen}`);
    }
    this.key = key;
    this.role = role;
    this.amaxHistory = new Float32Array(amaxHistoryLen);
  }

  /** float32 scale used by the next cast; starts at 1. */
  get scale(): number {
    return this.#scale;
  }

  /**
   * The one way a scale changes: called by the scaling policies (policy.ts) and by state
   * restore/load. Ops never set scales themselves.
   */
  setScale(scale: number): void {
    if (typeof scale !== 'number') throw new TypeError(`ScalingSlot.setScale(${this.key}): scale must be a number, got ${typeof scale}`);
    this.#scale = scale;
  }

  /** Records the amax of one cast of the *unscaled* tensor: slot 0 ← max(slot 0, amax), NaN sticks. */
  recordAmax(amax: number): void {
    if (typeof amax !== 'number' || amax < 0) {
      throw new RangeError(`ScalingSlot.recordAmax(${this.key}): amax must be a number ≥ 0, NaN or Infinity, got ${amax}`);
    }
    this.amaxHistory[0] = Math.max(this.amaxHistory[0], amax);
  }

  /**
   * Applies the end-of-pass update of `recipe`'s scaling policy (policy.ts). Delayed scaling: if
   * the recorded amax is 0 nothing changes; otherwise amax* (max over the window including the new
   * value — NaN if any entry is NaN — or the new value for `most_recent`) gives the new scale, and
   * the window rolls (oldest drops, slot 0 cleared). Current and block scaling only clear the
   * recorded amax.
   */
  update(recipe: PrecisionRecipe): void {
    if (this.amaxHistory.length !== recipe.amaxHistoryLen) {
      throw new RangeError(`ScalingSlot.update(${this.key}): history length ${this.amaxHistory.length} ≠ recipe amaxHistoryLen ${recipe.amaxHistoryLen}`);
    }
    scalingPolicy(recipe).endOfPass(this);
  }
}

/** JSON form of a ScalingState; non-finite history entries are the strings 'NaN' / 'Infinity'. */
export interface SerializedScalingState {
  version: 1;
  recipe: {
    name: string;
    scaling: PrecisionRecipe['scaling'];
    amaxHistoryLen: number;
    amaxAlgo: PrecisionRecipe['amaxAlgo'];
    margin: number;
    forwardFormat: PrecisionRecipe['forwardFormat'];
    backwardFormat: PrecisionRecipe['backwardFormat'];
  };
  slots: { key: string; role: ScalingRole; scale: number; amaxHistory: (number | 'NaN' | 'Infinity')[] }[];
}

function serializeAmax(v: number): number | 'NaN' | 'Infinity' {
  if (Number.isNaN(v)) return 'NaN';
  return v === Infinity ? 'Infinity' : v;
}

interface SnapshotEntry {
  readonly slot: ScalingSlot;
  scale: number;
  readonly amaxHistory: Float32Array;
}

/** What ScalingState.snapshot() returns: opaque to callers. */
export type ScalingSnapshot = readonly Readonly<SnapshotEntry>[];

/** The scaling state of a whole model: one ScalingSlot per (GEMM, role), in creation order. */
export class ScalingState {
  readonly recipe: PrecisionRecipe;
  /** The recipe's scaling policy: every scale decision of the ops goes through it. */
  readonly policy: ScalingPolicy;
  private readonly byKey = new Map<string, ScalingSlot>();

  constructor(recipe: PrecisionRecipe) {
    this.recipe = assertPrecisionRecipe(recipe, 'ScalingState recipe');
    this.policy = scalingPolicy(this.recipe);
  }

  /** The slot for `key` (created with scale 1 and a zero history on first use). */
  slot(key: string, role: ScalingRole): ScalingSlot {
    if (typeof key !== 'string' || key.length === 0) {
      throw new TypeError(`ScalingState.slot: key must be a non-empty string, got ${JSON.stringify(key)}`);
    }
    const existing = this.byKey.get(key);
    if (existing !== undefined) {
      if (existing.role !== role) {
        throw new RangeError(`ScalingState.slot: key '${key}' already has role '${existing.role}', asked for '${role}'`);
      }
      return existing;
    }
    const created = new ScalingSlot(key, role, this.recipe.amaxHistoryLen);
    this.byKey.set(key, created);
    return created;
  }

  /** Bytes of the state's buffers (every slot's amax history). */
  bytes(): number {
    let n = 0;
    for (const s of this.byKey.values()) n += s.amaxHistory.byteLength;
    return n;
  }

  /** All slots in creation order. */
  slots(): ScalingSlot[] {
    return [...this.byKey.values()];
  }

  /** End-of-forward-pass update of every forward-role slot (input, weight, qkv, p, o). */
  updateForward(): void {
    for (const s of this.byKey.values()) if (!isBackwardRole(s.role)) this.policy.endOfPass(s);
  }

  /** End-of-backward-pass update of every backward-role slot (grad_output, do, ds, dqkv). */
  updateBackward(): void {
    for (const s of this.byKey.values()) if (isBackwardRole(s.role)) this.policy.endOfPass(s);
  }

  /**
   * Takes over every slot of `saved` (e.g. ScalingState.fromJSON of a checkpoint): scale and
   * history, creating slots as needed; slots absent from `saved` are left as they are.
   */
  load(saved: ScalingState): void {
    for (const s of saved.slots()) {
      const live = this.slot(s.key, s.role);
      if (live.amaxHistory.length !== s.amaxHistory.length) {
        throw new RangeError(`ScalingState.load: slot '${s.key}' has history length ${s.amaxHistory.length}, expected ${live.amaxHistory.length}`);
      }
      live.setScale(s.scale);
      live.amaxHistory.set(s.amaxHistory);
    }
  }

  /**
   * The amaxes recorded since the last update (history slot 0 of every slot, in slot order), for
   * data parallelism: ranks max-reduce them (DESIGN §3) and put the result back with
   * setPendingAmaxes() before updateForward()/updateBackward().
   */
  pendingAmaxes(out?: Float32Array): Float32Array {
    const slots = this.slots();
    const values = out !== undefined && out.length === slots.length ? out : new Float32Array(slots.length);
    slots.forEach((s, i) => (values[i] = s.amaxHistory[0]));
    return values;
  }

  /** Replaces the pending amaxes (slot order, as pendingAmaxes returns them). */
  setPendingAmaxes(values: Float32Array): void {
    const slots = this.slots();
    if (values.length !== slots.length) throw new RangeError(`ScalingState.setPendingAmaxes: ${values.length} values for ${slots.length} slots`);
    slots.forEach((s, i) => (s.amaxHistory[0] = values[i]));
  }

  /**
   * In-memory copy of every slot's scale and history, for undoing a step: a skipped (non-finite)
   * training step must leave no trace, and a NaN amax left in a `max` window would otherwise
   * freeze that slot's scale for up to H passes.
   */
  snapshot(reuse?: ScalingSnapshot): ScalingSnapshot {
    const slots = this.slots();
    // Reuse the previous step's buffers when the slots are the same (no allocation per step).
    if (reuse !== undefined && reuse.length === slots.length && reuse.every((e, i) => e.slot === slots[i])) {
      for (const e of reuse as SnapshotEntry[]) {
        e.scale = e.slot.scale;
        e.amaxHistory.set(e.slot.amaxHistory);
      }
      return reuse;
    }
    return slots.map((s): SnapshotEntry => ({ slot: s, scale: s.scale, amaxHistory: s.amaxHistory.slice() }));
  }

  /** Puts back a snapshot of this state in place (ops hold references to the slots). */
  restore(snapshot: ScalingSnapshot): void {
    for (const { slot, scale, amaxHistory } of snapshot) {
      if (this.byKey.get(slot.key) !== slot) throw new RangeError(`ScalingState.restore: slot '${slot.key}' does not belong to this state`);
      slot.setScale(scale);
      slot.amaxHistory.set(amaxHistory);
    }
    // Slots created after the snapshot (first use during the undone step) go back to their initial state.
    const known = new Set(snapshot.map((e) => e.slot));
    for (const s of this.byKey.values()) {
      if (!known.has(s)) {
        s.setScale(1);
        s.amaxHistory.fill(0);
      }
    }
  }

  /** JSON-safe, bit-exact snapshot (scales and histories are float32 values). */
  toJSON(): SerializedScalingState {
    const r = this.recipe;
    return {
      version: 1,
      recipe: {
        name: r.name,
        scaling: r.scaling,
        amaxHistoryLen: r.amaxHistoryLen,
        amaxAlgo: r.amaxAlgo,
        margin: r.margin,
        forwardFormat: r.forwardFormat,
        backwardFormat: r.backwardFormat,
      },
      slots: this.slots().map((s) => ({
        key: s.key,
        role: s.role,
        scale: s.scale,
        amaxHistory: Array.from(s.amaxHistory, serializeAmax),
      })),
    };
  }

  /**
   * Rebuilds a state saved by toJSON under `recipe`. Throws if the data is malformed or was saved
   * under a recipe with a different scaling mode, history length or formats (amaxAlgo and margin
   * may differ: they only shape future updates).
   */
  static fromJSON(recipe: PrecisionRecipe, data: unknown): ScalingState {
    const state = new ScalingState(recipe);
    const where = 'ScalingState.fromJSON';
    if (!isRecord(data) || data.version !== 1) {
      throw new TypeError(`${where}: expected an object with version 1, got ${describe(isRecord(data) ? data.version : data)}`);
    }
    if (!isRecord(data.recipe)) throw new TypeError(`${where}: recipe must be an object`);
    for (const field of ['scaling', 'amaxHistoryLen', 'forwardFormat', 'backwardFormat'] as const) {
      if (data.recipe[field] !== recipe[field]) {
        throw new RangeError(
          `${where}: saved recipe.${field} ${describe(data.recipe[field])} is incompatible with the current recipe's ${describe(recipe[field])}`,
        );
      }
    }
    if (!Array.isArray(data.slots)) throw new TypeError(`${where}: slots must be an array`);
    data.slots.forEach((raw: unknown, index: number) => {
      const at = `${where}: slots[${index}]`;
      if (!isRecord(raw)) throw new TypeError(`${at} must be an object`);
      if (typeof raw.key !== 'string' || raw.key.length === 0) throw new TypeError(`${at}.key must be a non-empty string`);
      if (raw.role === 'dp') {
        // fog8 before FP8DPA as DESIGN §3 cast dP = dO·Vᵀ; that cast no longer exists.
        throw new RangeError(`${at}.role 'dp' was retired (dP is no longer cast; the attention slots are qkv, p, o, do, ds, dqkv): this checkpoint was saved by an older fog8 and cannot resume under the new FP8 attention`);
      }
      if (typeof raw.role !== 'string' || !SCALING_ROLES.includes(raw.role as ScalingRole)) {
        throw new RangeError(`${at}.role must be one of ${SCALING_ROLES.join(', ')}, got ${describe(raw.role)}`);
      }
      if (state.byKey.has(raw.key)) throw new RangeError(`${at}.key '${raw.key}' appears twice`);
      const scale = raw.scale;
      if (typeof scale !== 'number' || !(scale > 0) || scale > FLT_MAX || Math.fround(scale) !== scale) {
        throw new RangeError(`${at}.scale must be a positive finite float32, got ${describe(scale)}`);
      }
      const history = raw.amaxHistory;
      if (!Array.isArray(history) || history.length !== recipe.amaxHistoryLen) {
        throw new RangeError(`${at}.amaxHistory must be an array of length ${recipe.amaxHistoryLen}`);
      }
      const slot = state.slot(raw.key, raw.role as ScalingRole);
      slot.setScale(scale);
      history.forEach((v: unknown, i: number) => {
        const value = v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v;
        const valid = typeof value === 'number' && (Number.isNaN(value) || (value >= 0 && Math.fround(value) === value));
        if (!valid) {
          throw new RangeError(`${at}.amaxHistory[${i}] must be a float32 ≥ 0, 'NaN' or 'Infinity', got ${describe(v)}`);
        }
        slot.amaxHistory[i] = value as number;
      });
    });
    return state;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v) ?? String(v);
}
