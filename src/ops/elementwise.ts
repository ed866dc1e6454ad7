/**
 * Small structural ops, forward and backward side by side: LayerScale, the in-place residual add
 * with its branch fork, and the split of the fused QKV projection into q, k, v.
 */
import type { FloatArray } from '../kernels/types.js';
import type { OpContext } from './context.js';
import type { TapeNode } from './tape.js';
import type { Boundary, FusesRounding } from './boundary.js';

/** y (R, C) = x ⊙ g with a trainable per-channel g (C); saves x. */
export class LayerScaleOp implements TapeNode {
  readonly label: string;
  private readonly savedX: FloatArray; // (R, C)
  constructor(
    private readonly ctx: OpContext, label: string, private readonly R: number, private readonly C: number,
    private readonly g: FloatArray, private readonly dg: FloatArray,
    private readonly x: FloatArray, private readonly y: FloatArray, private readonly dy: FloatArray, private readonly dx: FloatArray,
  ) {
    this.label = label;
    if (g.length !== C || dg.length !== C) throw new TypeError(`LayerScaleOp(${label}): g and dg must have length C = ${C}`);
    for (const a of [x, y, dy, dx]) if (a.length !== R * C) throw new TypeError(`LayerScaleOp(${label}): x, y, dy, dx must have length R·C = ${R * C}`);
    this.savedX = ctx.alloc(R * C);
  }
  savedBytes(): number {
    return this.savedX.byteLength;
  }
  forward(): void {
    const { R, C, g, y } = this;
    this.savedX.set(this.x);
    const x = this.savedX;
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) y[r * C + c] = x[r * C + c] * g[c];
    this.ctx.tape.record(this);
  }
  backward(): void {
    const { R, C, g, dg, dy, dx } = this;
    const x = this.savedX;
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < C; c++) {
        const i = r * C + c;
        dx[i] = dy[i] * g[c];
        dg[c] += dy[i] * x[i];
      }
    }
  }
}

/**
 * h += branch (in place on the residual stream), rounded to BF16 in the same pass when
 * `roundBf16`. Backward is the identity: the branch's last op reads the residual gradient
 * directly, so nothing is recorded.
 */
export function residualAdd(ctx: OpContext, h: FloatArray, branch: FloatArray, roundBf16 = false): void {
  if (h.length !== branch.length) throw new TypeError(`residualAdd: h has length ${h.length}, branch ${branch.length}`);
  ctx.kernels.addInPlace(h, branch, roundBf16);
}

/**
 * Marks where a branch leaves the residual stream: recorded before the branch's ops, so its
 * backward runs after theirs and adds the branch-input gradient into the residual gradient.
 */
export class ForkOp implements TapeNode, FusesRounding {
  readonly label: string;
  /** Round the summed residual gradient to BF16 as it is formed (taken from the fork's boundary). */
  private roundSum = false;
  constructor(private readonly ctx: OpContext, label: string, private readonly dres: FloatArray, private readonly dbranch: FloatArray) {
    this.label = label;
    if (dres.length !== dbranch.length) throw new TypeError(`ForkOp(${label}): dres and dbranch lengths differ`);
  }
  savedBytes(): number {
    return 0;
  }
  forward(): void {
    this.ctx.tape.record(this);
  }
  fuseRounding(boundary: Boundary): void {
    this.roundSum = boundary.takeBackwardRounding(this.dres);
  }
  backward(): void {
    this.ctx.kernels.addInPlace(this.dres, this.dbranch, this.roundSum);
  }
}

