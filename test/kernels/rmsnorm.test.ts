import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';
import { Rng, assertClose, finiteDifference, weightedSum } from './random.js';

// Gradient checks here and in the other kernel tests: the oracle is a float64 forward written in
// the test; its central finite difference (h = 1e-5, truncation error O(h²) ≈ 1e-10) is compared
// with the float32 backward kernel at |g − g_fd| ≤ 1e-5 + 1e-4·|g_fd| (float32 roundoff of a few
// dozen terms is ≈ 1e-6 relative). The kernel's forward is compared with the same float64 forward.

const R = 3;
const C = 16;
const EPS = 1e-5;

function rmsnorm64(x: ArrayLike<number>, gain: ArrayLike<number> | null): Float64Array {
  const y = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    let ms = 0;
    for (let c = 0; c < C; c++) ms += x[r * C + c] ** 2 / C;
    for (let c = 0; c < C; c++) y[r * C + c] = (x[r * C + c] / Math.sqrt(ms + EPS)) * (gain === null ? 1 : gain[c]);
  }
  return y;
}

test('rmsnorm forward/backward vs float64 finite differences, with and without gain', async (t) => {
  for (const k of await backends()) {
    for (const withGain of [true, false]) {
      await t.test(`${k.name}${withGain ? ' with gain' : ' without gain'}`, () => {
        const rng = new Rng(withGain ? 1 : 2);
        const x = rng.normals(R * C, 2);
        const gain = withGain ? rng.uniforms(C, 0.5, 1.5) : null;
        const w = rng.normals(R * C); // L = Σ w·y, so dy = w
        const y = new Float32Array(R * C);
        const rstd = new Float32Array(R);
        k.rmsnormForward(x, gain, y, rstd, R, C, EPS);
        assertClose(y, rmsnorm64(x, gain), 1e-6, 1e-6, 'y');
        for (let r = 0; r < R; r++) {
          let ms = 0;
          for (let c = 0; c < C; c++) ms += x[r * C + c] ** 2 / C;
          assert.ok(Math.abs(rstd[r] - 1 / Math.sqrt(ms + EPS)) <= 1e-6 * rstd[r], 'rstd');
        }
        const dx = new Float32Array(R * C).fill(NaN); // overwritten
        const dgain = withGain ? new Float32Array(C).fill(1) : null; // accumulated onto
        k.rmsnormBackward(w, x, gain, rstd, dx, dgain, R, C);
        const dxFd = finiteDifference((xx) => weightedSum(rmsnorm64(xx, gain), w), x, 1e-5);
        assertClose(dx, dxFd, 1e-5, 1e-4, 'dx');
        if (gain !== null && dgain !== null) {
          const dgainFd = finiteDifference((gg) => weightedSum(rmsnorm64(x, gg), w), gain, 1e-5);
          assertClose(dgain, dgainFd.map((g) => g + 1), 1e-5, 1e-4, 'dgain (accumulated onto 1)');
        }
      });
    }
  }
});
