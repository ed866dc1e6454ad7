import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { resolveModelConfig } from '../../src/model/config.js';
import { Model } from '../../src/model/model.js';
import { sample, sampleFullWindow } from '../../src/train/inference.js';
import { backends } from '../kernels/backends.js';

// seqLen 40 > the attention's key tile of 32, so the online softmax crosses a tile boundary.
const config = resolveModelConfig({ preset: 'fog-xielu', size: 'tiny', seqLen: 40, vocabSize: 96 });
// Llama with GQA, tied embeddings and Llama-3.1 RoPE scaling (a short original context so it bites at 40 positions).
const llama = resolveModelConfig({
  preset: 'llama3', size: 'tiny', seqLen: 40, vocabSize: 96, tieEmbeddings: true,
  ropeScaling: { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 16 },
});
const RECIPES = ['fp32', 'bf16', 'fp8-delayed'] as const;

/** A model whose FP8 scales are not all 1 (as after training), so the cached casts are really exercised. */
function model(kernels: Awaited<ReturnType<typeof backends>>[number], recipe: string, c = config): Model {
  const m = new Model(c, kernels, resolvePrecision(recipe), 11);
  let i = 0;
  for (const s of m.scaling.slots()) s.setScale([0.5, 4, 64, 1][i++ % 4]);
  return m;
}

const tokens = Int32Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 96);

for (const kernels of await backends()) {
  const exact = kernels.name === 'reference';
  for (const recipe of RECIPES) {
    for (const c of [config, llama]) {
      test(`KV cache (${kernels.name}, ${recipe}, ${c.preset}): cached logits ${exact ? 'equal' : 'match'} the full-window logits at every position`, () => {
        const m = model(kernels, recipe, c);
        const V = c.vocabSize;
        const full = Float32Array.from(m.logits(tokens, tokens.length)); // (40, V)
        const cache = m.newKvCache();
        assert.equal(cache.bytes(), c.nLayers * 2 * 40 * c.nKvHeads * c.headDim * { fp32: 4, bf16: 2, 'fp8-delayed': 1 }[recipe] + (recipe === 'fp8-delayed' ? c.nLayers * 40 * 4 : 0));
        const cached = new Float32Array(40 * V);
        // prefill 7, then one token at a time, then a chunk of 3, then one at a time
        let pos = 0;
        for (const n of [7, ...Array(20).fill(1), 3, ...Array(10).fill(1)] as number[]) {
          cached.set(m.logitsCached(tokens.subarray(pos, pos + n), cache), pos * V);
          pos += n;
        }
        assert.equal(pos, 40);
        assert.equal(cache.length, 40);
        if (exact) assert.deepEqual(cached, full);
        else {
          let num = 0;
          let den = 0;
          for (let i = 0; i < full.length; i++) {
            num += (cached[i] - full[i]) ** 2;
            den += full[i] ** 2;
          }
          assert.ok(Math.sqrt(num / den) < (recipe === 'fp32' ? 1e-5 : 2e-2), `relative error ${Math.sqrt(num / den)}`);
        }
        assert.throws(() => m.logitsCached(tokens.subarray(0, 1), cache), /exceed the cache's 40/);
      });
    }
    test(`generation (${kernels.name}, ${recipe}): greedy tokens with the KV cache = the full-window sampler's`, () => {
      const m = model(kernels, recipe);
      const o = { temperature: 0, topK: 0, maxTokens: 35, seed: 0 };
      const fast = sample(m, [5, 17, 3], o);
      assert.equal(fast.length, 35);
      assert.deepEqual(fast, sampleFullWindow(m, [5, 17, 3], o));
      // Sampled (temperature 1, top-k, top-p): the same draws from the same logits.
      const s = { temperature: 1, topK: 20, topP: 0.9, maxTokens: 30, seed: 4 };
      if (exact) assert.deepEqual(sample(m, [5, 17, 3], s), sampleFullWindow(m, [5, 17, 3], s));
    });
  }
}

test('KV cache with a per-GEMM override of attn.dpa (rollback): that layer caches BF16 and attends as BF16 attention; cached logits equal the full window', async () => {
  const [reference] = await backends();
  for (const recipe of ['fp8-delayed', 'fp32']) {
    const m = new Model(config, reference, resolvePrecision(recipe), 11, { gemmOverrides: ['layers.1.attn.dpa'] });
    let i = 0;
    for (const s of m.scaling.slots()) s.setScale([0.5, 4, 64, 1][i++ % 4]);
    const cache = m.newKvCache();
    const fp8 = recipe === 'fp8-delayed';
    assert.equal(cache.layers[1].storage, 'bf16');
    assert.equal(cache.layers[0].storage, fp8 ? 'fp8' : 'fp32');
    const full = Float32Array.from(m.logits(tokens, tokens.length));
    const cached = new Float32Array(full.length);
    let pos = 0;
    for (const n of [9, ...Array(31).fill(1)] as number[]) {
      cached.set(m.logitsCached(tokens.subarray(pos, pos + n), cache), pos * config.vocabSize);
      pos += n;
    }
    assert.deepEqual(cached, full, recipe);
  }
});

test('generation past seqLen: the cache restarts from the last half window and keeps producing tokens', async () => {
  const [reference] = await backends();
  const m = model(reference, 'fp8-delayed');
  const streamed: number[] = [];
  const out = sample(m, [1, 2, 3], { temperature: 1, topK: 0, maxTokens: 60, seed: 2, onToken: (t) => streamed.push(t) });
  assert.equal(out.length, 60);
  assert.deepEqual(streamed, out);
});

test('top-p: a tiny nucleus is greedy; top-p outside (0, 1] is refused', async () => {
  const [reference] = await backends();
  const m = model(reference, 'fp32');
  const greedy = sample(m, [4, 9], { temperature: 0, topK: 0, maxTokens: 8, seed: 0 });
  assert.deepEqual(sample(m, [4, 9], { temperature: 1.5, topK: 0, topP: 1e-9, maxTokens: 8, seed: 3 }), greedy);
  assert.throws(() => sample(m, [4], { temperature: 1, topK: 0, topP: 0, maxTokens: 1, seed: 0 }), /top-p must be in \(0, 1\], got 0/);
  assert.throws(() => sample(m, [4], { temperature: 1, topK: 0, topP: 1.5, maxTokens: 1, seed: 0 }), /top-p must be in \(0, 1\]/);
});

// The native GEMM keeps the packed weights of a cache under (its id, the weights' address); a later
// model's weights may be allocated where a collected model's were, so no two caches of the process
// may share an id, whichever model made them (a per-model counter gave every model's first cache −2).
test('KV cache ids are unique across models', async () => {
  const reference = (await backends()).find((k) => k.name === 'reference');
  assert.ok(reference);
  const a = model(reference, 'fp32'), b = model(reference, 'fp32', llama);
  const ids = [a.newKvCache(), b.newKvCache(), a.newKvCache(), b.newKvCache()].map((c) => c.frozenWeightsEpoch);
  assert.equal(new Set(ids).size, ids.length, `ids ${ids.join(', ')}`);
});
