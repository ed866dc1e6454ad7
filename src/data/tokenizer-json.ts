/**
 * The subset of the Hugging Face `tokenizer.json` schema that fog8 writes, and the function that
 * turns a trained byte-level BPE into it (model BPE, ByteLevel pre-tokenizer / post-processor /
 * decoder, special tokens as `added_tokens`), the layout the Rust `tokenizers` crate saves.
 */
import type { TrainedBpe } from './bpe-trainer.js';

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  special?: boolean;
}

export interface BpeModelJson {
  type: 'BPE';
  vocab: Record<string, number>;
  /** Either ["a", "b"] pairs (tokenizers ≥ 0.20) or "a b" strings (older files). */
  merges: Array<[string, string] | string>;
  dropout?: number | null;
  unk_token?: string | null;
  continuing_subword_prefix?: string | null;
  end_of_word_suffix?: string | null;
  fuse_unk?: boolean;
  byte_fallback?: boolean;
  ignore_merges?: boolean;
}

/** A tokenizer.json as parsed; components other than the ones fog8 writes stay opaque. */
export interface TokenizerJson {
  version?: string;
  added_tokens: AddedTokenJson[];
  normalizer: Record<string, unknown> | null;
  pre_tokenizer: Record<string, unknown> | null;
  post_processor: Record<string, unknown> | null;
  decoder: Record<string, unknown> | null;
  model: Record<string, unknown> & { type: string };
  [other: string]: unknown;
}

/** Builds the Hugging Face tokenizer.json object for a trained byte-level BPE. */
export function trainedBpeToTokenizerJson(bpe: TrainedBpe): TokenizerJson {
  const vocab: Record<string, number> = {};
  bpe.vocab.forEach((token, id) => {
    vocab[token] = id;
  });
  const model: BpeModelJson = {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    vocab,
    merges: bpe.merges.map(([a, b]) => [a, b]),
  };
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: bpe.specialTokens.map(({ content, id }) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { ...byteLevel },
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: { ...byteLevel },
    model: { ...model },
  };
}
