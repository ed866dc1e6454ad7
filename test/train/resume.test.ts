import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig, type TrainConfig } from '../../src/train/config.js';
import { referenceKernelLoader, runTraining } from '../../src/train/session.js';
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
