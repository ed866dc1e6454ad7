import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { layerParamNames } from '../../src/model/params.js';
import type { AdamW } from '../../src/optim/adamw.js';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig } from '../../src/train/config.js';
import { prepareTraining, referenceKernelLoader, runTraining } from '../../src/train/session.js';
import { metricsRecord, type MetricsRecord } from '../../src/monitor/schema.js';
import { writeCountingDataset } from './helpers.js';

function readMetrics(runDir: string): MetricsRecord[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => metricsRecord.parse(JSON.parse(l)));
}

/** Byte copies of everything a skipped step must leave alone: weights and optimizer state. */
function snapshot(params: Float32Array, opt: AdamW): Buffer[] {
  const bytes = (a: ArrayBufferView) => Buffer.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return [params, opt.m1, opt.m2, opt.m1Scales, opt.m2Scales, opt.masterScales, new Float64Array([opt.stepCount])].map(bytes);
}

/** A 2-step FP8 run (tiny model, low-precision moments) stopped with a checkpoint at step 2: every test resumes a copy of it. */
async function trainTwoSteps(dir: string): Promise<string> {
  const prefix = writeCountingDataset(dir);
  const runDir = join(dir, 'base');
  const config = validateTrainConfig({
    ...DEFAULT_TRAIN_CONFIG, size: 'tiny', precision: 'fp8-delayed', data: prefix, vocabSize: 64, kernels: 'reference', steps: 10, batch: 4, seq: 16,
    lr: 0.01, warmup: 1, metricsInterval: 5, evalInterval: 0, evalBatches: 1, checkpointInterval: 0, runDir, progress: 'none', valFraction: 0.1,
    maxBadSteps: 3, m1Precision: 'fp8', m2Precision: 'bf16',
  });
  const r = await runTraining({ config, loadKernels: referenceKernelLoader, stopAfterStep: 2 });
  assert.equal(r.status, 'interrupted');
  return runDir;
}

test('a non-finite loss skips the step bit-exactly, names the first non-finite FP8 operand, and stops after maxBadSteps with a diagnosis', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-nonfinite-'));
  try {
    const base = await trainTwoSteps(dir);
    const runDir = join(dir, 'nan-weight');
    cpSync(base, runDir, { recursive: true });
    const prepared = await prepareTraining({ config: DEFAULT_TRAIN_CONFIG, resume: runDir, loadKernels: referenceKernelLoader });
    assert.ok(prepared.optimizer.stepCount === 2 && prepared.optimizer.m1Scales.some((s) => s !== 1), 'resumed with non-trivial optimizer state');
    // Poison one element of layer 1's MLP output projection (fc2): every forward pass from here is NaN.
    prepared.model.params.get(layerParamNames(1).down)[5] = NaN;
    const before = snapshot(prepared.model.params.data, prepared.optimizer);
    const result = await prepared.run();

    assert.equal(result.status, 'diverged');
    assert.equal(result.steps, 5); // steps 3, 4, 5 bad; maxBadSteps = 3
    assert.equal(result.checkpoint, null, 'a diverged run writes no checkpoint of its poisoned state');
    const after = snapshot(prepared.model.params.data, prepared.optimizer);
    after.forEach((b, i) => assert.ok(b.equals(before[i]), `state part ${i} changed on a skipped step`));

    const records = readMetrics(runDir);
    const steps = records.filter((r) => r.type === 'step' && r.step > 2);
    assert.deepEqual(steps.map((s) => s.type === 'step' && [s.step, s.loss, s.gradNorm, s.skipped]), [[3, null, null, true], [4, null, null, true], [5, null, null, true]]);
    // Forward order: layer 1's fc2 casts its (finite) input, then the poisoned weight — the first non-finite operand.
    const culprit = "first non-finite value: layer 1 mlp.fc2 operand 'weight' (e4m3, amax NaN";
    const warnings = records.filter((r) => r.type === 'event' && r.level === 'warn');
    assert.equal(warnings.length, 3);
    warnings.forEach((w, i) => assert.ok(w.type === 'event' && w.message.startsWith(`loss NaN; step skipped (${i + 1} in a row); ${culprit}`), JSON.stringify(w)));
    const errors = records.filter((r) => r.type === 'event' && r.level === 'error');
    assert.ok(errors.length >= 1 && errors[0].type === 'event' && errors[0].message.startsWith(`stopped after 3 consecutive non-finite steps: ${culprit}`), JSON.stringify(errors));
    assert.ok(result.diagnosis?.includes(culprit));
    assert.ok(readFileSync(join(runDir, 'train.log'), 'utf8').includes(culprit));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a non-finite gradient (NaN grad_output scale) skips one step bit-exactly, names that operand and leaves the scaling state as it was', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-nonfinite-'));
  try {
    const base = await trainTwoSteps(dir);
    const runDir = join(dir, 'nan-scale');
    cpSync(base, runDir, { recursive: true });
    const prepared = await prepareTraining({ config: DEFAULT_TRAIN_CONFIG, resume: runDir, loadKernels: referenceKernelLoader, stopAfterStep: 3 });
    const slot = prepared.model.scaling.slots().find((s) => s.key === 'layers.0.mlp.fc2.grad_output');
    assert.ok(slot, 'slot layers.0.mlp.fc2.grad_output exists');
    const scalingBefore = JSON.stringify(prepared.model.scaling.slots().map((s) => [s.key, s.scale, Array.from(s.amaxHistory)]));
    slot.setScale(NaN); // fault injection; the forward pass is untouched, so the loss stays finite
    const before = snapshot(prepared.model.params.data, prepared.optimizer);
    const first = await prepared.run();
    assert.equal(first.status, 'interrupted');
    const after = snapshot(prepared.model.params.data, prepared.optimizer);
    after.forEach((b, i) => assert.ok(b.equals(before[i]), `state part ${i} changed on a skipped step`));
    const step3 = readMetrics(runDir).filter((r) => r.type === 'step' && r.step === 3);
    assert.equal(step3.length, 1);
    assert.ok(step3[0].type === 'step' && step3[0].skipped && step3[0].gradNorm === null && typeof step3[0].loss === 'number' && Number.isFinite(step3[0].loss));
    // Backward runs from the top: layer 1's casts are finite; layer 0's fc2 grad_output is cast with the NaN scale.
    const warn = readMetrics(runDir).find((r) => r.type === 'event' && r.level === 'warn');
    assert.ok(warn?.type === 'event' && warn.message.startsWith("gradient norm NaN; step skipped (1 in a row); first non-finite value: layer 0 mlp.fc2 operand 'grad_output' (e5m2,") && warn.message.includes('scale NaN'), JSON.stringify(warn));

    // The skipped step left no trace in the scaling state: every history (no NaN amax entered a
    // window, which would freeze that scale for up to H passes) and every other scale as before.
    slot.setScale(JSON.parse(scalingBefore).find((e: [string, number]) => e[0] === slot.key)[1]);
    const scalingAfter = JSON.stringify(prepared.model.scaling.slots().map((s) => [s.key, s.scale, Array.from(s.amaxHistory)]));
    assert.equal(scalingAfter, scalingBefore);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fog8 train: a diverging run (lr 1e6) stops after --max-bad-steps with a diagnosis and a non-zero exit code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-diverge-'));
  const errors: string[] = [];
  const logError = console.error;
  console.error = (s: string) => errors.push(s);
  try {
    const prefix = writeCountingDataset(dir);
    const runDir = join(dir, 'run');
    const code = await main([
      'train', '--size', 'tiny', '--precision', 'fp8-delayed', '--data', prefix, '--vocab-size', '64', '--kernels', 'reference', '--steps', '12', '--batch', '4',
      '--seq', '16', '--lr', '1e6', '--warmup', '0', '--eval-interval', '0', '--eval-batches', '1', '--checkpoint-interval', '0', '--run-dir', runDir,
      '--progress', 'none', '--val-fraction', '0.1', '--max-bad-steps', '3',
    ]);
    assert.notEqual(code, 0);
    const message = errors.join('\n');
    assert.match(message, /training diverged at step \d+: stopped after 3 consecutive non-finite steps: first (non-finite value|saturated cast): layer \d+ [a-z.0-9]+ operand '[a-z_]+'/);
    assert.ok(message.includes(runDir));
    const records = readMetrics(runDir);
    const steps = records.filter((r) => r.type === 'step');
    assert.deepEqual(steps.slice(-3).map((s) => s.type === 'step' && s.skipped), [true, true, true]);
    assert.ok(steps.length < 12);
    assert.ok(records.some((r) => r.type === 'event' && r.level === 'error' && r.message.startsWith('stopped after 3 consecutive')));
  } finally {
    console.error = logError;
    rmSync(dir, { recursive: true, force: true });
  }
});
