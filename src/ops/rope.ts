/** RoPE on q or k (B, T, H, D), in place (theta plus optional Llama-3.1 scaling); backward applies the inverse rotation in place. Saves nothing. */
import type { FloatArray, RopeScaling } from '../kernels/types.js';
import type { OpContext } from './context.js';
import { ropeFrequencies } from '../kernels/reference/rope.js';
import type { TapeNode } from './tape.js';
import type { Boundary, FusesRounding } from './boundary.js';

export class RopeOp implements TapeNode, FusesRounding {
  readonly label: string;
  /** The kernels round the rotated x / dx to BF16 as they write them (taken from the op's boundary). */
  private roundX = false;
  private roundDx = false;

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

  fuseRounding(boundary: Boundary): void {
    this.roundX = boundary.takeForwardRounding(this.x);
    this.roundDx = boundary.takeBackwardRounding(this.dx);
  }

  forward(): void {
    this.ctx.kernels.ropeForward(this.x, this.x, this.B, this.T, this.H, this.D, this.theta, this.scaling, this.roundX);
    this.ctx.tape.record(this);
  }

  /** (seqLen, D/2) float64 cos and sin of forwardAt, built on first use. */
  private table: { cos: Float64Array; sin: Float64Array; rows: number } | null = null;

  /**
   * Incremental decoding (B = 1): rotates the T rows of x as positions pos..pos+T−1, in place.
   * The same formula as the kernels' ropeForward (angle t·f_i with ropeFrequencies, cos and sin in float64,
   * x1·cos − x2·sin in float64 rounded once to float32), from a table of maxLen positions, so a
   * token costs its own rows only. Not recorded (evaluation only).
   */
  forwardAt(pos: number, maxLen: number): void {
    const { H, D, T, x } = this;
    if (this.B !== 1) throw new RangeError(`RopeOp(${this.label}).forwardAt: B must be 1, got ${this.B}`);
    if (pos + T > maxLen) throw new RangeError(`RopeOp(${this.label}).forwardAt: positions up to ${pos + T} exceed ${maxLen}`);
    const half = D / 2;
    if (!this.table || this.table.rows < maxLen) {
      if (this.table) for (const t of [this.table.cos, this.table.sin]) this.ctx.held.release('activations', t);
      const cos = this.ctx.f64(maxLen * half);
      const sin = this.ctx.f64(maxLen * half);
      const freq = ropeFrequencies(D, this.theta, this.scaling);
      for (let t = 0; t < maxLen; t++) {
        for (let i = 0; i < half; i++) {
          const angle = t * freq[i];
          cos[t * half + i] = Math.cos(angle);
          sin[t * half + i] = Math.sin(angle);
        }
      }
      this.table = { cos, sin, rows: maxLen };
    }
    const { cos, sin } = this.table;
    for (let r = 0; r < T; r++) {
      const row = (pos + r) * half;
      for (let h = 0; h < H; h++) {
        const base = (r * H + h) * D;
        for (let i = 0; i < half; i++) {
          const c = cos[row + i];
          const s = sin[row + i];
          const x1 = x[base + i];
          const x2 = x[base + i + half];
          x[base + i] = x1 * c - x2 * s;
          x[base + i + half] = x1 * s + x2 * c;
        }
      }
    }
    if (this.roundX) this.ctx.kernels.roundBf16(x, x); // as forward() rounds (the rounding taken from the boundary)
  }

  backward(): void {
    this.ctx.kernels.ropeBackward(this.dx, this.dx, this.B, this.T, this.H, this.D, this.theta, this.scaling, this.roundDx);
  }
}
