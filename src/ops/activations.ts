/**
 * MLP activations, forward and backward side by side. Activations stay wide (DESIGN §3). Backward
 * reads the op's input h, the fc1 output, as forward saw it: kept per layer (as its BF16 bits when
 * h is a BF16 tensor, else float32) or, with recomputeMlp, recomputed bit-identically from fc1's
 * saved Q(x) (one extra fprop GEMM per layer, nothing of size (R, Fin) kept). SwiGLU and Smooth-SwiGLU read h (R, 2F) = [gate | up];
 * Smooth-SwiGLU also saves s (R) = max|gate| per token, which RowScaleOp multiplies back into the
 * fc2 output. xIELU's α's are softplus-parametrised: α_p = softplus(a_p), α_n = β + softplus(a_n).
 */
import type { CastStats, FloatArray, FusedCast } from '../kernels/types.js';
import type { LinearOp } from './linear.js';
import { wantsTensorStats } from './monitor.js';
import type { OpContext } from './context.js';
import type { TapeNode } from './tape.js';
import type { Boundary, FusesRounding } from './boundary.js';

/** xIELU constants (DESIGN §4): β, ε fixed; α_p = α_n = 0.8 at init. */
export const XIELU_BETA = 0.5;
export const XIELU_EPS = -1e-6;
export const XIELU_ALPHA_INIT = 0.8;

export function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}
function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export type ActivationKind = 'swiglu' | 'smooth-swiglu' | 'gelu' | 'xielu';

/** h (R, Fin) → a (R, F), Fin = 2F for the gated kinds. */
export class ActivationOp implements TapeNode, FusesRounding {
  readonly label: string;
  /** The kernels round a / dh to BF16 as they write them (taken from the op's boundary). */
  private roundA = false;
  private roundDh = false;
  /** Smooth-SwiGLU per-token divisor s (R); length 0 otherwise. */
  readonly s: FloatArray;

  constructor(
    private readonly ctx: OpContext, label: string, private readonly kind: ActivationKind, private readonly R: number, private readonly F: number,
    private readonly h: FloatArray, private readonly a: FloatArray, private readonly da: FloatArray, private readonly dh: FloatArray,
    /** xIELU raw parameters a_p (1), a_n (1) and their accumulated gradients. */
    private readonly xielu: { ap: FloatArray; an: FloatArray; dap: FloatArray; dan: FloatArray } | null,
    /**
     * How backward gets h back: 'own' — h is this op's own buffer and still holds it; a function —
     * rewrites h (R, Fin) exactly as forward saw it (fc1's recomputeOutput), run first in backward;
     * a Uint16Array — h's BF16 bits (h holds BF16 values), written by a training forward's kernel
     * as it reads h and read by the backward's kernel directly (activation kernels take BF16 bits).
     */
    private readonly keep: 'own' | (() => void) | Uint16Array,
  ) {
    this.label = label;
    const fin = kind === 'swiglu' || kind === 'smooth-swiglu' ? 2 * F : F;
    if (h.length !== R * fin || dh.length !== R * fin) throw new TypeError(`ActivationOp(${label}): h and dh must have length R·${fin} = ${R * fin}`);
    if (a.length !== R * F || da.length !== R * F) throw new TypeError(`ActivationOp(${label}): a and da must have length R·F = ${R * F}`);
    if (kind === 'xielu' && !xielu) throw new TypeError(`ActivationOp(${label}): xIELU needs its parameters`);
    this.s = ctx.alloc(kind === 'smooth-swiglu' ? R : 0);
  }

  savedBytes(): number {
    const kept = this.keep === 'own' ? this.h.byteLength : this.keep instanceof Uint16Array ? this.keep.byteLength : 0;
    return this.s.byteLength + kept;
  }

  private xieluParams() {
    const x = this.xielu as NonNullable<typeof this.xielu>;
    return { alphaP: softplus(x.ap[0]), alphaN: XIELU_BETA + softplus(x.an[0]), beta: XIELU_BETA, eps: XIELU_EPS };
  }

  fuseRounding(boundary: Boundary): void {
    this.roundA = boundary.takeForwardRounding(this.a);
    this.roundDh = boundary.takeBackwardRounding(this.dh);
  }

  /** The linears whose FP8 casts of a (fc2's input) and dh (fc1's grad_output) the kernels may make as they write them. */
  private castInto: { a: LinearOp; dh: LinearOp } | null = null;

  /**
   * Fuses the FP8 casts of a and dh into this op's kernels where the linears allow it (delayed
   * scaling): the float a and dh are then never written. Not while a probe (the linears refuse
   * then) or the monitor's tensor statistics need to see a.
   */
  fuseCasts(aConsumer: LinearOp, dhConsumer: LinearOp): void {
    this.castInto = { a: aConsumer, dh: dhConsumer };
  }

  private fusedCast(port: 'a' | 'dh'): FusedCast | null {
    if (this.castInto === null) return null;
    if (port === 'a') return wantsTensorStats(this.ctx.monitor) ? null : this.castInto.a.fusedInputCast();
    return this.castInto.dh.fusedGradCast();
  }

  forward(): void {
    const k = this.ctx.kernels;
    const h = this.h;
    // h's BF16 bits for backward, written by the kernel as it reads h (a training forward only)
    const bits = this.keep instanceof Uint16Array && this.ctx.training ? this.keep : null;
    const round = this.roundA;
    const cast = this.fusedCast('a');
    let stats: CastStats | null;
    switch (this.kind) {
      case 'swiglu': stats = k.swigluForward(h, this.a, this.R, this.F, round, bits, cast); break;
      case 'smooth-swiglu': stats = k.smoothSwigluForward(h, this.a, this.s, this.R, this.F, round, bits, cast); break;
      case 'gelu': stats = k.geluForward(h, this.a, round, bits, cast); break;
      case 'xielu': stats = k.xieluForward(h, this.a, this.xieluParams(), round, bits, cast); break;
      default: { const never: never = this.kind; throw new RangeError(`unknown activation ${String(never)}`); }
    }
    this.castInto?.a.inputCastBy(cast && stats ? { cast, stats } : null);
    this.ctx.tape.record(this);
  }

  backward(): void {
    const k = this.ctx.kernels;
    if (typeof this.keep === 'function') this.keep();
    const h = this.keep instanceof Uint16Array ? this.keep : this.h;
    const round = this.roundDh;
    const cast = this.fusedCast('dh');
    let stats: CastStats | null;
    switch (this.kind) {
      case 'swiglu': stats = k.swigluBackward(h, this.da, this.dh, this.R, this.F, round, cast); break;
      case 'smooth-swiglu': stats = k.smoothSwigluBackward(h, this.s, this.da, this.dh, this.R, this.F, round, cast); break;
      case 'gelu': stats = k.geluBackward(h, this.da, this.dh, round, cast); break;
      case 'xielu': {
        const x = this.xielu as NonNullable<typeof this.xielu>;
        const g = k.xieluBackward(h, this.da, this.dh, this.xieluParams(), round, cast);
        // chain through softplus: d softplus(a)/da = sigmoid(a)
        x.dap[0] += g.dAlphaP * sigmoid(x.ap[0]);
        x.dan[0] += g.dAlphaN * sigmoid(x.an[0]);
        stats = g.cast;
        break;
      }
      default: { const never: never = this.kind; throw new RangeError(`unknown activation ${String(never)}`); }
    }
    this.castInto?.dh.gradCastBy(cast && stats ? { cast, stats } : null);
  }
}

/** y[r, :] = x[r, :] · s[r] (Smooth-SwiGLU's multiply-back; no gradient into s). y may alias x. */
export class RowScaleOp implements TapeNode {
  readonly label: string;
  constructor(
    private readonly ctx: OpContext, label: string, private readonly R: number, private readonly C: number, private readonly s: FloatArray,
    private readonly x: FloatArray, private readonly y: FloatArray, private readonly dy: FloatArray, private readonly dx: FloatArray,
  ) {
    this.label = label;
    if (s.length !== R || x.length !== R * C || y.length !== R * C || dy.length !== R * C || dx.length !== R * C) {
      throw new TypeError(`RowScaleOp(${label}): expected s (R) and x, y, dy, dx (R·C) with R=${R}, C=${C}`);
    }
  }

  savedBytes(): number {
    return 0; // s is saved by the activation op
  }

  forward(): void {
    const { R, C, s, x, y } = this;
    for (let r = 0; r < R; r++) for (let c = r * C; c < (r + 1) * C; c++) y[c] = x[c] * s[r];
    this.ctx.tape.record(this);
  }

  backward(): void {
    const { R, C, s, dy, dx } = this;
    for (let r = 0; r < R; r++) for (let c = r * C; c < (r + 1) * C; c++) dx[c] = dy[c] * s[r];
  }
}
