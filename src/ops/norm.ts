/**
 * Normalisations, forward and backward side by side: RMSNorm over the last dimension (with a
 * trainable gain or gain-free, the FOG frozen QK norm), and the DyT tanh y = tanh(α·x) with one
 * trainable scalar α.
 */
import type { FloatArray } from '../kernels/types.js';
import type { OpContext } from './context.js';
import type { LinearOp } from './linear.js';
import type { TapeNode } from './tape.js';
import type { Boundary, FusesRounding } from './boundary.js';

/** y (R, C) = x / sqrt(mean(x²) + eps) · gain; gain (C) trainable or null (no gain). */
export class RmsNormOp implements TapeNode, FusesRounding {
  readonly label: string;
  private readonly savedX: FloatArray; // (R, C) copy of the input
  private readonly rstd: FloatArray; // (R)
  /** The kernels round y / dx to BF16 as they write them (taken from the op's boundary). */
  private roundY = false;
  private roundDx = false;

  constructor(
    private readonly ctx: OpContext, label: string, private readonly R: number, private readonly C: number, private readonly eps: number,
    private readonly gain: FloatArray | null, private readonly dgain: FloatArray | null,
    private readonly x: FloatArray, private readonly y: FloatArray, private readonly dy: FloatArray, private readonly dx: FloatArray,
  ) {
    this.label = label;
    if (x.length !== R * C || y.length !== R * C || dy.length !== R * C || dx.length !== R * C) {
      throw new TypeError(`RmsNormOp(${label}): x, y, dy, dx must have length R·C = ${R * C}`);
    }
    if ((gain === null) !== (dgain === null) || (gain && gain.length !== C)) {
      throw new TypeError(`RmsNormOp(${label}): gain and dgain must both be null or both have length C = ${C}`);
    }
    this.savedX = ctx.alloc(R * C);
    this.rstd = ctx.alloc(R);
  }

  savedBytes(): number {
    return this.savedX.byteLength + this.rstd.byteLength;
  }

  fuseRounding(boundary: Boundary): void {
    this.roundY = boundary.takeForwardRounding(this.y);
    this.roundDx = boundary.takeBackwardRounding(this.dx);
  }

  /** The linear whose FP8 input cast of y the kernel may make as it writes y (a pre-norm before its linear). */
  private castInto: LinearOp | null = null;

  /** Fuses `consumer`'s input cast of y into this op's kernel where it allows it (delayed scaling, no probe); y is then not written. */
  fuseCast(consumer: LinearOp): void {
    this.castInto = consumer;
  }

  forward(): void {
    const cast = this.castInto?.fusedInputCast() ?? null;
    // x may change after forward (the residual stream is updated in place): the kernel saves the copy backward reads
    const stats = this.ctx.kernels.rmsnormForward(this.x, this.gain, this.y, this.rstd, this.R, this.C, this.eps, this.roundY, this.savedX, cast);
    this.castInto?.inputCastBy(cast && stats ? { cast, stats } : null);
    this.ctx.tape.record(this);
  }

  backward(): void {
    this.ctx.kernels.rmsnormBackward(this.dy, this.savedX, this.gain, this.rstd, this.dx, this.dgain, this.R, this.C, this.roundDx);
  }
}

/** DyT: y (n) = tanh(α·x), α a trainable scalar (alpha (1), dalpha (1) accumulated). y may alias x. */
export class TanhOp implements TapeNode {
  readonly label: string;
  private readonly savedX: FloatArray; // (n)

  constructor(
    private readonly ctx: OpContext, label: string, private readonly alpha: FloatArray, private readonly dalpha: FloatArray,
    private readonly x: FloatArray, private readonly y: FloatArray, private readonly dy: FloatArray, private readonly dx: FloatArray,
  ) {
    this.label = label;
    const n = x.length;
    if (y.length !== n || dy.length !== n || dx.length !== n) throw new TypeError(`TanhOp(${label}): x, y, dy, dx lengths differ`);
    if (alpha.length !== 1 || dalpha.length !== 1) throw new TypeError(`TanhOp(${label}): alpha and dalpha must have length 1`);
    this.savedX = ctx.alloc(n);
  }

  savedBytes(): number {
    return this.savedX.byteLength;
  }

  forward(): void {
    this.savedX.set(this.x);
    const a = this.alpha[0];
    const x = this.savedX;
    const y = this.y;
    for (let i = 0; i < x.length; i++) y[i] = Math.tanh(a * x[i]);
    this.ctx.tape.record(this);
  }

  backward(): void {
    const a = this.alpha[0];
    const x = this.savedX;
    const dy = this.dy;
    const dx = this.dx;
    let da = 0;
    for (let i = 0; i < x.length; i++) {
      const t = Math.tanh(a * x[i]);
      const g = dy[i] * (1 - t * t);
      dx[i] = g * a;
      da += g * x[i];
    }
    this.dalpha[0] += da;
  }
}
