import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { Model } from '../../src/model/model.js';
import { resolveModelConfig } from '../../src/model/config.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { sample } from '../../src/train/inference.js';

test('sampling: seeded, in-vocabulary, greedy = argmax, top-k 1 = greedy', () => {
  const model = new Model(resolveModelConfig({ preset: 'fog-xielu', size: 'tiny' }), createReferenceKernels(), resolvePrecision('fp32'), 3);
  const prompt = [1, 2, 3];
  const a = sample(model, prompt, { temperature: 1, topK: 10, maxTokens: 6, seed: 9 });
  assert.equal(a.length, 6);
  assert.ok(a.every((t) => Number.isInteger(t) && t >= 0 && t < 64));
  assert.deepEqual(sample(model, prompt, { temperature: 1, topK: 10, maxTokens: 6, seed: 9 }), a);
  const greedy = sample(model, prompt, { temperature: 0, topK: 0, maxTokens: 4, seed: 1 });
  assert.deepEqual(sample(model, prompt, { temperature: 1.3, topK: 1, maxTokens: 4, seed: 5 }), greedy);
  // The first greedy token is the argmax of the model's logits at the last prompt position.
  const T = model.config.seqLen;
  const w = new Int32Array(T);
  w.set(prompt);
  const logits = model.logits(w, T);
  const row = Array.from(logits.subarray(2 * 64, 3 * 64));
  assert.equal(greedy[0], row.indexOf(Math.max(...row)));
  assert.throws(() => sample(model, [], { temperature: 1, topK: 0, maxTokens: 1, seed: 0 }), /at least one token/);
});
