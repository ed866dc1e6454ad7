import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttentionBackwardStats, AttentionForwardStats, AttentionFp8Scales, AttentionShape, Fp8Codes, Kernels } from '../../src/kernels/types.js';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { Rng, assertClose } from './random.js';
import { bf16AttentionInputs, fp8AttentionInputs, type AttentionTensors } from './attention-inputs.js';

// Native-only properties of the fused kernels (the backend-generic parity tests live beside this
// file): results independent of the thread count, every ISA path agreeing with the reference,
// and the addon's own argument checks (called without withValidation) throwing instead of crashing.

interface NativeControl {
  bestIsa(): string;
  isa(): string;
  setIsa(isa: string): void;
  threads(): number;
  setThreads(n: number): void;
}

async function loadNative(): Promise<{ kernels: Kernels; control: NativeControl } | string> {
  const specifier = '../../src/kernels/native.js';
  try {
    const module = (await import(specifier)) as { loadNativeKernels(): Kernels; loadNativeAddon(): NativeControl };
    return { kernels: module.loadNativeKernels(), control: module.loadNativeAddon() };
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const native = await loadNative();
const skip = typeof native === 'string' ? `native addon unavailable: ${native}` : false;
const ISAS = ['scalar', 'avx2', 'avx512bf16'];

/** The ISA paths this CPU can run, lowest first. */
function runnableIsas(control: NativeControl): string[] {
  return ISAS.slice(0, ISAS.indexOf(control.bestIsa()) + 1);
}

/** Runs fn with the pool at `threads` threads and the given ISA, restoring both afterwards. */
function withSettings<T>(control: NativeControl, threads: number, isa: string, fn: () => T): T {
  const savedThreads = control.threads();
  const savedIsa = control.isa();
  control.setThreads(threads);
  control.setIsa(isa);
  try {
    return fn();
  } finally {
    control.setThreads(savedThreads);
    control.setIsa(savedIsa);
  }
}

/**
 * Element-wise identity with Object.is (−0 ≠ +0, every NaN equal): the reference's NaN payloads
 * depend on whether V8 has optimised the function yet, so byte equality would flake on NaN lanes.
 */
function assertSameValues(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) assert.fail(`${what}: [${i}] = ${got[i]}, expected ${want[i]}`);
  }
}

function attentionInputs(s: AttentionShape, seed: number) {
  const rng = new Rng(seed);
  const nq = s.B * s.T * s.Hq * s.D;
  const nkv = s.B * s.T * s.Hkv * s.D;
  return { q: rng.normals(nq, 1.5), k: rng.normals(nkv, 1.5), v: rng.normals(nkv), dO: rng.normals(nq) };
}

interface AttentionRun {
  o: Float32Array; lse: Float32Array; dq: Float32Array; dk: Float32Array; dv: Float32Array;
  forward: AttentionForwardStats; backward: AttentionBackwardStats;
}

function runAttention(k: Kernels, s: AttentionShape, x: AttentionTensors, fp8: AttentionFp8Scales | null): AttentionRun {
  const nq = x.q.length;
  const nkv = x.k.length;
  const o = new Float32Array(nq);
  const lse = new Float32Array(s.B * s.Hq * s.T);
  const forward = k.attentionForward(x.q, x.k, x.v, o, lse, s, fp8);
  const dq = new Float32Array(nq).fill(NaN);
  const dk = new Float32Array(nkv).fill(NaN);
  const dv = new Float32Array(nkv).fill(NaN);
  const backward = k.attentionBackward(x.q, x.k, x.v, o, lse, x.dO, dq, dk, dv, s, fp8);
  return { o, lse, dq, dk, dv, forward, backward };
}

// Several query and key tiles (64), a partial last tile, D not a multiple of the vector width, GQA.
const SHAPE: AttentionShape = { B: 2, T: 150, Hq: 4, Hkv: 2, D: 40, softmaxScale: 0.16 };
const FP8: AttentionFp8Scales = { p: 448, ds: 3e5 };

/** The three modes on SHAPE: fp32, FP8DPA (FP8 values + inverse scales), BF16 (BF16 values). */
function attentionModes(seed: number) {
  const f = fp8AttentionInputs(SHAPE, seed, 1.5);
  return [
    { mode: 'fp32', s: SHAPE, x: attentionInputs(SHAPE, seed), fp8: null },
    { mode: 'FP8DPA', s: SHAPE, x: f.values, fp8: { ...FP8, qkvInv: f.qkvInv, doInv: f.doInv } },
    { mode: 'BF16', s: { ...SHAPE, bf16Operands: true }, x: bf16AttentionInputs(SHAPE, seed, 1.5).values, fp8: null },
  ] as const;
}

test('native attention: 1 and 2 threads give bit-identical outputs and stats (fp32, FP8DPA, BF16; every ISA)', { skip }, () => {
  if (typeof native === 'string') return;
  const { kernels, control } = native;
  for (const isa of runnableIsas(control)) {
    for (const { mode, s, x, fp8 } of attentionModes(71)) {
      const one = withSettings(control, 1, isa, () => runAttention(kernels, s, x, fp8));
      const two = withSettings(control, 2, isa, () => runAttention(kernels, s, x, fp8));
      assert.deepEqual(two, one, `${isa} ${mode}`);
      assert.ok(one.dq.every(Number.isFinite) && one.dk.every(Number.isFinite) && one.dv.every(Number.isFinite), 'all gradients written');
    }
  }
});

test('native attention: every ISA path matches the reference (fp32 closely, FP8DPA and BF16 to ≥ 60 dB)', { skip }, () => {
  if (typeof native === 'string') return;
  const [fp32Mode, fp8Mode, bf16Mode] = attentionModes(72);
  const x = fp32Mode.x;
  const expected = runAttention(createReferenceKernels(), SHAPE, x, null);
  const expectedFp8 = runAttention(createReferenceKernels(), fp8Mode.s, fp8Mode.x, fp8Mode.fp8);
  const expectedBf16 = runAttention(createReferenceKernels(), bf16Mode.s, bf16Mode.x, bf16Mode.fp8);
  for (const isa of runnableIsas(native.control)) {
    const r = withSettings(native.control, 2, isa, () => runAttention(native.kernels, SHAPE, x, null));
    assertClose(r.o, expected.o, 1e-6, 1e-5, `${isa} o`);
    assertClose(r.lse, expected.lse, 1e-6, 1e-6, `${isa} lse`);
    assert.ok(Math.abs(r.forward.maxLogit - expected.forward.maxLogit) <= 1e-6 * Math.abs(expected.forward.maxLogit), `${isa} maxLogit`);
    assertClose(r.dq, expected.dq, 1e-5, 1e-4, `${isa} dq`);
    assertClose(r.dk, expected.dk, 1e-5, 1e-4, `${isa} dk`);
    assertClose(r.dv, expected.dv, 1e-5, 1e-4, `${isa} dv`);
    for (const [mode, expectedCast, m] of [['FP8', expectedFp8, fp8Mode], ['BF16', expectedBf16, bf16Mode]] as const) {
      const f: ReturnType<typeof runAttention> = withSettings(native.control, 2, isa, () => runAttention(native.kernels, m.s, m.x, m.fp8));
      assert.ok(f.o.every(Number.isFinite) && f.dq.every(Number.isFinite), `${isa} ${mode} outputs finite`);
      // Cast-mode parity: only a rare FP8 / BF16 rounding of P or dS tipped by float32 summation order may differ.
      for (const name of ['o', 'dq', 'dk', 'dv'] as const) {
        let signal = 0;
        let noise = 0;
        expectedCast[name].forEach((e, i) => {
          signal += e * e;
          noise += (f[name][i] - e) ** 2;
        });
        assert.ok(noise <= 1e-6 * signal, `${isa} ${mode} ${name}: SQNR ${(10 * Math.log10(signal / noise)).toFixed(1)} dB vs the reference`);
      }
      assertClose(f.lse, expectedCast.lse, 1e-6, 1e-6, `${isa} ${mode} lse`);
    }
    const f: ReturnType<typeof runAttention> = withSettings(native.control, 2, isa, () => runAttention(native.kernels, SHAPE, fp8Mode.x, fp8Mode.fp8));
    const elements = SHAPE.B * SHAPE.Hq * (SHAPE.T * (SHAPE.T + 1)) / 2;
    assert.deepEqual(Object.keys(f.backward), ['ds'], `${isa}: dS is the only backward in-kernel cast`);
    for (const stats of [f.forward.p, f.backward.ds]) {
      assert.ok(stats !== undefined && stats.underflow + stats.overflow <= elements && stats.nonzero <= elements && stats.nonzero > 0, `${isa} FP8 stats ${JSON.stringify(stats)}`);
    }
  }
});

/** FP8 codes of N(0, std²)·scale (realistic casts: no NaN codes) and the floats they stand for. */
function codesOf(k: Kernels, n: number, format: 'e4m3' | 'e5m2', scale: number, invScale: number, rng: Rng, std = 1.5): { codes: Fp8Codes; values: Float32Array } {
  const data = new Uint8Array(n);
  k.quantize(rng.normals(n, std), format, scale, data);
  const values = new Float32Array(n);
  k.dequantize(data, format, invScale, values);
  return { codes: { format, data, invScale }, values };
}

test('native attention: FP8-code inputs give the bytes of the float call on their dequantized values (every ISA, mode, odd D)', { skip }, () => {
  if (typeof native === 'string') return;
  const { kernels, control } = native;
  // SHAPE (partial tiles, GQA) and an odd D whose rows end in a partial 32-code step and a half pair.
  for (const shape of [SHAPE, { B: 1, T: 70, Hq: 2, Hkv: 1, D: 33, softmaxScale: 0.2 }]) {
    const rng = new Rng(74);
    const nq = shape.B * shape.T * shape.Hq * shape.D;
    const nkv = shape.B * shape.T * shape.Hkv * shape.D;
    const qkvScale = 37.3;
    const qkvInv = Math.fround(1 / qkvScale);
    // FP8DPA: q, k, v, dO as unscaled FP8 values (invScale 1), O as real values (its inverse scale).
    const fq = codesOf(kernels, nq, 'e4m3', qkvScale, 1, rng);
    const fk = codesOf(kernels, nkv, 'e4m3', qkvScale, 1, rng);
    const fv = codesOf(kernels, nkv, 'e4m3', qkvScale, 1, rng, 1);
    const fo = codesOf(kernels, nq, 'e4m3', 300, 1 / 300, rng, 0.5);
    const fdo = codesOf(kernels, nq, 'e5m2', 1234.5, 1, rng, 1);
    // fp32 and BF16 modes on codes whose invScale is not a power of two (values not BF16-exact).
    const wq = codesOf(kernels, nq, 'e4m3', qkvScale, qkvInv, rng);
    const wk = codesOf(kernels, nkv, 'e5m2', qkvScale, qkvInv, rng);
    const wv = codesOf(kernels, nkv, 'e4m3', qkvScale, qkvInv, rng, 1);
    const wo = codesOf(kernels, nq, 'e4m3', 300, 1 / 300, rng, 0.5);
    const wdo = codesOf(kernels, nq, 'e5m2', 1234.5, 1 / 1234.5, rng, 1);
    const cases = [
      { mode: 'FP8DPA', s: shape, fp8: { ...FP8, qkvInv, doInv: Math.fround(1 / 1234.5) }, x: [fq, fk, fv, fo, fdo] },
      { mode: 'fp32', s: shape, fp8: null, x: [wq, wk, wv, wo, wdo] },
      { mode: 'BF16', s: { ...shape, bf16Operands: true }, fp8: null, x: [wq, wk, wv, wo, wdo] },
    ];
    for (const isa of runnableIsas(control)) {
      for (const { mode, s, fp8, x } of cases) {
        const run = (codes: boolean) => withSettings(control, 2, isa, () => {
          const [q, k, v, oIn, dO] = x.map((c) => (codes ? c.codes : c.values));
          const o = new Float32Array(nq);
          const lse = new Float32Array(s.B * s.Hq * s.T);
          const forward = kernels.attentionForward(q, k, v, o, lse, s, fp8);
          const dq = new Float32Array(nq);
          const dk = new Float32Array(nkv);
          const dv = new Float32Array(nkv);
          const backward = kernels.attentionBackward(q, k, v, oIn, lse, dO, dq, dk, dv, s, fp8);
          return { o, lse, dq, dk, dv, forward, backward };
        });
        const fromCodes = run(true);
        assert.ok(fromCodes.dq.some((g) => g !== 0) && fromCodes.o.every(Number.isFinite), `${isa} ${mode} D ${s.D}: outputs written`);
        assert.deepEqual(fromCodes, run(false), `${isa} ${mode} D ${s.D}`);
      }
    }
  }
});

test('native reductions: 1 and 2 threads give bit-identical sums (sumSquares, rowMoments, xIELU, dgain)', { skip }, () => {
  if (typeof native === 'string') return;
  const rng = new Rng(73);
  const x = rng.normals(300_001, 3);
  const dy = rng.normals(x.length);
  const R = 257;
  const C = 1000;
  const p = { alphaP: 0.8, alphaN: 1.3, beta: 0.5, eps: -1e-6 };
  const runAll = () => {
    const moments = new Float64Array(3 * R);
    native.kernels.rowMoments(x.subarray(0, R * C), R, C, moments);
    const dx = new Float32Array(x.length);
    const xielu = native.kernels.xieluBackward(x, dy, dx, p);
    const rstd = new Float32Array(R);
    native.kernels.rmsnormForward(x.subarray(0, R * C), null, new Float32Array(R * C), rstd, R, C, 1e-5);
    const dgain = new Float32Array(C).fill(1);
    native.kernels.rmsnormBackward(dy.subarray(0, R * C), x.subarray(0, R * C), null, rstd, new Float32Array(R * C), dgain, R, C);
    return { sumSquares: native.kernels.sumSquares(x), moments, xielu, dgain };
  };
  const isa = native.control.isa();
  const one = withSettings(native.control, 1, isa, runAll);
  const two = withSettings(native.control, 2, isa, runAll);
  assert.deepEqual(two, one);
  let exact = 0;
  for (const v of x) exact += v * v;
  assert.ok(Math.abs(one.sumSquares - exact) <= 1e-12 * exact, 'sumSquares near the sequential float64 sum');
});

test('native addon without withValidation: bad buffers and shapes throw TypeError / RangeError, never crash', { skip }, () => {
  if (typeof native === 'string') return;
  const k = native.kernels;
  const f = (n: number) => new Float32Array(n);
  const s: AttentionShape = { B: 1, T: 4, Hq: 2, Hkv: 1, D: 2, softmaxScale: 1 };
  const ok = () => k.attentionForward(f(16), f(8), f(8), f(16), f(8), s, null);
  assert.doesNotThrow(ok);
  assert.throws(() => k.attentionForward(f(16), f(7), f(8), f(16), f(8), s, null), (e: unknown) => e instanceof TypeError && /attentionForward: k/.test(e.message));
  assert.throws(() => k.attentionForward(f(16), f(8), f(8), f(16), f(8), { ...s, Hkv: 3 }, null), TypeError);
  assert.throws(() => k.attentionForward(f(16), f(8), f(8), f(16), f(8), { ...s, D: 2.5 }, null), TypeError);
  // @ts-expect-error fp8 scales that are not an object
  assert.throws(() => k.attentionForward(f(16), f(8), f(8), f(16), f(8), s, 7), TypeError);
  // @ts-expect-error fp8 scales without ds in the backward
  assert.throws(() => k.attentionBackward(f(16), f(8), f(8), f(16), f(8), f(16), f(16), f(8), f(8), s, { p: 1 }), /fp8\.ds/);
  // @ts-expect-error: bf16Operands must be a boolean
  assert.throws(() => k.attentionForward(f(16), f(8), f(8), f(16), f(8), { ...s, bf16Operands: 'yes' }, null), /bf16Operands/);
  assert.throws(() => k.attentionBackward(f(16), f(8), f(8), f(16), f(8), f(16), f(16), f(8), new Float32Array(9), s, null), TypeError);
  // @ts-expect-error a shape that is not an object
  assert.throws(() => k.attentionForward(f(16), f(8), f(8), f(16), f(8), 7, null), TypeError);
  // @ts-expect-error options that are not an object
  assert.throws(() => k.attentionForward(f(16), f(8), f(8), f(16), f(8), s, null, 3), /attentionForward: options/);
  // @ts-expect-error options.maxLogit that is not a boolean
  assert.throws(() => k.attentionForward(f(16), f(8), f(8), f(16), f(8), s, null, { maxLogit: 'no' }), /options\.maxLogit/);
  assert.ok(Number.isNaN(k.attentionForward(f(16), f(8), f(8), f(16), f(8), s, null, { maxLogit: false }).maxLogit));
  assert.throws(() => k.crossEntropyForward(f(6), Int32Array.from([0, 3]), f(2), f(2), 2, 3), RangeError);
  assert.throws(() => k.crossEntropyForward(f(6), Int32Array.from([0, -2]), f(2), f(2), 2, 3), RangeError);
  // @ts-expect-error targets of the wrong array type
  assert.throws(() => k.crossEntropyForward(f(6), f(2), f(2), f(2), 2, 3), TypeError);
  assert.throws(() => k.rmsnormForward(f(6), f(2), f(6), f(2), 2, 3, 1e-5), /gain/);
  assert.throws(() => k.ropeForward(f(8), f(7), 1, 1, 2, 4, 1e4), /ropeForward: y/);
  assert.throws(() => k.swigluBackward(f(12), f(6), f(11), 2, 3), /dh/);
  assert.throws(() => k.adamw(f(2), f(2), f(3), f(2), { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1e-8, weightDecay: 0, step: 1 }), /adamw: m/);
  // @ts-expect-error AdamW parameters that are not an object
  assert.throws(() => k.adamw(f(2), f(2), f(2), f(2), null), TypeError);
  // The addon checks memory safety only: values it can compute with, however meaningless, pass
  // (withValidation rejects them, from the signature table).
  assert.doesNotThrow(() => k.attentionForward(f(16), f(8), f(8), f(16), f(8), s, { p: 0, ds: 1 }));
  assert.doesNotThrow(() => k.adamw(f(2), f(2), f(2), f(2), { lr: 1, beta1: 1, beta2: 0.9, eps: 1e-8, weightDecay: 0, step: 1.5 }));
  // FP8-code inputs: the data length and the format are checked; an unknown format never decodes.
  const codes = (n: number, format = 'e4m3') => ({ format, data: new Uint8Array(n) }) as Fp8Codes;
  assert.doesNotThrow(() => k.attentionForward(codes(16), codes(8, 'e5m2'), codes(8), f(16), f(8), s, null));
  assert.throws(() => k.attentionForward(codes(15), f(8), f(8), f(16), f(8), s, null), /attentionForward: q\.data/);
  assert.throws(() => k.attentionForward(f(16), codes(8, 'e3m4'), f(8), f(16), f(8), s, null), /attentionForward: k\.format/);
  assert.throws(() => k.attentionBackward(f(16), f(8), f(8), codes(16), f(8), { format: 'e4m3', data: f(16) } as unknown as Fp8Codes, f(16), f(8), f(8), s, null), /do_\.data/);
  // @ts-expect-error the forward's o is its float output, never codes
  assert.throws(() => k.attentionForward(f(16), f(8), f(8), codes(16), f(8), s, null), TypeError);
  assert.throws(() => k.rowMoments(f(6), 2, 3, new Float64Array(5)), TypeError);
  assert.throws(() => k.xieluForward(f(2), f(3), { alphaP: 1, alphaN: 1, beta: 0.5, eps: -1e-6 }), TypeError);
});

// Float32 vector math (exp, erfc-based Φ, expm1, sigmoid) replaces the reference's float64: every
// output must stay within |Δ| ≤ rtol·|reference| + atol, with rtol = 1e-6 (a few float32 ulp) and
// atol a few ulp of the largest term (cancellation near the zeros of xIELU and GeLU'), on every ISA.
test('native cross-entropy, activations, RMSNorm: every ISA within 1e-6 relative of the reference', { skip }, () => {
  if (typeof native === 'string') return;
  const reference = createReferenceKernels();
  const rng = new Rng(74);
  const R = 6;
  const V = 1003; // not a multiple of any vector width
  const logits = rng.normals(R * V, 4);
  const targets = Int32Array.from([5, -1, 0, 1002, 77, 500]);
  const dloss = rng.normals(R);
  const F = 203;
  const h = rng.normals(2 * R * F, 3);
  const da = rng.normals(R * F);
  const x = Float32Array.from([...rng.normals(3000, 3), 0, -0, 1e-30, -1e-30, -9, -12, 13, -5e-7]);
  const dy = rng.normals(x.length);
  const p = { alphaP: 0.8, alphaN: 1.3, beta: 0.5, eps: -1e-6 };
  const runAll = (k: Kernels) => {
    const losses = new Float32Array(R), lse = new Float32Array(R), dlogits = new Float32Array(R * V);
    k.crossEntropyForward(logits, targets, losses, lse, R, V);
    k.crossEntropyBackward(logits, targets, lse, dloss, dlogits, R, V);
    const a = new Float32Array(R * F), s = new Float32Array(R), as = new Float32Array(R * F);
    const dh = new Float32Array(2 * R * F), dhs = new Float32Array(2 * R * F);
    k.swigluForward(h, a, R, F);
    k.swigluBackward(h, da, dh, R, F);
    k.smoothSwigluForward(h, as, s, R, F);
    k.smoothSwigluBackward(h, s, da, dhs, R, F);
    const gelu = new Float32Array(x.length), dgelu = new Float32Array(x.length);
    k.geluForward(x, gelu);
    k.geluBackward(x, dy, dgelu);
    const xielu = new Float32Array(x.length), dxielu = new Float32Array(x.length);
    k.xieluForward(x, xielu, p);
    const alphas = k.xieluBackward(x, dy, dxielu, p);
    const rows = 6, cols = 401;
    const xs = x.subarray(0, rows * cols), dys = dy.subarray(0, rows * cols), gain = dy.subarray(rows * cols, rows * cols + cols);
    const norm = new Float32Array(rows * cols), rstd = new Float32Array(rows), dnorm = new Float32Array(rows * cols);
    const dgain = new Float32Array(cols).fill(0.5);
    k.rmsnormForward(xs, gain, norm, rstd, rows, cols, 1e-5);
    k.rmsnormBackward(dys, xs, gain, rstd, dnorm, dgain, rows, cols);
    return {
      losses, lse, dlogits, a, dh, s, as, dhs, gelu, dgelu, xielu, dxielu, alphas: [alphas.dAlphaP, alphas.dAlphaN],
      norm, rstd, dnorm, dgain,
    };
  };
  const want = runAll(reference);
  const { kernels, control } = native;
  for (const isa of runnableIsas(control)) {
    const got: typeof want = withSettings(control, 2, isa, () => runAll(kernels));
    assertClose(got.losses, want.losses, 1e-6, 1e-6, `${isa} losses`);
    assertClose(got.lse, want.lse, 1e-6, 1e-6, `${isa} lse`);
    assertClose(got.dlogits, want.dlogits, 1e-12, 1e-6, `${isa} dlogits`);
    assert.deepEqual(got.s, want.s, `${isa} smooth-SwiGLU s`);
    for (const key of ['a', 'dh', 'as', 'dhs', 'gelu', 'dgelu', 'xielu', 'dxielu', 'norm', 'rstd', 'dnorm', 'dgain'] as const) {
      assertClose(got[key], want[key], 3e-7, 1e-6, `${isa} ${key}`);
    }
    assertClose(got.alphas, want.alphas, 1e-6, 1e-6, `${isa} dAlphaP, dAlphaN`);
  }
});

test('activations on BF16 bits (a Uint16Array input): every ISA and the reference give the bits they give on the float values', { skip }, () => {
  if (typeof native === 'string') return;
  const rng = new Rng(76);
  const R = 5;
  const F = 203; // rows end mid-vector: the tail loads bits too
  const p = { alphaP: 0.8, alphaN: 1.3, beta: 0.5, eps: -1e-6 };
  const bf16 = (n: number, scale: number) => {
    const bits = new Uint16Array(n);
    const v = rng.normals(n, scale);
    for (let i = 0; i < n; i++) bits[i] = new Uint32Array(v.buffer, i * 4, 1)[0] >>> 16;
    bits.set([0x0000, 0x8000, 0x7f80, 0xff80, 0x0001, 0x7f7f], 7); // ±0, ±Inf, a subnormal, the largest finite
    return bits;
  };
  const hBits = bf16(2 * R * F, 3);
  const xBits = bf16(3001, 3);
  const da = rng.normals(R * F);
  const dy = rng.normals(xBits.length);
  const runAll = (k: Kernels, h: Float32Array | Uint16Array, x: Float32Array | Uint16Array) => {
    const a = new Float32Array(R * F), s = new Float32Array(R), as = new Float32Array(R * F);
    const dh = new Float32Array(2 * R * F), dhs = new Float32Array(2 * R * F);
    k.swigluForward(h, a, R, F, true);
    k.swigluBackward(h, da, dh, R, F);
    k.smoothSwigluForward(h, as, s, R, F);
    k.smoothSwigluBackward(h, s, da, dhs, R, F, true);
    const gelu = new Float32Array(x.length), dgelu = new Float32Array(x.length);
    k.geluForward(x, gelu);
    k.geluBackward(x, dy, dgelu);
    const xielu = new Float32Array(x.length), dxielu = new Float32Array(x.length);
    k.xieluForward(x, xielu, p);
    const alphas = k.xieluBackward(x, dy, dxielu, p, true);
    return [a, s, as, dh, dhs, gelu, dgelu, xielu, dxielu, Float64Array.from([alphas.dAlphaP, alphas.dAlphaN])];
  };
  const reference = createReferenceKernels();
  const unpack = (bits: Uint16Array) => {
    const out = new Float32Array(bits.length);
    reference.unpackBf16(bits, out);
    return out;
  };
  const h = unpack(hBits);
  const x = unpack(xBits);
  const same = (got: ArrayLike<number>[], want: ArrayLike<number>[], what: string) => {
    got.forEach((g, i) => assert.deepEqual(g, want[i], `${what}: output ${i}`));
  };
  same(runAll(reference, hBits, xBits), runAll(reference, h, x), 'reference');
  const { kernels, control } = native;
  for (const isa of runnableIsas(control)) {
    for (const threads of [1, 2]) {
      withSettings(control, threads, isa, () => same(runAll(kernels, hBits, xBits), runAll(kernels, h, x), `${isa}, ${threads} threads`));
    }
  }
  // A Uint16Array of the wrong length, or another integer array, is refused by name.
  assert.throws(() => kernels.swigluBackward(hBits.subarray(1), da, new Float32Array(2 * R * F), R, F), /h/);
  assert.throws(() => kernels.geluForward(new Uint8Array(4) as unknown as Float32Array, new Float32Array(4)), /x must be a Float32Array or a Uint16Array/);
});

test('activation forwards hBits / xBits: packBf16 of the input (float or bits) as the kernel reads it, the same output as without it (every ISA, the reference)', { skip }, () => {
  if (typeof native === 'string') return;
  const rng = new Rng(78);
  const R = 5, F = 203;
  const p = { alphaP: 0.8, alphaN: 1.3, beta: 0.5, eps: -1e-6 };
  const h = rng.normals(2 * R * F, 3);
  h.set([NaN, -0, Infinity, 1e-41, 3.3e38], 11); // NaN made quiet, a subnormal, rounding up to Inf
  const x = rng.normals(3001, 3);
  x.set([NaN, -0, -Infinity], 4);
  const reference = createReferenceKernels();
  const packed = (v: Float32Array) => {
    const bits = new Uint16Array(v.length);
    reference.packBf16(v, bits);
    return bits;
  };
  const runAll = (k: Kernels, hIn: Float32Array | Uint16Array, xIn: Float32Array | Uint16Array, keep: boolean) => {
    const out: (Float32Array | Uint16Array)[] = [];
    const bits = (n: number) => (keep ? new Uint16Array(n).fill(0xabcd) : null);
    const a = new Float32Array(R * F), as = new Float32Array(R * F), s = new Float32Array(R);
    const b1 = bits(2 * R * F), b2 = bits(2 * R * F), b3 = bits(x.length), b4 = bits(x.length);
    k.swigluForward(hIn, a, R, F, true, b1);
    k.smoothSwigluForward(hIn, as, s, R, F, false, b2);
    const gelu = new Float32Array(x.length), xielu = new Float32Array(x.length);
    k.geluForward(xIn, gelu, false, b3);
    k.xieluForward(xIn, xielu, p, true, b4);
    out.push(a, as, s, gelu, xielu);
    return { out, bits: [b1, b2, b3, b4] };
  };
  const check = (k: Kernels, what: string) => {
    for (const [hIn, xIn, kind] of [[h, x, 'float'], [packed(h), packed(x), 'bits']] as const) {
      const plain = runAll(k, hIn, xIn, false), kept = runAll(k, hIn, xIn, true);
      kept.out.forEach((o, i) => assertSameValues(o, plain.out[i], `${what} ${kind} input: output ${i}`));
      const want = [packed(h), packed(h), packed(x), packed(x)];
      kept.bits.forEach((b, i) => assert.deepEqual(b, want[i], `${what} ${kind} input: bits ${i}`));
    }
  };
  check(reference, 'reference');
  const { kernels, control } = native;
  for (const isa of runnableIsas(control)) withSettings(control, 2, isa, () => check(kernels, isa));
});

test('rmsnormForward xSaved: a copy of x bit for bit, the same y and rstd as without it (every ISA, ragged rows, the reference)', { skip }, () => {
  if (typeof native === 'string') return;
  const rng = new Rng(77);
  const reference = createReferenceKernels();
  for (const C of [256, 203]) { // full vectors; a ragged tail (and AVX2's row groups)
    const R = 9;
    const x = rng.normals(R * C, 2);
    x.set([NaN, -0, Infinity], 5);
    const gain = rng.uniforms(C, 0.5, 1.5);
    const run = (k: Kernels, save: boolean) => {
      const y = new Float32Array(R * C), rstd = new Float32Array(R);
      const xSaved = save ? new Float32Array(R * C).fill(7) : null;
      k.rmsnormForward(x, gain, y, rstd, R, C, 1e-5, true, xSaved);
      return { y, rstd, xSaved };
    };
    const check = (k: Kernels, what: string) => {
      const plain = run(k, false), saved = run(k, true);
      assert.deepEqual(new Uint32Array((saved.xSaved as Float32Array).buffer), new Uint32Array(x.buffer), `${what} C ${C}: xSaved`);
      assertSameValues(saved.y, plain.y, `${what} C ${C}: y`);
      assertSameValues(saved.rstd, plain.rstd, `${what} C ${C}: rstd`);
    };
    check(reference, 'reference');
    const { kernels, control } = native;
    for (const isa of runnableIsas(control)) withSettings(control, 2, isa, () => check(kernels, isa));
  }
});

test('native adamw: every ISA matches the reference (m, v bit-identical; w within 1 ulp — pow may differ in its last bit)', { skip }, () => {
  if (typeof native === 'string') return;
  const reference = createReferenceKernels();
  const rng = new Rng(75);
  const n = 10_007;
  const w0 = rng.normals(n, 0.5), g = rng.normals(n, 1e-2), m0 = rng.normals(n, 1e-3);
  const v0 = Float32Array.from(rng.normals(n, 1e-2), (x) => x * x);
  const p = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 7 };
  const run = (k: Kernels) => {
    const w = w0.slice(), m = m0.slice(), v = v0.slice();
    k.adamw(w, g, m, v, p);
    return { w, m, v };
  };
  const want = run(reference);
  const { kernels, control } = native;
  for (const isa of runnableIsas(control)) {
    const got: typeof want = withSettings(control, 2, isa, () => run(kernels));
    assert.deepEqual(got.m, want.m, `${isa} m`);
    assert.deepEqual(got.v, want.v, `${isa} v`);
    assertClose(got.w, want.w, 0, 2 ** -23, `${isa} w`);
  }
});
