import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recipeOf } from '../../src/train/session.js';

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
