import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';
import { Rng, assertClose, finiteDifference, weightedSum } from './random.js';

const B = 2;
const T = 6;
const H = 3;
const D = 8;

/** Naive float64 RoPE, written from DESIGN §4: pairs (i, i + D/2), angle t·θ^(−2i/D). */
function rope64(x: ArrayLike<number>, theta: number): Float64Array {
  const y = new Float64Array(B * T * H * D);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const base = ((b * T + t) * H + h) * D;
        for (let i = 0; i < D / 2; i++) {
          const angle = t / theta ** ((2 * i) / D);
          const [x1, x2] = [x[base + i], x[base + i + D / 2]];
          y[base + i] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
          y[base + i + D / 2] = x1 * Math.sin(angle) + x2 * Math.cos(angle);
        }
      }
    }
  }
  return y;
}

test('rope forward vs float64, backward vs finite differences, in place', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      for (const theta of [10000, 500000]) {
        const rng = new Rng(theta);
        const x = rng.normals(B * T * H * D);
        const y = new Float32Array(x.length);
        k.ropeForward(x, y, B, T, H, D, theta);
        assertClose(y, rope64(x, theta), 1e-6, 1e-6, 'y');
        assert.deepEqual(y.subarray(0, H * D), x.subarray(0, H * D), 'position 0 is the identity');
        const inPlace = x.slice();
        k.ropeForward(inPlace, inPlace, B, T, H, D, theta);
        assert.deepEqual(inPlace, y, 'y aliasing x');
        const w = rng.normals(x.length);
        const dx = new Float32Array(x.length);
        k.ropeBackward(w, dx, B, T, H, D, theta);
        assertClose(dx, finiteDifference((xx) => weightedSum(rope64(xx, theta), w), x, 1e-5), 1e-5, 1e-4, 'dx');
        const dxInPlace = w.slice();
        k.ropeBackward(dxInPlace, dxInPlace, B, T, H, D, theta);
        assert.deepEqual(dxInPlace, dx, 'dx aliasing dy');
      }
    });
  }
});
