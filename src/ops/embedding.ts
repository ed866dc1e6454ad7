/** Token embedding with input upscale: h (R, C) = scale · E[token]; backward scatter-adds scale·dh into dE. */
import type { FloatArray } from '../kernels/types.js';
import type { OpContext } from './context.js';
import type { TapeNode } from './tape.js';

export class EmbeddingOp implements TapeNode {
  readonly label = 'model.embed_tokens';
  private readonly savedTokens: Int32Array; // (R)
  constructor(
    private readonly ctx: OpContext, private readonly R: number, private readonly C: number, private readonly V: number, private readonly scale: number,
    private readonly table: FloatArray, private readonly dtable: FloatArray, private readonly h: FloatArray, private readonly dh: FloatArray,
  ) {
    if (table.length !== V * C || dtable.length !== V * C) throw new TypeError(`EmbeddingOp: table must have length V·C = ${V * C}`);
    if (h.length !== R * C || dh.length !== R * C) throw new TypeError(`EmbeddingOp: h and dh must have length R·C = ${R * C}`);
    this.savedTokens = ctx.i32(R);
  }
  savedBytes(): number {
    return this.savedTokens.byteLength;
  }
  forward(tokens: Int32Array): void {
    const { R, C, V, scale, table, h } = this;
    if (tokens.length !== R) throw new TypeError(`EmbeddingOp: tokens has length ${tokens.length}, expected ${R}`);
    for (let r = 0; r < R; r++) {
      const t = tokens[r];
      if (!(t >= 0 && t < V)) throw new RangeError(`EmbeddingOp: token ${t} at position ${r} is outside [0, ${V})`);
      this.savedTokens[r] = t;
    }
    this.ctx.kernels.embeddingForward(table, this.savedTokens, h, R, C, V, scale);
    this.ctx.tape.record(this);
  }
  backward(): void {
    const { R, C, V, scale, dtable, dh } = this;
    this.ctx.kernels.embeddingBackward(dh, this.savedTokens, dtable, R, C, V, scale);
  }
}
