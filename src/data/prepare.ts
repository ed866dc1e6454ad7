/**
 * `fog8 data prepare`: text files → tokens → Megatron indexed dataset. Input formats: `.txt`
 * (one document per file) and `.jsonl` (one JSON object per line, the document in field `text`
 * or `jsonKey`). Every document is written as one sequence followed by the end-of-document token;
 * empty documents are skipped. The dtype is uint16 when the vocabulary fits, else int32.
 */
import { createReadStream, existsSync } from 'node:fs';
import { checkFileSafely, readFileSafely } from '../util/safe-file.js';

/** Largest .txt document read whole (V8's string limit is about 512 MiB). */
const MAX_TEXT_FILE_BYTES = 256 << 20;
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { dtypeForVocabSize } from './indexed-dataset-format.js';
import { IndexedDatasetWriter, type IndexedDatasetSummary } from './indexed-dataset-writer.js';
import type { Tokenizer } from './tokenizer.js';

export const TEXT_EXTENSIONS = ['.txt', '.text'];
export const JSONL_EXTENSIONS = ['.jsonl', '.ndjson'];

export interface PrepareProgress {
  documents: number;
  tokens: number;
  /** UTF-16 characters of text encoded so far. */
  characters: number;
  file: string;
}

export interface PrepareSummary extends IndexedDatasetSummary {
  /** Empty documents that were skipped. */
  skippedEmpty: number;
  seconds: number;
}

/** Yields the documents of text/JSONL files in the order given (see the module comment for formats). */
export async function* readDocuments(files: readonly string[], jsonKey = 'text'): AsyncGenerator<{ file: string; text: string }> {
  for (const file of files) {
    if (!existsSync(file)) throw new Error(`input file ${file} does not exist`);
    // A FIFO or device is refused before it is opened; JSONL is streamed, so its size only has to be known.
    checkFileSafely(file, { what: 'input file', maxBytes: Number.MAX_SAFE_INTEGER });
    const ext = extname(file).toLowerCase();
    if (TEXT_EXTENSIONS.includes(ext)) {
      yield { file, text: readFileSafely(file, { what: 'input file', maxBytes: MAX_TEXT_FILE_BYTES }).toString('utf8') };
    } else if (JSONL_EXTENSIONS.includes(ext)) {
      const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
      let lineNumber = 0;
      for await (const line of lines) {
        lineNumber++;
        if (line.trim().length === 0) continue;
        let record: unknown;
        try {
          record = JSON.parse(line);
        } catch (err) {
          throw new Error(`${file}:${lineNumber}: not valid JSON: ${(err as Error).message}`);
        }
        const text = typeof record === 'object' && record !== null ? (record as Record<string, unknown>)[jsonKey] : undefined;
        if (typeof text !== 'string') throw new Error(`${file}:${lineNumber}: field "${jsonKey}" is missing or not a string (set the field with --json-key)`);
        yield { file, text };
      }
    } else {
      throw new Error(`input file ${file} has extension "${ext}"; allowed: ${[...TEXT_EXTENSIONS, ...JSONL_EXTENSIONS].join(', ')}`);
    }
  }
}

/**
 * Tokenizes `documents` and writes PREFIX.bin / PREFIX.idx. Throws on an empty corpus (no
 * non-empty document) and leaves no partial files behind on any error.
 */
export async function writeIndexedDataset(
  documents: AsyncIterable<{ file: string; text: string }> | Iterable<{ file: string; text: string }>,
  tokenizer: Tokenizer,
  outputPrefix: string,
  onProgress?: (p: PrepareProgress) => void,
): Promise<PrepareSummary> {
  const started = performance.now();
  const writer = new IndexedDatasetWriter(outputPrefix, dtypeForVocabSize(tokenizer.vocabSize));
  let skippedEmpty = 0;
  let characters = 0;
  let lastFile = '';
  try {
    for await (const { file, text } of documents) {
      lastFile = file;
      if (text.length === 0) {
        skippedEmpty++;
        continue;
      }
      let ids: number[];
      try {
        ids = tokenizer.encode(text);
      } catch (err) {
        throw new Error(`${file}: document ${writer.documentsWritten + skippedEmpty}: ${(err as Error).message}`);
      }
      ids.push(tokenizer.endOfDocumentId);
      writer.addDocument(ids);
      characters += text.length;
      onProgress?.({ documents: writer.documentsWritten, tokens: writer.tokensWritten, characters, file });
    }
    if (writer.documentsWritten === 0) {
      throw new RangeError(`empty corpus: no non-empty documents${lastFile === '' ? ' (no input)' : ` in the inputs (last read: ${lastFile})`}`);
    }
    const summary = writer.finish();
    return { ...summary, skippedEmpty, seconds: (performance.now() - started) / 1000 };
  } catch (err) {
    writer.abort();
    throw err;
  }
}
