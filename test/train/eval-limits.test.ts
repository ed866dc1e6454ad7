import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveModelConfig } from '../../src/model/config.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { checkEvalMemory, planEvalBatches } from '../../src/train/eval-limits.js';
import { planTrainingMemory } from '../../src/train/memory.js';

test('eval memory bound: a --batch whose forward pass would not fit is refused with the memory it needs and the batch that fits (the training plan, no optimizer)', () => {
  const config = resolveModelConfig({ preset: 'fog-xielu', size: 'small', vocabSize: 512 });
  const recipe = resolvePrecision('fp8-delayed');
  const T = config.seqLen;
  // Inference models share one fc1-output buffer, as recomputeMlp does.
  const plan = (B: number) => planTrainingMemory(config, recipe, B, T, { m1: 'fp32', m2: 'fp32' }, { recomputeMlp: true });
  const fixed = plan(1).parameters + plan(1).gradients + plan(1).weightCasts;
  const limit = fixed + 10.5 * plan(1).activations;
  checkEvalMemory(config, recipe, 8, T, limit);
  assert.throws(() => checkEvalMemory(config, recipe, 100_000, T, limit), (e: Error) =>
    e instanceof RangeError && /^--batch 100000: evaluating 100000 sequences × 256 tokens at once needs about [\d.]+ GiB \(activations ≈[\d.]+ GiB, about [\d.]+ MiB per sequence; weights and casts [\d.]+ MiB\), more than the [\d.]+ (MiB|GiB) of RAM; use --batch ≤ (9|10)$/.test(e.message));
  // The default limit is this machine's RAM: the probe's --batch 100000 on the small model is refused.
  assert.throws(() => checkEvalMemory(config, recipe, 100_000, T), /needs about .* of RAM/);
});

test('eval batches never repeat validation samples: an explicit request beyond the split is refused, a default one is reduced with a note', () => {
  assert.deepEqual(planEvalBatches({ sampleCount: 50, batch: 8, batches: 4, explicit: true }), { batches: 4, note: null });
  assert.throws(() => planEvalBatches({ sampleCount: 50, batch: 1000, batches: 1, explicit: true }), /--batch 1000 × --batches 1 = 1000 sequences, but the validation split holds only 50/);
  const reduced = planEvalBatches({ sampleCount: 50, batch: 8, batches: 8, explicit: false });
  assert.equal(reduced.batches, 6);
  assert.match(reduced.note ?? '', /holds 50 sequences; evaluating 6 batch\(es\) of 8 instead of 8/);
  assert.throws(() => planEvalBatches({ sampleCount: 5, batch: 8, batches: 8, explicit: false }), /holds only 5/);
});
