import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { resolveModelConfig } from '../../src/model/config.js';
import { countParameters } from '../../src/model/params.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { planTrainingMemory } from '../../src/train/memory.js';

const probe = fileURLToPath(new URL('./memory-probe.ts', import.meta.url));
const run = promisify(execFile);

test('memory plan: parameters, gradients and optimizer exact; activations + weight casts within 0.9–1.4× of the measured allocation', async () => {
  const cases = [['fog-xielu', 's', 'fp8-delayed', 4, 128], ['llama3', 's', 'bf16', 2, 256]];
  // A fresh process per case (ArrayBuffer accounting is only clean without earlier garbage), both at once.
  const outputs = await Promise.all(cases.map((kase) =>
    run(process.execPath, ['--expose-gc', '--import', 'tsx', probe], { env: { ...process.env, FOG8_MEMORY_CASE: JSON.stringify(kase) }, encoding: 'utf8' })));
  for (const [i, kase] of cases.entries()) {
    const { measured, plan } = JSON.parse(outputs[i].stdout.trim().split('\n').pop() as string);
    assert.ok(Math.abs(measured.arenas - (plan.parameters + plan.gradients)) < 1e5, `${kase}: arenas ${measured.arenas} vs ${plan.parameters + plan.gradients}`);
    assert.ok(Math.abs(measured.optimizer - plan.optimizer) < 1e5, `${kase}: optimizer ${measured.optimizer} vs ${plan.optimizer}`);
    const ratio = (plan.activations + plan.weightCasts) / measured.step;
    assert.ok(ratio > 0.9 && ratio < 1.4, `${kase}: planned ${plan.activations + plan.weightCasts} vs measured ${measured.step} (×${ratio.toFixed(2)})`);
  }
});

test('memory plan of the paper sizes: 4 bytes per parameter per arena; fp16 moments halve the moment bytes', () => {
  const c = resolveModelConfig({ preset: 'fog-xielu', size: '1.5b' });
  const n = countParameters(c);
  const fp32 = planTrainingMemory(c, resolvePrecision('fp8-delayed'), 4, 4096, { m1: 'fp32', m2: 'fp32' });
  const fp16 = planTrainingMemory(c, resolvePrecision('fp8-delayed'), 4, 4096, { m1: 'fp16', m2: 'fp16' });
  assert.equal(fp32.parameters, 4 * n);
  assert.equal(fp32.gradients, 4 * n);
  assert.equal(fp32.optimizer - fp16.optimizer, 4 * n);
  assert.ok(fp32.total > 40 * 2 ** 30, 'the 1.5b paper recipe needs more than 40 GiB at micro-batch 4 × 4096');
  const oneSeq = planTrainingMemory(c, resolvePrecision('fp8-delayed'), 1, 4096, { m1: 'fp32', m2: 'fp32' });
  assert.ok(Math.abs(4 * oneSeq.activations - fp32.activations) < 0.05 * fp32.activations, 'activations scale with the micro-batch');
});
