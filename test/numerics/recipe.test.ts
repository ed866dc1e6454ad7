import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PRECISION_PRESETS,
  SCALING_ROLES,
  resolvePrecision,
  assertPrecisionRecipe,
  formatForRole,
  isBackwardRole,
  type ScalingRole,
} from '../../src/numerics/index.js';

test('presets carry the documented knobs and are frozen', () => {
  const d = PRECISION_PRESETS['fp8-delayed'];
  assert.deepEqual(
    [d.gemm, d.scaling, d.amaxHistoryLen, d.amaxAlgo, d.margin, d.forwardFormat, d.backwardFormat, d.fp8Attention, d.fp8LmHead],
    ['fp8', 'delayed', 1024, 'max', 0, 'e4m3', 'e5m2', true, false],
  );
  assert.deepEqual([d.blockSizeActivation, d.blockSizeWeight], [128, 128]);
  assert.equal(PRECISION_PRESETS['fp8-current'].scaling, 'current');
  assert.equal(PRECISION_PRESETS['fp8-block'].scaling, 'block');
  assert.equal(PRECISION_PRESETS.fp32.gemm, 'fp32');
  assert.equal(PRECISION_PRESETS.bf16.gemm, 'bf16');
  assert.equal(PRECISION_PRESETS.bf16.fp8Attention, false);
  for (const [name, recipe] of Object.entries(PRECISION_PRESETS)) {
    assert.equal(recipe.name, name);
    assert.ok(Object.isFrozen(recipe), name);
    assert.equal(resolvePrecision(name), recipe);
  }
  assert.ok(Object.isFrozen(PRECISION_PRESETS));
  assert.throws(() => {
    (d as { margin: number }).margin = 3;
  }, TypeError);
});

test('resolvePrecision: overrides on a base, named after what changed, frozen', () => {
  const r = resolvePrecision({ base: 'fp8-delayed', amaxHistoryLen: 4, amaxAlgo: 'most_recent' });
  assert.equal(r.amaxHistoryLen, 4);
  assert.equal(r.amaxAlgo, 'most_recent');
  assert.equal(r.margin, 0);
  assert.equal(r.name, 'fp8-delayed(amaxAlgo=most_recent,amaxHistoryLen=4)');
  assert.ok(Object.isFrozen(r));
  assert.equal(resolvePrecision({ margin: 1 }).scaling, 'delayed', 'default base is fp8-delayed');
  assert.equal(resolvePrecision({ base: 'fp8-current', name: 'mine' }).name, 'mine');
  assert.deepEqual(resolvePrecision({ ...PRECISION_PRESETS['fp8-block'] }), PRECISION_PRESETS['fp8-block']);
  assert.equal(assertPrecisionRecipe(PRECISION_PRESETS.bf16), PRECISION_PRESETS.bf16);
});

test('resolvePrecision: errors name the field, the value and what is allowed', () => {
  const cases: [unknown, RegExp][] = [
    [{ amaxAlgo: 'mean' }, /amaxAlgo must be one of 'max', 'most_recent', got "mean"/],
    [{ scaling: 'tensor' }, /scaling must be one of 'delayed', 'current', 'block'/],
    [{ gemm: 'fp4' }, /gemm must be one of 'fp8', 'bf16', 'fp32'/],
    [{ forwardFormat: 'e3m4' }, /forwardFormat must be one of 'e4m3', 'e5m2'/],
    [{ amaxHistoryLen: 0 }, /amaxHistoryLen must be an integer in 1\.\.65536, got 0/],
    [{ amaxHistoryLen: 2.5 }, /amaxHistoryLen/],
    [{ margin: -1 }, /margin must be an integer in 0\.\.64, got -1/],
    [{ blockSizeWeight: 0 }, /blockSizeWeight must be a positive integer/],
    [{ fp8Attention: 'yes' }, /fp8Attention must be true or false/],
    [{ base: 'fp8', margin: 1 }, /unknown precision preset "fp8"; allowed: fp32, bf16, fp8-delayed, fp8-current, fp8-block/],
    [{ historyLength: 4 }, /unknown field 'historyLength'; allowed fields: name, gemm/],
    [{ base: 'bf16', fp8Attention: true }, /fp8Attention true requires gemm 'fp8'/],
    [{ base: 'bf16', fp8LmHead: true }, /fp8LmHead true requires gemm 'fp8'/],
    [{ base: 'fp8-block', fp8Attention: true }, /fp8Attention true is not available with scaling 'block'/],
    [{ base: 'fp8-delayed', scaling: 'block' }, /fp8Attention true is not available with scaling 'block'/],
  ];
  for (const [input, pattern] of cases) {
    assert.throws(() => resolvePrecision(input as Parameters<typeof resolvePrecision>[0]), pattern, JSON.stringify(input));
  }
  assert.throws(() => resolvePrecision('fp9'), /unknown precision preset "fp9"; allowed: fp32/);
  assert.throws(() => resolvePrecision(null as unknown as string), TypeError);
  assert.throws(() => assertPrecisionRecipe({ ...PRECISION_PRESETS.fp32, gemm: 'int8' }), /gemm/);
});

test('HYBRID formats per role: forward roles E4M3, backward roles E5M2', () => {
  const r = PRECISION_PRESETS['fp8-delayed'];
  const expected: Record<ScalingRole, 'e4m3' | 'e5m2'> = {
    input: 'e4m3', weight: 'e4m3', qkv: 'e4m3', p: 'e4m3', o: 'e4m3',
    grad_output: 'e5m2', do: 'e5m2', ds: 'e5m2', dqkv: 'e5m2',
  };
  assert.deepEqual([...SCALING_ROLES].sort(), Object.keys(expected).sort());
  for (const role of SCALING_ROLES) {
    assert.equal(formatForRole(r, role), expected[role], role);
    assert.equal(isBackwardRole(role), expected[role] === 'e5m2', role);
  }
  const allE4m3 = resolvePrecision({ backwardFormat: 'e4m3' });
  assert.equal(formatForRole(allE4m3, 'grad_output'), 'e4m3');
  assert.throws(() => isBackwardRole('bias' as ScalingRole), /role must be one of input, weight/);
});

test('activations: BF16 wide tensors in bf16 and every FP8 preset, float32 in fp32; validated; a recipe saved without the field reads as fp32', () => {
  const expected = { fp32: 'fp32', bf16: 'bf16', 'fp8-delayed': 'bf16', 'fp8-current': 'bf16', 'fp8-block': 'bf16' } as const;
  for (const [name, act] of Object.entries(expected)) assert.equal(PRECISION_PRESETS[name as keyof typeof expected].activations, act, name);
  const r = resolvePrecision({ base: 'bf16', activations: 'fp32' });
  assert.equal(r.name, 'bf16(activations=fp32)');
  assert.equal(r.gemm, 'bf16');
  assert.equal(resolvePrecision({ base: 'fp32', activations: 'bf16' }).name, 'fp32(activations=bf16)');
  assert.throws(() => resolvePrecision({ base: 'bf16', activations: 'fp16' as 'bf16' }), /activations must be one of 'bf16', 'fp32', got "fp16"/);
  // legacy: a recipe object without the field (written before it existed) ran with float32 tensors
  const { activations: _, ...legacy } = PRECISION_PRESETS['fp8-delayed'];
  assert.equal(assertPrecisionRecipe(legacy).activations, 'fp32');
  assert.equal(assertPrecisionRecipe({ ...legacy, activations: 'bf16' }).activations, 'bf16');
  assert.throws(() => assertPrecisionRecipe({ ...legacy, activations: null }), /activations must be one of/);
});
