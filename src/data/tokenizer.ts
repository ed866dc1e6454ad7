/**
 * fog8's tokenizer: any Hugging Face `tokenizer.json` loaded through tokenizers.js
 * (@huggingface/tokenizers), with our integer-id encoder used instead of the library's when the
 * file is a plain byte-level BPE (as `fog8 tokenizer train` writes) because it is several times
 * faster on corpus-sized text and gives identical ids.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readFileSafely, writeFileAtomic } from '../util/safe-file.js';
import { Tokenizer as LibraryTokenizer } from '@huggingface/tokenizers';
import { CHAR_TO_BYTE, assertWellFormedText } from './byte-level.js';
import { ByteLevelBpeEncoder } from './bpe-encoder.js';
import { trainByteLevelBpe, type BpeTrainingOptions } from './bpe-trainer.js';
import { trainedBpeToTokenizerJson, type TokenizerJson } from './tokenizer-json.js';


/** Largest tokenizer.json read (a 1 M-token vocabulary with its merges is well under this). */
const MAX_TOKENIZER_BYTES = 512 << 20;
/** The end-of-document token fog8 trains, and the names looked for in other tokenizers. */
export const END_OF_TEXT = '<|endoftext|>';
const END_OF_DOCUMENT_CANDIDATES = [END_OF_TEXT, '<|end_of_text|>', '</s>', '<eos>', '<|im_end|>'];

export interface TokenizerOptions {
  /** Token that ends each document; default: the first added token among <|endoftext|>, <|end_of_text|>, </s>, <eos>, <|im_end|>. */
  endOfDocumentToken?: string;
  /** Where the JSON came from, for error messages. */
  source?: string;
  /** Contents of a sibling tokenizer_config.json, passed to the library. */
  config?: Record<string, unknown>;
}

export class Tokenizer {
  /** Number of token ids: one more than the largest id in the vocabulary or added tokens. */
  readonly vocabSize: number;
  /** Id appended after every document. */
  readonly endOfDocumentId: number;
  readonly endOfDocumentToken: string;
  /** Which encoder `encode` uses: 'fast' (ours) or 'library' (tokenizers.js). */
  readonly encoderKind: 'fast' | 'library';
  /** Why the fast encoder was not used, when encoderKind is 'library'. */
  readonly fastEncoderUnsupportedReason: string | null;
  readonly json: TokenizerJson;
  readonly source: string;
  private readonly library: LibraryTokenizer;
  private readonly fast: ByteLevelBpeEncoder | null;
  private readonly idToToken: string[];
  private readonly specialIds: Set<number>;
  private readonly addedIds: Set<number>;
  private readonly byteLevelDecoder: boolean;
  private readonly utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  constructor(json: TokenizerJson, options: TokenizerOptions = {}) {
    this.source = options.source ?? 'tokenizer.json';
    if (typeof json !== 'object' || json === null || typeof json.model !== 'object' || json.model === null) {
      throw new TypeError(`${this.source}: not a Hugging Face tokenizer.json (no "model" object)`);
    }
    const withDefaults: TokenizerJson = {
      ...json,
      added_tokens: json.added_tokens ?? [],
      normalizer: json.normalizer ?? null,
      pre_tokenizer: json.pre_tokenizer ?? null,
      post_processor: json.post_processor ?? null,
      decoder: json.decoder ?? null,
    };
    this.json = withDefaults;
    try {
      // Exact decoding: never let the library "clean up" spaces before punctuation.
      this.library = new LibraryTokenizer(withDefaults, { ...(options.config ?? {}), clean_up_tokenization_spaces: false });
    } catch (err) {
      throw new TypeError(`${this.source}: tokenizers.js cannot load it: ${(err as Error).message}`);
    }
    const vocab = this.library.get_vocab(true);
    this.idToToken = [];
    for (const [token, id] of vocab) this.idToToken[id] = token;
    this.vocabSize = this.idToToken.length;
    this.addedIds = new Set(withDefaults.added_tokens.map((t) => t.id));
    this.specialIds = new Set(withDefaults.added_tokens.filter((t) => t.special === true).map((t) => t.id));
    this.byteLevelDecoder = withDefaults.decoder !== null && withDefaults.decoder.type === 'ByteLevel';

    const addedContents = new Set(withDefaults.added_tokens.map((t) => t.content));
    const eod = options.endOfDocumentToken ?? END_OF_DOCUMENT_CANDIDATES.find((c) => addedContents.has(c));
    const eodId = eod === undefined ? undefined : this.library.token_to_id(eod);
    if (eod === undefined || eodId === undefined) {
      const wanted = options.endOfDocumentToken !== undefined ? JSON.stringify(options.endOfDocumentToken) : `one of ${END_OF_DOCUMENT_CANDIDATES.join(', ')}`;
      throw new RangeError(`${this.source}: no end-of-document token ${wanted}; added tokens are ${JSON.stringify([...addedContents])} (choose one with --eod-token)`);
    }
    this.endOfDocumentToken = eod;
    this.endOfDocumentId = eodId;

    this.fastEncoderUnsupportedReason = ByteLevelBpeEncoder.unsupportedReason(withDefaults);
    this.fast = this.fastEncoderUnsupportedReason === null ? ByteLevelBpeEncoder.fromTokenizerJson(withDefaults) : null;
    this.encoderKind = this.fast !== null ? 'fast' : 'library';
  }

  /** Encodes `text` (well-formed Unicode; a lone surrogate is a TypeError) to token ids. */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
    assertWellFormedText(text);
    return this.fast !== null ? this.fast.encode(text) : this.encodeWithLibrary(text);
  }

  /** Encodes through tokenizers.js whatever the file (the reference the fast encoder is tested against). */
  encodeWithLibrary(text: string): number[] {
    assertWellFormedText(text);
    return text.length === 0 ? [] : this.library.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * Decodes ids to text. Byte-level tokenizers decode here directly (bytes → UTF-8, special tokens
   * verbatim), giving exactly the library's result; other decoders go through the library.
   * Ids outside [0, vocabSize) are a RangeError.
   */
  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.idToToken[id] === undefined) {
        throw new RangeError(`${this.source}: token id ${id} at position ${i} is outside the vocabulary [0, ${this.vocabSize})`);
      }
    }
    if (ids.length === 0) return '';
    const skip = options.skipSpecialTokens === true;
    if (!this.byteLevelDecoder) return this.library.decode(Array.from(ids), { skip_special_tokens: skip });
    let out = '';
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const token = this.idToToken[id];
      if (this.addedIds.has(id)) {
        out += this.flushBytes(bytes);
        if (!(skip && this.specialIds.has(id))) out += token;
        continue;
      }
      for (const ch of token) {
        const b = CHAR_TO_BYTE.get(ch);
        if (b === undefined) throw new RangeError(`${this.source}: token ${id} (${JSON.stringify(token)}) has a character outside the byte-level alphabet`);
        bytes.push(b);
      }
    }
    return out + this.flushBytes(bytes);
  }

  /** Decodes with the library (reference for {@link Tokenizer.decode}). */
  decodeWithLibrary(ids: number[]): string {
    return ids.length === 0 ? '' : this.library.decode(ids);
  }

  /** The token string of an id (byte-level characters for BPE tokens). */
  idToTokenString(id: number): string | undefined {
    return this.idToToken[id];
  }

  /** Writes the tokenizer.json (pretty JSON, via a temporary file renamed into place). */
  save(path: string): void {
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, JSON.stringify(this.json, null, 2) + '\n', 'tokenizer output');
  }

  private flushBytes(bytes: number[]): string {
    if (bytes.length === 0) return '';
    const text = this.utf8Decoder.decode(Uint8Array.from(bytes));
    bytes.length = 0;
    return text;
  }
}

/**
 * Loads a Hugging Face tokenizer.json file (and a sibling tokenizer_config.json when present).
 * Throws naming the file when it is missing, not JSON, or not loadable by tokenizers.js.
 */
export function loadTokenizer(path: string, options: Omit<TokenizerOptions, 'source' | 'config'> = {}): Tokenizer {
  if (!existsSync(path)) throw new Error(`tokenizer file ${path} does not exist`);
  let json: TokenizerJson;
  const text = readFileSafely(path, { what: 'tokenizer file', maxBytes: MAX_TOKENIZER_BYTES }).toString('utf8');
  try {
    json = JSON.parse(text) as TokenizerJson;
  } catch (err) {
    throw new TypeError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  const configPath = join(dirname(path), 'tokenizer_config.json');
  let config: Record<string, unknown> | undefined;
  if (existsSync(configPath)) {
    const configText = readFileSafely(configPath, { what: 'tokenizer config', maxBytes: MAX_TOKENIZER_BYTES }).toString('utf8');
    try {
      config = JSON.parse(configText) as Record<string, unknown>;
    } catch (err) {
      throw new TypeError(`${configPath}: not valid JSON: ${(err as Error).message}`);
    }
  }
  return new Tokenizer(json, { ...options, source: path, config });
}

/**
 * Trains a byte-level BPE (see {@link trainByteLevelBpe}) with <|endoftext|> as its only special
 * token and returns it as a Tokenizer (call `save(path)` to write the tokenizer.json).
 */
export function trainTokenizer(documents: Iterable<string>, options: Omit<BpeTrainingOptions, 'specialTokens'>): Tokenizer {
  const bpe = trainByteLevelBpe(documents, { ...options, specialTokens: [END_OF_TEXT] });
  return new Tokenizer(trainedBpeToTokenizerJson(bpe), { source: 'trained tokenizer' });
}

