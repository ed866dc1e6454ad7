import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';
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
