import { test } from 'node:test';
import { Rng } from '../../src/model/rng.js';
import { RmsNormOp, TanhOp } from '../../src/ops/norm.js';
import { assertGradients, float64Context, probeCase, randn, type CheckedTensor } from '../util/gradcheck.js';

const R = 4; // e.g. B·T·H rows of a per-head QK norm
const C = 6;
const EPS = 1e-5;

function rmsNormCase(withGain: boolean) {
  const ctx = float64Context();
  const rng = new Rng(41, withGain ? 1 : 2);
  const x = randn(rng, R * C); // (R, C)
  for (let c = 0; c < C; c++) x[C + c] *= 0.01; // one row with mean(x²) ~ 1e-4, where eps matters
  const gain = withGain ? randn(rng, C, 0.3).map((g) => 1 + g) : null; // (C)
  const dgain = gain ? ctx.alloc(C) : null;
  const y = ctx.alloc(R * C);
  const dy = ctx.alloc(R * C);
  const dx = ctx.alloc(R * C);
  const wy = randn(rng, R * C);
  const op = new RmsNormOp(ctx, 'norm', R, C, EPS, gain, dgain, x, y, dy, dx);
  const tensors: CheckedTensor[] = [{ name: 'x', value: x, grad: dx }];
  if (gain && dgain) tensors.push({ name: 'gain', value: gain, grad: dgain });
  return probeCase(ctx, tensors, {
    forward: () => op.forward(),
    output: y,
    dOutput: dy,
    probe: wy,
    resetGradients: () => {
      dx.fill(NaN); // overwritten
      dgain?.fill(0); // accumulated
    },
  });
}

// A smaller step: the small row (rms ≈ 0.01) has derivatives scaling like 1/rms^k, and the
// fourth-order difference's truncation error falls as (step/rms)^4 (measured: 6e-7 at 1e-4, 8e-11 at 1e-5).
test('RMSNorm with trainable gain (float64): dx and dgain match finite differences', () => {
  assertGradients('rmsnorm (gain)', rmsNormCase(true), { step: 1e-5 });
});

test('RMSNorm without gain (the frozen FOG QK norm) (float64): dx matches finite differences', () => {
  assertGradients('rmsnorm (no gain)', rmsNormCase(false), { step: 1e-5 });
});

test('DyT tanh(α·x) in place (y aliases x, dx aliases dy) (float64): dx and dα match finite differences', () => {
  const ctx = float64Context();
  const n = 12;
  const rng = new Rng(43, 1);
  const xSource = randn(rng, n, 1.5);
  const alpha = Float64Array.of(0.7);
  const dalpha = ctx.alloc(1);
  const buf = ctx.alloc(n); // x, then y
  const grad = ctx.alloc(n); // dy, then dx
  const wy = randn(rng, n);
  const op = new TanhOp(ctx, 'dyt', alpha, dalpha, buf, buf, grad, grad);
  assertGradients('dyt tanh', probeCase(ctx, [{ name: 'x', value: xSource, grad }, { name: 'alpha', value: alpha, grad: dalpha }], {
    forward: () => {
      buf.set(xSource);
      op.forward();
    },
    output: buf,
    dOutput: grad,
    probe: wy,
    resetGradients: () => dalpha.fill(0), // accumulated
  }));
});
