/**
 * Where a tensor is handed from one op to the next: the point at which the activation table
 * (src/model/activation-table.ts) rounds it to BF16 and the optional activation probe sees it.
 * A Boundary belongs to one producer op of one layer. afterForward() runs right after the op's
 * forward; armBackward(), called just before the op's forward, records the boundary on the tape
 * so that its backward() runs right after the op's backward (the tape replays in reverse).
 */
import type { FloatArray } from '../kernels/types.js';
import type { OpContext } from './context.js';
import type { TapeNode } from './tape.js';

/** Sees every tensor of the activation table as it is handed on (after any rounding); for tests. */
export interface ActivationProbe {
  tensor(name: string, layer: number, pass: 'forward' | 'backward', x: FloatArray): void;
}

/** One table entry bound to its buffer; `round`: this boundary rounds it (dtype bf16, rounding 'round'). */
export interface BoundTensor {
  name: string;
  buffer: FloatArray;
  round: boolean;
}

export class Boundary implements TapeNode {
  readonly label: string;
  private readonly forwardRound: FloatArray[];
  private readonly backwardRound: FloatArray[];

  constructor(
    private readonly ctx: OpContext, label: string, private readonly layer: number,
    private readonly forwardTensors: readonly BoundTensor[], private readonly backwardTensors: readonly BoundTensor[],
  ) {
    this.label = `${label}.boundary`;
    this.forwardRound = forwardTensors.filter((t) => t.round).map((t) => t.buffer);
    this.backwardRound = backwardTensors.filter((t) => t.round).map((t) => t.buffer);
  }

  /**
   * Hands the rounding of `buffer` (a forward output of this boundary's op) to the op itself, whose
   * kernel then rounds as it writes (same bits, one pass less). True when this boundary was to
   * round it; it no longer does. The probe still sees the tensor here.
   */
  takeForwardRounding(buffer: FloatArray): boolean {
    return take(this.forwardRound, buffer);
  }

  /** takeForwardRounding for a gradient the op's backward writes. */
  takeBackwardRounding(buffer: FloatArray): boolean {
    return take(this.backwardRound, buffer);
  }

  /** Rounds the op's forward outputs that the table declares BF16 (also after a recompute of them). */
  roundForward(): void {
    for (const b of this.forwardRound) this.ctx.kernels.roundBf16(b, b);
  }

  afterForward(): void {
    this.roundForward();
    const p = this.ctx.probe;
    if (p) for (const t of this.forwardTensors) p.tensor(t.name, this.layer, 'forward', t.buffer);
  }

  /** Call just before the op's forward (which records the op): this boundary's backward then runs right after the op's. */
  armBackward(): void {
    if (this.backwardRound.length > 0 || (this.ctx.probe && this.backwardTensors.length > 0)) this.ctx.tape.record(this);
  }

  backward(): void {
    for (const b of this.backwardRound) this.ctx.kernels.roundBf16(b, b);
    const p = this.ctx.probe;
    if (p) for (const t of this.backwardTensors) p.tensor(t.name, this.layer, 'backward', t.buffer);
  }
}

function take(list: FloatArray[], buffer: FloatArray): boolean {
  const i = list.indexOf(buffer);
  if (i < 0) return false;
  list.splice(i, 1);
  return true;
}

/** An op that can round (some of) its outputs itself: takes that work from its boundary. */
export interface FusesRounding {
  fuseRounding(boundary: Boundary): void;
}
