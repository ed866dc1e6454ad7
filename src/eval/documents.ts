/**
 * The documents an evaluation scores: the embedded Brown corpus ('brown'), a Megatron dataset
 * (PREFIX.bin/.idx), a JSONL file ({"text": …} per line) or a text file (one document), each
 * document as token ids ending with the end-of-document token, as `fog8 data prepare` writes them.
 * Split 'all' takes every document; 'val' the held-out documents of training's document split
 * (src/data/validation-split.ts) with the given fraction.
 */
import { existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { loadBrownCorpus } from '../data/brown-corpus.js';
import { IndexedDataset } from '../data/indexed-dataset-reader.js';
import { JSONL_EXTENSIONS, TEXT_EXTENSIONS, readDocuments } from '../data/prepare.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { splitDocuments } from '../data/validation-split.js';

export type EvalSplit = 'all' | 'val';
export const EVAL_SPLITS: readonly EvalSplit[] = ['all', 'val'];

export interface EvalDocuments {
  /** Token ids of each document, ending with the end-of-document token. */
  documents: Int32Array[];
  /** UTF-8 bytes of the documents' text (null when the text is unknown: a dataset without tokenizer). */
  bytes: number | null;
  /** Which data, e.g. 'brown' or the dataset prefix. */
  source: string;
  split: EvalSplit;
  /** Documents in the whole source before splitting. */
  totalDocuments: number;
}

export interface OpenEvalOptions {
  /** 'brown', a dataset prefix, or a .jsonl/.txt file. */
  data: string;
  split: EvalSplit;
  /** Validation fraction of the 'val' split. */
  valFraction: number;
  /** Tokenizes text sources and decodes datasets (for bytes); required for text sources. */
  tokenizer: Tokenizer | null;
  /** Model vocabulary: every id must be below it. */
  vocabSize: number;
}

const utf8 = new TextEncoder();

function pick<T>(all: T[], split: EvalSplit, valFraction: number): T[] {
  if (split === 'all') return all;
  if (all.length < 2) throw new RangeError(`--split val needs at least 2 documents to hold some out, the data has ${all.length}; use --split all`);
  return splitDocuments(all.length, valFraction).validation.map((d) => all[d]);
}

function tokenize(texts: string[], tokenizer: Tokenizer | null, what: string): Int32Array[] {
  if (!tokenizer) throw new Error(`${what}: text data needs a tokenizer (the checkpoint has no tokenizer.json; pass --tokenizer)`);
  return texts.map((t) => {
    const ids = tokenizer.encode(t);
    ids.push(tokenizer.endOfDocumentId);
    return Int32Array.from(ids);
  });
}

/** Opens and tokenizes the evaluation documents. */
export async function openEvalDocuments(o: OpenEvalOptions): Promise<EvalDocuments> {
  if (!EVAL_SPLITS.includes(o.split)) throw new RangeError(`--split must be one of ${EVAL_SPLITS.join(', ')}, got ${JSON.stringify(o.split)}`);
  let texts: string[] | null = null;
  let documents: Int32Array[];
  let total: number;
  const ext = extname(o.data).toLowerCase();
  if (o.data === 'brown') {
    const all = loadBrownCorpus().map((d) => d.text);
    total = all.length;
    texts = pick(all, o.split, o.valFraction);
    documents = tokenize(texts, o.tokenizer, 'brown');
  } else if ((TEXT_EXTENSIONS.includes(ext) || JSONL_EXTENSIONS.includes(ext)) && existsSync(o.data) && statSync(o.data).isFile()) {
    const all: string[] = [];
    for await (const d of readDocuments([o.data])) if (d.text.length > 0) all.push(d.text);
    if (all.length === 0) throw new RangeError(`${o.data}: no non-empty document`);
    total = all.length;
    texts = pick(all, o.split, o.valFraction);
    documents = tokenize(texts, o.tokenizer, o.data);
  } else {
    const dataset = IndexedDataset.open(o.data, { vocabSize: o.vocabSize });
    total = dataset.documentCount;
    const chosen = pick(Array.from({ length: total }, (_, d) => d), o.split, o.valFraction);
    documents = chosen.map((d) => dataset.readDocument(d)).filter((d) => d.length > 0);
    if (o.tokenizer) {
      const eod = o.tokenizer.endOfDocumentId;
      texts = documents.map((d) => o.tokenizer!.decode(Array.from(d).filter((t) => t !== eod)));
    }
  }
  for (const d of documents) {
    for (const t of d) if (!(t >= 0 && t < o.vocabSize)) throw new RangeError(`${o.data}: token id ${t} is outside the model's vocabulary [0, ${o.vocabSize})`);
  }
  if (documents.length === 0) throw new RangeError(`${o.data}: no document to score in split '${o.split}'`);
  const bytes = texts === null ? null : texts.reduce((s, t) => s + utf8.encode(t).length, 0);
  return { documents, bytes, source: o.data, split: o.split, totalDocuments: total };
}
