/**
 * The LM head and the softmax cross-entropy, fused ("fused CE"): the (R, V) logits never exist
 * whole. A training forward walks row chunks; per chunk it computes the logits (the head's fprop),
 * the loss terms and log-sum-exp, dlogits = gradScale/nValid · (softmax − onehot), and at once the
 * head's dgrad (dx rows, written to the gradient buffer of the head's input) and wgrad (dW
 * accumulated). The only thing that lives from forward to backward is dx (R, C) float32; the
 * recorded tape node's backward has nothing left to do. Per row the numbers are those of the
 * unfused op; dW's float32 sum over rows is split at chunk boundaries. Target −1 is ignored.
 *
 * Chunking keeps the head's casts identical to one whole-tensor pass: Q(x) is cast once, whole,
 * before the chunks; a delayed-scaling FP8 grad cast uses the slot's fixed scale and reports its
 * merged stats once. Under current or block scaling of an FP8 head the grad cast needs the whole
 * dlogits, so the head runs as one chunk.
 *
 * With `bf16Chunks` (activation table: logits and dlogits are BF16, rounding 'op') each logits
 * chunk is rounded to BF16 after the head's fprop, as Megatron's BF16 output layer hands them to the
 * float32 cross-entropy, and each dlogits chunk before the head's dgrad/wgrad, as autograd hands a
 * BF16 tensor its gradient.
 */
import type { CastStats, FloatArray } from '../kernels/types.js';
import type { OpContext } from './context.js';
import type { LinearOp } from './linear.js';
import type { TapeNode } from './tape.js';

/** Scratch slots of the logits and dlogits chunks (the linear uses 0 and 8, attention 1–5). */
const LOGITS_SLOT = 6;
const DLOGITS_SLOT = 7;
/** Upper bound on one chunk buffer's size in float32 elements (32 MiB): 2048 rows at vocabulary
 *  4096, enough rows that the head's dgrad/wgrad GEMMs run near the speed of full ones. */
export const CHUNK_ELEMENTS = 1 << 23;

export class LmHeadLossOp implements TapeNode {
  readonly label = 'lm_head+loss';
  private readonly targets: Int32Array; // (R)
  private readonly losses: FloatArray; // (R)
  private readonly lse: FloatArray; // (R)
  private readonly dloss: FloatArray; // (R)
  /** Rows per chunk. */
  readonly chunkRows: number;

  /**
   * head: the LM head linear (M = R, N = V, K = C) built with `transientInput`; dx (R, C): where the
   * gradient w.r.t. the head's input is written (during the training forward).
   */
  constructor(
    private readonly ctx: OpContext, private readonly head: LinearOp, private readonly R: number, private readonly V: number,
    private readonly dx: FloatArray,
    /** Cap on rows per chunk (default: chunks of at most 32 MiB of logits). */
    maxChunkRows = Math.floor(CHUNK_ELEMENTS / V),
    /** Round logits and dlogits chunks to BF16 (recipe activations 'bf16'). */
    private readonly bf16Chunks = false,
  ) {
    this.targets = ctx.i32(R);
    this.losses = ctx.alloc(R);
    this.lse = ctx.alloc(R);
    this.dloss = ctx.alloc(R);
    if (dx.length % R !== 0) throw new TypeError(`LmHeadLossOp: dx has length ${dx.length}, not a multiple of R = ${R}`);
    this.chunkRows = head.gradCastChunkable() ? Math.max(1, Math.min(R, maxChunkRows)) : R;
  }

  /** Bytes kept from forward to backward: the head's input gradient dx (R, C). */
  savedBytes(): number {
    return this.dx.byteLength;
  }

  private loadTargets(targets: Int32Array): number {
    const { R, V } = this;
    if (targets.length !== R) throw new TypeError(`LmHeadLossOp: targets has length ${targets.length}, expected ${R}`);
    let n = 0;
    for (let r = 0; r < R; r++) {
      const t = targets[r];
      if (t !== -1 && !(t >= 0 && t < V)) throw new RangeError(`LmHeadLossOp: target ${t} at position ${r} is outside [0, ${V}) and not −1`);
      this.targets[r] = t;
      if (t !== -1) n++;
    }
    return n;
  }

  /**
   * Mean loss over non-ignored targets (0 when all are ignored), from the head's input x (R, C).
   * With `gradScale` (training, tape recording) the head's backward runs here too, scaled by it.
   */
  forward(targets: Int32Array, gradScale: number | null): number {
    const { R, V, ctx, head } = this;
    const k = ctx.kernels;
    const nValid = this.loadTargets(targets);
    const train = gradScale !== null;
    this.dloss.fill(nValid === 0 || !train ? 0 : gradScale / nValid);
    head.castInput();
    const total: CastStats = { amax: 0, underflow: 0, overflow: 0, nonzero: 0 };
    let gradCastScale = 1;
    const C = this.dx.length / R;
    for (let r0 = 0; r0 < R; r0 += this.chunkRows) {
      const n = Math.min(this.chunkRows, R - r0);
      const logits = ctx.scratch.floats(n * V, LOGITS_SLOT); // (n, V)
      head.fpropRows(r0, n, logits, this.bf16Chunks); // the GEMM rounds the logits as it writes them
      this.ctx.probe?.tensor('lm_head.logits', -1, 'forward', logits);
      const rows = r0 + n;
      const targetRows = this.targets.subarray(r0, rows);
      const lseRows = this.lse.subarray(r0, rows);
      const lossRows = this.losses.subarray(r0, rows);
      const dxRows = this.dx.subarray(r0 * C, rows * C);
      if (train && head.takesBf16Grad() && !this.ctx.probe) {
        // A BF16 head: one kernel computes the loss and writes dlogits straight as the BF16 bits the
        // GEMMs take (the bits packBf16 would make of the float dlogits, rounded or not), each row
        // both ways while it is in cache.
        const bits = head.bf16GradBuffer(n);
        k.crossEntropyBf16(logits, targetRows, lossRows, lseRows, this.dloss.subarray(r0, rows), bits, n, V);
        gradCastScale = head.backwardRows(r0, n, null, dxRows, total, bits);
        continue;
      }
      k.crossEntropyForward(logits, targetRows, lossRows, lseRows, n, V);
      if (!train) continue;
      const dlogits = ctx.scratch.floats(n * V, DLOGITS_SLOT); // (n, V)
      // dlogits are handed on BF16 under bf16Chunks: the kernel rounds them as it writes
      k.crossEntropyBackward(logits, targetRows, lseRows, this.dloss.subarray(r0, rows), dlogits, n, V, this.bf16Chunks);
      this.ctx.probe?.tensor('d.lm_head.logits', -1, 'backward', dlogits);
      gradCastScale = head.backwardRows(r0, n, dlogits, dxRows, total);
    }
    if (train) {
      head.recordGradCast(total, gradCastScale, R * V);
      ctx.tape.record(this);
    }
    let sum = 0;
    for (let r = 0; r < R; r++) if (this.targets[r] !== -1) sum += this.losses[r];
    return nValid === 0 ? 0 : sum / nValid;
  }

  /** Full logits (R, V) into `out` (generation; nothing recorded beyond the input cast's monitor report). */
  logits(out: FloatArray): void {
    if (out.length !== this.R * this.V) throw new TypeError(`LmHeadLossOp.logits: out has length ${out.length}, expected R·V = ${this.R * this.V}`);
    this.head.castInput();
    this.head.fpropRows(0, this.R, out);
    this.handOn(out, 'lm_head.logits', 'forward');
  }

  /** A logits or dlogits chunk as it is handed on: BF16-rounded under bf16Chunks, shown to the probe. */
  private handOn(x: FloatArray, name: string, pass: 'forward' | 'backward'): void {
    if (this.bf16Chunks) this.ctx.kernels.roundBf16(x, x);
    this.ctx.probe?.tensor(name, -1, pass, x);
  }

  /** dx was written by the training forward; nothing is left to do. */
  backward(): void {}
}
