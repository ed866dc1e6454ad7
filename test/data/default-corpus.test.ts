import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchLoader } from '../../src/data/batch-loader.js';
import { prepareDefaultCorpus } from '../../src/data/default-corpus.js';
import { IndexedDataset } from '../../src/data/indexed-dataset-reader.js';
import { loadTokenizer } from '../../src/data/tokenizer.js';

test('prepareDefaultCorpus builds tokenizer + dataset from Brown, then reuses the cache', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'fog8-cache-'));
  try {
    const lines: string[] = [];
    const first = await prepareDefaultCorpus({ vocabSize: 512, cacheDir, documentLimit: 20, log: (l) => lines.push(l) });
    assert.equal(first.cached, false);
    assert.equal(first.vocabSize, 512);
    assert.equal(first.documents, 20);
    assert.ok(existsSync(`${first.datasetPrefix}.bin`) && existsSync(`${first.datasetPrefix}.idx`));
    const tokenizer = loadTokenizer(first.tokenizerPath);
    assert.equal(tokenizer.endOfDocumentToken, '<|endoftext|>');
    const ds = IndexedDataset.open(first.datasetPrefix, { vocabSize: tokenizer.vocabSize });
    assert.equal(ds.tokenCount, first.tokens);
    assert.ok(tokenizer.decode(ds.readDocument(0)).startsWith('The Fulton County Grand Jury said Friday'));
    const loader = new BatchLoader({ dataset: ds, split: 'train', B: 2, T: 64, endOfDocumentId: tokenizer.endOfDocumentId });
    assert.equal(loader.next().inputs.length, 128);
    ds.close();

    const second = await prepareDefaultCorpus({ vocabSize: 512, cacheDir, documentLimit: 20 });
    assert.equal(second.cached, true);
    assert.equal(second.tokens, first.tokens);
    // A damaged cache entry (size differs from the manifest) is rebuilt.
    writeFileSync(`${first.datasetPrefix}.bin`, 'x');
    const third = await prepareDefaultCorpus({ vocabSize: 512, cacheDir, documentLimit: 20 });
    assert.equal(third.cached, false);
    assert.equal(third.tokens, first.tokens);
    assert.ok(lines.some((l) => l.includes('training a 512-token byte-level BPE')));
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
});
