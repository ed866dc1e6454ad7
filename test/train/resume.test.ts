import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig, type TrainConfig } from '../../src/train/config.js';
import { referenceKernelLoader, runTraining } from '../../src/train/session.js';
import { loadModelForInference } from '../../src/train/inference.js';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { writeCountingDataset } from './helpers.js';

function losses(runDir: string): number[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.type === 'step')
    .map((r) => r.loss as number);
}

test('resume is bit-identical: 6 steps straight = 3 steps + resume + 3 steps (FP8, low-precision optimizer state, micro-batches)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-resume-'));
  try {
    const prefix = writeCountingDataset(dir);
    const config = (runDir: string): TrainConfig =>
      validateTrainConfig({
        ...DEFAULT_TRAIN_CONFIG, size: 'tiny', precision: 'fp8-delayed', data: prefix, vocabSize: 64, kernels: 'reference', steps: 6, batch: 4, microBatches: 2,
        seq: 16, lr: 0.01, warmup: 2, metricsInterval: 2, evalInterval: 3, evalBatches: 1, checkpointInterval: 0, runDir, progress: 'none', valFraction: 0.1,
        masterPrecision: 'fp16', m1Precision: 'fp8', m2Precision: 'bf16', gradPrecision: 'bf16',
      });
    const straight = await runTraining({ config: config(join(dir, 'a')), loadKernels: referenceKernelLoader });
    assert.equal(straight.steps, 6);
    const first = await runTraining({ config: config(join(dir, 'b')), loadKernels: referenceKernelLoader, stopAfterStep: 3 });
    assert.equal(first.status, 'interrupted');
    assert.equal(first.steps, 3);
    const resumed = await runTraining({ config: DEFAULT_TRAIN_CONFIG, resume: join(dir, 'b'), loadKernels: referenceKernelLoader });
    assert.equal(resumed.status, 'completed');
    const a = losses(join(dir, 'a'));
    const b = losses(join(dir, 'b'));
    assert.equal(a.length, 6);
    assert.deepEqual(b, a); // exact float equality, step by step
    assert.equal(resumed.finalValLoss, straight.finalValLoss);
    // The final weights are identical too.
    const wa = readFileSync(join(dir, 'a', 'checkpoints', 'step-6', 'model.safetensors'));
    const wb = readFileSync(join(dir, 'b', 'checkpoints', 'step-6', 'model.safetensors'));
    assert.ok(wa.equals(wb));
    // Changing a number-affecting key on resume is refused.
    await assert.rejects(
      runTraining({ config: { ...DEFAULT_TRAIN_CONFIG, lr: 0.5 }, explicit: new Set(['lr']), resume: join(dir, 'b'), loadKernels: referenceKernelLoader }),
      /lr cannot change on resume/,
    );
    // A corrupted checkpoint is refused before anything runs.
    const p = join(dir, 'b', 'checkpoints', 'step-6', 'optimizer.safetensors');
    const buf = readFileSync(p);
    buf[100] ^= 1;
    writeFileSync(p, buf);
    await assert.rejects(runTraining({ config: DEFAULT_TRAIN_CONFIG, resume: join(dir, 'b'), loadKernels: referenceKernelLoader }), /optimizer\.safetensors: SHA-256/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('activations: saved resolved with the run; a checkpoint saved before the field existed resumes bit-identically with float32 wide tensors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-resume-act-'));
  try {
    const prefix = writeCountingDataset(dir);
    const config = (runDir: string, activations: TrainConfig['activations']): TrainConfig =>
      validateTrainConfig({
        ...DEFAULT_TRAIN_CONFIG, size: 'tiny', precision: 'bf16', activations, data: prefix, vocabSize: 64, kernels: 'reference', steps: 4, batch: 2,
        seq: 16, lr: 0.01, warmup: 1, metricsInterval: 2, evalInterval: 0, evalBatches: 1, checkpointInterval: 0, runDir, progress: 'none', valFraction: 0.1,
      });
    const savedActivations = (runDir: string) => {
      const saved = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as { train: TrainConfig; precision: { activations: string } };
      assert.equal(saved.precision.activations, saved.train.activations);
      return saved.train.activations;
    };
    // null resolves to the recipe's own and is saved so
    await runTraining({ config: config(join(dir, 'default'), null), loadKernels: referenceKernelLoader, stopAfterStep: 1 });
    assert.equal(savedActivations(join(dir, 'default')), 'bf16');
    const wide = await runTraining({ config: config(join(dir, 'a'), 'fp32'), loadKernels: referenceKernelLoader });
    assert.equal(savedActivations(join(dir, 'a')), 'fp32');
    await runTraining({ config: config(join(dir, 'b'), 'fp32'), loadKernels: referenceKernelLoader, stopAfterStep: 2 });
    // rewrite b's checkpoint as an older fog8 wrote it: no `activations` key (manifest updated to match)
    const ck = join(dir, 'b', 'checkpoints', 'step-2');
    const state = JSON.parse(readFileSync(join(ck, 'trainer_state.json'), 'utf8')) as { config: Record<string, unknown> };
    delete state.config.activations;
    const bytes = Buffer.from(JSON.stringify(state));
    writeFileSync(join(ck, 'trainer_state.json'), bytes);
    const manifest = JSON.parse(readFileSync(join(ck, 'manifest.json'), 'utf8')) as { files: Record<string, { bytes: number; sha256: string }> };
    manifest.files['trainer_state.json'] = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    writeFileSync(join(ck, 'manifest.json'), JSON.stringify(manifest));
    // eval/generate load it with the recipe it ran with, or a --precision preset as named
    const k = createReferenceKernels();
    assert.equal(loadModelForInference(ck, k).model.recipe.name, 'bf16(activations=fp32)');
    assert.equal(loadModelForInference(ck, k, 'bf16').model.recipe.name, 'bf16');
    const resumed = await runTraining({ config: DEFAULT_TRAIN_CONFIG, resume: join(dir, 'b'), loadKernels: referenceKernelLoader });
    assert.equal(resumed.status, 'completed');
    assert.deepEqual(losses(join(dir, 'b')), losses(join(dir, 'a')));
    assert.equal(resumed.finalValLoss, wide.finalValLoss);
    // the same run with BF16 wide tensors is a different run (the field is live)
    const narrow = await runTraining({ config: config(join(dir, 'c'), 'bf16'), loadKernels: referenceKernelLoader });
    assert.notDeepEqual(losses(join(dir, 'c')), losses(join(dir, 'a')));
    assert.equal(loadModelForInference(join(dir, 'c'), createReferenceKernels()).model.recipe.name, 'bf16');
    assert.ok(Math.abs((narrow.finalValLoss as number) - (wide.finalValLoss as number)) < 0.05 * (wide.finalValLoss as number));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
