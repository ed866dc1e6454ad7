/**
 * Bit-identity check for kernel work: two training steps (forward+backward, scaling updates, a
 * plain SGD update in TypeScript between them) per preset/size/recipe; prints a SHA-256 of the
 * loss, every parameter gradient and every scaling slot's scale + amax history.
 *   node --import tsx tools/hash-step.ts
 * Compare the output before and after a change (also under FOG8_ISA=avx2 / scalar).
 */
import { createHash } from 'node:crypto';
import { loadKernels } from '../src/kernels/index.js';
import { resolvePrecision } from '../src/numerics/recipe.js';
import { resolveModelConfig } from '../src/model/config.js';
import { Model, type Batch } from '../src/model/model.js';

const kernels = await loadKernels('native');
const cases: [string, string, string][] = [];
for (const preset of ['llama3', 'fog-xielu']) for (const size of ['tiny', 'small']) for (const r of ['fp32', 'bf16', 'fp8-delayed', 'fp8-current', 'fp8-block']) cases.push([preset, size, r]);
for (const r of ['bf16', 'fp8-delayed']) cases.push(['llama3', 's', r]);
const only = process.env.HASH_ONLY;
for (const [preset, size, recipe] of cases) {
  if (only && !`${preset} ${size} ${recipe}`.includes(only)) continue;
  const c = resolveModelConfig({ preset, size });
  const T = c.seqLen, B = size === 'tiny' ? 2 : Math.max(1, 1024 / T);
  const model = new Model(c, kernels, resolvePrecision(recipe), 7);
  const inputs = new Int32Array(B * T).map((_, i) => (i * 2654435761) % c.vocabSize >>> 0);
  const targets = new Int32Array(B * T).map((_, i) => (i * 40503 + 7) % c.vocabSize >>> 0);
  const batch: Batch = { inputs, targets, B, T };
  const h = createHash('sha256');
  const losses: number[] = [];
  for (let step = 0; step < 2; step++) {
    model.zeroGrads();
    model.beginOptimizerStep();
    const loss = model.forwardBackward(batch, 1);
    losses.push(loss);
    h.update(new Float64Array([loss]));
    const g = model.grads.data;
    h.update(new Uint8Array(g.buffer, g.byteOffset, g.byteLength));
    model.scaling.updateForward();
    model.scaling.updateBackward();
    for (const s of model.scaling.slots()) {
      h.update(`${s.key}:${s.scale};`);
      h.update(new Uint8Array(s.amaxHistory.buffer, s.amaxHistory.byteOffset, s.amaxHistory.byteLength));
    }
    const p = model.params.data;
    for (let i = 0; i < p.length; i++) p[i] -= 0.01 * g[i];
  }
  console.log(`${preset.padEnd(10)} ${size.padEnd(6)} ${recipe.padEnd(12)} ${h.digest('hex').slice(0, 16)} loss ${losses.map((l) => l.toFixed(6)).join(' ')}`);
}
