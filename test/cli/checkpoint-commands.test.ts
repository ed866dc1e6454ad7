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
  process.stdout.write = ((s: string | Uint8Array) => (chunks.push(String(s)), true)) as typeof process.stdout.write;
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

test('fog8 eval --json: one object with the checkpoint, step, precision, scaling state, token count, loss and perplexity', async () => {
  const r = await cli(['eval', runDir, '--json', '--kernels', 'reference', '--batches', '2']);
  assert.equal(r.code, 0);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, 1);
  const ev = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.deepEqual(Object.keys(ev).sort(), ['batches', 'checkpoint', 'precision', 'scalingStateLoaded', 'step', 'tokens', 'valLoss', 'valPerplexity']);
  assert.equal(ev.checkpoint, join(runDir, 'checkpoints', `step-${STEPS}`));
  assert.equal(ev.step, STEPS);
  assert.equal(ev.precision, 'fp8-delayed');
  assert.equal(ev.scalingStateLoaded, true);
  assert.equal(ev.batches, 2);
  assert.equal(ev.tokens, 2 * BATCH * SEQ);
  assert.ok(typeof ev.valLoss === 'number' && ev.valLoss > 0 && ev.valLoss < Math.log(300) + 1);
  assert.equal(ev.valPerplexity, Math.exp(ev.valLoss as number));
  // Another precision: no FP8 scaling state to load; the human-readable line carries the same numbers.
  const wide = JSON.parse((await cli(['eval', runDir, '--json', '--kernels', 'reference', '--batches', '2', '--precision', 'fp32'])).out) as Record<string, unknown>;
  assert.equal(wide.precision, 'fp32');
  assert.equal(wide.scalingStateLoaded, false);
  // More sequences than the validation split holds: refused, not silently repeated.
  const tooMany = await cli(['eval', runDir, '--kernels', 'reference', '--batch', '1000', '--batches', '1']);
  assert.equal(tooMany.code, 1);
  assert.match(tooMany.err, /--batch 1000 × --batches 1 = 1000 sequences, but the validation split holds only \d+/);
  const text = await cli(['eval', runDir, '--kernels', 'reference', '--batches', '2']);
  assert.equal(text.out, `${ev.checkpoint} (step ${STEPS}, fp8-delayed): val loss ${(ev.valLoss as number).toFixed(4)}, perplexity ${(ev.valPerplexity as number).toFixed(2)} over ${ev.tokens} tokens\n`);
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
