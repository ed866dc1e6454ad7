/** RoPE on q or k (B, T, H, D), in place (theta plus optional Llama-3.1 scaling); backward applies the inverse rotation in place. Saves nothing. */
import type { FloatArray, RopeScaling } from '../kernels/types.js';
import type { OpContext } from './context.js';
import type { TapeNode } from './tape.js';

export class RopeOp implements TapeNode {
  readonly label: string;

  constructor(
    private readonly ctx: OpContext, label: string, private readonly B: number, private readonly T: number, private readonly H: number,
    private readonly D: number, private readonly theta: number, private readonly scaling: RopeScaling | null, private readonly x: FloatArray, private readonly dx: FloatArray,
  ) {
    this.label = label;
    if (x.length !== B * T * H * D || dx.length !== B * T * H * D) throw new TypeError(`RopeOp(${label}): x and dx must have length B·T·H·D`);
  }

  savedBytes(): number {
    return 0;
  }

  forward(): void {
    this.ctx.kernels.ropeForward(this.x, this.x, this.B, this.T, this.H, this.D, this.theta, this.scaling);
    this.ctx.tape.record(this);
  }

  backward(): void {
    this.ctx.kernels.ropeBackward(this.dx, this.dx, this.B, this.T, this.H, this.D, this.theta, this.scaling);
  }
}
