import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { Model } from '../../src/model/model.js';
import { resolveModelConfig } from '../../src/model/config.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { checkForwardMemory, forwardBytesPerSequence, memoryBudgetBytes, planEvalBatches } from '../../src/train/eval-limits.js';

test('eval memory bound: measured bytes per sequence cover the graph buffers; a batch beyond the budget is refused with the memory it needs', () => {
  const config = resolveModelConfig({ preset: 'fog-xielu', size: 'tiny', vocabSize: 512 });
  const model = new Model(config, createReferenceKernels(), resolvePrecision('fp8-delayed'), 1);
  const T = config.seqLen;
  const perSequence = forwardBytesPerSequence(model, T);
  // At least what the graph saves for one sequence (an independent count from the ops).
  assert.ok(perSequence >= model.activationBytes(1, T), `${perSequence} ≥ ${model.activationBytes(1, T)}`);
  checkForwardMemory(8, T, perSequence, 8 * perSequence);
  assert.throws(() => checkForwardMemory(100_000, T, 1.5 * 2 ** 20, 4 * 2 ** 30), (e: Error) =>
    e instanceof RangeError && /--batch 100000: .* needs about 146\.48 GiB \(1\.5 MiB per sequence, measured\), but only 4\.00 GiB is available.*use --batch ≤ 2730/.test(e.message));
  assert.ok(memoryBudgetBytes() > 0);
});

test('eval batches never repeat validation samples: an explicit request beyond the split is refused, a default one is reduced with a note', () => {
  assert.deepEqual(planEvalBatches({ sampleCount: 50, batch: 8, batches: 4, explicit: true }), { batches: 4, note: null });
  assert.throws(() => planEvalBatches({ sampleCount: 50, batch: 1000, batches: 1, explicit: true }), /--batch 1000 × --batches 1 = 1000 sequences, but the validation split holds only 50/);
  const reduced = planEvalBatches({ sampleCount: 50, batch: 8, batches: 8, explicit: false });
  assert.equal(reduced.batches, 6);
  assert.match(reduced.note ?? '', /holds 50 sequences; evaluating 6 batch\(es\) of 8 instead of 8/);
  assert.throws(() => planEvalBatches({ sampleCount: 5, batch: 8, batches: 8, explicit: false }), /holds only 5/);
});
