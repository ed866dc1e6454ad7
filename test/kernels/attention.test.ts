import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends, onEveryNativePath } from './backends.js';
import { Rng, assertClose, finiteDifference, weightedSum } from './random.js';
import { fp8Format, type FloatFormat } from '../../src/numerics/formats.js';
import { encodeFp8Scalar, decodeFp8Scalar } from '../../src/numerics/fp8.js';
import type { AttentionFp8Scales, AttentionShape, CastStats, Kernels } from '../../src/kernels/types.js';
import { sqnrDb } from '../util/sqnr.js';
import { roundToBf16Scalar } from '../../src/numerics/bf16.js';
import { bf16AttentionInputs, fp8AttentionInputs, type AttentionTensors } from './attention-inputs.js';

const U = 2 ** -24;
const E4M3 = fp8Format('e4m3');
const E5M2 = fp8Format('e5m2');

const qIndex = (s: AttentionShape, b: number, t: number, h: number): number => ((b * s.T + t) * s.Hq + h) * s.D;
const kvIndex = (s: AttentionShape, b: number, t: number, h: number): number =>
  ((b * s.T + t) * s.Hkv + Math.floor(h / (s.Hq / s.Hkv))) * s.D;

function dot(x: ArrayLike<number>, xo: number, y: ArrayLike<number>, yo: number, D: number): number {
  let sum = 0;
  for (let d = 0; d < D; d++) sum += x[xo + d] * y[yo + d];
  return sum;
}

/** Naive O(T²) float64 causal GQA attention: o (B, T, Hq, D), lse (B, Hq, T), max logit over all pairs. */
function attention64(s: AttentionShape, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>) {
  const o = new Float64Array(s.B * s.T * s.Hq * s.D);
  const lse = new Float64Array(s.B * s.Hq * s.T);
  let maxLogit = -Infinity;
  for (let b = 0; b < s.B; b++) {
    for (let h = 0; h < s.Hq; h++) {
      for (let i = 0; i < s.T; i++) {
        const scores = Array.from({ length: s.T }, (_, j) => s.softmaxScale * dot(q, qIndex(s, b, i, h), k, kvIndex(s, b, j, h), s.D));
        maxLogit = Math.max(maxLogit, ...scores);
        const m = Math.max(...scores.slice(0, i + 1));
        const weights = scores.slice(0, i + 1).map((x) => Math.exp(x - m));
        const sum = weights.reduce((a, c) => a + c, 0);
        lse[(b * s.Hq + h) * s.T + i] = m + Math.log(sum);
        for (let j = 0; j <= i; j++) {
          for (let d = 0; d < s.D; d++) o[qIndex(s, b, i, h) + d] += (weights[j] / sum) * v[kvIndex(s, b, j, h) + d];
        }
      }
    }
  }
  return { o, lse, maxLogit };
}

/** Naive float64 backward (the textbook formulas), itself checked against finite differences below. */
function attentionBackward64(s: AttentionShape, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, dO: ArrayLike<number>) {
  const { o, lse } = attention64(s, q, k, v);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  for (let b = 0; b < s.B; b++) {
    for (let h = 0; h < s.Hq; h++) {
      for (let i = 0; i < s.T; i++) {
        const qi = qIndex(s, b, i, h);
        const Di = dot(dO, qi, o, qi, s.D);
        for (let j = 0; j <= i; j++) {
          const kj = kvIndex(s, b, j, h);
          const p = Math.exp(s.softmaxScale * dot(q, qi, k, kj, s.D) - lse[(b * s.Hq + h) * s.T + i]);
          const dS = p * (dot(dO, qi, v, kj, s.D) - Di);
          for (let d = 0; d < s.D; d++) {
            dq[qi + d] += s.softmaxScale * dS * k[kj + d];
            dk[kj + d] += s.softmaxScale * dS * q[qi + d];
            dv[kj + d] += p * dO[qi + d];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

function inputs(s: AttentionShape, seed: number) {
  const rng = new Rng(seed);
  const nq = s.B * s.T * s.Hq * s.D;
  const nkv = s.B * s.T * s.Hkv * s.D;
  return { q: rng.normals(nq), k: rng.normals(nkv), v: rng.normals(nkv), dO: rng.normals(nq) };
}

function run(kernels: Kernels, s: AttentionShape, x: AttentionTensors, fp8: AttentionFp8Scales | null) {
  const o = new Float32Array(x.q.length).fill(NaN);
  const lse = new Float32Array(s.B * s.Hq * s.T);
  const forward = kernels.attentionForward(x.q, x.k, x.v, o, lse, s, fp8);
  const dq = new Float32Array(x.q.length).fill(NaN);
  const dk = new Float32Array(x.k.length).fill(NaN);
  const dv = new Float32Array(x.v.length).fill(NaN);
  const backward = kernels.attentionBackward(x.q, x.k, x.v, o, lse, x.dO, dq, dk, dv, s, fp8);
  return { o, lse, dq, dk, dv, forward, backward };
}

test('attention fp32: the float64 oracle backward matches finite differences of the oracle forward', () => {
  const s: AttentionShape = { B: 1, T: 4, Hq: 2, Hkv: 1, D: 3, softmaxScale: 0.7 };
  const x = inputs(s, 40);
  const g = attentionBackward64(s, x.q, x.k, x.v, x.dO);
  const loss = (q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>): number => weightedSum(attention64(s, q, k, v).o, x.dO);
  assertClose(g.dq, finiteDifference((q) => loss(q, x.k, x.v), x.q, 1e-6), 1e-8, 1e-6, 'oracle dq');
  assertClose(g.dk, finiteDifference((k) => loss(x.q, k, x.v), x.k, 1e-6), 1e-8, 1e-6, 'oracle dk');
  assertClose(g.dv, finiteDifference((v) => loss(x.q, x.k, v), x.v, 1e-6), 1e-8, 1e-6, 'oracle dv');
});

test('attention fp32: forward and backward vs finite differences of a naive float64 attention (GQA)', async (t) => {
  const s: AttentionShape = { B: 2, T: 5, Hq: 4, Hkv: 2, D: 4, softmaxScale: 0.5 };
  const x = inputs(s, 41);
  const loss = (q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>): number => weightedSum(attention64(s, q, k, v).o, x.dO);
  const fd = {
    dq: finiteDifference((q) => loss(q, x.k, x.v), x.q, 1e-5),
    dk: finiteDifference((k) => loss(x.q, k, x.v), x.k, 1e-5),
    dv: finiteDifference((v) => loss(x.q, x.k, v), x.v, 1e-5),
  };
  const oracle = attention64(s, x.q, x.k, x.v);
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const r = run(k, s, x, null);
      assertClose(r.o, oracle.o, 1e-6, 1e-5, 'o');
      assertClose(r.lse, oracle.lse, 1e-6, 1e-6, 'lse');
      assert.ok(Math.abs(r.forward.maxLogit - oracle.maxLogit) <= 1e-6 * Math.abs(oracle.maxLogit), 'maxLogit');
      assert.equal(r.forward.p, undefined);
      assertClose(r.dq, fd.dq, 1e-5, 1e-4, 'dq');
      assertClose(r.dk, fd.dk, 1e-5, 1e-4, 'dk');
      assertClose(r.dv, fd.dv, 1e-5, 1e-4, 'dv');
    });
  }
});

test('attention fp32: several key tiles (T = 70), maxLogit over masked pairs too', async (t) => {
  const s: AttentionShape = { B: 1, T: 70, Hq: 3, Hkv: 1, D: 8, softmaxScale: 0.35 };
  const x = inputs(s, 42);
  const oracle = attention64(s, x.q, x.k, x.v);
  const grads = attentionBackward64(s, x.q, x.k, x.v, x.dO);
  // Masked pairs alone: put the largest logit above the diagonal and check it is reported.
  let maskedMax = -Infinity;
  for (let h = 0; h < s.Hq; h++) {
    for (let i = 0; i < s.T; i++) {
      for (let j = i + 1; j < s.T; j++) maskedMax = Math.max(maskedMax, s.softmaxScale * dot(x.q, qIndex(s, 0, i, h), x.k, kvIndex(s, 0, j, h), s.D));
    }
  }
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const r = run(k, s, x, null);
      assertClose(r.o, oracle.o, 1e-6, 1e-5, 'o');
      assertClose(r.lse, oracle.lse, 1e-6, 1e-6, 'lse');
      assert.ok(Math.abs(r.forward.maxLogit - oracle.maxLogit) <= 1e-6 * Math.abs(oracle.maxLogit), 'maxLogit');
      assert.ok(r.forward.maxLogit >= maskedMax - 1e-5);
      assertClose(r.dq, grads.dq, 1e-5, 1e-4, 'dq');
      assertClose(r.dk, grads.dk, 1e-5, 1e-4, 'dk');
      assertClose(r.dv, grads.dv, 1e-5, 1e-4, 'dv');
    });
  }
});

// ---- FP8DPA: interval oracle -----------------------------------------------------------------
// Each quantity of the float64 oracle carries an interval that contains the value a correct
// float32 kernel may form (float32 roundoff bounds as noted); a fake-quantizing cast is monotone,
// so it maps [lo, hi] to [fq(lo), fq(hi)]. Away from rounding midpoints the interval collapses
// to one FP8 value, so a missing, extra or misplaced cast is caught; at a midpoint either is allowed.

type Interval = [number, number];

function fakeQuant(x: number, fmt: FloatFormat, scale: number): number {
  const s = Math.fround(scale);
  return Math.fround(decodeFp8Scalar(encodeFp8Scalar(Math.fround(x * s), fmt), fmt) * Math.fround(1 / s));
}
const fq = ([lo, hi]: Interval, fmt: FloatFormat, scale: number): Interval => [fakeQuant(lo, fmt, scale), fakeQuant(hi, fmt, scale)];
const widen = ([lo, hi]: Interval, e: number): Interval => [lo - e, hi + e];
const mag = ([lo, hi]: Interval): number => Math.max(Math.abs(lo), Math.abs(hi));
function product([a, b]: Interval, [c, d]: Interval): Interval {
  const all = [a * c, a * d, b * c, b * d];
  return [Math.min(...all), Math.max(...all)];
}

/** Bounds on CastStats: amax within [amaxLo, amaxHi], counts within [definite, possible]. */
class StatsBounds {
  amaxLo = 0;
  amaxHi = 0;
  underflow: Interval = [0, 0];
  overflow: Interval = [0, 0];
  nonzero: Interval = [0, 0];
  add(value: Interval, fmt: FloatFormat, scale: number): void {
    const [lo, hi] = value;
    const containsZero = lo <= 0 && hi >= 0;
    if (!containsZero) this.nonzero[0]++;
    if (lo !== 0 || hi !== 0) this.nonzero[1]++;
    this.amaxLo = Math.max(this.amaxLo, containsZero ? 0 : Math.min(Math.abs(lo), Math.abs(hi)));
    this.amaxHi = Math.max(this.amaxHi, mag(value));
    const [qlo, qhi] = fq(value, fmt, scale);
    if (!containsZero && qlo === 0 && qhi === 0) this.underflow[0]++;
    if (qlo <= 0 && qhi >= 0) this.underflow[1]++;
    if (!containsZero && Math.min(Math.abs(lo), Math.abs(hi)) * scale > fmt.maxFinite * (1 + 4 * U)) this.overflow[0]++;
    if (mag(value) * scale > fmt.maxFinite * (1 - 4 * U)) this.overflow[1]++;
  }
  check(stats: CastStats | undefined, what: string): void {
    assert.ok(stats !== undefined, `${what} stats returned`);
    assert.ok(stats.amax >= this.amaxLo * (1 - 1e-6) && stats.amax <= this.amaxHi * (1 + 1e-6), `${what}.amax ${stats.amax} in [${this.amaxLo}, ${this.amaxHi}]`);
    assert.ok(stats.underflow >= this.underflow[0] && stats.underflow <= this.underflow[1], `${what}.underflow ${stats.underflow} in [${this.underflow}]`);
    assert.ok(stats.overflow >= this.overflow[0] && stats.overflow <= this.overflow[1], `${what}.overflow ${stats.overflow} in [${this.overflow}]`);
    assert.ok(stats.nonzero >= this.nonzero[0] && stats.nonzero <= this.nonzero[1], `${what}.nonzero ${stats.nonzero} in [${this.nonzero}]`);
    assert.ok(stats.underflow <= stats.nonzero, `${what}: underflow counts only non-zero inputs`);
  }
}

/** Accumulates interval sums per output element with the magnitude used for the roundoff slack. */
class IntervalSum {
  lo: Float64Array;
  hi: Float64Array;
  magnitude: Float64Array;
  constructor(n: number, readonly terms: number) {
    this.lo = new Float64Array(n);
    this.hi = new Float64Array(n);
    this.magnitude = new Float64Array(n);
  }
  add(index: number, [lo, hi]: Interval): void {
    this.lo[index] += lo;
    this.hi[index] += hi;
    this.magnitude[index] += Math.max(Math.abs(lo), Math.abs(hi));
  }
  /** Asserts actual[i] ∈ [lo, hi] ± (terms + 3)·u·Σ|term| (float32 accumulation of `terms` terms). */
  check(actual: Float32Array, what: string): void {
    for (let i = 0; i < actual.length; i++) {
      const slack = (this.terms + 3) * U * this.magnitude[i] + 1e-30;
      if (!(actual[i] >= this.lo[i] - slack && actual[i] <= this.hi[i] + slack)) {
        assert.fail(`${what}[${i}] = ${actual[i]} outside [${this.lo[i]}, ${this.hi[i]}] ± ${slack}`);
      }
    }
  }
}

function logitInterval(s: AttentionShape, x: { q: ArrayLike<number>; k: ArrayLike<number> }, b: number, i: number, j: number, h: number, valueUlps = 1): Interval {
  const qi = qIndex(s, b, i, h);
  const kj = kvIndex(s, b, j, h);
  let absSum = 0;
  for (let d = 0; d < s.D; d++) absSum += Math.abs(x.q[qi + d] * x.k[kj + d]);
  const value = s.softmaxScale * dot(x.q, qi, x.k, kj, s.D);
  return widen([value, value], (s.D + 3) * U * Math.abs(s.softmaxScale) * absSum + valueUlps * U * Math.abs(value));
}

/** exp(S − lse) as an interval, with float32 rounding of the result. */
function pInterval(S: Interval, lse: Interval): Interval {
  return [Math.exp(S[0] - lse[1]) * (1 - 2 * U), Math.exp(S[1] - lse[0]) * (1 + 2 * U)];
}

const bf16Interval = ([lo, hi]: Interval): Interval => [roundToBf16Scalar(lo), roundToBf16Scalar(hi)];

// The cast modes take FP8 (or BF16) values and apply the inverse scales to their accumulators
// (types.ts AttentionFp8Scales): the oracle works on the values those inputs stand for (value ·
// inverse scale, exact in float64). The scale constants add a few roundings: 4u on S and dP.
const CAST_CASES = [
  { mode: 'fp8', s: { B: 1, T: 40, Hq: 4, Hkv: 2, D: 8, softmaxScale: 0.5 }, scales: { p: 1, ds: 1 }, seed: 43 },
  { mode: 'fp8', s: { B: 1, T: 40, Hq: 4, Hkv: 2, D: 8, softmaxScale: 0.5 }, scales: { p: 600, ds: 1e6 }, seed: 43 },
  // two query/key tiles of 64 with a partial last one, odd D, three query heads per kv head
  { mode: 'fp8', s: { B: 1, T: 100, Hq: 3, Hkv: 1, D: 5, softmaxScale: 0.6 }, scales: { p: 448, ds: 3e5 }, seed: 46 },
  { mode: 'bf16', s: { B: 1, T: 40, Hq: 4, Hkv: 2, D: 8, softmaxScale: 0.5, bf16Operands: true }, scales: null, seed: 43 },
  { mode: 'bf16', s: { B: 1, T: 100, Hq: 3, Hkv: 1, D: 5, softmaxScale: 0.6, bf16Operands: true }, scales: null, seed: 46 },
] as const;

for (const c of CAST_CASES) {
  const label = `${c.mode === 'fp8' ? 'FP8DPA' : 'BF16'} T = ${c.s.T}, D = ${c.s.D}, Hq/Hkv = ${c.s.Hq}/${c.s.Hkv}${c.scales ? ` scales ${JSON.stringify(c.scales)}` : ''}`;
  test(`attention ${label}: forward and backward inside the interval oracle (float32 accumulation bound), cast stats bounded`, async (t) => {
    const s: AttentionShape = { ...c.s };
    const inp = c.mode === 'fp8' ? fp8AttentionInputs(s, c.seed) : bf16AttentionInputs(s, c.seed);
    const x = inp.real;
    const fp8: AttentionFp8Scales | null = c.scales === null ? null : { ...c.scales, qkvInv: inp.qkvInv, doInv: inp.doInv };
    const castP = (p: Interval): Interval => (c.scales === null ? bf16Interval(p) : fq(p, E4M3, c.scales.p));
    const castDs = (d: Interval): Interval => (c.scales === null ? bf16Interval(d) : fq(d, E5M2, c.scales.ds));
    const exact = attention64(s, x.q, x.k, x.v);
    for (const k of await backends()) {
      await t.test(k.name, () => {
        const r = run(k, s, inp.values, fp8);
        // Forward: P from the exact lse (the kernel's lse is within its float32 bound of it).
        const o = new IntervalSum(r.o.length, s.T);
        const pStats = new StatsBounds();
        for (let h = 0; h < s.Hq; h++) {
          for (let i = 0; i < s.T; i++) {
            const logits = Array.from({ length: i + 1 }, (_, j) => logitInterval(s, x, 0, i, j, h, 4));
            const lseValue = exact.lse[h * s.T + i];
            const lseSlack = Math.max(...logits.map(([lo, hi]) => (hi - lo) / 2)) + 2 * U * Math.abs(lseValue);
            assert.ok(Math.abs(r.lse[h * s.T + i] - lseValue) <= lseSlack + 1e-7, `lse[${h}, ${i}]`);
            for (let j = 0; j <= i; j++) {
              const p = pInterval(logits[j], widen([lseValue, lseValue], lseSlack));
              if (c.scales !== null) pStats.add(p, E4M3, c.scales.p);
              const pHat = castP(p);
              for (let d = 0; d < s.D; d++) o.add(qIndex(s, 0, i, h) + d, product(pHat, [x.v[kvIndex(s, 0, j, h) + d], x.v[kvIndex(s, 0, j, h) + d]]));
            }
          }
        }
        o.check(r.o, 'o');
        if (c.scales !== null) pStats.check(r.forward.p, 'p');
        else assert.equal(r.forward.p, undefined, 'BF16 attention reports no cast stats');
        assert.ok(Math.abs(r.forward.maxLogit - exact.maxLogit) <= 1e-5 * Math.abs(exact.maxLogit), 'maxLogit');

        // Backward: P recomputed from the kernel's own lse (exact input here), its o for D.
        const dq = new IntervalSum(r.dq.length, s.T);
        const dk = new IntervalSum(r.dk.length, s.T * (s.Hq / s.Hkv));
        const dv = new IntervalSum(r.dv.length, s.T * (s.Hq / s.Hkv));
        const dsStats = new StatsBounds();
        for (let h = 0; h < s.Hq; h++) {
          for (let i = 0; i < s.T; i++) {
            const qi = qIndex(s, 0, i, h);
            let dAbs = 0;
            for (let d = 0; d < s.D; d++) dAbs += Math.abs(x.dO[qi + d] * r.o[qi + d]);
            const Dvalue = dot(x.dO, qi, r.o, qi, s.D);
            const Di = widen([Dvalue, Dvalue], (s.D + 3) * U * dAbs);
            const lse = r.lse[h * s.T + i];
            for (let j = 0; j <= i; j++) {
              const kj = kvIndex(s, 0, j, h);
              const p = pInterval(logitInterval(s, x, 0, i, j, h, 4), [lse, lse]);
              let dpAbs = 0;
              for (let d = 0; d < s.D; d++) dpAbs += Math.abs(x.dO[qi + d] * x.v[kj + d]);
              const dpValue = dot(x.dO, qi, x.v, kj, s.D);
              // dP is not cast (DESIGN §3): only its float32 accumulation error (and scale) enters.
              const dp = widen([dpValue, dpValue], (s.D + 3) * U * dpAbs + 4 * U * Math.abs(dpValue));
              const diff: Interval = [dp[0] - Di[1], dp[1] - Di[0]];
              const dS = widen(product(p, widen(diff, U * mag(diff))), 2 * U * mag(product(p, diff)));
              if (c.scales !== null) dsStats.add(dS, E5M2, c.scales.ds);
              const dSHat = castDs(dS);
              const pHat = castP(p);
              for (let d = 0; d < s.D; d++) {
                dq.add(qi + d, product(dSHat, [s.softmaxScale * x.k[kj + d], s.softmaxScale * x.k[kj + d]]));
                dk.add(kj + d, product(dSHat, [s.softmaxScale * x.q[qi + d], s.softmaxScale * x.q[qi + d]]));
                dv.add(kj + d, product(pHat, [x.dO[qi + d], x.dO[qi + d]]));
              }
            }
          }
        }
        dq.check(r.dq, 'dq');
        dk.check(r.dk, 'dk');
        dv.check(r.dv, 'dv');
        if (c.scales === null) {
          assert.deepEqual(r.backward, {}, 'BF16 attention reports no cast stats');
          return;
        }
        assert.deepEqual(Object.keys(r.backward), ['ds'], 'the backward reports the dS cast only (dP is not cast)');
        dsStats.check(r.backward.ds, 'ds');
        if (k.name === 'reference' && c.scales.p !== 448) {
          // The chosen scales make the counts non-trivial (deterministic inputs, reference backend).
          const counts = [r.forward.p, r.backward.ds].map((st) => [st?.underflow ?? 0, st?.overflow ?? 0]);
          assert.ok(counts.flat().filter((n) => n > 0).length >= 2, `cast counts exercised: ${JSON.stringify(counts)}`);
        }
      });
    }
  });
}

test('attention: options.maxLogit false skips the max logit (NaN) and leaves o, lse and P stats unchanged', async (t) => {
  const s0: AttentionShape = { B: 1, T: 70, Hq: 2, Hkv: 1, D: 8, softmaxScale: 0.35 };
  const x = inputs(s0, 44);
  for (const k of await backends()) {
    for (const [mode, fp8] of [['fp32', null], ['FP8DPA', { p: 448, ds: 1 }], ['BF16', null]] as const) {
      const s = { ...s0, bf16Operands: mode === 'BF16' };
      await t.test(`${k.name} ${mode}`, () => {
        const run1 = (options?: { maxLogit?: boolean }) => {
          const o = new Float32Array(x.q.length);
          const lse = new Float32Array(s.B * s.Hq * s.T);
          const stats = k.attentionForward(x.q, x.k, x.v, o, lse, s, fp8, options);
          return { o, lse, stats };
        };
        const full = run1();
        const explicit = run1({ maxLogit: true });
        const skipped = run1({ maxLogit: false });
        assert.ok(Number.isFinite(full.stats.maxLogit));
        assert.equal(explicit.stats.maxLogit, full.stats.maxLogit);
        assert.ok(Number.isNaN(skipped.stats.maxLogit), 'maxLogit NaN when not requested');
        assert.deepEqual(skipped.o, full.o);
        assert.deepEqual(skipped.lse, full.lse);
        assert.deepEqual(skipped.stats.p, full.stats.p);
        const o = new Float32Array(x.q.length);
        const lse = new Float32Array(s.B * s.Hq * s.T);
        // @ts-expect-error: a wrong option type must throw, not be ignored
        assert.throws(() => k.attentionForward(x.q, x.k, x.v, o, lse, s, fp8, { maxLogit: 1 }), (e: unknown) => e instanceof TypeError && /options\.maxLogit/.test(e.message));
      });
    }
  }
});

test('attention FP8DPA: native matches the reference (several 64-key tiles, GQA, partial last tile)', async (t) => {
  const all = await backends();
  const reference = all.find((k) => k.name === 'reference') as Kernels;
  const s: AttentionShape = { B: 2, T: 150, Hq: 4, Hkv: 2, D: 40, softmaxScale: 0.16 };
  const inp = fp8AttentionInputs(s, 45);
  const x = inp.values;
  const scales: AttentionFp8Scales = { p: 448, ds: 2 ** 17 * 3.7, qkvInv: inp.qkvInv, doInv: inp.doInv };
  const expected = run(reference, s, x, scales);
  for (const k of all.filter((b) => b.name !== 'reference')) {
    await t.test(k.name, () => {
      const r = run(k, s, x, scales);
      // Float32 summation order differs (tiles vs rows), which may tip a rare FP8 rounding of P or dS.
      for (const name of ['o', 'dq', 'dk', 'dv'] as const) {
        const db = sqnrDb(expected[name], r[name]);
        assert.ok(db >= 60, `${name}: ${db.toFixed(1)} dB native vs reference`);
      }
      assertClose(r.lse, expected.lse, 1e-6, 1e-6, 'lse');
      for (const [name, a, e] of [['p', r.forward.p, expected.forward.p], ['ds', r.backward.ds, expected.backward.ds]] as const) {
        assert.ok(a !== undefined && e !== undefined, name);
        assert.ok(Math.abs(a.amax - e.amax) <= 1e-5 * e.amax, `${name} amax ${a.amax} vs ${e.amax}`);
        for (const field of ['underflow', 'overflow', 'nonzero'] as const) {
          assert.ok(Math.abs(a[field] - e[field]) <= 1e-3 * e.nonzero + 2, `${name}.${field} ${a[field]} vs ${e[field]}`);
        }
        // The error sums of the in-kernel casts: same pass, both backends; P differs by float32 exp
        // and summation order only, which may tip a rare rounding, so errSq and lostAbs get 1 %.
        for (const [field, tol] of [['sumSq', 1e-5], ['absSum', 1e-5], ['errSq', 1e-2], ['lostAbs', 1e-2]] as const) {
          const av = a[field];
          const ev = e[field];
          assert.ok(typeof av === 'number' && typeof ev === 'number' && (ev > 0 || field === 'lostAbs'), `${name}.${field} reported (${av}, ${ev})`);
          assert.ok(Math.abs(av - ev) <= tol * ev, `${name}.${field} ${av} vs ${ev}`);
        }
      }
    });
  }
});

test('attention FP8DPA: the P cast\'s error sums equal an independent recomputation from the forward\'s P', async (t) => {
  const s: AttentionShape = { B: 1, T: 20, Hq: 2, Hkv: 1, D: 8, softmaxScale: 2 }; // sharp: many P underflow
  const inp = fp8AttentionInputs(s, 7);
  const x = inp.real;
  const scales: AttentionFp8Scales = { p: 1, ds: 2 ** 15, qkvInv: inp.qkvInv }; // scale 1: P below 2^-10 underflows E4M3
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const r = run(k, s, inp.values, scales);
      // P in float64 from q, k and the kernel's own lse; fake-quantize with the scalar codec.
      const E4M3 = fp8Format('e4m3');
      const inv = Math.fround(1 / Math.fround(scales.p));
      let sumSq = 0, errSq = 0, absSum = 0, lostAbs = 0;
      for (let h = 0; h < s.Hq; h++) for (let i = 0; i < s.T; i++) for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let d = 0; d < s.D; d++) dot += x.q[(i * s.Hq + h) * s.D + d] * x.k[(j * s.Hkv + 0) * s.D + d];
        const p = Math.fround(Math.exp(s.softmaxScale * dot - r.lse[h * s.T + i]));
        const code = encodeFp8Scalar(Math.fround(p * Math.fround(scales.p)), E4M3);
        const pHat = Math.fround(decodeFp8Scalar(code, E4M3) * inv);
        sumSq += p * p;
        errSq += (p - pHat) ** 2;
        absSum += p;
        if ((code & 0x7f) === 0) lostAbs += p;
      }
      const st = r.forward.p!;
      assert.ok(Math.abs(st.sumSq! - sumSq) <= 1e-5 * sumSq, `sumSq ${st.sumSq} vs ${sumSq}`);
      assert.ok(Math.abs(st.absSum! - absSum) <= 1e-5 * absSum, `absSum ${st.absSum} vs ${absSum}`);
      assert.ok(Math.abs(st.errSq! - errSq) <= 2e-2 * errSq, `errSq ${st.errSq} vs ${errSq}`);
      assert.ok(lostAbs > 0 && Math.abs(st.lostAbs! - lostAbs) <= 2e-2 * lostAbs, `lostAbs ${st.lostAbs} vs ${lostAbs}`);
    });
  }
});

// The AVX-512 FP8DPA kernels take interior tiles (every pair formed) on a shorter path when all of
// their P and dS are finite and no dS cast overflows, and hand any other tile to the full path;
// FOG8_ATTENTION_FULL_PATH=1 turns the shorter path off. Both must give the same bits: for plain
// inputs, for scales that make P and dS casts overflow, and with an inf and a NaN in interior tiles.
test('attention FP8DPA: the interior-tile fast paths give the full path\'s bits (overflow, inf, NaN too)', async (t) => {
  const s: AttentionShape = { B: 1, T: 200, Hq: 4, Hkv: 2, D: 16, softmaxScale: 0.25 };
  const inp = fp8AttentionInputs(s, 91, 2);
  const plain: AttentionFp8Scales = { p: 448, ds: 2 ** 16, qkvInv: inp.qkvInv, doInv: inp.doInv };
  const overflowing: AttentionFp8Scales = { ...plain, p: 4096, ds: 2 ** 26 };
  const poisoned = { ...inp.values, q: inp.values.q.slice(), k: inp.values.k.slice() };
  poisoned.q[(150 * s.Hq + 1) * s.D + 3] = NaN; // query 150 (tile 2) against key tiles 0 and 1
  poisoned.k[(20 * s.Hkv + 0) * s.D + 5] = Infinity; // key 20 (tile 0) for queries 64…
  const cases = [['plain', inp.values, plain], ['overflowing', inp.values, overflowing], ['inf and NaN', poisoned, plain]] as const;
  const flat = (r: ReturnType<typeof run>) => [r.o, r.lse, r.dq, r.dk, r.dv].flatMap((x) => Array.from(x));
  const skip = await onEveryNativePath((native, label) => {
    for (const [name, x, scales] of cases) {
      const fast = run(native, s, x, scales);
      process.env.FOG8_ATTENTION_FULL_PATH = '1';
      let full: ReturnType<typeof run>;
      try {
        full = run(native, s, x, scales);
      } finally {
        delete process.env.FOG8_ATTENTION_FULL_PATH;
      }
      const a = flat(fast), b = flat(full);
      for (let i = 0; i < b.length; i++) assert.ok(Object.is(a[i], b[i]), `${label} ${name}: element ${i} ${a[i]} vs ${b[i]}`);
      assert.deepEqual(fast.forward, full.forward, `${label} ${name}: P stats`);
      assert.deepEqual(fast.backward, full.backward, `${label} ${name}: dS stats`);
      if (name === 'overflowing') assert.ok(fast.forward.p!.overflow > 0 && fast.backward.ds!.overflow > 0, `${label}: the scales overflow`);
    }
  });
  if (skip) t.skip(skip);
});

// Causality holds for non-finite values too: masked pairs (key after query) are never formed, so an
// inf or NaN at position t cannot reach what position t does not feed — O, lse and dQ of the rows
// i < t (K, V poisoned) or i ≠ t (Q, dO poisoned), and dK, dV of the keys j > t (Q, dO poisoned:
// only queries i ≥ j reach key j). Forming the masked pairs as 0·x would give NaN there, within
// the diagonal tile only. t covers both parities (the BF16 pair layouts pair 2p with 2p + 1), the
// first and a partial diagonal tile; every other element must keep its clean bits.
test('attention: inf / NaN at a position never reaches the outputs it does not feed (every backend and native path)', async (t) => {
  const s0: AttentionShape = { B: 1, T: 100, Hq: 4, Hkv: 2, D: 8, softmaxScale: 0.3 };
  const fp8In = fp8AttentionInputs(s0, 61);
  const modes = [
    ['fp32', inputs(s0, 60), null, false],
    ['FP8DPA', fp8In.values, { p: 448, ds: 2 ** 15, qkvInv: fp8In.qkvInv, doInv: fp8In.doInv }, false],
    ['BF16', bf16AttentionInputs(s0, 62).values, null, true],
  ] as const;
  const rowsOf = (x: Float32Array, rowLength: number, keep: (row: number) => boolean) => {
    const kept: number[] = [];
    for (let i = 0; i < x.length; i++) if (keep(Math.floor(i / rowLength) % s0.T)) kept.push(x[i]);
    return kept;
  };
  const sameBits = (got: number[], want: number[], what: string) => {
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) {
      assert.ok(Number.isFinite(got[i]), `${what}[${i}] = ${got[i]}`);
      assert.ok(Object.is(got[i], want[i]), `${what}[${i}] = ${got[i]}, clean ${want[i]}`);
    }
  };
  const check = (k: Kernels, label: string) => {
    for (const [mode, x, fp8, bf16Operands] of modes) {
      const s = { ...s0, bf16Operands };
      const clean = run(k, s, x, fp8);
      for (const tensor of ['k', 'v', 'q', 'dO'] as const) {
        for (const pos of [5, 6, 70, 71]) {
          for (const bad of [Infinity, NaN]) {
            const poisoned = { ...x, [tensor]: x[tensor].slice() };
            const heads = tensor === 'q' || tensor === 'dO' ? s.Hq : s.Hkv;
            poisoned[tensor].fill(bad, pos * heads * s.D, (pos + 1) * heads * s.D);
            const r = run(k, s, poisoned, fp8);
            const what = `${label} ${mode} ${tensor}[${pos}] = ${bad}`;
            const rowQ = s.Hq * s.D, rowKv = s.Hkv * s.D;
            const keyed = tensor === 'k' || tensor === 'v';
            const rows = keyed ? (i: number) => i < pos : (i: number) => i !== pos;
            sameBits(rowsOf(r.o, rowQ, rows), rowsOf(clean.o, rowQ, rows), `${what}: o`);
            sameBits(rowsOf(r.lse, 1, rows), rowsOf(clean.lse, 1, rows), `${what}: lse`); // (B, Hq, T)
            sameBits(rowsOf(r.dq, rowQ, rows), rowsOf(clean.dq, rowQ, rows), `${what}: dq`);
            if (!keyed) {
              const later = (j: number) => j > pos;
              sameBits(rowsOf(r.dk, rowKv, later), rowsOf(clean.dk, rowKv, later), `${what}: dk`);
              sameBits(rowsOf(r.dv, rowKv, later), rowsOf(clean.dv, rowKv, later), `${what}: dv`);
            }
          }
        }
      }
    }
  };
  const reference = (await backends()).find((k) => k.name === 'reference') as Kernels;
  await t.test('reference', () => check(reference, 'reference'));
  await t.test('native', async (t2) => {
    const skip = await onEveryNativePath((native, label) => check(native, label));
    if (skip) t2.skip(skip);
  });
});
