import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { loadModelForInference } from '../../src/train/inference.js';
import { isHfModelDir, readHfModel, tensorToFloat32 } from '../../src/train/hf-import.js';

// Fixtures: tools/hf/make_hf_fixtures.py (an independent numpy float64 Llama; see its docstring).
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'hf');
const CASES = ['llama-f32', 'llama-gqa-tied-bf16', 'llama-rope-scaled-f16-sharded'];

for (const name of CASES) {
  test(`HF import (${name}): fog8's fp32 loss reproduces the independent implementation within 1e-5`, () => {
    const dir = join(FIXTURES, name);
    assert.ok(isHfModelDir(dir));
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { tokens: number[]; loss: number };
    const { model, trainConfig, scalingLoaded } = loadModelForInference(dir, createReferenceKernels(), 'fp32');
    assert.equal(trainConfig, null);
    assert.equal(scalingLoaded, false);
    const T = expected.tokens.length - 1;
    const loss = model.forwardLoss({ inputs: Int32Array.from(expected.tokens.slice(0, -1)), targets: Int32Array.from(expected.tokens.slice(1)), B: 1, T });
    assert.ok(Math.abs(loss - expected.loss) < 1e-5, `fog8 ${loss} vs reference ${expected.loss}`);
    const hf = readHfModel(dir);
    assert.equal(hf.config.nKvHeads, 2);
    assert.equal(hf.config.tieEmbeddings, name.includes('tied'));
    assert.equal(hf.config.ropeScaling !== null, name.includes('rope-scaled'));
  });
}

test('HF import: FP8 evaluation of a model without scaling state needs --fresh-scales; BF16/F16 widen exactly', () => {
  const dir = join(FIXTURES, 'llama-gqa-tied-bf16');
  assert.throws(() => loadModelForInference(dir, createReferenceKernels(), 'fp8-delayed'), /no FP8 scaling state; evaluating fp8-delayed needs --fresh-scales/);
  assert.equal(loadModelForInference(dir, createReferenceKernels(), 'fp8-delayed', { freshScales: true }).model.recipe.name, 'fp8-delayed');
  const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff]).buffer);
  assert.deepEqual(Array.from(tensorToFloat32({ name: 'x', dtype: 'F16', shape: [4], bytes: f16 }, [4], 'f')), [1, -2, 2 ** -24, 65504]);
  const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc040]).buffer);
  assert.deepEqual(Array.from(tensorToFloat32({ name: 'x', dtype: 'BF16', shape: [2], bytes: bf16 }, [2], 'f')), [1, -3]);
  assert.throws(() => tensorToFloat32({ name: 'x', dtype: 'F32', shape: [2], bytes: new Uint8Array(8) }, [3], 'f'), /tensor x has shape \[2\], expected \[3\]/);
});

test('fog8 train --init-from an HF directory: fine-tunes the imported Llama (GQA, tied, BF16 weights) in fp8-delayed; the checkpoint keeps its architecture', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { IndexedDatasetWriter } = await import('../../src/data/indexed-dataset-writer.js');
  const { dtypeForVocabSize } = await import('../../src/data/indexed-dataset-format.js');
  const { DEFAULT_TRAIN_CONFIG, validateTrainConfig } = await import('../../src/train/config.js');
  const { runTraining, referenceKernelLoader } = await import('../../src/train/session.js');
  const tmp = mkdtempSync(join(tmpdir(), 'fog8-init-from-'));
  try {
    const src = join(FIXTURES, 'llama-gqa-tied-bf16');
    const writer = new IndexedDatasetWriter(join(tmp, 'ids'), dtypeForVocabSize(64));
    for (let d = 0; d < 40; d++) writer.addDocument(Array.from({ length: 30 }, (_, i) => (d * 7 + i * 3) % 63).concat([63]));
    writer.finish();
    const config = validateTrainConfig({
      ...DEFAULT_TRAIN_CONFIG, initFrom: src, data: join(tmp, 'ids'), vocabSize: 64, precision: 'fp8-delayed', steps: 3, batch: 4, seq: 16, lr: 1e-3, warmup: 1,
      evalInterval: 0, evalBatches: 1, checkpointInterval: 0, runDir: join(tmp, 'run'), progress: 'none', kernels: 'reference', valFraction: 0.1,
    });
    const outcome = await runTraining({ config, loadKernels: referenceKernelLoader });
    assert.equal(outcome.status, 'completed');
    const imported = loadModelForInference(src, createReferenceKernels(), 'fp32').model;
    const tuned = loadModelForInference(join(tmp, 'run'), createReferenceKernels(), 'fp32').model;
    assert.equal(tuned.config.nKvHeads, 2);
    assert.equal(tuned.config.tieEmbeddings, true);
    assert.equal(tuned.params.size, imported.params.size);
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < imported.params.data.length; i++) {
      diff += (tuned.params.data[i] - imported.params.data[i]) ** 2;
      norm += imported.params.data[i] ** 2;
    }
    const rel = Math.sqrt(diff / norm);
    assert.ok(rel > 0 && rel < 0.05, `fine-tuned weights moved by ${rel} relative to the imported ones`);
    // A vocabulary mismatch between the data and the imported model is a config error naming initFrom.
    const bad = validateTrainConfig({ ...config, vocabSize: 128, runDir: join(tmp, 'bad') });
    await assert.rejects(runTraining({ config: bad, loadKernels: referenceKernelLoader }), /initFrom: .* has a vocabulary of 64 tokens but the data's tokenizer has 128/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
