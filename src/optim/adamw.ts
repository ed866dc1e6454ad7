/**
 * AdamW with precision-aware state (DESIGN §5). The float32 parameter arena the model reads is
 * always the decoded master weights; the moments live in their own code arenas (fp32, fp16, bf16
 * or FP8) with one float32 scale per tensor. One update per tensor: decode the moments to
 * float32 scratch, run `kernels.adamw` there, then re-encode moments and master weights with
 * freshly derived scales. Weight decay applies only to tensors whose ParamSpec says so (2-D
 * matrices); 1-D gains and scalars are never decayed.
 */
import type { Kernels } from '../kernels/types.js';
import {
  STATE_DTYPE_LAYOUT,
  allocateCodes,
  codesView,
  decodeState,
  encodeState,
  roundToState,
  type StateCodes,
  type StateDtype,
} from './state-codec.js';

/** Precision of the wide/master copy and the gradient buffer. */
export type WidePrecision = 'fp32' | 'fp16' | 'bf16';
/** Precision of an Adam moment: wide, or FP8 ('fp8' = E4M3 for m1, E5M2 for m2). */
export type MomentPrecision = WidePrecision | 'fp8';

export interface OptimizerPrecision {
  master: WidePrecision;
  m1: MomentPrecision;
  m2: MomentPrecision;
  grads: WidePrecision;
}

export const FP32_OPTIMIZER_PRECISION: Readonly<OptimizerPrecision> = Object.freeze({ master: 'fp32', m1: 'fp32', m2: 'fp32', grads: 'fp32' });

export interface AdamWHyperParams {
  beta1: number;
  beta2: number;
  eps: number;
  /** decoupled weight decay coefficient, applied only to tensors with `weightDecay: true`. */
  weightDecay: number;
}

/** DESIGN §5 values. */
export const DEFAULT_ADAMW: Readonly<AdamWHyperParams> = Object.freeze({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });

/** One parameter tensor inside the flat parameter/gradient arenas. */
export interface OptimizedTensor {
  name: string;
  shape: readonly number[];
  /** element offset in the arena. */
  offset: number;
  /** element count. */
  size: number;
  weightDecay: boolean;
}

/** The dtype a moment precision is stored with. */
export function momentDtype(which: 'm1' | 'm2', p: MomentPrecision): StateDtype {
  if (p === 'fp8') return which === 'm1' ? 'e4m3' : 'e5m2';
  return p;
}

/** Serialised optimizer state: code arenas and scales, plus the number of applied updates. */
export interface AdamWState {
  stepCount: number;
  m1: StateCodes;
  m2: StateCodes;
  m1Scales: Float32Array;
  m2Scales: Float32Array;
  masterScales: Float32Array;
}

export class AdamW {
  readonly tensors: readonly OptimizedTensor[];
  readonly hyper: Readonly<AdamWHyperParams>;
  readonly precision: Readonly<OptimizerPrecision>;
  readonly m1Dtype: StateDtype;
  readonly m2Dtype: StateDtype;
  /** Updates applied so far (bias correction uses stepCount + 1; skipped steps do not count). */
  stepCount = 0;
  /** (total) code arenas of the first and second moments. */
  readonly m1: StateCodes;
  readonly m2: StateCodes;
  /** one scale per tensor (1 for fp32 state). */
  readonly m1Scales: Float32Array;
  readonly m2Scales: Float32Array;
  readonly masterScales: Float32Array;
  readonly gradScales: Float32Array;
  private readonly kernels: Kernels;
  private readonly total: number;
  // float32 scratch sized to the largest tensor: decoded m1, m2, and encode staging.
  private readonly m1Scratch: Float32Array;
  private readonly m2Scratch: Float32Array;
  private readonly stage: Float32Array;
  private readonly wideCodes: Uint16Array;

  /**
   * `tensors` must tile the arena [0, total) without overlap. The moments start at zero.
   */
  constructor(tensors: readonly OptimizedTensor[], kernels: Kernels, hyper: AdamWHyperParams = DEFAULT_ADAMW, precision: OptimizerPrecision = FP32_OPTIMIZER_PRECISION) {
    validatePrecision(precision);
    for (const [k, v] of Object.entries(hyper)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`AdamW: ${k} must be a finite number ≥ 0, got ${v}`);
    }
    if (hyper.beta1 >= 1 || hyper.beta2 >= 1) throw new RangeError(`AdamW: betas must be < 1, got ${hyper.beta1}, ${hyper.beta2}`);
    this.tensors = tensors;
    this.hyper = Object.freeze({ ...hyper });
    this.precision = Object.freeze({ ...precision });
    this.kernels = kernels;
    let total = 0;
    let largest = 0;
    for (const t of tensors) {
      if (t.offset !== total) throw new RangeError(`AdamW: tensor ${t.name} starts at ${t.offset}, expected ${total} (tensors must tile the arena in order)`);
      total += t.size;
      largest = Math.max(largest, t.size);
    }
    this.total = total;
    this.m1Dtype = momentDtype('m1', precision.m1);
    this.m2Dtype = momentDtype('m2', precision.m2);
    this.m1 = allocateCodes(this.m1Dtype, total);
    this.m2 = allocateCodes(this.m2Dtype, total);
    this.m1Scales = new Float32Array(tensors.length).fill(1);
    this.m2Scales = new Float32Array(tensors.length).fill(1);
    this.masterScales = new Float32Array(tensors.length).fill(1);
    this.gradScales = new Float32Array(tensors.length).fill(1);
    this.m1Scratch = new Float32Array(largest);
    this.m2Scratch = new Float32Array(largest);
    this.stage = new Float32Array(largest);
    this.wideCodes = new Uint16Array(largest);
  }

  /** Bytes of every buffer the optimizer holds: moment codes, per-tensor scales, scratch. */
  bytes(): number {
    const buffers: ArrayBufferView[] = [this.m1, this.m2, this.m1Scales, this.m2Scales, this.masterScales, this.gradScales, this.m1Scratch, this.m2Scratch, this.stage, this.wideCodes];
    return buffers.reduce((s, b) => s + b.byteLength, 0);
  }

  /** Elements in the parameter arena. */
  get size(): number {
    return this.total;
  }

  /** Rounds the float32 parameters in place to the master precision (call once after init or load). */
  roundMaster(params: Float32Array): void {
    this.checkArena('params', params);
    this.tensors.forEach((t, i) => {
      this.masterScales[i] = roundToState(this.precision.master, params.subarray(t.offset, t.offset + t.size), this.wideCodes, this.stage);
    });
  }

  /**
   * Emulates the gradient buffer's precision: rounds the accumulated float32 gradients in place
   * to `precision.grads` with a per-tensor scale (the trainer calls this once per step, on the summed gradients).
   */
  roundGrads(grads: Float32Array): void {
    this.checkArena('grads', grads);
    if (this.precision.grads === 'fp32') return;
    this.tensors.forEach((t, i) => {
      this.gradScales[i] = roundToState(this.precision.grads, grads.subarray(t.offset, t.offset + t.size), this.wideCodes, this.stage);
    });
  }

  /**
   * One AdamW update of every tensor at learning rate `lr`. `params` (total) is updated in place
   * and re-rounded to the master precision. `grads` (total) are first multiplied in place by
   * `gradScale` (the clip factor, rounded to float32; 1 leaves them untouched) — tensor by tensor,
   * right before each update reads them, instead of in a separate pass over the whole arena.
   */
  step(params: Float32Array, grads: Float32Array, lr: number, gradScale = 1): void {
    this.checkArena('params', params);
    this.checkArena('grads', grads);
    if (!Number.isFinite(lr) || lr < 0) throw new RangeError(`AdamW.step: lr must be a finite number ≥ 0, got ${lr}`);
    if (!(gradScale > 0 && gradScale <= 1)) throw new RangeError(`AdamW.step: gradScale must be in (0, 1], got ${gradScale}`);
    const f = Math.fround(gradScale);
    const step = this.stepCount + 1;
    const m1Wide = this.m1Dtype === 'fp32';
    const m2Wide = this.m2Dtype === 'fp32';
    for (let i = 0; i < this.tensors.length; i++) {
      const t = this.tensors[i];
      const w = params.subarray(t.offset, t.offset + t.size);
      const g = grads.subarray(t.offset, t.offset + t.size);
      if (f !== 1) for (let j = 0; j < g.length; j++) g[j] *= f;
      const m1Codes = codesView(this.m1, t.offset, t.size);
      const m2Codes = codesView(this.m2, t.offset, t.size);
      const m = m1Wide ? (m1Codes as Float32Array) : this.m1Scratch.subarray(0, t.size);
      const v = m2Wide ? (m2Codes as Float32Array) : this.m2Scratch.subarray(0, t.size);
      if (!m1Wide) decodeState(this.m1Dtype, m1Codes, this.m1Scales[i], m);
      if (!m2Wide) decodeState(this.m2Dtype, m2Codes, this.m2Scales[i], v);
      this.kernels.adamw(w, g, m, v, {
        lr,
        beta1: this.hyper.beta1,
        beta2: this.hyper.beta2,
        eps: this.hyper.eps,
        weightDecay: t.weightDecay ? this.hyper.weightDecay : 0,
        step,
      });
      if (!m1Wide) this.m1Scales[i] = encodeState(this.m1Dtype, m, m1Codes, this.stage);
      if (!m2Wide) this.m2Scales[i] = encodeState(this.m2Dtype, v, m2Codes, this.stage);
      this.masterScales[i] = roundToState(this.precision.master, w, this.wideCodes, this.stage);
    }
    this.stepCount = step;
  }

  /** The state to checkpoint (views of the live arenas: copy or write before the next step). */
  state(): AdamWState {
    return { stepCount: this.stepCount, m1: this.m1, m2: this.m2, m1Scales: this.m1Scales, m2Scales: this.m2Scales, masterScales: this.masterScales };
  }

  /** Restores a state previously returned by `state()` (validated: sizes and dtypes must match). */
  restore(s: AdamWState): void {
    if (!Number.isInteger(s.stepCount) || s.stepCount < 0) throw new RangeError(`AdamW.restore: stepCount must be an integer ≥ 0, got ${s.stepCount}`);
    copyChecked('m1', this.m1, s.m1);
    copyChecked('m2', this.m2, s.m2);
    copyChecked('m1Scales', this.m1Scales, s.m1Scales);
    copyChecked('m2Scales', this.m2Scales, s.m2Scales);
    copyChecked('masterScales', this.masterScales, s.masterScales);
    this.stepCount = s.stepCount;
  }

  /** safetensors dtype names of the moment arenas. */
  momentSafetensorsDtypes(): { m1: string; m2: string } {
    return { m1: STATE_DTYPE_LAYOUT[this.m1Dtype].safetensorsDtype, m2: STATE_DTYPE_LAYOUT[this.m2Dtype].safetensorsDtype };
  }

  private checkArena(name: string, a: Float32Array): void {
    if (!(a instanceof Float32Array) || a.length !== this.total) {
      throw new TypeError(`AdamW: ${name} must be a Float32Array of length ${this.total}, got ${a instanceof Float32Array ? a.length : typeof a}`);
    }
  }
}

/** dst.set(src) after checking that src has dst's element type and length. */
function copyChecked(name: string, dst: StateCodes, src: StateCodes): void {
  if (Object.getPrototypeOf(dst) !== Object.getPrototypeOf(src) || dst.length !== src.length) {
    throw new RangeError(`AdamW.restore: ${name} must be a ${dst.constructor.name} of length ${dst.length}, got a ${src.constructor.name} of length ${src.length}`);
  }
  if (dst instanceof Float32Array) dst.set(src as Float32Array);
  else if (dst instanceof Uint16Array) dst.set(src as Uint16Array);
  else dst.set(src as Uint8Array);
}

const WIDE: readonly string[] = ['fp32', 'fp16', 'bf16'];
const MOMENT: readonly string[] = [...WIDE, 'fp8'];

/** Throws a RangeError naming the field and the allowed values for an invalid precision. */
export function validatePrecision(p: OptimizerPrecision): void {
  const fields: [keyof OptimizerPrecision, readonly string[]][] = [
    ['master', WIDE],
    ['m1', MOMENT],
    ['m2', MOMENT],
    ['grads', WIDE],
  ];
  for (const [k, allowed] of fields) {
    if (!allowed.includes(p[k])) throw new RangeError(`optimizer precision ${k} must be one of ${allowed.join(', ')}; got ${JSON.stringify(p[k])}`);
  }
}
