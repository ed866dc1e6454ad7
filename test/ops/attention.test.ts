import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttentionShape, Kernels } from '../../src/kernels/types.js';
import { fp8Format, type FloatFormat } from '../../src/numerics/formats.js';
import { decodeFp8Scalar, encodeFp8Scalar } from '../../src/numerics/fp8.js';
import { resolvePrecision, type ScalingRole } from '../../src/numerics/recipe.js';
import { ScalingState } from '../../src/numerics/scaling.js';
import { OpContext } from '../../src/ops/context.js';
import type { CastInfo } from '../../src/ops/monitor.js';
import { backends } from '../kernels/backends.js';
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

// ---- FP8DPA (DESIGN §3) --------------------------------------------------------------------------

const FP8_SHAPE: AttentionShape = { B: 2, T: 24, Hq: 4, Hkv: 2, D: 8, softmaxScale: 0.35 };
/** Power-of-two scales, so "value × scale is an FP8 number" can be checked exactly. */
const POW2_SCALES: Record<ScalingRole, number> = { input: 1, weight: 1, grad_output: 1, qkv: 32, p: 256, o: 64, do: 2 ** 12, ds: 2 ** 16, dqkv: 2 ** 13 };
const FP8_ROLES = ['qkv', 'p', 'o', 'do', 'ds', 'dqkv'] as const;

/** An fp8-delayed context whose six attention slots ('attn.<role>') start at POW2_SCALES. */
function fp8Context(kernels: Kernels): OpContext {
  const recipe = resolvePrecision('fp8-delayed');
  const saved = new ScalingState(recipe).toJSON();
  saved.slots = FP8_ROLES.map((role) => ({ key: `attn.${role}`, role, scale: POW2_SCALES[role], amaxHistory: new Array<number>(recipe.amaxHistoryLen).fill(0) }));
  return new OpContext(kernels, recipe, ScalingState.fromJSON(recipe, saved));
}

function fp8Inputs(seed: number) {
  const { B, T, Hq, Hkv, D } = FP8_SHAPE;
  const rng = new Rng(seed, 1);
  const f32 = (n: number, scale: number) => Float32Array.from(randn(rng, n), (x) => x * scale);
  return { q: f32(B * T * Hq * D, 1), k: f32(B * T * Hkv * D, 1), v: f32(B * T * Hkv * D, 1), dO: f32(B * T * Hq * D, 1e-3) };
}

function runFp8Op(kernels: Kernels, x: ReturnType<typeof fp8Inputs>) {
  const ctx = fp8Context(kernels);
  const casts: CastInfo[] = [];
  ctx.monitor = { tensor: () => {}, cast: (info) => casts.push(info), maxLogit: () => {} };
  const q = x.q.slice();
  const k = x.k.slice();
  const v = x.v.slice();
  const o = new Float32Array(q.length);
  const dO = x.dO.slice();
  const dq = new Float32Array(q.length).fill(NaN);
  const dk = new Float32Array(k.length).fill(NaN);
  const dv = new Float32Array(k.length).fill(NaN);
  const op = new AttentionOp(ctx, 0, 'attn', FP8_SHAPE, q, k, v, o, dO, dq, dk, dv);
  op.forward();
  op.backward();
  return { o, dq, dk, dv, casts };
}

/** Independent fake-quantizer (the numerics codec, not the kernels): decode(encode(x·s))/s in float64. */
function fq(x: number, format: FloatFormat, scale: number): number {
  return decodeFp8Scalar(encodeFp8Scalar(Math.fround(x * scale), format), format) / scale;
}

/**
 * Float64 oracle of FP8DPA with the POW2_SCALES, written from DESIGN §3: Q̂ K̂ V̂ shared scale,
 * P̂ in O = P̂·V̂, Ô cast, dÔ cast, D = rowsum(dÔ ⊙ Ô), dP = dÔ·V̂ᵀ (cast only if castDp),
 * dŜ = fq(P ⊙ (dP − D)), dq/dk/dv from dŜ, P̂ and dÔ, then cast with the shared dQKV scale.
 */
function fp8Oracle(x: ReturnType<typeof fp8Inputs>, castDp: boolean) {
  const s = FP8_SHAPE;
  const { B, T, Hq, Hkv, D, softmaxScale } = s;
  const e4 = fp8Format('e4m3');
  const e5 = fp8Format('e5m2');
  const cast = (a: ArrayLike<number>, f: FloatFormat, sc: number) => Float64Array.from(a, (y) => fq(y, f, sc));
  const q = cast(x.q, e4, POW2_SCALES.qkv);
  const k = cast(x.k, e4, POW2_SCALES.qkv);
  const v = cast(x.v, e4, POW2_SCALES.qkv);
  const dO = cast(x.dO, e5, POW2_SCALES.do);
  const qi = (b: number, t: number, h: number) => ((b * T + t) * Hq + h) * D;
  const ki = (b: number, t: number, h: number) => ((b * T + t) * Hkv + Math.floor(h / (Hq / Hkv))) * D;
  const dotv = (a: Float64Array, ao: number, c: Float64Array, co: number) => {
    let sum = 0;
    for (let d = 0; d < D; d++) sum += a[ao + d] * c[co + d];
    return sum;
  };
  const P = (b: number, h: number, i: number) => {
    const logits = Array.from({ length: i + 1 }, (_, j) => softmaxScale * dotv(q, qi(b, i, h), k, ki(b, j, h)));
    const m = Math.max(...logits);
    const w = logits.map((z) => Math.exp(z - m));
    const sum = w.reduce((a, c) => a + c, 0);
    return w.map((z) => z / sum);
  };
  const o = new Float64Array(q.length);
  for (let b = 0; b < B; b++) for (let h = 0; h < Hq; h++) for (let i = 0; i < T; i++) {
    P(b, h, i).forEach((p, j) => {
      const pHat = fq(p, e4, POW2_SCALES.p);
      for (let d = 0; d < D; d++) o[qi(b, i, h) + d] += pHat * v[ki(b, j, h) + d];
    });
  }
  const oHat = cast(o, e4, POW2_SCALES.o);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(k.length);
  for (let b = 0; b < B; b++) for (let h = 0; h < Hq; h++) for (let i = 0; i < T; i++) {
    const Di = dotv(dO, qi(b, i, h), oHat, qi(b, i, h));
    P(b, h, i).forEach((p, j) => {
      let dp = dotv(dO, qi(b, i, h), v, ki(b, j, h));
      if (castDp) dp = fq(dp, e5, POW2_SCALES.ds);
      const dS = fq(p * (dp - Di), e5, POW2_SCALES.ds);
      const pHat = fq(p, e4, POW2_SCALES.p);
      for (let d = 0; d < D; d++) {
        dq[qi(b, i, h) + d] += softmaxScale * dS * k[ki(b, j, h) + d];
        dk[ki(b, j, h) + d] += softmaxScale * dS * q[qi(b, i, h) + d];
        dv[ki(b, j, h) + d] += pHat * dO[qi(b, i, h) + d];
      }
    });
  }
  return { o: oHat, dq: cast(dq, e5, POW2_SCALES.dqkv), dk: cast(dk, e5, POW2_SCALES.dqkv), dv: cast(dv, e5, POW2_SCALES.dqkv) };
}

function sqnrDb(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < expected.length; i++) {
    signal += expected[i] ** 2;
    noise += (actual[i] - expected[i]) ** 2;
  }
  return noise === 0 ? Infinity : 10 * Math.log10(signal / noise);
}

test('FP8DPA op: slots qkv, p, o, do, ds, dqkv, one cast each (Q/K/V and dQ/dK/dV under one scale each), HYBRID formats, no dP cast', async (t) => {
  const x = fp8Inputs(81);
  const { B, T, Hq, Hkv, D } = FP8_SHAPE;
  const nq = B * T * Hq * D;
  const nkv = B * T * Hkv * D;
  const causal = (B * Hq * T * (T + 1)) / 2;
  for (const kernels of await backends()) {
    await t.test(kernels.name, () => {
      const { casts } = runFp8Op(kernels, x);
      assert.deepEqual(casts.map((c) => c.role), ['qkv', 'p', 'o', 'do', 'ds', 'dqkv'], 'cast order forward → backward');
      const counts: Record<string, number> = { qkv: nq + 2 * nkv, p: causal, o: nq, do: nq, ds: causal, dqkv: nq + 2 * nkv };
      for (const c of casts) {
        assert.equal(c.gemm, 'attn.dpa');
        assert.equal(c.format, ['qkv', 'p', 'o'].includes(c.role) ? 'e4m3' : 'e5m2', c.role);
        assert.equal(c.scale, POW2_SCALES[c.role as ScalingRole], `${c.role} cast with its slot's scale`);
        assert.equal(c.count, counts[c.role], `${c.role} count`);
        assert.ok(c.stats.nonzero > 0, `${c.role} saw values`);
      }
    });
  }
});

test('FP8DPA op: O and dQ, dK, dV are handed on dequantized, exactly on the E4M3 / E5M2 grid of their scale', async (t) => {
  const x = fp8Inputs(82);
  for (const kernels of await backends()) {
    await t.test(kernels.name, () => {
      const r = runFp8Op(kernels, x);
      for (const [name, values, format, scale] of [
        ['o', r.o, 'e4m3', POW2_SCALES.o], ['dq', r.dq, 'e5m2', POW2_SCALES.dqkv], ['dk', r.dk, 'e5m2', POW2_SCALES.dqkv], ['dv', r.dv, 'e5m2', POW2_SCALES.dqkv],
      ] as const) {
        const f = fp8Format(format);
        let nonzero = 0;
        values.forEach((value, i) => {
          const scaled = value * scale; // exact: the scale is a power of two
          assert.equal(decodeFp8Scalar(encodeFp8Scalar(scaled, f), f), scaled, `${name}[${i}] = ${value}: ·${scale} is not ${format}`);
          if (value !== 0) nonzero++;
        });
        assert.ok(nonzero > values.length / 2, `${name}: ${nonzero}/${values.length} nonzero`);
      }
    });
  }
});

test('FP8DPA op: matches a float64 oracle of DESIGN §3 (dP not cast) and not the variant that casts dP', async (t) => {
  const x = fp8Inputs(83);
  const exact = fp8Oracle(x, false);
  const dpCast = fp8Oracle(x, true);
  for (const kernels of await backends()) {
    await t.test(kernels.name, () => {
      const r = runFp8Op(kernels, x);
      // Only float32-vs-float64 rounding that tips an FP8 rounding decision can differ.
      assert.ok(sqnrDb(r.o, exact.o) >= 45, `o: ${sqnrDb(r.o, exact.o).toFixed(1)} dB`);
      for (const name of ['dq', 'dk', 'dv'] as const) {
        const good = sqnrDb(r[name], exact[name]);
        const bad = sqnrDb(r[name], dpCast[name]);
        console.log(`# ${kernels.name} ${name}: ${good.toFixed(1)} dB vs oracle, ${bad.toFixed(1)} dB vs dP-cast variant`);
        assert.ok(good >= 40, `${name}: ${good.toFixed(1)} dB against the oracle`);
        if (name !== 'dv') assert.ok(bad <= good - 15, `${name}: ${bad.toFixed(1)} dB against the dP-cast variant (oracle ${good.toFixed(1)} dB)`);
      }
    });
  }
});
