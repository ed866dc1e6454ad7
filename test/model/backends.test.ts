import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import type { Kernels } from '../../src/kernels/types.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { PRESET_NAMES, resolveModelConfig } from '../../src/model/config.js';
import { Model } from '../../src/model/model.js';

async function nativeKernels(): Promise<Kernels | string> {
  try {
    const loader = '../../src/kernels/index.js'; // not a literal: the loader is optional at build time
    const mod = (await import(loader)) as { loadKernels?: (which: string) => Kernels | Promise<Kernels> };
    if (!mod.loadKernels) return 'src/kernels/index.ts has no loadKernels';
    const k = await mod.loadKernels('native');
    return k.name === 'native' ? k : `loadKernels('native') returned the ${k.name} backend`;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

// Bound: the native GEMM blocks over K, so float32 sums differ in order: loss within 1e-5
// relative, whole-gradient ‖Δ‖/‖g‖ within 1e-4 (fp32); FP8 within 1e-3 / 2e-2 (a rounding flip
// of one FP8 code moves a value by a full FP8 step).
const native = await nativeKernels();
for (const preset of PRESET_NAMES) {
  test(`native vs reference backend, ${preset}: loss and gradients agree (fp32 and fp8-delayed)`, { skip: typeof native === 'string' ? `native kernels unavailable: ${native}` : false }, () => {
    const k = native as Kernels;
    const c = resolveModelConfig({ preset, size: 'tiny' });
    const B = 2;
    const T = 8;
    const inputs = new Int32Array(B * T).map((_, i) => (i * 13 + 5) % c.vocabSize);
    const targets = new Int32Array(B * T).map((_, i) => (i * 29 + 1) % c.vocabSize);
    for (const [recipe, lossTol, gradTol] of [['fp32', 1e-5, 1e-4], ['fp8-delayed', 1e-3, 2e-2]] as const) {
      const a = new Model(c, createReferenceKernels(), resolvePrecision(recipe), 5);
      const b = new Model(c, k, resolvePrecision(recipe), 5);
      const la = a.forwardBackward({ inputs, targets, B, T }, 1);
      const lb = b.forwardBackward({ inputs, targets, B, T }, 1);
      assert.ok(Math.abs(la - lb) / la <= lossTol, `${recipe}: loss ${la} vs ${lb}`);
      let num = 0;
      let den = 0;
      for (let i = 0; i < a.grads.size; i++) {
        num += (a.grads.data[i] - b.grads.data[i]) ** 2;
        den += a.grads.data[i] ** 2;
      }
      assert.ok(Math.sqrt(num / den) <= gradTol, `${recipe}: gradient relative error ${Math.sqrt(num / den)}`);
    }
  });
}
