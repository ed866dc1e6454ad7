import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TOKEN_DTYPES, dtypeForVocabSize } from '../../src/data/indexed-dataset-format.js';
import { IndexedDataset } from '../../src/data/indexed-dataset-reader.js';
import { IndexedDatasetWriter } from '../../src/data/indexed-dataset-writer.js';
import { writeIndexedDataset } from '../../src/data/prepare.js';
import { trainTokenizer } from '../../src/data/tokenizer.js';

function withTmp(body: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fog8-idx-'));
    try {
      await body(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/**
 * Writes Megatron's layout byte by byte with a DataView, independently of our writer: doc 0 has
 * sequences [5, 6, 7] and [8], doc 1 has [9, 1000]; uint16 (code 8) or int32 (code 4).
 */
function writeMegatronByHand(prefix: string, code: 4 | 8): void {
  const itemBytes = code === 8 ? 2 : 4;
  const lengths = [3, 1, 2];
  const docIndices = [0, 2, 3];
  const tokens = [5, 6, 7, 8, 9, 1000];
  const idx = new DataView(new ArrayBuffer(9 + 8 + 1 + 8 + 8 + 4 * 3 + 8 * 3 + 8 * 3));
  'MMIDIDX'.split('').forEach((c, i) => idx.setUint8(i, c.charCodeAt(0)));
  idx.setUint8(7, 0);
  idx.setUint8(8, 0);
  let at = 9;
  idx.setBigUint64(at, 1n, true); at += 8;
  idx.setUint8(at, code); at += 1;
  idx.setBigUint64(at, 3n, true); at += 8; // sequences
  idx.setBigUint64(at, 3n, true); at += 8; // document-index entries (2 documents + 1)
  for (const len of lengths) { idx.setInt32(at, len, true); at += 4; }
  let pointer = 0;
  for (const len of lengths) { idx.setBigInt64(at, BigInt(pointer), true); at += 8; pointer += len * itemBytes; }
  for (const d of docIndices) { idx.setBigInt64(at, BigInt(d), true); at += 8; }
  assert.equal(at, idx.byteLength);
  const bin = new DataView(new ArrayBuffer(tokens.length * itemBytes));
  tokens.forEach((t, i) => (code === 8 ? bin.setUint16(i * 2, t, true) : bin.setInt32(i * 4, t, true)));
  writeFileSync(`${prefix}.idx`, new Uint8Array(idx.buffer));
  writeFileSync(`${prefix}.bin`, new Uint8Array(bin.buffer));
}

test('a Megatron file written by hand with DataView reads back (uint16 and int32)', withTmp((dir) => {
  for (const code of [8, 4] as const) {
    const prefix = join(dir, `hand${code}`);
    writeMegatronByHand(prefix, code);
    const ds = IndexedDataset.open(prefix, { vocabSize: 1001 });
    assert.equal(ds.dtype.code, code);
    assert.equal(ds.sequenceCount, 3);
    assert.equal(ds.documentCount, 2);
    assert.equal(ds.tokenCount, 6);
    assert.deepEqual(Array.from(ds.readSequence(0)), [5, 6, 7]);
    assert.deepEqual(Array.from(ds.readSequence(2)), [9, 1000]);
    assert.deepEqual(Array.from(ds.readDocument(0)), [5, 6, 7, 8]);
    assert.deepEqual(Array.from(ds.readDocument(1)), [9, 1000]);
    assert.deepEqual(ds.documentTokenRange(1), [4, 6]);
    ds.close();
  }
}));

test('our writer produces the same bytes as the hand-written Megatron file', withTmp((dir) => {
  writeMegatronByHand(join(dir, 'hand'), 8);
  const w = new IndexedDatasetWriter(join(dir, 'ours'), TOKEN_DTYPES.uint16);
  w.addSequence([5, 6, 7]);
  w.addSequence([8]);
  w.endDocument();
  w.addDocument([9, 1000]);
  assert.deepEqual(w.finish(), { prefix: join(dir, 'ours'), dtype: TOKEN_DTYPES.uint16, sequences: 3, documents: 2, tokens: 6 });
  assert.deepEqual(readFileSync(join(dir, 'ours.idx')), readFileSync(join(dir, 'hand.idx')));
  assert.deepEqual(readFileSync(join(dir, 'ours.bin')), readFileSync(join(dir, 'hand.bin')));
}));

test('written datasets read back: many documents, int32 dtype, ids near the top of the range', withTmp((dir) => {
  const docs = Array.from({ length: 50 }, (_, d) => Array.from({ length: 1 + ((d * 7) % 13) }, (_, i) => (d * 131 + i * 977) % 70000));
  const w = new IndexedDatasetWriter(join(dir, 'big'), dtypeForVocabSize(70000));
  for (const doc of docs) w.addDocument(doc);
  w.finish();
  const ds = IndexedDataset.open(join(dir, 'big'), { vocabSize: 70000 });
  assert.equal(ds.dtype.name, 'int32');
  docs.forEach((doc, d) => assert.deepEqual(Array.from(ds.readDocument(d)), doc));
  ds.validateAllTokenIds(70000);
  assert.throws(() => ds.validateAllTokenIds(1000), /outside the vocabulary \[0, 1000\)/);
  ds.close();
  assert.equal(dtypeForVocabSize(65535).name, 'uint16');
  assert.equal(dtypeForVocabSize(65536).name, 'int32');
}));

test('a truncated .bin is refused naming the file and the expected and actual sizes', withTmp((dir) => {
  const prefix = join(dir, 'hand');
  writeMegatronByHand(prefix, 8);
  truncateSync(`${prefix}.bin`, 10);
  assert.throws(() => IndexedDataset.open(prefix), (e: Error) => e.message.includes(`${prefix}.bin: truncated: expected 12 bytes`) && e.message.includes('found 10'));
  writeMegatronByHand(prefix, 8);
  appendFileSync(`${prefix}.bin`, Buffer.from([1, 2]));
  assert.throws(() => IndexedDataset.open(prefix), /longer than its index says: expected 12 bytes .* found 14/);
}));

test('bad magic, version, dtype and mismatched .idx contents are refused naming the .idx', withTmp((dir) => {
  const prefix = join(dir, 'hand');
  const corrupt = (at: number, value: number): void => {
    writeMegatronByHand(prefix, 8);
    const idx = readFileSync(`${prefix}.idx`);
    idx[at] = value;
    writeFileSync(`${prefix}.idx`, idx);
  };
  corrupt(0, 0x4e);
  assert.throws(() => IndexedDataset.open(prefix), (e: Error) => e.message.startsWith(`${prefix}.idx: bad magic`));
  corrupt(9, 2);
  assert.throws(() => IndexedDataset.open(prefix), /version 2, only version 1/);
  corrupt(17, 9);
  assert.throws(() => IndexedDataset.open(prefix), /unknown dtype code 9/);
  corrupt(17, 7);
  assert.throws(() => IndexedDataset.open(prefix), /float32 .* cannot hold token ids/);
  corrupt(18, 4); // sequence count 4: the sizes no longer match
  assert.throws(() => IndexedDataset.open(prefix), /does not match its header/);
  corrupt(34, 2); // first length 2: offsets disagree with lengths
  assert.throws(() => IndexedDataset.open(prefix), /byte offset of sequence 1 is 6, expected 4/);
  corrupt(34 + 12 + 24 + 16, 2); // document indices 0, 2, 2: the last must be S = 3
  assert.throws(() => IndexedDataset.open(prefix), /last document index is 2, expected the sequence count 3/);
  corrupt(34 + 12 + 24 + 16, 1); // 0, 2, 1
  assert.throws(() => IndexedDataset.open(prefix), /not monotonic: entry 2 is 1 after 2/);
  writeMegatronByHand(prefix, 8);
  truncateSync(`${prefix}.idx`, 40);
  assert.throws(() => IndexedDataset.open(prefix), /\.idx: size 40 bytes does not match its header/);
  rmSync(`${prefix}.idx`);
  assert.throws(() => IndexedDataset.open(prefix), /index file .*hand\.idx does not exist/);
}));

test('token ids outside the vocabulary are reported on read, naming the .bin and position', withTmp((dir) => {
  const prefix = join(dir, 'hand');
  writeMegatronByHand(prefix, 8);
  const ds = IndexedDataset.open(prefix, { vocabSize: 1000 });
  assert.deepEqual(Array.from(ds.readTokens(0, 5)), [5, 6, 7, 8, 9]);
  assert.throws(() => ds.readTokens(3, 3), (e: Error) => e instanceof RangeError && e.message.startsWith(`${prefix}.bin: token at position 5 is 1000, outside the vocabulary [0, 1000)`));
  ds.close();
}));

test('writeIndexedDataset appends the end-of-document token, skips empty documents, and refuses an empty corpus', withTmp(async (dir) => {
  const tok = trainTokenizer(['the cat sat on the mat. the dog sat on the log.'], { vocabSize: 270 });
  const docs = [{ file: 'a', text: 'the cat' }, { file: 'b', text: '' }, { file: 'c', text: 'sat 🙂' }];
  const summary = await writeIndexedDataset(docs, tok, join(dir, 'out'));
  assert.equal(summary.documents, 2);
  assert.equal(summary.skippedEmpty, 1);
  const ds = IndexedDataset.open(join(dir, 'out'), { vocabSize: tok.vocabSize });
  assert.deepEqual(Array.from(ds.readDocument(0)), [...tok.encode('the cat'), tok.endOfDocumentId]);
  assert.equal(tok.decode(ds.readDocument(1)), 'sat 🙂<|endoftext|>');
  ds.close();
  await assert.rejects(writeIndexedDataset([{ file: 'x.txt', text: '' }], tok, join(dir, 'empty')), /empty corpus: no non-empty documents/);
  await assert.rejects(writeIndexedDataset([{ file: 'y.txt', text: 'a\uD800' }], tok, join(dir, 'bad')), /y\.txt: document 0: text contains a lone surrogate/);
}));
