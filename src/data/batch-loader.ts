/**
 * Batches for training and evaluation: packed samples of one split (packed-sequences.ts), in an
 * order fixed by (seed, epoch) for training (seeded-permutation.ts) or in stream order for
 * validation. The position is explicit and serialisable — `state()` / `restore()` — so a resumed
 * run continues with exactly the batch it would have drawn next.
 */
import type { IndexedDataset } from './indexed-dataset-reader.js';
import { PackedSequences } from './packed-sequences.js';
import { seededPermutation } from './seeded-permutation.js';
import { splitDocuments } from './validation-split.js';

export type SplitName = 'train' | 'validation';

export interface Batch {
  /** (B, T) input token ids, row-major. */
  inputs: Int32Array;
  /** (B, T) next-token targets: inputs shifted left by one. */
  targets: Int32Array;
  B: number;
  T: number;
}

/** Where a loader is; plain JSON, saved in checkpoints. */
export interface LoaderState {
  version: 1;
  split: SplitName;
  shuffle: boolean;
  seed: number;
  B: number;
  T: number;
  /** Samples in the split, to refuse restoring onto different data. */
  sampleCount: number;
  epoch: number;
  /** Next sample to take within the epoch's order. */
  position: number;
}

export interface BatchLoaderOptions {
  dataset: IndexedDataset;
  split: SplitName;
  /** Sequences per batch. */
  B: number;
  /** Tokens per sequence. */
  T: number;
  /** Shuffle seed (default 0). */
  seed?: number;
  /** Default: true for 'train', false for 'validation'. */
  shuffle?: boolean;
  /** Fraction of documents held out for validation (default 0.02, see validation-split.ts). */
  validationFraction?: number;
  /** When given, the last token of the first 16 documents must be this id (data prepared with end-of-document tokens). */
  endOfDocumentId?: number;
}

export const DEFAULT_VALIDATION_FRACTION = 0.02;

export class BatchLoader {
  readonly B: number;
  readonly T: number;
  readonly split: SplitName;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly samples: PackedSequences;
  private epoch = 0;
  private position = 0;
  private order: Uint32Array | null = null; // permutation of the current epoch (shuffle only)
  private readonly sample: Int32Array; // (T + 1,)

  constructor(options: BatchLoaderOptions) {
    const { dataset, split, B, T } = options;
    if (!Number.isInteger(B) || B < 1) throw new RangeError(`batch size B must be a positive integer, got ${B}`);
    if (split !== 'train' && split !== 'validation') throw new RangeError(`split must be 'train' or 'validation', got ${String(split)}`);
    this.B = B;
    this.T = T;
    this.split = split;
    this.shuffle = options.shuffle ?? split === 'train';
    this.seed = options.seed ?? 0;
    if (!Number.isSafeInteger(this.seed) || this.seed < 0) throw new RangeError(`seed must be a non-negative safe integer, got ${this.seed}`);
    if (options.endOfDocumentId !== undefined) assertDocumentsEndWith(dataset, options.endOfDocumentId);
    const documents = splitDocuments(dataset.documentCount, options.validationFraction ?? DEFAULT_VALIDATION_FRACTION)[split];
    this.samples = new PackedSequences(dataset, documents, T, `${split} split`);
    this.sample = new Int32Array(T + 1);
  }

  get sampleCount(): number {
    return this.samples.sampleCount;
  }

  /** Whole batches in one pass over the split (the last partial one continues into the next epoch). */
  get batchesPerEpoch(): number {
    return Math.floor(this.samples.sampleCount / this.B);
  }

  /** The next batch; wraps into a new epoch (with a new order when shuffling) as needed. */
  next(): Batch {
    const { B, T } = this;
    const inputs = new Int32Array(B * T); // (B, T)
    const targets = new Int32Array(B * T); // (B, T)
    for (let b = 0; b < B; b++) {
      if (this.position >= this.samples.sampleCount) {
        this.epoch++;
        this.position = 0;
        this.order = null;
      }
      this.samples.readSample(this.sampleIndex(this.position), this.sample);
      this.position++;
      inputs.set(this.sample.subarray(0, T), b * T);
      targets.set(this.sample.subarray(1, T + 1), b * T);
    }
    return { inputs, targets, B, T };
  }

  /**
   * Moves past the next batch without reading it: the position afterwards is the one next()
   * would leave. Data-parallel ranks skip the micro-batches of the other ranks.
   */
  skip(): void {
    for (let b = 0; b < this.B; b++) {
      if (this.position >= this.samples.sampleCount) {
        this.epoch++;
        this.position = 0;
        this.order = null;
      }
      this.position++;
    }
  }

  state(): LoaderState {
    return { version: 1, split: this.split, shuffle: this.shuffle, seed: this.seed, B: this.B, T: this.T, sampleCount: this.samples.sampleCount, epoch: this.epoch, position: this.position };
  }

  /** Continues from a saved state; throws when it was saved for a different split, shape, seed or data. */
  restore(state: LoaderState): void {
    const mine = this.state();
    for (const key of ['version', 'split', 'shuffle', 'seed', 'B', 'T', 'sampleCount'] as const) {
      if (state[key] !== mine[key]) {
        throw new RangeError(`loader state does not match this loader: ${key} is ${JSON.stringify(state[key])} in the state, ${JSON.stringify(mine[key])} here`);
      }
    }
    if (!Number.isInteger(state.epoch) || state.epoch < 0) throw new RangeError(`loader state epoch must be a non-negative integer, got ${state.epoch}`);
    if (!Number.isInteger(state.position) || state.position < 0 || state.position > mine.sampleCount) {
      throw new RangeError(`loader state position must be an integer in [0, ${mine.sampleCount}], got ${state.position}`);
    }
    if (state.epoch !== this.epoch) this.order = null;
    this.epoch = state.epoch;
    this.position = state.position;
  }

  private sampleIndex(position: number): number {
    if (!this.shuffle) return position;
    this.order ??= seededPermutation(this.samples.sampleCount, this.seed, this.epoch);
    return this.order[position];
  }
}

function assertDocumentsEndWith(dataset: IndexedDataset, id: number): void {
  const checked = Math.min(16, dataset.documentCount);
  for (let d = 0; d < checked; d++) {
    const [start, end] = dataset.documentTokenRange(d);
    if (end === start) continue;
    const last = dataset.readTokens(end - 1, 1)[0];
    if (last !== id) {
      throw new RangeError(`${dataset.binPath}: document ${d} ends with token ${last}, not the end-of-document token ${id}; prepare the data with fog8 data prepare (it appends one after every document)`);
    }
  }
}
