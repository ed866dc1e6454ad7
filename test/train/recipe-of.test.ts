import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recipeOf } from '../../src/train/session.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';

test('recipeOf: --fp8-attention applies to FP8 recipes; block scaling keeps attention wide instead of failing', () => {
  assert.equal(recipeOf({ precision: 'fp8-delayed', fp8Attention: true }).fp8Attention, true);
  assert.equal(recipeOf({ precision: 'fp8-delayed', fp8Attention: false }).fp8Attention, false);
  assert.equal(recipeOf({ precision: 'fp8-current', fp8Attention: false }).fp8Attention, false);
  assert.equal(recipeOf({ precision: 'fp8-block', fp8Attention: true }).fp8Attention, false);
  assert.equal(recipeOf({ precision: 'bf16', fp8Attention: true }).fp8Attention, false);
});

test('recipeOf: --fp8-lm-head (the authors\' --fp8-lmhead) turns the head FP8 on FP8 recipes only', () => {
  assert.equal(recipeOf({ precision: 'fp8-delayed', fp8Attention: true }).fp8LmHead, false);
  assert.equal(recipeOf({ precision: 'fp8-delayed', fp8Attention: true, fp8LmHead: true }).fp8LmHead, true);
  assert.equal(recipeOf({ precision: 'fp8-current', fp8Attention: false, fp8LmHead: true }).fp8LmHead, true);
  assert.equal(recipeOf({ precision: 'fp8-block', fp8Attention: true, fp8LmHead: true }).fp8LmHead, true);
  assert.equal(recipeOf({ precision: 'bf16', fp8Attention: true, fp8LmHead: true }).fp8LmHead, false);
});

test('recipeOf: activations null (the default) takes the recipe\'s own; bf16/fp32 override any recipe', () => {
  assert.equal(recipeOf({ precision: 'fp8-delayed', fp8Attention: true, activations: null }), resolvePrecision('fp8-delayed'));
  assert.equal(recipeOf({ precision: 'fp32', fp8Attention: true, activations: null }).activations, 'fp32');
  assert.equal(recipeOf({ precision: 'bf16', fp8Attention: true }).activations, 'bf16');
  assert.equal(recipeOf({ precision: 'bf16', fp8Attention: true, activations: 'bf16' }), resolvePrecision('bf16'));
  const r = recipeOf({ precision: 'fp8-delayed', fp8Attention: false, activations: 'fp32' });
  assert.deepEqual([r.fp8Attention, r.activations, r.name], [false, 'fp32', 'fp8-delayed(activations=fp32,fp8Attention=false)']);
  assert.equal(recipeOf({ precision: 'fp32', fp8Attention: true, activations: 'bf16' }).name, 'fp32(activations=bf16)');
});
