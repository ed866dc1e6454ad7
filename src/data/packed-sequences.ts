/**
 * Packing: the documents of one split, concatenated in index order (each already ending with the
 * end-of-document token, as `fog8 data prepare` writes them), cut into samples of T + 1 tokens
 * with stride T, so sample i covers stream positions [i·T, i·T + T] and its last token is the
 * next sample's first (the target of its last input). Only the .bin ranges a sample needs are read.
 */
import type { IndexedDataset } from './indexed-dataset-reader.js';

export class PackedSequences {
  readonly dataset: IndexedDataset;
  /** Tokens per sample input (the sample itself holds T + 1). */
  readonly T: number;
  readonly sampleCount: number;
  /** Tokens in the split's stream. */
  readonly streamLength: number;
  private readonly runStarts: Float64Array; // (R,) .bin token position where each run of contiguous documents starts
  private readonly runStreamStarts: Float64Array; // (R + 1,) stream position of each run; last = stream length

  /** `documents`: the split's document indices in increasing order. */
  constructor(dataset: IndexedDataset, documents: readonly number[], T: number, what = 'split') {
    if (!Number.isInteger(T) || T < 1) throw new RangeError(`sequence length T must be a positive integer, got ${T}`);
    this.dataset = dataset;
    this.T = T;
    const starts: number[] = [];
    const streamStarts: number[] = [];
    let stream = 0;
    let runEnd = -1;
    for (let k = 0; k < documents.length; k++) {
      if (k > 0 && documents[k] <= documents[k - 1]) throw new RangeError(`documents must be strictly increasing, got ${documents[k]} after ${documents[k - 1]}`);
      const [start, end] = dataset.documentTokenRange(documents[k]);
      if (end === start) continue;
      if (start !== runEnd) {
        starts.push(start);
        streamStarts.push(stream);
      }
      stream += end - start;
      runEnd = end;
    }
    streamStarts.push(stream);
    this.runStarts = Float64Array.from(starts);
    this.runStreamStarts = Float64Array.from(streamStarts);
    this.streamLength = stream;
    this.sampleCount = stream > T ? Math.floor((stream - 1) / T) : 0;
    if (this.sampleCount === 0) {
      throw new RangeError(`${dataset.binPath}: the ${what} has ${stream} tokens in ${documents.length} documents, fewer than one sample of T + 1 = ${T + 1} tokens; use more data or a shorter sequence length`);
    }
  }

  /** Reads sample i (T + 1 tokens) into `out` at `outOffset`. */
  readSample(i: number, out: Int32Array, outOffset = 0): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.sampleCount) throw new RangeError(`sample ${i} out of range [0, ${this.sampleCount})`);
    let position = i * this.T;
    let remaining = this.T + 1;
    let run = this.findRun(position);
    let at = outOffset;
    while (remaining > 0) {
      const inRun = position - this.runStreamStarts[run];
      const available = this.runStreamStarts[run + 1] - position;
      const count = Math.min(available, remaining);
      this.dataset.readTokens(this.runStarts[run] + inRun, count, out, at);
      at += count;
      remaining -= count;
      position += count;
      run++;
    }
  }

  // Last run whose stream start is ≤ position (binary search).
  private findRun(position: number): number {
    let lo = 0;
    let hi = this.runStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.runStreamStarts[mid] <= position) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
