import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scalingPolicy } from '../../src/numerics/policy.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { ScalingState, currentScale } from '../../src/numerics/scaling.js';
import { blockScales } from '../../src/numerics/block.js';
import { E4M3, E5M2 } from '../../src/numerics/formats.js';

const f = Math.fround;

test('scalingPolicy: one object per recipe, of the recipe\'s mode; ScalingState exposes it', () => {
  for (const name of ['fp8-delayed', 'fp8-current', 'fp8-block'] as const) {
    const recipe = resolvePrecision(name);
    const p = scalingPolicy(recipe);
    assert.equal(p, scalingPolicy(recipe), 'reused');
    assert.equal(p.mode, recipe.scaling);
    assert.equal(new ScalingState(recipe).policy, p);
  }
});

test('delayed policy: every cast uses the slot scale (fused ones too, bound ignored), nothing written outside endOfPass', () => {
  const state = new ScalingState(resolvePrecision({ base: 'fp8-delayed', amaxHistoryLen: 2 }));
  const p = state.policy;
  const slot = state.slot('x.input', 'input');
  slot.setScale(f(3.5));
  assert.equal(p.scaleFixedBeforeCast, true);
  assert.equal(p.tiling('activation'), null);
  assert.equal(p.tiling('weight'), null);
  assert.equal(p.castScale(slot, [Float32Array.of(100, -7)], true), f(3.5));
  assert.equal(p.fusedCastScale(slot, 1), f(3.5));
  assert.equal(p.fusedCastScale(slot, null), f(3.5));
  p.afterFusedCast(slot, null, 1000, true);
  assert.equal(slot.scale, f(3.5), 'afterFusedCast changes nothing under delayed scaling');
  slot.recordAmax(2);
  p.endOfPass(slot);
  assert.equal(slot.scale, f(448 / 2));
  assert.deepEqual([...slot.amaxHistory], [0, 2]);
  assert.throws(() => p.tileScales(slot, new Float32Array(4), 2, 2, 'activation'), /no tiling/);
});

test('current policy: whole-tensor scale from the shared amax of all parts; fused casts use the bound or the previous amax', () => {
  const state = new ScalingState(resolvePrecision({ base: 'fp8-current', margin: 1 }));
  const p = state.policy;
  assert.equal(p.scaleFixedBeforeCast, false);
  assert.equal(p.tiling('activation'), null);
  const qkv = state.slot('a.qkv', 'qkv');
  // Q, K, V share one scale: amax over all three parts (here 8, found in the third part).
  const parts = [Float32Array.of(1, -2), Float32Array.of(0.5), Float32Array.of(-8, 3)];
  const expected = currentScale(8, E4M3, 1);
  assert.equal(expected, f(448 / 8 / 2));
  assert.equal(p.castScale(qkv, parts, false), expected);
  assert.equal(qkv.scale, 1, 'evaluation leaves the slot alone');
  assert.equal(p.castScale(qkv, parts, true), expected);
  assert.equal(qkv.scale, expected, 'training stores the scale used');
  assert.equal(p.castScale(qkv, [Float32Array.of(NaN)], false), 1, 'NaN amax: scale 1');

  const pSlot = state.slot('a.p', 'p');
  assert.equal(p.fusedCastScale(pSlot, 1), currentScale(1, E4M3, 1), 'P: its bound');
  p.afterFusedCast(pSlot, 1, 0.25, true);
  assert.equal(pSlot.scale, currentScale(1, E4M3, 1), 'a bounded fused cast keeps the bound\'s scale, not the measured amax');

  const ds = state.slot('a.ds', 'ds');
  assert.equal(p.fusedCastScale(ds, null), 1, 'the first dS cast: scale 1');
  p.afterFusedCast(ds, null, 1e-3, false);
  assert.equal(ds.scale, 1, 'evaluation does not move it');
  p.afterFusedCast(ds, null, 1e-3, true);
  assert.equal(ds.scale, currentScale(1e-3, E5M2, 1));
  assert.equal(p.fusedCastScale(ds, null), currentScale(1e-3, E5M2, 1), 'the next dS cast uses the previous amax');
  p.afterFusedCast(ds, null, 0, true);
  assert.equal(ds.scale, currentScale(1e-3, E5M2, 1), 'amax 0 keeps the previous scale');

  ds.recordAmax(5);
  p.endOfPass(ds);
  assert.equal(ds.amaxHistory[0], 0, 'endOfPass only clears the recorded amax');
  assert.equal(ds.scale, currentScale(1e-3, E5M2, 1));
});

test('block policy: tiling from the recipe (1×activation, weight²), tile scales are blockScales; per-tensor casts as current', () => {
  const recipe = resolvePrecision({ base: 'fp8-block', blockSizeActivation: 4, blockSizeWeight: 2 });
  const state = new ScalingState(recipe);
  const p = state.policy;
  assert.deepEqual(p.tiling('activation'), { rows: 1, cols: 4 });
  assert.deepEqual(p.tiling('weight'), { rows: 2, cols: 2 });
  assert.equal(p.scaleFixedBeforeCast, false);
  const x = Float32Array.from({ length: 24 }, (_, i) => (i - 11) * 0.37);
  const w = state.slot('l.weight', 'weight');
  assert.deepEqual(p.tileScales(w, x, 4, 6, 'weight'), blockScales(x, 4, 6, 2, 2, E4M3, 0));
  const g = state.slot('l.grad_output', 'grad_output');
  assert.deepEqual(p.tileScales(g, x, 4, 6, 'activation'), blockScales(x, 4, 6, 1, 4, E5M2, 0));
  assert.equal(p.castScale(g, [x], false), currentScale(x[23], E5M2, 0)); // x[23] = 12·0.37 is the amax
});

test('scales change only through ScalingSlot.setScale: assigning slot.scale throws', () => {
  const slot = new ScalingState(resolvePrecision('fp8-delayed')).slot('k', 'input');
  assert.throws(() => {
    (slot as unknown as { scale: number }).scale = 2;
  }, TypeError);
  slot.setScale(2);
  assert.equal(slot.scale, 2);
});

test('src/ops holds no scaling-mode branch and writes no scale: the policy objects decide', () => {
  const dir = join(import.meta.dirname, '../../src/ops');
  const forbidden = [/\.scaling\s*[!=]==/, /\.mode\s*[!=]==/, /blockSize(Activation|Weight)/, /\b(computeScale|currentScale|blockScales)\(/, /\.setScale\(/, /\.scale\s*=[^=]/];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    const code = readFileSync(join(dir, name), 'utf8');
    for (const pattern of forbidden) assert.doesNotMatch(code, pattern, `src/ops/${name}`);
  }
});
