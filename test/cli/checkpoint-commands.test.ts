import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { writeIndexedDataset } from '../../src/data/prepare.js';
import { loadTokenizer, trainTokenizer } from '../../src/data/tokenizer.js';
import { loadModelForInference } from '../../src/train/inference.js';
import { loadRun } from '../../src/report/load.js';
import { summarizeRun } from '../../src/report/summary.js';
import { compareRows, formatCompareTable } from '../../src/report/compare.js';

// One tiny FP8 run on a small text corpus with its own BPE tokenizer, shared by the tests below.
let dir = '';
let runDir = '';
let tokenizerPath = '';
const STEPS = 4;
const BATCH = 4;
const SEQ = 16;

const WORDS = ['the', 'jury', 'said', 'city', 'court', 'report', 'county', 'election', 'was', 'of', 'and', 'a', 'new', 'vote', 'in', 'to'];

function corpus(documents: number): string[] {
  let s = 2024;
  const next = (): number => (s = (s * 1103515245 + 12345) >>> 0) >>> 8;
  return Array.from({ length: documents }, () => {
    const words = Array.from({ length: 20 + (next() % 20) }, () => WORDS[next() % WORDS.length]);
    return `The ${words.join(' ')}.`;
  });
}

/** Runs the CLI and returns its exit code, what it printed (console.log, process.stdout.write) and its errors. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const chunks: string[] = [];
  const errors: string[] = [];
  const log = console.log;
  const error = console.error;
  console.error = (...a: unknown[]) => void errors.push(a.join(' '));
  const write = process.stdout.write.bind(process.stdout);
  console.log = (...a: unknown[]) => void chunks.push(a.join(' ') + '\n');
  // The test runner reports to its parent through stdout in binary (Buffer) frames: pass those on.
  process.stdout.write = ((s: string | Uint8Array) => (typeof s === 'string' ? chunks.push(s) : write(s), true)) as typeof process.stdout.write;
  try {
    const code = await main(args);
    return { code, out: chunks.join(''), err: errors.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
    process.stdout.write = write;
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fog8-ckpt-cmds-'));
  const texts = corpus(80);
  const tokenizer = trainTokenizer(texts, { vocabSize: 300, minPairFrequency: 2 });
  tokenizerPath = join(dir, 'tokenizer.json');
  tokenizer.save(tokenizerPath);
  const prefix = join(dir, 'text');
  await writeIndexedDataset(texts.map((text) => ({ file: 'corpus', text })), tokenizer, prefix);
  runDir = join(dir, 'run');
  const { code } = await cli([
    'train', '--size', 'tiny', '--precision', 'fp8-delayed', '--data', prefix, '--tokenizer', tokenizerPath, '--kernels', 'reference', '--steps', String(STEPS),
    '--batch', String(BATCH), '--seq', String(SEQ), '--lr', '0.01', '--warmup', '1', '--eval-interval', '0', '--eval-batches', '2', '--checkpoint-interval', '0',
    '--run-dir', runDir, '--progress', 'none', '--val-fraction', '0.1',
  ]);
  assert.equal(code, 0);
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('fog8 generate: prints the prompt and its continuation; deterministic with --seed; greedy starts with the argmax token', async () => {
  const args = ['generate', runDir, '--prompt', 'The jury said', '--max-tokens', '10', '--top-k', '20', '--temperature', '1', '--kernels', 'reference'];
  const a = await cli([...args, '--seed', '7']);
  assert.equal(a.code, 0);
  assert.ok(a.out.startsWith('The jury said') && a.out.endsWith('\n') && a.out.length > 'The jury said\n'.length, JSON.stringify(a.out));
  assert.equal((await cli([...args, '--seed', '7'])).out, a.out);
  // Greedy: the first generated token is the argmax of the checkpoint model's logits after the prompt.
  const tokenizer = loadTokenizer(tokenizerPath);
  const { model } = loadModelForInference(runDir, createReferenceKernels());
  const prompt = tokenizer.encode('The jury said');
  const window = new Int32Array(model.config.seqLen);
  window.set(prompt);
  const V = model.config.vocabSize;
  const row = Array.from(model.logits(window, model.config.seqLen).subarray((prompt.length - 1) * V, prompt.length * V));
  const argmax = row.indexOf(Math.max(...row));
  const greedy = await cli(['generate', runDir, '--prompt', 'The jury said', '--max-tokens', '1', '--temperature', '0', '--kernels', 'reference']);
  assert.equal(greedy.code, 0);
  const expected = argmax === tokenizer.endOfDocumentId ? '' : tokenizer.decode([argmax]);
  assert.equal(greedy.out, `The jury said${expected}\n`);
  // Bad arguments are refused with the value.
  const bad = await cli(['generate', runDir, '--prompt', 'x', '--max-tokens', '0', '--kernels', 'reference']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /--max-tokens must be an integer ≥ 1, got 0/);
});

test('fog8 eval --json: the training data\'s held-out split by default; loss, perplexity, bits per byte, tokens; text line; evals.jsonl', async () => {
  const r = await cli(['eval', runDir, '--json', '--kernels', 'reference']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, 1);
  const ev = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.deepEqual(Object.keys(ev).sort(), ['bitsPerByte', 'bytes', 'checkpoint', 'data', 'documents', 'loss', 'perplexity', 'precision', 'scalingStateLoaded', 'split', 'step', 'tokens', 'windows']);
  assert.equal(ev.checkpoint, join(runDir, 'checkpoints', `step-${STEPS}`));
  assert.equal(ev.step, STEPS);
  assert.equal(ev.precision, 'fp8-delayed');
  assert.equal(ev.scalingStateLoaded, true);
  assert.equal(ev.split, 'val');
  assert.equal(ev.documents, 8); // round(0.1 · 80) held-out documents
  assert.ok(typeof ev.loss === 'number' && ev.loss > 0 && ev.loss < Math.log(300) + 1);
  assert.equal(ev.perplexity, Math.exp(ev.loss as number));
  assert.ok(Math.abs((ev.bitsPerByte as number) - ((ev.loss as number) * (ev.tokens as number)) / Math.LN2 / (ev.bytes as number)) < 1e-9);
  // Another precision: no FP8 scaling state to load; the human-readable line carries the same numbers.
  const wide = JSON.parse((await cli(['eval', runDir, '--json', '--kernels', 'reference', '--precision', 'fp32', '--no-record'])).out) as Record<string, unknown>;
  assert.equal(wide.precision, 'fp32');
  assert.equal(wide.scalingStateLoaded, false);
  const text = await cli(['eval', runDir, '--kernels', 'reference']);
  assert.equal(text.out, `${ev.checkpoint} (step ${STEPS}, fp8-delayed): ${ev.data}/val (8 documents, ${ev.tokens} tokens): loss ${(ev.loss as number).toFixed(4)}, perplexity ${(ev.perplexity as number).toFixed(2)}, ${(ev.bitsPerByte as number).toFixed(4)} bits per byte\n`);
  const records = readFileSync(join(runDir, 'evals.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(records.length, 2); // --no-record added none
  assert.equal(records[0].type, 'data');
  assert.equal(records[0].loss, ev.loss);
});

test('fog8 eval on a one-document file (not the training data: split all), and a downstream JSONL task', async () => {
  const one = join(dir, 'one.jsonl');
  writeFileSync(one, JSON.stringify({ text: 'The jury said the city court report was new.' }) + '\n');
  const r = await cli(['eval', runDir, '--data', one, '--json', '--kernels', 'reference', '--no-record']);
  assert.equal(r.code, 0, r.err);
  const ev = JSON.parse(r.out) as Record<string, unknown>;
  assert.equal(ev.split, 'all');
  assert.equal(ev.documents, 1);
  assert.equal(ev.tokens, loadTokenizer(tokenizerPath).encode('The jury said the city court report was new.').length + 1);
  const task = join(dir, 'task.jsonl');
  writeFileSync(task, [{ context: 'The jury', choices: ['said', 'was'], gold: 0 }, { context: 'The city', choices: ['court', 'of'], gold: 0 }].map((x) => JSON.stringify(x)).join('\n'));
  const t = await cli(['eval', runDir, '--tasks', task, '--kernels', 'reference']);
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /\(step 4, fp8-delayed\): task: acc \d\.\d{4} ± \d\.\d{4}, acc_norm \d\.\d{4} ± \d\.\d{4}, acc_mutual_info \d\.\d{4} ± \d\.\d{4} \(2 items\)\n$/);
  const last = JSON.parse(readFileSync(join(runDir, 'evals.jsonl'), 'utf8').trim().split('\n').pop() as string) as Record<string, unknown>;
  assert.equal(last.type, 'task');
  assert.equal(last.task, 'task');
  assert.equal(last.items, 2);
  // The report's summary and compare's table carry the newest task result.
  const summary = summarizeRun(loadRun(runDir), '#000');
  assert.deepEqual(summary.tasks.map((x) => [x.task, x.items, x.step, x.acc]), [['task', 2, STEPS, last.acc]]);
  const table = formatCompareTable(compareRows([{ job: { preset: 'fog-xielu', precision: 'fp8-delayed', name: 'run', runDir }, summary }]));
  assert.match(table.split('\n')[0], /diverged +task$/);
  assert.match(table.split('\n')[2], new RegExp(`${(last.accNorm as number).toPrecision(3).replace('.', '\\.')}$`));
  const bad = await cli(['eval', runDir, '--tasks', 'no-such-task', '--kernels', 'reference']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /'no-such-task' is neither a built-in task \(brown-cloze\) nor a JSONL task file/);
});

test('fog8 eval: a checkpoint without a usable FP8 scaling state is an error for FP8 evaluation unless --fresh-scales', async () => {
  const ckpt = join(runDir, 'checkpoints', `step-${STEPS}`);
  const copy = join(dir, 'weights-only');
  cpSync(ckpt, copy, { recursive: true });
  rmSync(join(copy, 'trainer_state.json'));
  const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8')) as { files: Record<string, unknown> };
  delete manifest.files['trainer_state.json'];
  writeFileSync(join(copy, 'manifest.json'), JSON.stringify(manifest));
  const e = await cli(['eval', copy, '--precision', 'fp8-delayed', '--kernels', 'reference', '--data', join(dir, 'one.jsonl')]);
  assert.equal(e.code, 1);
  assert.match(e.err, /trainer_state\.json is missing.*Pass --fresh-scales/);
  const ok = await cli(['eval', copy, '--precision', 'fp8-delayed', '--fresh-scales', '--kernels', 'reference', '--data', join(dir, 'one.jsonl'), '--json']);
  assert.equal(ok.code, 0, ok.err);
  assert.equal((JSON.parse(ok.out) as { scalingStateLoaded: boolean }).scalingStateLoaded, false);
});

test('fog8 inspect: config, parameter count (= the safetensors tensors), step, FP8 scaling state (= trainer_state.json)', async () => {
  const ckpt = join(runDir, 'checkpoints', `step-${STEPS}`);
  // Independent oracles: the safetensors header and the trainer state file.
  const st = readFileSync(join(ckpt, 'model.safetensors'));
  const header = JSON.parse(st.subarray(8, 8 + Number(st.readBigUInt64LE(0))).toString('utf8')) as Record<string, { shape?: number[] }>;
  const parameters = Object.entries(header).filter(([k]) => k !== '__metadata__').reduce((a, [, t]) => a + (t.shape ?? []).reduce((x, y) => x * y, 1), 0);
  const state = JSON.parse(readFileSync(join(ckpt, 'trainer_state.json'), 'utf8')) as { step: number; tokens: number; scaling: { slots: { key: string; scale: number }[] } };
  const scales = state.scaling.slots.map((s) => s.scale);

  const j = await cli(['inspect', runDir, '--json']);
  assert.equal(j.code, 0);
  const info = JSON.parse(j.out) as { checkpoint: string; parameters: number; step: number; tokens: number; precision: string; model: { preset: string; size: string; vocabSize: number }; scaling: { slots: number; minScale: number; maxScale: number; perSlot: unknown[] }; files: Record<string, unknown> };
  assert.equal(info.checkpoint, ckpt);
  assert.equal(info.parameters, parameters);
  assert.equal(info.step, STEPS);
  assert.equal(info.tokens, STEPS * BATCH * SEQ);
  assert.equal(info.precision, 'fp8-delayed');
  assert.deepEqual([info.model.preset, info.model.size, info.model.vocabSize], ['fog-xielu', 'tiny', loadTokenizer(tokenizerPath).vocabSize]);
  assert.equal(info.scaling.slots, state.scaling.slots.length);
  assert.equal(info.scaling.minScale, Math.min(...scales));
  assert.equal(info.scaling.maxScale, Math.max(...scales));
  assert.ok(['model.safetensors', 'optimizer.safetensors', 'trainer_state.json', 'tokenizer.json'].every((f) => f in info.files));

  const t = await cli(['inspect', join(runDir, 'checkpoints', `step-${STEPS}`)]);
  assert.equal(t.code, 0);
  const lines = t.out.trimEnd().split('\n');
  assert.match(lines[0], new RegExp(`^checkpoint ${ckpt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(files and tensor shapes verified: `));
  assert.match(lines[1], /^model +fog-xielu\/tiny: d 32, 2 layers, /);
  assert.equal(lines[2], `parameters ${parameters.toLocaleString('en-US')}`);
  assert.equal(lines[3], `step       ${STEPS} (${STEPS * BATCH * SEQ} tokens), precision fp8-delayed`);
  assert.match(lines[5], new RegExp(`^scaling +${state.scaling.slots.length} slots, scales `));
  assert.equal(lines.length, 6 + Math.min(12, state.scaling.slots.length) + (state.scaling.slots.length > 12 ? 1 : 0));
  // A missing checkpoint is an error naming the path.
  const missing = await cli(['inspect', join(dir, 'nowhere')]);
  assert.equal(missing.code, 1);
  assert.ok(missing.err.includes(join(dir, 'nowhere')), missing.err);
});

test('fog8 inspect refuses a checkpoint whose tensor shapes do not fit its config.json, as eval does (hashes alone are not enough)', async () => {
  const copy = join(dir, 'mismatched');
  cpSync(join(runDir, 'checkpoints', `step-${STEPS}`), copy, { recursive: true });
  // A consistent manifest over an inconsistent checkpoint: config.json claims a wider MLP.
  const hf = JSON.parse(readFileSync(join(copy, 'config.json'), 'utf8')) as { intermediate_size: number; fog8: { config: { ffnDim: number } } };
  hf.intermediate_size *= 2;
  hf.fog8.config.ffnDim *= 2;
  const bytes = Buffer.from(JSON.stringify(hf));
  writeFileSync(join(copy, 'config.json'), bytes);
  const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8')) as { files: Record<string, { bytes: number; sha256: string }> };
  manifest.files['config.json'] = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  writeFileSync(join(copy, 'manifest.json'), JSON.stringify(manifest));
  const shape = /model\.safetensors: tensor model\.layers\.0\.mlp\.\w+\.weight is F32 \[\d+, \d+\], expected F32 \[\d+, \d+\]/;
  const inspected = await cli(['inspect', copy]);
  assert.equal(inspected.code, 1, inspected.out + inspected.err);
  assert.match(inspected.err, shape);
  const evaluated = await cli(['eval', copy, '--kernels', 'reference', '--batches', '1']);
  assert.equal(evaluated.code, 1);
  assert.match(evaluated.err, shape);
});
