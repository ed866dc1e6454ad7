import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { resolveModelConfig } from '../../src/model/config.js';
import { countParameters } from '../../src/model/params.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { planTrainingMemory, type MeasuredMemory, type MemoryPlan } from '../../src/train/memory.js';

const probeScript = fileURLToPath(new URL('./memory-probe.ts', import.meta.url));
const run = promisify(execFile);

/** Runs memory-probe.ts for each case in a fresh process (ArrayBuffer accounting is only clean without earlier garbage), all at once. */
async function probe(cases: (string | number | boolean)[][]): Promise<{ measured: Record<string, number>; plan: MemoryPlan; figure: MeasuredMemory }[]> {
  const outputs = await Promise.all(cases.map((kase) =>
    run(process.execPath, ['--expose-gc', '--import', 'tsx', probeScript], { env: { ...process.env, FOG8_MEMORY_CASE: JSON.stringify(kase) }, encoding: 'utf8' })));
  return outputs.map((o) => JSON.parse(o.stdout.trim().split('\n').pop() as string));
}

test('memory plan: parameters, gradients, optimizer, weight casts and scaling exact; activations + workspace within 0.9–1.4× of the measured figure', async () => {
  const cases = [['fog-xielu', 's', 'fp8-delayed', 4, 128], ['llama3', 's', 'bf16', 2, 256], ['llama3', 's', 'fp8-delayed', 2, 256, true]];
  for (const [i, { measured, plan, figure }] of (await probe(cases)).entries()) {
    const kase = cases[i].join(' ');
    assert.ok(Math.abs(measured.arenas - (plan.parameters + plan.gradients)) < 1e5, `${kase}: arenas ${measured.arenas} vs ${plan.parameters + plan.gradients}`);
    assert.ok(Math.abs(measured.optimizer - plan.optimizer) < 1e5, `${kase}: optimizer ${measured.optimizer} vs ${plan.optimizer}`);
    assert.equal(plan.weightCasts, figure.weightCasts, `${kase}: weight casts`);
    assert.equal(plan.scaling, figure.scaling, `${kase}: scaling state`);
    const ratio = plan.activations / figure.activations;
    assert.ok(ratio > 0.9 && ratio < 1.4, `${kase}: planned activations ${plan.activations} vs held ${figure.activations} (×${ratio.toFixed(2)})`);
    const ws = plan.workspace / figure.workspace;
    assert.ok(ws > 0.7 && ws < 1.5, `${kase}: planned kernel workspace ${plan.workspace} vs held ${figure.workspace} (×${ws.toFixed(2)})`);
  }
});

test('measured memory figure = every ArrayBuffer byte the model, its optimizer and a step allocate (tiny models), + the kernels\' workspace', async () => {
  // Recipes without per-step allocation (block scaling allocates tile scales per cast, which GC then frees).
  const cases = [['fog-xielu', 'tiny', 'fp8-delayed', 2, 32], ['llama3', 'tiny', 'bf16', 2, 32], ['llama3-smooth-swiglu', 'tiny', 'fp32', 2, 16], ['op', 'tiny', 'fp8-current', 1, 32], ['fog-xielu', 'tiny', 'fp8-delayed', 2, 32, true]];
  for (const [i, { measured, figure }] of (await probe(cases)).entries()) {
    const kase = cases[i].join(' ');
    // Node's own allocations (module loading, stdio) come in 8 KiB Buffer-pool slabs: the only slack allowed.
    const slack = Buffer.poolSize;
    const diff = measured.all - (figure.total - figure.workspace);
    assert.ok(Math.abs(diff) <= slack, `${kase}: figure without the addon's workspace ${figure.total - figure.workspace} vs ${measured.all} ArrayBuffer bytes allocated`);
    assert.ok(Math.abs(measured.secondStep) <= slack, `${kase}: a second step allocates nothing (${measured.secondStep} bytes)`);
    assert.equal(figure.parameters + figure.gradients, measured.arenas, `${kase}: arenas`);
    assert.equal(figure.optimizer, measured.optimizer, `${kase}: optimizer`);
    assert.ok(figure.scratch > 0 && figure.scratch < figure.activations, `${kase}: scratch is a part of activations`);
    if (process.env.FOG8_KERNELS !== 'reference') assert.ok(figure.workspace > 0, `${kase}: the native kernels hold GEMM packing buffers`);
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
