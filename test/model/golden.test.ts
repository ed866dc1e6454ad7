import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { PRESET_NAMES, resolveModelConfig } from '../../src/model/config.js';
import { Model } from '../../src/model/model.js';
import { GOLDEN_SEED, goldenBatch } from '../../tools/golden/batch.js';

// Fixtures from tools/golden/make_golden.py: an independent PyTorch (float64) implementation of
// every preset, fed the weights of the fog8 `tiny` model with seed GOLDEN_SEED.
const dir = new URL('../fixtures/golden/', import.meta.url);

interface Golden {
  loss: number;
  logits: number[];
  names: string[];
  paramSum: number;
}

for (const preset of PRESET_NAMES) {
  test(`golden ${preset}: fp32 loss, logits and every gradient match PyTorch within 1e-5 relative`, () => {
    const golden = JSON.parse(readFileSync(new URL(`${preset}.json`, dir), 'utf8')) as Golden;
    const gbytes = readFileSync(new URL(`${preset}.grads.bin`, dir));
    const ref = new Float32Array(gbytes.buffer.slice(gbytes.byteOffset, gbytes.byteOffset + gbytes.byteLength));
    const c = resolveModelConfig({ preset, size: 'tiny' });
    const m = new Model(c, createReferenceKernels(), resolvePrecision('fp32'), GOLDEN_SEED);
    assert.deepEqual(m.params.specs.map((s) => s.name), golden.names, 'parameter table order');
    let sum = 0;
    for (const x of m.params.data) sum += x;
    assert.ok(Math.abs(sum - golden.paramSum) < 1e-6 * (1 + Math.abs(sum)), `weights differ from the exported ones: sum ${sum} vs ${golden.paramSum}`);
    const batch = goldenBatch(c);
    const loss = m.forwardBackward(batch, 1);
    assert.ok(Math.abs(loss - golden.loss) / golden.loss <= 1e-5, `loss ${loss} vs ${golden.loss}`);
    const logits = m.logits(batch.inputs.subarray(0, batch.T), batch.T); // sequence 0 only
    let maxRef = 0;
    let maxErr = 0;
    for (let i = 0; i < logits.length; i++) {
      maxRef = Math.max(maxRef, Math.abs(golden.logits[i]));
      maxErr = Math.max(maxErr, Math.abs(logits[i] - golden.logits[i]));
    }
    assert.ok(maxErr <= 1e-5 * maxRef, `logits: max error ${maxErr} vs max |logit| ${maxRef}`);
    let offset = 0;
    for (const s of m.params.specs) {
      const g = m.grads.get(s.name);
      let num = 0;
      let den = 0;
      for (let i = 0; i < g.length; i++) {
        num += (g[i] - ref[offset + i]) ** 2;
        den += ref[offset + i] ** 2;
      }
      offset += g.length;
      const rel = Math.sqrt(num / Math.max(den, 1e-30));
      assert.ok(rel <= 1e-5, `${s.name}: relative gradient error ${rel.toExponential(2)} (‖Δ‖/‖ref‖)`);
    }
    assert.equal(offset, ref.length);
  });
}
