/** Shared fixtures of the trainer tests: a tiny learnable token dataset in Megatron format. */
import { join } from 'node:path';
import { IndexedDatasetWriter } from '../../src/data/indexed-dataset-writer.js';
import { TOKEN_DTYPES } from '../../src/data/indexed-dataset-format.js';

/**
 * Writes PREFIX.bin/.idx with `documents` documents over a 64-token vocabulary: each document
 * counts upward from a seeded start with a fixed stride (a pattern a tiny model learns in a
 * few steps) and ends with the end-of-document token 63.
 */
export function writeCountingDataset(dir: string, documents = 120, length = 40): string {
  const prefix = join(dir, 'counting');
  const w = new IndexedDatasetWriter(prefix, TOKEN_DTYPES.uint16);
  let s = 12345;
  for (let d = 0; d < documents; d++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const start = s % 63;
    const stride = 1 + (d % 3);
    const doc: number[] = [];
    for (let i = 0; i < length; i++) doc.push((start + i * stride) % 63);
    doc.push(63);
    w.addDocument(doc);
  }
  w.finish();
  return prefix;
}
