import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig } from '../../src/train/config.js';
import { referenceKernelLoader, runTraining, type KernelLoader, type RunOutcome } from '../../src/train/session.js';
import { loadKernelBackend } from '../../src/train/kernel-backend.js';
import { implicatedGemm } from '../../src/train/trainer.js';
import { loadModelForInference } from '../../src/train/inference.js';
import { loadRun } from '../../src/report/load.js';
import { summarizeRun } from '../../src/report/summary.js';
import { readCheckpoint } from '../../src/train/checkpoint.js';
import { writeCountingDataset } from './helpers.js';
import { nativeUnavailableReason, backends } from '../kernels/backends.js';

/** A tiny FP8 run whose lr is multiplied by 3·10⁴ for two steps at step 14 (fault injection). */
function spikedConfig(dir: string, prefix: string, kernels: 'reference' | 'native', onAlarm: 'warn' | 'rollback', name: string) {
  return validateTrainConfig({
    ...DEFAULT_TRAIN_CONFIG, preset: 'llama3', size: 'tiny', precision: 'fp8-delayed', data: prefix, vocabSize: 64, kernels, threads: kernels === 'native' ? 2 : null,
    batch: 2, seq: 16, steps: 30, lr: 3e-3, warmup: 2, valFraction: 0.1, evalInterval: 0, evalBatches: 1, metricsInterval: 2,
    checkpointInterval: 4, keepCheckpoints: 3, progress: 'none', seed: 5, maxBadSteps: 3,
    lrSpikeStep: 14, lrSpikeSteps: 2, lrSpikeFactor: 3e4, onAlarm, runDir: join(dir, name),
  });
}

const stepLosses = (runDir: string): (number | null)[] => loadRun(runDir).records.steps.map((s) => s.loss);

async function rollbackCase(kind: 'reference' | 'native', loader: KernelLoader): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `fog8-rollback-${kind}-`));
  try {
    const prefix = writeCountingDataset(dir);
    // Without recovery the injected spike wrecks the run.
    const plain = await runTraining({ config: spikedConfig(dir, prefix, kind, 'warn', 'plain'), loadKernels: loader });
    const plainSpikes = loadRun(plain.runDir).records.events.filter((e) => /loss spike|non-finite|skipped/.test(e.message));
    assert.ok(plain.status === 'diverged' || plainSpikes.length > 0, `the injected lr spike harms the plain run (${plain.status})`);

    const runs: RunOutcome[] = [];
    for (const name of ['a', 'b']) runs.push(await runTraining({ config: spikedConfig(dir, prefix, kind, 'rollback', name), loadKernels: loader }));
    const [a, b] = runs;
    assert.equal(a.status, 'completed', a.diagnosis ?? '');
    assert.equal(a.steps, 30);
    assert.ok(a.lastLoss !== null && Number.isFinite(a.lastLoss), `finite final loss ${a.lastLoss}`);
    assert.ok(a.rollbacks.length >= 1, 'at least one rollback');
    const first = a.rollbacks[0];
    assert.ok(first.alarmStep >= 15 && first.alarmStep <= 30, `alarm after the spike (step ${first.alarmStep})`);
    assert.ok(first.checkpointStep <= 14, `rolled back to a checkpoint before the spike (step ${first.checkpointStep})`);
    assert.ok(first.added.length === 1 && /^(layers\.\d\.(attn\.(qkv|dpa|out)|mlp\.fc[12])|lm_head)$/.test(first.added[0]), first.added.join());
    // Recorded in metrics.jsonl, the checkpoint's config, and the report's records.
    const records = loadRun(a.runDir).records;
    assert.equal(records.rollbacks.length, a.rollbacks.length);
    assert.deepEqual(records.rollbacks[0].added, first.added);
    assert.equal(records.rollbacks[0].step, first.checkpointStep);
    // The report marks it: one line per rollback in the run's summary row.
    const marked = summarizeRun(loadRun(a.runDir), '#000').rollbacks;
    assert.equal(marked.length, a.rollbacks.length);
    assert.match(marked[0], new RegExp(`alarm at step ${first.alarmStep} → back to step ${first.checkpointStep}, BF16: ${first.added[0].replace(/\./g, '\\.')}`));
    const final = readCheckpoint(join(a.runDir, 'checkpoints', 'step-30'), true);
    assert.deepEqual(final.trainerState!.config.gemmOverrides, a.gemmOverrides);
    assert.ok(a.gemmOverrides.includes(first.added[0]));
    // Inference from the final checkpoint keeps the overridden GEMMs in BF16.
    const kernels = await loader(kind, null);
    const loaded = loadModelForInference(a.runDir, kernels);
    assert.deepEqual([...loaded.model.gemmOverrides].sort(), [...a.gemmOverrides].sort());
    // The final loss curve has no non-finite step after the last rollback.
    const losses = stepLosses(a.runDir);
    assert.equal(losses.length, 30);
    assert.ok(losses.slice(a.rollbacks[a.rollbacks.length - 1].checkpointStep).every((l) => l !== null && Number.isFinite(l)));
    // Bit-identical on a rerun: every step's loss and the final weights.
    assert.deepEqual(stepLosses(b.runDir), losses);
    assert.deepEqual(b.rollbacks, a.rollbacks);
    assert.ok(readFileSync(join(a.runDir, 'checkpoints', 'step-30', 'model.safetensors')).equals(readFileSync(join(b.runDir, 'checkpoints', 'step-30', 'model.safetensors'))));
    // Abandoned-branch checkpoints after the rollback target were removed before continuing.
    assert.ok(existsSync(join(a.runDir, 'checkpoints', 'step-30')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('--on-alarm rollback: an lr-spiked FP8 run recovers to a finite loss, bit-identically on rerun (reference kernels)', async () => {
  await rollbackCase('reference', referenceKernelLoader);
});

test('--on-alarm rollback: the same on the native kernels', { skip: (await backends()).length < 2 ? `native addon unavailable: ${nativeUnavailableReason}` : false }, async () => {
  await rollbackCase('native', loadKernelBackend);
});

test('implicatedGemm: first bad cast, else most overflow, else largest relative error', () => {
  const c = (layer: number, gemm: string, role: string, overflowPct: number, relErr?: number) => ({ layer, gemm, role, format: 'e4m3' as const, amax: 1, scale: 1, underflowPct: 0, overflowPct, relErr });
  assert.deepEqual(implicatedGemm({ kind: 'saturated', layer: 1, gemm: 'attn.dpa', role: 'p', format: 'e4m3', amax: 1, scale: 1, overflow: 3, count: 9 }, []), ['layers.1.attn.dpa']);
  assert.deepEqual(implicatedGemm(null, [c(0, 'attn.qkv', 'input', 0, 0.5), c(1, 'mlp.fc2', 'grad_output', 2, 0.01), c(0, 'mlp.fc1', 'input', 1)]), ['layers.1.mlp.fc2']);
  assert.deepEqual(implicatedGemm(null, [c(0, 'attn.qkv', 'input', 0, 0.05), c(-1, 'lm_head', 'input', 0, 0.2)]), ['lm_head']);
  assert.deepEqual(implicatedGemm(null, []), []);
});

test('--on-alarm rollback with --forecaster-model: a forecaster alarm rolls back too, at most --max-rollbacks times', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-rollback-forecast-'));
  try {
    const prefix = writeCountingDataset(dir);
    // A model that always alarms (p = σ(10)): every metrics interval is an alarm.
    const model = { kind: 'logistic', features: ['logit_level', 'logit_trend', 'kurt_trend', 'unf_trend', 'unf_level', 'ovf_level', 'relerr_trend', 'gnorm_trend'], mean: Array(8).fill(0), std: Array(8).fill(1), weights: Array(8).fill(0), bias: 10, window: 3, horizon: 50, spike: { beta: 0.9, threshold: 0.1, minSteps: 10 } };
    const modelPath = join(dir, 'forecaster.json');
    writeFileSync(modelPath, JSON.stringify(model));
    const config = validateTrainConfig({
      ...DEFAULT_TRAIN_CONFIG, preset: 'llama3', size: 'tiny', precision: 'fp8-delayed', data: prefix, vocabSize: 64, kernels: 'reference',
      batch: 2, seq: 16, steps: 8, lr: 1e-3, warmup: 2, valFraction: 0.1, evalInterval: 0, evalBatches: 1, metricsInterval: 2,
      checkpointInterval: 4, progress: 'none', seed: 5, onAlarm: 'rollback', maxRollbacks: 2, forecasterModel: modelPath, runDir: join(dir, 'run'),
    });
    const o = await runTraining({ config, loadKernels: referenceKernelLoader });
    assert.equal(o.status, 'completed');
    assert.equal(o.steps, 8);
    assert.equal(o.rollbacks.length, 2);
    for (const r of o.rollbacks) assert.match(r.reason, /forecaster alarm at step \d+: spike probability 1\.000 ≥ 0\.5/);
    assert.equal(new Set(o.gemmOverrides).size, o.gemmOverrides.length);
    assert.ok(o.gemmOverrides.length >= 1);
    assert.equal(loadRun(o.runDir).records.rollbacks.length, 2);
    assert.throws(() => validateTrainConfig({ ...config, alarmThreshold: 1 }), /alarmThreshold/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
