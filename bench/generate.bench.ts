/**
 * Generation benchmark (issue 14): tokens/s of `sample` (KV cache: one position per new token)
 * against `sampleFullWindow` (what `fog8 generate` did before: the whole seqLen window per token)
 * on size `small` (fog-xielu), 200 new tokens after a 4-token prompt, greedy, in fp32 and
 * fp8-delayed with FP8 attention. The two run alternately in one process (3 rounds each, best
 * round reported) so machine contention hits both alike; the greedy tokens must be identical.
 * Target: cached ≥ 10× full-window. Writes bench/results/generate.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolveModelConfig } from '../src/model/config.js';
import { Model } from '../src/model/model.js';
import { resolvePrecision } from '../src/numerics/recipe.js';
import { loadKernelBackend } from '../src/train/kernel-backend.js';
import { sample, sampleFullWindow } from '../src/train/inference.js';
import { refuseEmulatedAddon } from './emulation-guard.js';

refuseEmulatedAddon('generate');
const kernels = await loadKernelBackend('auto', null);
const NEW = 200;
const prompt = [464, 3201, 531, 262];
const rows = [];
for (const precision of ['fp32', 'fp8-delayed']) {
  const config = resolveModelConfig({ preset: 'fog-xielu', size: 'small' });
  const model = new Model(config, kernels, resolvePrecision(precision), 1);
  const o = { temperature: 0, topK: 0, maxTokens: NEW, seed: 0 };
  let full = Infinity;
  let cached = Infinity;
  let same = true;
  for (let round = 0; round < 3; round++) {
    let t = performance.now();
    const a = sampleFullWindow(model, prompt, o);
    full = Math.min(full, performance.now() - t);
    t = performance.now();
    const b = sample(model, prompt, o);
    cached = Math.min(cached, performance.now() - t);
    same &&= a.length === b.length && a.every((x, i) => x === b[i]);
  }
  const row = { precision, newTokens: NEW, fullWindowTokensPerSec: (NEW / full) * 1000, cachedTokensPerSec: (NEW / cached) * 1000, speedup: full / cached, identicalGreedyTokens: same };
  rows.push(row);
  console.log(`generate small/${precision}: full window ${row.fullWindowTokensPerSec.toFixed(1)} tokens/s, KV cache ${row.cachedTokensPerSec.toFixed(1)} tokens/s, ${row.speedup.toFixed(1)}× (target ≥ 10×); greedy tokens identical: ${same}`);
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/generate.json', JSON.stringify({ kernels: { name: kernels.name, isa: kernels.isa, threads: kernels.threads }, rows }, null, 2) + '\n');
