import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { AdamW, type OptimizedTensor } from '../../src/optim/adamw.js';
import { buildCheckpointFiles, modelWeightsFrom, moveCheckpointInto, moveModelWeightsInto, optimizerStateFrom, readCheckpoint, type ParamTable, type TrainerStateJson } from '../../src/train/checkpoint.js';
import { listCheckpointSteps, pruneCheckpoints, resolveCheckpointDir, writeCheckpointFiles } from '../../src/train/checkpoint-files.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/train/safetensors.js';

const kernels = createReferenceKernels();

function table(rows = 3): ParamTable & { tensors: OptimizedTensor[] } {
  const specs = [
    { name: 'model.embed_tokens.weight', shape: [rows, 4] },
    { name: 'model.layers.0.mlp.act_fn.alpha_p', shape: [1] },
  ];
  const offsets = new Map<string, number>([
    [specs[0].name, 0],
    [specs[1].name, rows * 4],
  ]);
  const data = new Float32Array(rows * 4 + 1).map((_, i) => Math.sin(i) * 0.1);
  const tensors: OptimizedTensor[] = [
    { name: specs[0].name, shape: specs[0].shape, offset: 0, size: rows * 4, weightDecay: true },
    { name: specs[1].name, shape: [1], offset: rows * 4, size: 1, weightDecay: false },
  ];
  return { specs, offsets, data, tensors };
}

function trainerState(step: number): TrainerStateJson {
  return {
    formatVersion: 1, step, tokens: step * 32, consecutiveBadSteps: 0, elapsedSeconds: 1.5, data: { position: 7 },
    rng: { seed: 1 }, scaling: { slots: [] }, config: { preset: 'fog-xielu' },
    optimizer: { stepCount: step, m1Dtype: 'e4m3', m2Dtype: 'e5m2', precision: {} },
  };
}

function writeOne(parent: string, step: number): { dir: string; t: ReturnType<typeof table>; opt: AdamW } {
  const t = table();
  const opt = new AdamW(t.tensors, kernels, undefined, { master: 'fp32', m1: 'fp8', m2: 'fp8', grads: 'fp32' });
  opt.step(t.data, new Float32Array(t.data.length).fill(0.01).map((v, i) => v * (i - 5)), 1e-3);
  const files = buildCheckpointFiles({ params: t, hfConfig: { model_type: 'fog' }, optimizer: opt, trainerState: trainerState(step), tokenizerJson: Buffer.from('{}') });
  return { dir: writeCheckpointFiles(parent, step, files), t, opt };
}

test('checkpoint round trip: weights, FP8 moments, scales and trainer state come back exactly', () => {
  const parent = mkdtempSync(join(tmpdir(), 'fog8-ckpt-'));
  try {
    const { dir, t, opt } = writeOne(parent, 3);
    assert.equal(dir, join(parent, 'step-3'));
    const ck = readCheckpoint(dir, true);
    assert.deepEqual(modelWeightsFrom(ck, t), t.data);
    const fresh = new AdamW(t.tensors, kernels, undefined, { master: 'fp32', m1: 'fp8', m2: 'fp8', grads: 'fp32' });
    const st = optimizerStateFrom(ck, fresh);
    assert.deepEqual(st.m1, opt.m1);
    assert.deepEqual(st.m2, opt.m2);
    assert.deepEqual(st.m1Scales, opt.m1Scales);
    assert.equal(st.stepCount, 1);
    assert.equal(ck.trainerState?.step, 3);
    assert.deepEqual(ck.trainerState?.data, { position: 7 });
    assert.equal(resolveCheckpointDir(parent), dir);
    // A different optimizer precision is a mismatch, named in the error.
    assert.throws(() => optimizerStateFrom(ck, new AdamW(t.tensors, kernels)), /optimizer\.safetensors: moments stored as e4m3\/e5m2/);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('moveCheckpointInto: copies weights and moments straight into the live arenas (emptying the checkpoint), and changes nothing when either does not fit', () => {
  const parent = mkdtempSync(join(tmpdir(), 'fog8-ckpt-'));
  try {
    const { dir, t, opt } = writeOne(parent, 3);
    const precision = { master: 'fp32', m1: 'fp8', m2: 'fp8', grads: 'fp32' } as const;
    const live = table();
    live.data.fill(0);
    const fresh = new AdamW(live.tensors, kernels, undefined, precision);
    const ck = readCheckpoint(dir, true);
    moveCheckpointInto(ck, live, fresh);
    assert.deepEqual(live.data, t.data);
    assert.deepEqual(fresh.m1, opt.m1);
    assert.deepEqual(fresh.m2, opt.m2);
    assert.deepEqual([fresh.m1Scales, fresh.m2Scales, fresh.masterScales], [opt.m1Scales, opt.m2Scales, opt.masterScales]);
    assert.equal(fresh.stepCount, 1);
    assert.equal(ck.model.tensors.size + (ck.optimizer?.tensors.size ?? 0), 0, 'the checkpoint tensors are released as they are copied');
    // An optimizer of another precision: refused before the weights are touched.
    const other = table();
    other.data.fill(7);
    assert.throws(() => moveCheckpointInto(readCheckpoint(dir, true), other, new AdamW(other.tensors, kernels)), /optimizer\.safetensors: moments stored as e4m3\/e5m2/);
    assert.ok(other.data.every((v) => v === 7), 'weights unchanged');
    // Weights only (eval, generate): a model of another shape is refused before anything is written.
    const wider = table(5);
    wider.data.fill(7);
    assert.throws(() => moveModelWeightsInto(readCheckpoint(dir), wider), /model\.safetensors: tensor model\.embed_tokens\.weight is F32 \[3, 4\], expected F32 \[5, 4\]/);
    assert.ok(wider.data.every((v) => v === 7), 'weights unchanged');
    const same = table();
    same.data.fill(0);
    moveModelWeightsInto(readCheckpoint(dir), same);
    assert.deepEqual(same.data, t.data);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('corrupt, truncated, deleted or mismatched checkpoint files are refused, naming the file', () => {
  const parent = mkdtempSync(join(tmpdir(), 'fog8-ckpt-'));
  try {
    const check = (mutate: (dir: string) => void, pattern: RegExp, forResume = true, params?: ParamTable) => {
      rmSync(join(parent, 'step-1'), { recursive: true, force: true });
      const { dir, t } = writeOne(parent, 1);
      mutate(dir);
      assert.throws(() => {
        const ck = readCheckpoint(dir, forResume);
        modelWeightsFrom(ck, params ?? t);
      }, pattern);
    };
    check((d) => {
      const p = join(d, 'model.safetensors');
      const b = readFileSync(p);
      b[b.length - 3] ^= 0x10;
      writeFileSync(p, b);
    }, /model\.safetensors: SHA-256 .* does not match/);
    // Without forResume the optimizer state is verified (streamed through SHA-256) but not loaded.
    check((d) => {
      const p = join(d, 'optimizer.safetensors');
      const b = readFileSync(p);
      b[b.length - 1] ^= 0x01;
      writeFileSync(p, b);
    }, /optimizer\.safetensors: SHA-256 .* does not match/, false);
    assert.equal(readCheckpoint(writeOne(parent, 5).dir).optimizer, null);
    check((d) => truncateSync(join(d, 'optimizer.safetensors'), 40), /optimizer\.safetensors: 40 bytes, expected \d+ \(truncated or modified\)/);
    check((d) => unlinkSync(join(d, 'trainer_state.json')), /trainer_state\.json: missing/);
    check((d) => unlinkSync(join(d, 'manifest.json')), /manifest\.json: missing/);
    check((d) => writeFileSync(join(d, 'manifest.json'), '{"format":'), /manifest\.json: corrupt manifest/);
    // A model of another shape: the tensor shape mismatch names model.safetensors.
    check(() => {}, /model\.safetensors: tensor model\.embed_tokens\.weight is F32 \[3, 4\], expected F32 \[5, 4\]/, true, table(5));
    // Type and size are checked before reading: a FIFO would block the reader forever, a link to
    // /dev/zero would be read until memory runs out, a directory gives EISDIR.
    check((d) => {
      unlinkSync(join(d, 'tokenizer.json'));
      execFileSync('mkfifo', [join(d, 'tokenizer.json')]);
    }, /tokenizer\.json: a FIFO, not a regular file/);
    check((d) => {
      unlinkSync(join(d, 'model.safetensors'));
      symlinkSync('/dev/zero', join(d, 'model.safetensors'));
    }, /model\.safetensors: a character device, not a regular file/);
    check((d) => {
      unlinkSync(join(d, 'config.json'));
      mkdirSync(join(d, 'config.json'));
    }, /config\.json: a directory, not a regular file/);
    // A manifest entry that is not a size and hash is refused, not trusted.
    check((d) => {
      const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as { files: Record<string, { bytes: number }> };
      m.files['model.safetensors'].bytes = 1e300;
      writeFileSync(join(d, 'manifest.json'), JSON.stringify(m));
    }, /manifest\.json: entry "model\.safetensors" needs bytes/);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('keep-last-K pruning and atomic replacement', () => {
  const parent = mkdtempSync(join(tmpdir(), 'fog8-ckpt-'));
  try {
    for (const s of [2, 4, 6, 8]) writeOne(parent, s);
    writeOne(parent, 8); // rewriting a step replaces it
    pruneCheckpoints(parent, 2);
    assert.deepEqual(listCheckpointSteps(parent), [6, 8]);
    assert.deepEqual(readdirSync(parent).sort(), ['step-6', 'step-8']);
    assert.ok(existsSync(join(parent, 'step-8', 'manifest.json')));
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('safetensors: a file laid out by hand per the spec is read, and malformed ones are refused', () => {
  // Header {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}
  const header = JSON.stringify({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'U8', shape: [3], data_offsets: [8, 11] }, __metadata__: { k: 'v' } });
  const h = Buffer.from(header);
  const buf = Buffer.alloc(8 + h.length + 11);
  buf.writeUInt32LE(h.length, 0); // u64 LE: low word, high word 0
  h.copy(buf, 8);
  buf.writeFloatLE(1.5, 8 + h.length);
  buf.writeFloatLE(-2, 12 + h.length);
  buf.set([7, 8, 9], 16 + h.length);
  const f = decodeSafetensors(buf, 'hand.safetensors');
  assert.deepEqual(Array.from(new Float32Array(f.tensors.get('a')!.bytes.buffer)), [1.5, -2]);
  assert.deepEqual(Array.from(f.tensors.get('b')!.bytes), [7, 8, 9]);
  assert.equal(f.metadata.k, 'v');
  // Our writer produces a file the same reader accepts, header 8-aligned.
  const enc = encodeSafetensors([{ name: 'x', dtype: 'F16', shape: [1, 2], bytes: new Uint8Array(4) }]);
  assert.equal((8 + Number(enc.readBigUInt64LE(0))) % 8, 0);
  assert.throws(() => decodeSafetensors(buf.subarray(0, buf.length - 1), 'cut.safetensors'), /cut\.safetensors: .*tensor b ends at byte 11/);
  assert.throws(() => decodeSafetensors(buf.subarray(0, 5), 'tiny.safetensors'), /tiny\.safetensors: .*shorter than the 8-byte header/);
  const bad = Buffer.from(buf);
  bad.writeUInt32LE(h.length + 100, 0);
  assert.throws(() => decodeSafetensors(bad, 'bad.safetensors'), /bad\.safetensors: not a valid safetensors file/);
});
