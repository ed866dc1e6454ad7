import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';
import { Rng, assertClose, finiteDifference, weightedSum } from './random.js';
import type { XieluParams } from '../../src/kernels/types.js';

// Oracles: float64 forwards written here from DESIGN §4; gradients by central finite differences
// (h = 1e-5) of Σ w·f, compared at |g − g_fd| ≤ 1e-5 + 1e-4·|g_fd| (see rmsnorm.test.ts).

const R = 3;
const F = 10;

const silu = (g: number): number => g / (1 + Math.exp(-g));

function gated64(h: ArrayLike<number>, s: ArrayLike<number> | null): Float64Array {
  const a = new Float64Array(R * F);
  for (let r = 0; r < R; r++) {
    for (let j = 0; j < F; j++) a[r * F + j] = (silu(h[2 * F * r + j]) * h[2 * F * r + F + j]) / (s === null ? 1 : s[r]);
  }
  return a;
}

test('swiglu forward vs float64, backward vs finite differences', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const rng = new Rng(31);
      const h = rng.normals(2 * R * F, 2);
      const a = new Float32Array(R * F);
      k.swigluForward(h, a, R, F);
      assertClose(a, gated64(h, null), 1e-6, 1e-6, 'a');
      const w = rng.normals(R * F);
      const dh = new Float32Array(2 * R * F).fill(NaN);
      k.swigluBackward(h, w, dh, R, F);
      assertClose(dh, finiteDifference((hh) => weightedSum(gated64(hh, null), w), h, 1e-5), 1e-5, 1e-4, 'dh');
    });
  }
});

test('smooth-swiglu: s = max|gate| (0 → 1), a = silu(gate)·up/s, no gradient through s', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const rng = new Rng(32);
      const h = rng.normals(2 * R * F, 3);
      h.fill(0, 2 * F, 3 * F); // row 1: all gates zero → s = 1
      const a = new Float32Array(R * F);
      const s = new Float32Array(R);
      k.smoothSwigluForward(h, a, s, R, F);
      for (let r = 0; r < R; r++) {
        const gates = Array.from(h.subarray(2 * F * r, 2 * F * r + F), Math.abs);
        assert.equal(s[r], r === 1 ? 1 : Math.max(...gates), `s[${r}]`);
      }
      assertClose(a, gated64(h, s), 1e-6, 1e-6, 'a');
      const w = rng.normals(R * F);
      const dh = new Float32Array(2 * R * F).fill(NaN);
      k.smoothSwigluBackward(h, s, w, dh, R, F);
      // s held constant while h is perturbed: the FD oracle takes the saved s as a fixed input.
      assertClose(dh, finiteDifference((hh) => weightedSum(gated64(hh, s), w), h, 1e-5), 1e-5, 1e-4, 'dh');
    });
  }
});

/** erf by composite Simpson integration of 2/√π·e^(−t²) over [0, x] (independent of the kernels' erf). */
function erfBySimpson(x: number): number {
  const n = 4000;
  const step = x / n;
  let sum = 0;
  for (let i = 0; i <= n; i++) sum += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * Math.exp(-((i * step) ** 2));
  return ((sum * step) / 3) * (2 / Math.sqrt(Math.PI));
}

const gelu64 = (x: ArrayLike<number>): Float64Array => Float64Array.from(x, (v) => v * 0.5 * (1 + erfBySimpson(v / Math.SQRT2)));

test('gelu (erf) forward vs float64 with an integrated erf, backward vs finite differences', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const rng = new Rng(33);
      const x = Float32Array.from([...rng.normals(40, 2), 0, -6, 6, -0.5, 9]);
      const y = new Float32Array(x.length);
      k.geluForward(x, y);
      assertClose(y, gelu64(x), 1e-7, 1e-6, 'y');
      const w = rng.normals(x.length);
      const dx = new Float32Array(x.length);
      k.geluBackward(x, w, dx);
      assertClose(dx, finiteDifference((xx) => weightedSum(gelu64(xx), w), x, 1e-4), 1e-5, 1e-4, 'dx');
    });
  }
});

function xielu64(x: ArrayLike<number>, p: XieluParams): Float64Array {
  return Float64Array.from(x, (v) =>
    v > 0 ? p.alphaP * v * v + p.beta * v : p.alphaN * Math.expm1(Math.min(v, p.eps)) - p.alphaN * v + p.beta * v);
}

test('xielu forward vs float64, backward (dx, dAlphaP, dAlphaN) vs finite differences', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const rng = new Rng(34);
      const p: XieluParams = { alphaP: 0.8, alphaN: 0.8 + 0.5, beta: 0.5, eps: -1e-6 };
      // Keep FD points away from the kinks at ε and 0 (|x| ≥ 1e-3 with h = 1e-5).
      const x = Float32Array.from(rng.normals(60, 2), (v) => (Math.abs(v) < 1e-3 ? v + 0.01 : v));
      const y = new Float32Array(x.length);
      k.xieluForward(x, y, p);
      assertClose(y, xielu64(x, p), 1e-7, 1e-6, 'y');
      const w = rng.normals(x.length);
      const dx = new Float32Array(x.length);
      const { dAlphaP, dAlphaN } = k.xieluBackward(x, w, dx, p);
      assertClose(dx, finiteDifference((xx) => weightedSum(xielu64(xx, p), w), x, 1e-5), 1e-5, 1e-4, 'dx');
      const [dAlphaPFd, dAlphaNFd] = finiteDifference(
        ([alphaP, alphaN]) => weightedSum(xielu64(x, { ...p, alphaP, alphaN }), w), [p.alphaP, p.alphaN], 1e-5);
      assertClose([dAlphaP, dAlphaN], [dAlphaPFd, dAlphaNFd], 1e-5, 1e-5, 'dAlphaP, dAlphaN');
      // Inside (ε, 0] min(x, ε) is the constant ε, so f'(x) = β − αn exactly.
      const flat = Float32Array.from([-5e-7, 0]);
      const dflat = new Float32Array(2);
      k.xieluBackward(flat, Float32Array.from([1, 1]), dflat, p);
      assert.deepEqual([...dflat], [Math.fround(p.beta - p.alphaN), Math.fround(p.beta - p.alphaN)]);
    });
  }
});
