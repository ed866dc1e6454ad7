import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { resolveModelConfig } from '../../src/model/config.js';
import { Model } from '../../src/model/model.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { trainTokenizer, type Tokenizer } from '../../src/data/tokenizer.js';
import { writeIndexedDataset } from '../../src/data/prepare.js';
import { openEvalDocuments } from '../../src/eval/documents.js';
import { scoreDocuments } from '../../src/eval/perplexity.js';
import { evaluateTask, logLikelihoods, meanStderr, parseTaskJsonl } from '../../src/eval/tasks.js';
import { brownClozeTask, brownSentences } from '../../src/eval/brown-cloze.js';

let dir = '';
let tokenizer: Tokenizer;
const TEXTS = ['The jury said the city court report was new.', 'A county election vote in the city of the court.', 'The new vote was said to be a report.'];
const model = new Model(resolveModelConfig({ preset: 'llama3', size: 'tiny', vocabSize: 300, seqLen: 16 }), createReferenceKernels(), resolvePrecision('fp32'), 4);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fog8-eval-'));
  tokenizer = trainTokenizer(TEXTS.concat(TEXTS), { vocabSize: 300, minPairFrequency: 2 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Independent oracle: Σ −log softmax(logits)[next] of one document, its full stream in one window each. */
function oracleNats(doc: Int32Array, bos: number): { nats: number; tokens: number } {
  const stream = [bos, ...doc];
  const T = model.config.seqLen;
  const V = model.config.vocabSize;
  let nats = 0;
  let tokens = 0;
  for (let start = 0; start + 1 < stream.length; start += T) {
    const n = Math.min(T, stream.length - 1 - start);
    const w = new Int32Array(T);
    w.set(stream.slice(start, start + n));
    const logits = model.logits(w, T);
    for (let p = 0; p < n; p++) {
      const row = Array.from(logits.subarray(p * V, (p + 1) * V));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      nats += lse - row[stream[start + p + 1]];
      tokens++;
    }
  }
  return { nats, tokens };
}

test('eval on a one-document dataset (txt, jsonl and PREFIX): every token scored, windows and short tails included; loss = the oracle; bits per byte from the text', async () => {
  const text = TEXTS.join(' ').repeat(3); // longer than one 16-token window
  const txt = join(dir, 'one.txt');
  writeFileSync(txt, text);
  const jsonl = join(dir, 'one.jsonl');
  writeFileSync(jsonl, JSON.stringify({ text }) + '\n');
  const prefix = join(dir, 'one');
  await writeIndexedDataset([{ file: 'x', text }], tokenizer, prefix);
  const results: number[] = [];
  for (const data of [txt, jsonl, prefix]) {
    const docs = await openEvalDocuments({ data, split: 'all', valFraction: 0.02, tokenizer, vocabSize: 300 });
    assert.equal(docs.documents.length, 1);
    assert.equal(docs.bytes, Buffer.byteLength(text));
    const r = scoreDocuments(model, docs.documents, { batch: 3, bos: tokenizer.endOfDocumentId, bytes: docs.bytes });
    const oracle = oracleNats(docs.documents[0], tokenizer.endOfDocumentId);
    assert.equal(r.tokens, docs.documents[0].length); // all document tokens incl. the end-of-document token
    assert.equal(r.tokens, oracle.tokens);
    assert.ok(Math.abs(r.loss - oracle.nats / oracle.tokens) < 1e-5, `${r.loss} vs ${oracle.nats / oracle.tokens}`);
    assert.ok(Math.abs((r.bitsPerByte as number) - oracle.nats / Math.LN2 / Buffer.byteLength(text)) < 1e-5);
    assert.equal(r.perplexity, Math.exp(r.loss));
    results.push(r.loss);
  }
  assert.ok(results.every((l) => Math.abs(l - results[0]) < 1e-6), `the three sources tokenize alike: ${results}`);
  // --split val needs two documents.
  await assert.rejects(openEvalDocuments({ data: txt, split: 'val', valFraction: 0.02, tokenizer, vocabSize: 300 }), /at least 2 documents/);
});

test('eval: documents shorter than a window are scored, not dropped; batching does not change the result; val takes the held-out documents', async () => {
  const jsonl = join(dir, 'many.jsonl');
  writeFileSync(jsonl, TEXTS.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  const docs = await openEvalDocuments({ data: jsonl, split: 'all', valFraction: 0.02, tokenizer, vocabSize: 300 });
  assert.equal(docs.documents.length, 3);
  const one = scoreDocuments(model, docs.documents, { batch: 1, bos: tokenizer.endOfDocumentId, bytes: docs.bytes });
  const four = scoreDocuments(model, docs.documents, { batch: 4, bos: tokenizer.endOfDocumentId, bytes: docs.bytes });
  assert.equal(one.tokens, docs.documents.reduce((s, d) => s + d.length, 0));
  assert.ok(Math.abs(one.loss - four.loss) < 1e-6);
  let nats = 0;
  for (const d of docs.documents) nats += oracleNats(d, tokenizer.endOfDocumentId).nats;
  assert.ok(Math.abs(one.loss - nats / one.tokens) < 1e-5);
  const val = await openEvalDocuments({ data: jsonl, split: 'val', valFraction: 0.34, tokenizer, vocabSize: 300 });
  assert.equal(val.documents.length, 1);
  assert.deepEqual(val.documents[0], docs.documents[1]); // document ⌊(0 + ½)·3/1⌋ = 1
});

test('tasks: JSONL parsing (multiple choice, cloze, errors naming the line and field)', () => {
  const mc = parseTaskJsonl('{"context":"a b","choices":["c","d"],"gold":1}\n\n{"context":"x","choices":["y","z","w"],"gold":0,"delimiter":""}\n', 't');
  assert.equal(mc.kind, 'multiple-choice');
  assert.equal(mc.items.length, 2);
  assert.equal(mc.items[1].delimiter, '');
  const cloze = parseTaskJsonl('{"context":"The jury","continuation":"said"}', 'c');
  assert.equal(cloze.kind, 'cloze');
  assert.throws(() => parseTaskJsonl('{"context":"a","choices":["b","c"],"gold":2}', 'bad'), /bad:1: "gold" must be an integer index into "choices" \(0\.\.1\), got 2/);
  assert.throws(() => parseTaskJsonl('{"context":1}', 'bad'), /bad:1: "context" must be a string/);
  assert.throws(() => parseTaskJsonl('{"context":"a"}', 'bad'), /needs "choices" and "gold".*or a non-empty "continuation"/);
  assert.throws(() => parseTaskJsonl('{"context":"a","choices":["b","c"],"gold":0}\n{"context":"a","continuation":"b"}', 'mix'), /mixes/);
  assert.throws(() => parseTaskJsonl('nope', 'bad'), /bad:1: not valid JSON/);
});

test('tasks: log-likelihoods equal an oracle from full logits; acc / acc_norm / stderr follow the harness', () => {
  const ctx = tokenizer.encode('The jury said');
  const cont = tokenizer.encode(' the city');
  const [r] = logLikelihoods(model, [{ context: ctx, continuation: cont }], 4);
  const T = model.config.seqLen;
  const V = model.config.vocabSize;
  const all = [...ctx, ...cont];
  const w = new Int32Array(T);
  w.set(all.slice(0, -1));
  const logits = model.logits(w, T);
  let ll = 0;
  let greedy = true;
  for (let p = ctx.length - 1; p < all.length - 1; p++) {
    const row = Array.from(logits.subarray(p * V, (p + 1) * V));
    const max = Math.max(...row);
    ll += row[all[p + 1]] - max - Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    if (row.indexOf(max) !== all[p + 1]) greedy = false;
  }
  assert.ok(Math.abs(r.ll - ll) < 1e-5, `${r.ll} vs ${ll}`);
  assert.equal(r.greedy, greedy);
  assert.deepEqual(meanStderr([1, 0, 1, 1]), [0.75, Math.sqrt(0.25 / 4)]);
  // A task whose gold choice is what the model scores highest (by construction) has acc 1.
  const task = parseTaskJsonl(['The jury said', 'A county'].map((c) => JSON.stringify({ context: c, choices: ['the city', 'report was new'], gold: 0 })).join('\n'), 't');
  const res = evaluateTask(model, tokenizer, task, { batch: 2 });
  assert.equal(task.kind, 'multiple-choice');
  if (task.kind !== 'multiple-choice') return;
  const lls = logLikelihoods(model, task.items.flatMap((it) => it.choices.map((ch) => ({ context: tokenizer.encode(it.context), continuation: tokenizer.encode(it.context + ' ' + ch).slice(tokenizer.encode(it.context).length) }))), 2);
  const expectAcc = [0, 1].map((i) => (lls[2 * i].ll > lls[2 * i + 1].ll ? 1 : 0));
  const expectNorm = [0, 1].map((i) => (lls[2 * i].ll / 8 > lls[2 * i + 1].ll / 14 ? 1 : 0));
  assert.equal(res.acc, (expectAcc[0] + expectAcc[1]) / 2);
  assert.equal(res.accNorm, (expectNorm[0] + expectNorm[1]) / 2);
  assert.equal(res.items, 2);
  // acc_mutual_info: argmax of ll(choice | context) − ll(choice | end-of-document).
  const eod = [tokenizer.endOfDocumentId];
  const uncond = logLikelihoods(model, task.items.flatMap((it) => it.choices.map((ch) => ({ context: eod, continuation: tokenizer.encode(ch) }))), 2);
  const expectMi = [0, 1].map((i) => (lls[2 * i].ll - uncond[2 * i].ll > lls[2 * i + 1].ll - uncond[2 * i + 1].ll ? 1 : 0));
  assert.equal(res.accMutualInfo, (expectMi[0] + expectMi[1]) / 2);
});

test('brown-cloze: deterministic, 4 choices with the true next sentence at gold, from held-out documents only', () => {
  const a = brownClozeTask();
  const b = brownClozeTask();
  assert.deepEqual(a, b);
  assert.equal(a.kind, 'multiple-choice');
  assert.ok(a.items.length >= 100, `${a.items.length} items`);
  if (a.kind !== 'multiple-choice') return;
  const golds = new Set<number>();
  for (const it of a.items) {
    assert.equal(it.choices.length, 4);
    assert.equal(new Set(it.choices).size, 4);
    golds.add(it.gold);
  }
  assert.equal(golds.size, 4);
  assert.deepEqual(brownSentences('He said so. "Yes!" She left.\n\nNew paragraph here.'), ['He said so.', '"Yes!"', 'She left.', 'New paragraph here.']);
});
