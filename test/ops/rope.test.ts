import { test } from 'node:test';
import { Rng } from '../../src/model/rng.js';
import { RopeOp } from '../../src/ops/rope.js';
import { assertGradients, float64Context, probeCase, randn } from '../util/gradcheck.js';

for (const theta of [100, 500000]) {
  test(`RoPE in place, θ = ${theta} (float64): dx (the inverse rotation of dy) matches finite differences`, () => {
    const ctx = float64Context();
    const [B, T, H, D] = [2, 5, 3, 6];
    const n = B * T * H * D;
    const rng = new Rng(51, theta);
    const xSource = randn(rng, n); // (B, T, H, D)
    const buf = ctx.alloc(n); // x, rotated in place
    const grad = ctx.alloc(n); // dy, then dx in place
    const wy = randn(rng, n);
    const op = new RopeOp(ctx, 'rope', B, T, H, D, theta, null, buf, grad);
    assertGradients(`rope θ=${theta}`, probeCase(ctx, [{ name: 'x', value: xSource, grad }], {
      forward: () => {
        buf.set(xSource);
        op.forward();
      },
      output: buf,
      dOutput: grad,
      probe: wy,
    }));
  });
}
