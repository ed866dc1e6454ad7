/**
 * Loss, perplexity and bits per byte of a model on whole documents. Each document is scored on
 * its own, every token predicted from the document's earlier tokens only: the token stream is
 * [bos, doc…] (bos = the end-of-document token that precedes a document in training's packed
 * stream, so the first token is scored too), cut into windows of T inputs with stride T (the
 * lm-evaluation-harness "rolling" log-likelihood with one token of context overlap). A window
 * shorter than T — a short document, a document's tail — is padded on the right with ignored
 * targets, so nothing is dropped. Windows are batched B at a time.
 */
import type { Model } from '../model/model.js';

export interface PerplexityResult {
  /** Mean next-token cross-entropy in nats over the scored tokens. */
  loss: number;
  perplexity: number;
  /** Σ nats / (ln 2 · UTF-8 bytes of the text); null when the text's bytes are unknown. */
  bitsPerByte: number | null;
  /** Tokens scored (targets). */
  tokens: number;
  documents: number;
  windows: number;
}

export interface PerplexityOptions {
  /** Windows per forward pass. */
  batch: number;
  /** Token placed before each document as context (null: the first token is not scored). */
  bos: number | null;
  /** UTF-8 bytes of the documents' text (for bits per byte). */
  bytes: number | null;
  /** Stop after this many batches (null: all). */
  maxBatches?: number | null;
}

/** Scores `documents` (token ids) with `model` (evaluation mode: no gradients, no scale updates). */
export function scoreDocuments(model: Model, documents: readonly Int32Array[], o: PerplexityOptions): PerplexityResult {
  if (!Number.isInteger(o.batch) || o.batch < 1) throw new RangeError(`batch must be an integer ≥ 1, got ${o.batch}`);
  const T = model.config.seqLen;
  const windows: { stream: Int32Array; start: number }[] = [];
  for (const doc of documents) {
    const stream = o.bos === null ? doc : Int32Array.from([o.bos, ...doc]);
    for (let start = 0; start + 1 < stream.length; start += T) windows.push({ stream, start });
  }
  const B = o.batch;
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  let nats = 0;
  let tokens = 0;
  let batches = 0;
  let scoredWindows = 0;
  for (let w0 = 0; w0 < windows.length; w0 += B) {
    if (o.maxBatches != null && batches >= o.maxBatches) break;
    inputs.fill(0);
    targets.fill(-1);
    let count = 0;
    for (let b = 0; b < B && w0 + b < windows.length; b++) {
      const { stream, start } = windows[w0 + b];
      const n = Math.min(T, stream.length - 1 - start);
      inputs.set(stream.subarray(start, start + n), b * T);
      targets.set(stream.subarray(start + 1, start + 1 + n), b * T);
      count += n;
    }
    const mean = model.forwardLoss({ inputs, targets, B, T });
    nats += mean * count;
    tokens += count;
    batches++;
    scoredWindows += Math.min(B, windows.length - w0);
  }
  if (tokens === 0) throw new RangeError('no token to score: every document has fewer than 2 tokens');
  const loss = nats / tokens;
  return {
    loss,
    perplexity: Math.exp(loss),
    bitsPerByte: o.bytes === null || o.maxBatches != null ? null : nats / (Math.LN2 * o.bytes),
    tokens,
    documents: documents.length,
    windows: scoredWindows,
  };
}
