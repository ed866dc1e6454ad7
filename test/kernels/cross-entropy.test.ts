import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends, onEveryNativePath } from './backends.js';
import type { Kernels } from '../../src/kernels/types.js';
import { Rng, assertClose, finiteDifference, weightedSum } from './random.js';

const R = 5;
const V = 37;

function losses64(logits: ArrayLike<number>, targets: Int32Array): Float64Array {
  const out = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    if (targets[r] === -1) continue;
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[r * V + v]);
    out[r] = Math.log(sum) - logits[r * V + targets[r]];
  }
  return out;
}

test('cross-entropy forward vs float64, backward vs finite differences, ignored rows', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const rng = new Rng(17);
      const logits = rng.normals(R * V, 3);
      const targets = Int32Array.from([3, -1, 0, 36, 12]);
      const losses = new Float32Array(R).fill(NaN);
      const lse = new Float32Array(R);
      k.crossEntropyForward(logits, targets, losses, lse, R, V);
      assertClose(losses, losses64(logits, targets), 1e-6, 1e-6, 'losses');
      assert.equal(losses[1], 0, 'ignored row has loss 0');
      const dloss = Float32Array.from([0.5, 2, -1, 0.25, 1]);
      const dlogits = new Float32Array(R * V).fill(NaN);
      k.crossEntropyBackward(logits, targets, lse, dloss, dlogits, R, V);
      const fd = finiteDifference((l) => weightedSum(losses64(l, targets), dloss), logits, 1e-5);
      assertClose(dlogits, fd, 1e-6, 1e-4, 'dlogits');
      assert.ok(dlogits.subarray(V, 2 * V).every((g) => g === 0), 'ignored row has zero gradient');
      // Large logits: the log-sum-exp must not overflow.
      const big = Float32Array.from({ length: V }, (_, v) => 1000 + v);
      const one = new Float32Array(1);
      k.crossEntropyForward(big, Int32Array.from([V - 1]), one, new Float32Array(1), 1, V);
      const expected = Math.log(Array.from({ length: V }, (_, v) => Math.exp(v - (V - 1))).reduce((a, b) => a + b));
      assert.ok(Math.abs(one[0] - expected) < 1e-4, `loss ${one[0]} vs ${expected}`);
    });
  }
});

/**
 * crossEntropyBf16 must give crossEntropyForward's losses and lse bit for bit and dlogits bits that
 * are packBf16 of crossEntropyBackward's float output (rounded or not: packBf16 rounds the same
 * way), ignored rows included. Rows of V = 1037 cover the vector loop, a ragged tail and targets in
 * both; a huge logit gives p = 1 at the target.
 */
function checkBf16Bits(k: Kernels, label: string): void {
  const rows = 9, vocab = 1037;
  const rng = new Rng(5);
  const logits = rng.normals(rows * vocab, 4);
  logits[2 * vocab + 7] = 80;
  const targets = Int32Array.from({ length: rows }, (_, r) => (r === 3 ? -1 : (r * 331 + 7) % vocab));
  targets[8] = vocab - 1;
  const losses = new Float32Array(rows), lse = new Float32Array(rows);
  k.crossEntropyForward(logits, targets, losses, lse, rows, vocab);
  const dloss = Float32Array.from({ length: rows }, (_, r) => (r + 1) * 0.37);
  for (const round of [false, true]) {
    const dlogits = new Float32Array(rows * vocab);
    k.crossEntropyBackward(logits, targets, lse, dloss, dlogits, rows, vocab, round);
    const expected = new Uint16Array(rows * vocab);
    k.packBf16(dlogits, expected);
    const bits = new Uint16Array(rows * vocab).fill(0xffff);
    const fusedLosses = new Float32Array(rows).fill(NaN), fusedLse = new Float32Array(rows).fill(NaN);
    k.crossEntropyBf16(logits, targets, fusedLosses, fusedLse, dloss, bits, rows, vocab);
    assert.deepEqual(fusedLosses, losses, `${label}: losses`);
    assert.deepEqual(fusedLse, lse, `${label}: lse`);
    for (let i = 0; i < bits.length; i++) {
      if (bits[i] !== expected[i]) assert.fail(`${label} (float output round ${round}): bits[${i}] = ${bits[i].toString(16)}, packBf16 of the float output ${expected[i].toString(16)}`);
    }
  }
}

test('crossEntropyBf16 = crossEntropyForward + packBf16 of crossEntropyBackward, bit for bit (every backend)', async () => {
  for (const k of await backends()) checkBf16Bits(k, k.name);
});

test('crossEntropyBf16: every native ISA path and thread count', async (t) => {
  const skip = await onEveryNativePath((native, label) => checkBf16Bits(native, label));
  if (skip) t.skip(skip);
});
