/**
 * Softmax cross-entropy over logits (R, V), mean over non-ignored targets (target −1 = ignored).
 * Backward writes dlogits = gradScale/nValid · (softmax − onehot), gradScale being the caller's
 * loss scale (1/microBatches for accumulation). Saves the targets and the log-sum-exp; reads the
 * logits buffer, which nothing overwrites between forward and backward.
 */
import type { OpContext } from './context.js';
import type { TapeNode } from './tape.js';

export class CrossEntropyOp implements TapeNode {
  readonly label = 'loss';
  private readonly targets: Int32Array; // (R)
  private readonly losses: Float32Array; // (R)
  private readonly lse: Float32Array; // (R)
  private readonly dloss: Float32Array; // (R)
  private nValid = 0;
  /** Multiplies the gradient (set before backward). */
  gradScale = 1;

  constructor(
    private readonly ctx: OpContext, private readonly R: number, private readonly V: number,
    private readonly logits: Float32Array, private readonly dlogits: Float32Array,
  ) {
    if (logits.length !== R * V || dlogits.length !== R * V) throw new TypeError(`CrossEntropyOp: logits and dlogits must have length R·V = ${R * V}`);
    this.targets = new Int32Array(R);
    this.losses = new Float32Array(R);
    this.lse = new Float32Array(R);
    this.dloss = new Float32Array(R);
  }

  savedBytes(): number {
    return this.targets.byteLength + this.lse.byteLength + this.logits.byteLength;
  }

  /** Returns the mean loss over non-ignored targets (0 when every target is ignored). */
  forward(targets: Int32Array): number {
    const { R, V } = this;
    if (targets.length !== R) throw new TypeError(`CrossEntropyOp: targets has length ${targets.length}, expected ${R}`);
    let n = 0;
    for (let r = 0; r < R; r++) {
      const t = targets[r];
      if (t !== -1 && !(t >= 0 && t < V)) throw new RangeError(`CrossEntropyOp: target ${t} at position ${r} is outside [0, ${V}) and not −1`);
      this.targets[r] = t;
      if (t !== -1) n++;
    }
    this.nValid = n;
    this.ctx.kernels.crossEntropyForward(this.logits, this.targets, this.losses, this.lse, R, V);
    let sum = 0;
    for (let r = 0; r < R; r++) if (this.targets[r] !== -1) sum += this.losses[r];
    this.ctx.tape.record(this);
    return n === 0 ? 0 : sum / n;
  }

  backward(): void {
    const w = this.nValid === 0 ? 0 : this.gradScale / this.nValid;
    this.dloss.fill(w);
    this.ctx.kernels.crossEntropyBackward(this.logits, this.targets, this.lse, this.dloss, this.dlogits, this.R, this.V);
  }
}
