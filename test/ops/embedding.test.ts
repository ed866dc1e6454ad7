import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/model/rng.js';
import { EmbeddingOp } from '../../src/ops/embedding.js';
import { assertGradients, float64Context, probeCase, randn } from '../util/gradcheck.js';

test('embedding with input scale (float64): dE matches finite differences of L = Σ h ⊙ w, repeated tokens summed, unused rows 0', () => {
  const ctx = float64Context();
  const R = 7;
  const C = 4;
  const V = 6;
  const scale = 50; // the FOG/OP input upscale 1/σ_init
  const rng = new Rng(31, 1);
  const table = randn(rng, V * C, 0.02); // (V, C)
  const dtable = ctx.alloc(V * C);
  const h = ctx.alloc(R * C);
  const dh = ctx.alloc(R * C);
  const wh = randn(rng, R * C); // loss weights (R, C)
  const tokens = Int32Array.from([3, 0, 3, 5, 1, 3, 0]); // row 2 unused; 3 and 0 repeat
  const op = new EmbeddingOp(ctx, R, C, V, scale, table, dtable, h, dh);
  const result = assertGradients('embedding', probeCase(ctx, [{ name: 'E', value: table, grad: dtable }], {
    forward: () => op.forward(tokens),
    output: h,
    dOutput: dh,
    probe: wh,
    resetGradients: () => dtable.fill(0), // accumulated
  }), { elements: V * C });
  for (let c = 0; c < C; c++) assert.equal(result.rows.find((r) => r.what === `element ${2 * C + c}`)?.analytic, 0);
});
