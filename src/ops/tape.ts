/**
 * The thin tape: forward records each op as it runs; backward replays the recorded ops in
 * reverse. Ops are built once per (B, T) shape, so recording is a push of a reference.
 */

/** An op whose backward reads only what its forward saved. */
export interface TapeNode {
  /** Short label for debugging, e.g. 'layers.0.attn.qkv'. */
  readonly label: string;
  backward(): void;
}

export class Tape {
  private readonly nodes: TapeNode[] = [];
  /** When false, forward passes record nothing (evaluation). */
  recording = false;

  record(node: TapeNode): void {
    if (this.recording) this.nodes.push(node);
  }

  get length(): number {
    return this.nodes.length;
  }

  /** Labels in recording order (for tests and debugging). */
  labels(): string[] {
    return this.nodes.map((n) => n.label);
  }

  /** Runs every recorded backward in reverse order, then clears the tape. */
  backward(): void {
    for (let i = this.nodes.length - 1; i >= 0; i--) this.nodes[i].backward();
    this.nodes.length = 0;
  }

  clear(): void {
    this.nodes.length = 0;
  }
}
