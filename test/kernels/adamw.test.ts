import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';

test('adamw: first step from zero state, hand-computed', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      // step 1: m = 0.1·g, v = 0.05·g², m̂ = g, v̂ = g² → update = lr·(g/(|g| + eps) + wd·w)
      const w = Float32Array.from([1, -2]);
      const g = Float32Array.from([0.5, -0.25]);
      const m = new Float32Array(2);
      const v = new Float32Array(2);
      k.adamw(w, g, m, v, { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 1 });
      assert.deepEqual([...m], [Math.fround(0.05), Math.fround(-0.025)]);
      assert.deepEqual([...v], [Math.fround(0.0125), Math.fround(0.003125)]);
      assert.ok(Math.abs(w[0] - (1 - 0.01 * (0.5 / (0.5 + 1e-8) + 0.1))) < 1e-7, `w[0] = ${w[0]}`); // 0.989
      assert.ok(Math.abs(w[1] - (-2 - 0.01 * (-0.25 / (0.25 + 1e-8) - 0.2))) < 2e-7, `w[1] = ${w[1]}`); // −1.988
    });
  }
});

test('adamw: third step from given moments, hand-computed', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const w = Float32Array.from([0.3]);
      const k1 = { lr: 1e-3, beta1: 0.8, beta2: 0.9, eps: 1e-6, weightDecay: 0.5, step: 3 };
      const m = Float32Array.from([0.2]);
      const v = Float32Array.from([0.04]);
      k.adamw(w, Float32Array.from([-0.1]), m, v, k1);
      // m = 0.8·0.2 + 0.2·(−0.1) = 0.14; v = 0.9·0.04 + 0.1·0.01 = 0.037
      // m̂ = 0.14/(1 − 0.512) = 0.286885…, v̂ = 0.037/(1 − 0.729) = 0.136531…, √v̂ = 0.369501…
      // w = 0.3 − 1e-3·(0.286885/(0.369501 + 1e-6) + 0.15) = 0.3 − 1e-3·0.926413 = 0.299073587
      assert.ok(Math.abs(m[0] - 0.14) < 1e-7 && Math.abs(v[0] - 0.037) < 1e-8, `m ${m[0]}, v ${v[0]}`);
      assert.ok(Math.abs(w[0] - 0.299073587) < 3e-8, `w = ${w[0]}`);
    });
  }
});
