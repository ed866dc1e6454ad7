import { test } from 'node:test';
import { Rng } from '../../src/model/rng.js';
import { ForkOp, LayerScaleOp, residualAdd } from '../../src/ops/elementwise.js';
import { assertGradients, dot, float64Context, probeCase, randn } from '../util/gradcheck.js';

const R = 3;
const C = 5;

test('LayerScale (float64): dx and dg match finite differences', () => {
  const ctx = float64Context();
  const rng = new Rng(71, 1);
  const x = randn(rng, R * C); // (R, C)
  const g = randn(rng, C); // (C)
  const dg = ctx.alloc(C);
  const y = ctx.alloc(R * C);
  const dy = ctx.alloc(R * C);
  const dx = ctx.alloc(R * C);
  const wy = randn(rng, R * C);
  const op = new LayerScaleOp(ctx, 'ls', R, C, g, dg, x, y, dy, dx);
  assertGradients('layerscale', probeCase(ctx, [{ name: 'x', value: x, grad: dx }, { name: 'g', value: g, grad: dg }], {
    forward: () => op.forward(),
    output: y,
    dOutput: dy,
    probe: wy,
    resetGradients: () => {
      dx.fill(NaN); // overwritten
      dg.fill(0); // accumulated
    },
  }));
});

test('residual block h ← h + LayerScale(h) with ForkOp and in-place residualAdd (float64): dh and dg match finite differences', () => {
  const ctx = float64Context();
  const rng = new Rng(71, 2);
  const hSource = randn(rng, R * C);
  const g = randn(rng, C);
  const dg = ctx.alloc(C);
  const h = ctx.alloc(R * C); // the residual stream, updated in place
  const branch = ctx.alloc(R * C);
  const dres = ctx.alloc(R * C); // residual gradient: the branch's last op reads it as its dy
  const dbranch = ctx.alloc(R * C); // gradient at the branch input, added back by the fork
  const wh = randn(rng, R * C);
  const fork = new ForkOp(ctx, 'fork', dres, dbranch);
  const scale = new LayerScaleOp(ctx, 'ls', R, C, g, dg, h, branch, dres, dbranch);
  assertGradients('fork + layerscale + residual add', probeCase(ctx, [{ name: 'h', value: hSource, grad: dres }, { name: 'g', value: g, grad: dg }], {
    forward: () => {
      h.set(hSource);
      fork.forward();
      scale.forward();
      residualAdd(ctx, h, branch);
    },
    output: h,
    dOutput: dres,
    probe: wh,
    resetGradients: () => {
      dbranch.fill(NaN);
      dg.fill(0);
    },
  }));
});
