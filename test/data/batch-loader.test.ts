import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchLoader } from '../../src/data/batch-loader.js';
import { TOKEN_DTYPES } from '../../src/data/indexed-dataset-format.js';
import { IndexedDataset } from '../../src/data/indexed-dataset-reader.js';
import { IndexedDatasetWriter } from '../../src/data/indexed-dataset-writer.js';
import { seededPermutation } from '../../src/data/seeded-permutation.js';
import { splitDocuments } from '../../src/data/validation-split.js';

const EOD = 999;
const dir = mkdtempSync(join(tmpdir(), 'fog8-loader-'));
// 60 documents of 3..17 tokens; token values encode (document, position) so any mix-up shows.
const documents = Array.from({ length: 60 }, (_, d) => [...Array.from({ length: 2 + ((d * 5) % 15) }, (_, i) => d * 16 + (i % 16)), EOD]);
{
  const w = new IndexedDatasetWriter(join(dir, 'toy'), TOKEN_DTYPES.uint16);
  documents.forEach((doc, d) => {
    if (d % 3 === 0 && doc.length > 2) {
      w.addSequence(doc.slice(0, 2)); // some documents made of two sequences
      w.addSequence(doc.slice(2));
      w.endDocument();
    } else {
      w.addDocument(doc);
    }
  });
  w.finish();
}
const dataset = IndexedDataset.open(join(dir, 'toy'), { vocabSize: 1000 });
test.after(() => {
  dataset.close();
  rmSync(dir, { recursive: true, force: true });
});

test('validation split: evenly spread documents, hand-computed', () => {
  const { train, validation } = splitDocuments(500, 0.02);
  assert.deepEqual(validation, [25, 75, 125, 175, 225, 275, 325, 375, 425, 475]);
  assert.equal(train.length, 490);
  assert.deepEqual(splitDocuments(60, 0.1).validation, [5, 15, 25, 35, 45, 55]);
  assert.deepEqual(splitDocuments(60, 0.05).validation, [10, 30, 50]);
  assert.deepEqual(splitDocuments(3, 0.01).validation, [1]); // at least one
  assert.deepEqual(splitDocuments(10, 0).validation, []);
  assert.throws(() => splitDocuments(1, 0.02), /leaves no training documents out of 1/);
});

test('seeded permutation: a permutation, reproducible from (seed, epoch), different across epochs and seeds', () => {
  const p = seededPermutation(1000, 7, 0);
  assert.deepEqual(Array.from(p).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(seededPermutation(1000, 7, 0), p);
  assert.notDeepEqual(seededPermutation(1000, 7, 1), p);
  assert.notDeepEqual(seededPermutation(1000, 8, 0), p);
  assert.deepEqual(Array.from(seededPermutation(1, 3, 3)), [0]);
});

test('packing: samples are stride-T windows of T+1 tokens over the split stream; targets are inputs shifted by one', () => {
  const T = 8;
  const B = 4;
  const loader = new BatchLoader({ dataset, split: 'train', B, T, shuffle: false, validationFraction: 0.1, endOfDocumentId: EOD });
  // Independent oracle: the training documents concatenated, each already ending with EOD.
  const trainDocs = splitDocuments(60, 0.1).train;
  const stream = trainDocs.flatMap((d) => documents[d]);
  assert.equal(loader.sampleCount, Math.floor((stream.length - 1) / T));
  for (let batch = 0; batch < loader.batchesPerEpoch; batch++) {
    const { inputs, targets } = loader.next();
    for (let b = 0; b < B; b++) {
      const i = batch * B + b;
      assert.deepEqual(Array.from(inputs.subarray(b * T, (b + 1) * T)), stream.slice(i * T, i * T + T));
      assert.deepEqual(Array.from(targets.subarray(b * T, (b + 1) * T)), stream.slice(i * T + 1, i * T + T + 1));
    }
  }
  const validation = new BatchLoader({ dataset, split: 'validation', B: 1, T: 4, validationFraction: 0.1 });
  const valStream = [5, 15, 25, 35, 45, 55].flatMap((d) => documents[d]);
  assert.equal(validation.shuffle, false);
  assert.deepEqual(Array.from(validation.next().inputs), valStream.slice(0, 4));
  assert.deepEqual(Array.from(validation.next().targets), valStream.slice(5, 9));
});

test('shuffled batches are deterministic for a seed and cover every sample once per epoch', () => {
  const make = (seed: number): BatchLoader => new BatchLoader({ dataset, split: 'train', B: 5, T: 6, seed });
  const a = make(11);
  const b = make(11);
  const c = make(12);
  const seen = new Set<string>();
  const n = a.sampleCount;
  let differsFromOtherSeed = false;
  for (let k = 0; k < Math.floor(n / 5); k++) {
    const x = a.next();
    const y = b.next();
    assert.deepEqual(x, y);
    differsFromOtherSeed ||= x.inputs.join() !== c.next().inputs.join();
    for (let r = 0; r < 5; r++) seen.add(x.inputs.subarray(r * 6, r * 6 + 6).join());
  }
  assert.ok(differsFromOtherSeed);
  assert.equal(seen.size, Math.floor(n / 5) * 5);
});

test('state()/restore() resumes exactly, across an epoch boundary, and refuses a mismatched state', () => {
  const options = { dataset, split: 'train' as const, B: 7, T: 10, seed: 3 };
  const straight = new BatchLoader(options);
  const expected = Array.from({ length: 12 }, () => straight.next()); // > one epoch of ~ 45 samples / 7
  const first = new BatchLoader(options);
  for (let k = 0; k < 5; k++) first.next();
  const saved = JSON.parse(JSON.stringify(first.state()));
  assert.equal(saved.position, 35);
  const resumed = new BatchLoader(options);
  resumed.restore(saved);
  for (let k = 5; k < 12; k++) assert.deepEqual(resumed.next(), expected[k], `batch ${k}`);
  assert.ok(resumed.state().epoch >= 1);
  assert.throws(() => new BatchLoader({ ...options, B: 8 }).restore(saved), /B is 7 in the state, 8 here/);
  assert.throws(() => new BatchLoader({ ...options, seed: 4 }).restore(saved), /seed is 3 in the state, 4 here/);
  assert.throws(() => resumed.restore({ ...saved, position: -1 }), /position must be an integer/);
});

test('loader errors: too little data for one sample, data without end-of-document tokens', () => {
  assert.throws(() => new BatchLoader({ dataset, split: 'validation', B: 1, T: 5000 }), /the validation split has \d+ tokens in \d+ documents, fewer than one sample of T \+ 1 = 5001 tokens/);
  assert.throws(() => new BatchLoader({ dataset, split: 'train', B: 1, T: 4, endOfDocumentId: 7 }), /document 0 ends with token 999, not the end-of-document token 7/);
});
