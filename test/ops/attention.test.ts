import { test } from 'node:test';
import type { AttentionShape } from '../../src/kernels/types.js';
import { Rng } from '../../src/model/rng.js';
import { AttentionOp } from '../../src/ops/attention.js';
import { assertGradients, float64Context, probeCase, randn } from '../util/gradcheck.js';

const shapes: AttentionShape[] = [
  { B: 2, T: 5, Hq: 4, Hkv: 2, D: 4, softmaxScale: 0.37 }, // GQA, 2 query heads per KV head
  { B: 1, T: 6, Hq: 3, Hkv: 1, D: 2, softmaxScale: 1.3 }, // MQA
];

for (const shape of shapes) {
  const { B, T, Hq, Hkv, D, softmaxScale } = shape;
  test(`causal attention, fp32 path, B=${B} T=${T} Hq=${Hq} Hkv=${Hkv} D=${D} scale=${softmaxScale} (float64): dq, dk, dv match finite differences`, () => {
    const ctx = float64Context();
    const nq = B * T * Hq * D;
    const nkv = B * T * Hkv * D;
    const rng = new Rng(61, Hkv);
    const q = randn(rng, nq); // (B, T, Hq, D)
    const k = randn(rng, nkv); // (B, T, Hkv, D)
    const v = randn(rng, nkv);
    const wo = randn(rng, nq); // loss weights on o
    const o = ctx.alloc(nq);
    const dO = ctx.alloc(nq);
    const dq = ctx.alloc(nq);
    const dk = ctx.alloc(nkv);
    const dv = ctx.alloc(nkv);
    const op = new AttentionOp(ctx, 0, 'attn', shape, q, k, v, o, dO, dq, dk, dv);
    assertGradients(`attention Hq=${Hq} Hkv=${Hkv} scale=${softmaxScale}`, probeCase(ctx, [{ name: 'q', value: q, grad: dq }, { name: 'k', value: k, grad: dk }, { name: 'v', value: v, grad: dv }], {
      forward: () => op.forward(),
      output: o,
      dOutput: dO,
      probe: wo,
      resetGradients: () => {
        for (const g of [dq, dk, dv]) g.fill(NaN); // overwritten
      },
    }));
  });
}
