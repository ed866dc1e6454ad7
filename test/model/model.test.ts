import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { withValidation } from '../../src/kernels/validate.js';
import type { FloatArray, Kernels } from '../../src/kernels/types.js';
import { assertGradients } from '../util/gradcheck.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { PRESET_NAMES, resolveModelConfig, type ModelConfig } from '../../src/model/config.js';
import { Model, type Batch, type CastInfo, type MonitorSink, type TensorName } from '../../src/model/model.js';
import { modelLoss64, type Params64 } from './reference64.js';
import { Rng } from '../../src/model/rng.js';
import { currentScale } from '../../src/numerics/scaling.js';
import { E5M2 } from '../../src/numerics/formats.js';
import { sqnrDb } from '../util/sqnr.js';
import { warmedStep } from '../util/warmed-step.js';
import { backends } from '../kernels/backends.js';

const kernels = createReferenceKernels();

function makeBatch(c: ModelConfig, B: number, T: number, seed: number): Batch {
  const rng = new Rng(seed, 7);
  const inputs = new Int32Array(B * T).map(() => rng.nextU32() % c.vocabSize);
  const targets = new Int32Array(B * T).map(() => rng.nextU32() % c.vocabSize);
  targets[1] = -1; // one ignored target
  return { inputs, targets, B, T };
}

function params64(m: Model<Float32Array> | Model<Float64Array>): Params64 {
  const P: Params64 = new Map();
  for (const s of m.params.specs) P.set(s.name, Float64Array.from(m.params.get(s.name)));
  return P;
}

/** A model whose scalar/vector params are perturbed away from their init so every gradient is generic. */
function genericModel(preset: string, recipe = 'fp32', seed = 3): Model {
  const c = resolveModelConfig({ preset, size: 'tiny' });
  const m = new Model(c, kernels, resolvePrecision(recipe), seed);
  const rng = new Rng(seed, 99);
  for (const s of m.params.specs) {
    if (s.init.kind === 'constant') {
      const v = m.params.get(s.name);
      for (let i = 0; i < v.length; i++) v[i] *= 1 + 0.2 * (rng.uniform() - 0.5);
    }
  }
  return m;
}

for (const preset of PRESET_NAMES) {
  test(`${preset}: fp32 loss matches the float64 oracle and every tensor's gradient matches float64 finite differences`, () => {
    const m = genericModel(preset);
    const c = m.config;
    const B = 2;
    const T = 5;
    const batch = makeBatch(c, B, T, 11);
    m.zeroGrads();
    m.beginOptimizerStep();
    const loss = m.forwardBackward(batch, 1);
    const P = params64(m);
    const loss64 = modelLoss64(c, P, batch.inputs, batch.targets, B, T);
    assert.ok(Math.abs(loss - loss64) / loss64 < 1e-6, `loss ${loss} vs float64 ${loss64}`);
    const rng = new Rng(5, 1);
    let worst = 0;
    for (const s of m.params.specs) {
      const g = m.grads.get(s.name);
      const p = P.get(s.name) as Float64Array;
      const dir = new Float64Array(p.length).map(() => rng.normal());
      let analytic = 0;
      for (let i = 0; i < p.length; i++) analytic += g[i] * dir[i];
      const h = 1e-4 * Math.max(1e-2, Math.sqrt(p.reduce((a, x) => a + x * x, 0) / p.length));
      const orig = Float64Array.from(p);
      for (let i = 0; i < p.length; i++) p[i] = orig[i] + h * dir[i];
      const lp = modelLoss64(c, P, batch.inputs, batch.targets, B, T);
      for (let i = 0; i < p.length; i++) p[i] = orig[i] - h * dir[i];
      const lm = modelLoss64(c, P, batch.inputs, batch.targets, B, T);
      p.set(orig);
      const fd = (lp - lm) / (2 * h);
      const err = Math.abs(fd - analytic) / Math.max(Math.abs(fd), 1e-3);
      worst = Math.max(worst, err);
      assert.ok(err < 1e-4, `${s.name}: analytic ${analytic} vs float64 FD ${fd} (rel ${err})`);
    }
    console.log(`# ${preset}: loss rel diff vs float64 ${(Math.abs(loss - loss64) / loss64).toExponential(2)}, worst directional-gradient rel error ${worst.toExponential(2)}`);
  });
}

for (const preset of PRESET_NAMES) {
  test(`${preset}: float64 model — gradients of every tensor within 1e-6 of float64 finite differences; loss equals the oracle`, () => {
    const c = resolveModelConfig({ preset, size: 'tiny' });
    const m = new Model(c, withValidation(createReferenceKernels('float64')), resolvePrecision('fp32'), 3);
    assert.ok(m.params.data instanceof Float64Array && m.grads.data instanceof Float64Array);
    const perturb = new Rng(3, 99); // move constant-initialised tensors off their init so every gradient is generic
    for (const s of m.params.specs) {
      if (s.init.kind !== 'constant') continue;
      const v = m.params.get(s.name);
      for (let i = 0; i < v.length; i++) v[i] *= 1 + 0.2 * (perturb.uniform() - 0.5);
    }
    const B = 2;
    const T = 5;
    const batch = makeBatch(c, B, T, 11);
    // The independent oracle (no shared code) on the same float64 weights: agreement to float64 noise.
    const loss = m.forwardLoss(batch);
    const loss64 = modelLoss64(c, params64(m), batch.inputs, batch.targets, B, T);
    assert.ok(Math.abs(loss - loss64) / loss64 < 1e-12, `loss ${loss} vs oracle ${loss64}`);
    console.log(`# ${preset} float64: loss vs oracle ${(Math.abs(loss - loss64) / loss64).toExponential(2)}`);
    // The step balances fourth-order truncation against rounding noise (~ε·|loss|/step ≈ 2e-12, hence
    // the floor 1e-4: smaller gradients are compared to 1e-10 absolutely). It also has to stay small
    // because xIELU's derivative dips by αn on (ε, 0] (ε = −1e-6, DESIGN §4): a step that carries a
    // pre-activation across that dip measures its average slope, not the derivative. This batch keeps
    // every MLP pre-activation ≥ 6e-5 from the dip; batch 37, for one, puts a layer-0 pre-activation
    // at −7.6e-7, inside it, and its FD then disagrees with the (correct) analytic derivative.
    assertGradients(`${preset} float64 model`, {
      tensors: m.params.specs.map((s) => ({ name: s.name, value: m.params.get(s.name), grad: m.grads.get(s.name) })),
      loss: () => m.forwardLoss(batch),
      gradient: () => {
        m.zeroGrads();
        m.beginOptimizerStep();
        assert.equal(m.forwardBackward(batch, 1), loss, 'the training forward repeats the evaluation forward exactly');
      },
    }, { step: 1.5e-4, floor: 1e-4, elements: 2, unitDirection: true, seed: 5 });
  });
}

test('float64 mode: same weights as the float32 model, losses agree to float32 precision; FP8 recipes are refused', () => {
  const c = resolveModelConfig({ preset: 'fog-xielu', size: 'tiny' });
  const m32 = new Model(c, kernels, resolvePrecision('fp32'), 4);
  const m64 = new Model(c, createReferenceKernels('float64'), resolvePrecision('fp32'), 4);
  assert.deepEqual(Array.from(m64.params.data), Array.from(m32.params.data), 'init is rounded to float32 in both modes');
  const batch = makeBatch(c, 2, 6, 12);
  const l32 = m32.forwardLoss(batch);
  const l64 = m64.forwardLoss(batch);
  assert.notEqual(l32, l64, 'float32 arithmetic rounds; float64 does not');
  assert.ok(Math.abs(l32 - l64) / l64 < 1e-5, `float32 ${l32} vs float64 ${l64}`);
  assert.throws(() => new Model(c, createReferenceKernels('float64'), resolvePrecision('fp8-delayed'), 4), /float64 kernels verify gradients of the fp32 recipe only/);
  const k64: Kernels<FloatArray> = withValidation(createReferenceKernels('float64'));
  assert.throws(() => k64.sumSquares(new Float32Array(3)), /sumSquares: x must be a Float64Array/);
  assert.throws(() => k64.gemm(1, 1, 1, { dtype: 'f32', data: new Float32Array(1), trans: false }, { dtype: 'f32', data: new Float64Array(1), trans: false }, new Float64Array(1)), /a\.data must be a Float64Array/);
});

test('config: unknown field, unknown preset and out-of-range values are errors naming the field and what is allowed', () => {
  assert.throws(() => resolveModelConfig({ preset: 'llama3', size: 'tiny', dmodel: 4 } as never), /unknown field "dmodel".*allowed fields/);
  assert.throws(() => resolveModelConfig({ preset: 'llama4', size: 'tiny' }), /preset = "llama4".*allowed: llama3/);
  assert.throws(() => resolveModelConfig({ preset: 'llama3', size: 'xl' }), /size = "xl".*allowed: tiny/);
  assert.throws(() => resolveModelConfig({ preset: 'llama3', size: 'tiny', nLayers: 0 }), /nLayers = 0 must be a positive integer/);
  assert.throws(() => resolveModelConfig({ preset: 'llama3', size: 'tiny', mlp: 'relu' as never }), /mlp = "relu".*allowed: swiglu/);
  assert.throws(() => resolveModelConfig({ preset: 'llama3', size: 'tiny', nKvHeads: 3 }), /nKvHeads = 3 must divide nHeads = 4/);
  const c = resolveModelConfig({ preset: 'fog-xielu', size: 's' });
  assert.ok(Object.isFrozen(c));
  assert.equal(c.softmaxScale, 16 / 64);
  assert.equal(c.ffnDim, 1152); // 1.5 · 768, non-gated
  assert.equal(resolveModelConfig({ preset: 'llama3', size: 's' }).softmaxScale, 1 / 8);
});

test('FOG invariants: post-norm gains start at 1/√L, embeddings ×50, q and k have unit RMS per head after the frozen QK norm', () => {
  for (const preset of ['fog-xielu', 'fog-gelu']) {
    const m = new Model(resolveModelConfig({ preset, size: 'tiny' }), kernels, resolvePrecision('fp32'), 1);
    const c = m.config;
    for (let i = 0; i < c.nLayers; i++) {
      for (const n of ['attention_layernorm', 'feedforward_layernorm']) {
        for (const g of m.params.get(`model.layers.${i}.${n}.weight`)) assert.equal(g, Math.fround(1 / Math.sqrt(c.nLayers)));
      }
    }
    const batch = makeBatch(c, 2, 6, 3);
    const seen: Partial<Record<TensorName, Float32Array>> = {};
    const sink: MonitorSink = {
      tensor: (layer, name, x) => {
        if (layer === 0) seen[name] = Float32Array.from(x);
      },
      cast: () => {},
      maxLogit: () => {},
    };
    m.forwardBackward(batch, 1, sink);
    const E = m.params.get('model.embed_tokens.weight');
    const h0 = seen.qkv_input as Float32Array;
    for (let r = 0; r < 12; r++) for (let j = 0; j < c.dModel; j++) assert.equal(h0[r * c.dModel + j], Math.fround(50 * E[batch.inputs[r] * c.dModel + j]));
    for (const name of ['q', 'k'] as const) {
      const x = seen[name] as Float32Array;
      const D = c.headDim;
      for (let h = 0; h < x.length / D; h++) {
        let ss = 0;
        for (let j = 0; j < D; j++) ss += x[h * D + j] ** 2;
        const ms = ss / D;
        // eps = 1e-5 in the norm pulls the RMS of tiny pre-norm q/k slightly below 1
        assert.ok(Math.abs(Math.sqrt(ms) - 1) < 5e-3, `${name} head ${h}: rms ${Math.sqrt(ms)}`);
      }
    }
  }
});

test('FP8 accounting: one cast per (layer, GEMM, role) per step, E4M3 forward / E5M2 backward, weights cast once per step', () => {
  const m = new Model(resolveModelConfig({ preset: 'llama3', size: 'tiny' }), kernels, resolvePrecision('fp8-delayed'), 1);
  const casts: CastInfo[] = [];
  const sink: MonitorSink = { tensor: () => {}, cast: (info) => casts.push(info), maxLogit: () => {} };
  const batch = makeBatch(m.config, 2, 4, 1);
  m.beginOptimizerStep();
  m.forwardBackward(batch, 0.5, sink);
  const count = new Map<string, number>();
  for (const c of casts) count.set(`${c.layer}|${c.gemm}|${c.role}`, (count.get(`${c.layer}|${c.gemm}|${c.role}`) ?? 0) + 1);
  const expected: string[] = [];
  for (let l = 0; l < m.config.nLayers; l++) {
    for (const g of ['attn.qkv', 'attn.out', 'mlp.fc1', 'mlp.fc2']) for (const r of ['input', 'weight', 'grad_output']) expected.push(`${l}|${g}|${r}`);
    for (const r of ['qkv', 'p', 'o', 'do', 'ds', 'dqkv']) expected.push(`${l}|attn.dpa|${r}`); // DESIGN §3 FP8DPA slots
  }
  assert.deepEqual([...count.keys()].sort(), expected.sort()); // LM head stays wide by default
  for (const [k, n] of count) assert.equal(n, 1, k);
  for (const c of casts) {
    const backward = ['grad_output', 'do', 'ds', 'dqkv'].includes(c.role);
    assert.equal(c.format, backward ? 'e5m2' : 'e4m3', `${c.gemm} ${c.role}`);
  }
  // second micro-batch of the same step: no weight casts
  casts.length = 0;
  m.forwardBackward(batch, 0.5, sink);
  assert.equal(casts.filter((c) => c.role === 'weight').length, 0);
  assert.equal(casts.length, m.config.nLayers * (4 * 2 + 6));
  // every block slot exists in the scaling state with its role
  assert.equal(m.scaling.slots().length, m.config.nLayers * (4 * 3 + 6));
  // FP8 LM head adds the lm_head slots
  const m2 = new Model(m.config, kernels, resolvePrecision({ base: 'fp8-delayed', fp8LmHead: true }), 1);
  const casts2: CastInfo[] = [];
  m2.forwardBackward(batch, 1, { tensor: () => {}, cast: (i) => casts2.push(i), maxLogit: () => {} });
  assert.deepEqual(casts2.filter((c) => c.layer === -1).map((c) => `${c.gemm}|${c.role}`).sort(), ['lm_head|grad_output', 'lm_head|input', 'lm_head|weight']);
});

test('delayed scaling: amaxes recorded but scales unchanged until the trainer updates; eval changes nothing', () => {
  const m = new Model(resolveModelConfig({ preset: 'fog-xielu', size: 'tiny' }), kernels, resolvePrecision('fp8-delayed'), 1);
  const batch = makeBatch(m.config, 2, 4, 2);
  m.forwardLoss(batch);
  for (const s of m.scaling.slots()) assert.equal(s.amaxHistory[0], 0, s.key);
  m.forwardBackward(batch, 1);
  const slots = m.scaling.slots();
  assert.ok(slots.every((s) => s.scale === 1));
  assert.ok(slots.every((s) => s.amaxHistory[0] > 0), 'every slot recorded an amax');
  m.scaling.updateForward();
  m.scaling.updateBackward();
  assert.ok(slots.every((s) => s.scale !== 1));
});

// FP8/BF16 vs fp32 on the same weights. Scales are warmed by two training passes first (as in
// training: delayed scaling's first pass casts with scale 1). Both the whole-gradient SQNR and the
// worst per-tensor SQNR (over weight matrices) are checked, since the whole-gradient figure is
// energy-weighted: in llama3 at init 86 % of the gradient energy sits in the embedding and LM head.
// fog-xielu runs at softmax scale 0.5, which gives its init logits the spread of the paper's shape
// (std = scale·√head_dim ≈ 1.41 at head_dim 128, scale 0.125); the preset's 16/head_dim = 2 at
// tiny's head_dim 8 makes attention near one-hot (logit std 5.7), checked separately below.
// Thresholds sit 2–4 dB under the measured values listed in docs/model.md.
const SQNR_CASES: { preset: string; overrides: object; recipe: string; whole: number; worstMatrix: number }[] = [
  { preset: 'llama3', overrides: {}, recipe: 'fp8-delayed', whole: 26, worstMatrix: 13 },
  { preset: 'llama3', overrides: {}, recipe: 'fp8-current', whole: 26, worstMatrix: 13 },
  { preset: 'llama3', overrides: {}, recipe: 'bf16', whole: 43, worstMatrix: 38 }, // BF16 GEMMs and BF16 wide tensors
  { preset: 'fog-xielu', overrides: { softmaxScale: 0.5 }, recipe: 'fp8-delayed', whole: 15, worstMatrix: 8 },
  { preset: 'fog-xielu', overrides: { softmaxScale: 0.5 }, recipe: 'fp8-current', whole: 15, worstMatrix: 8 },
  { preset: 'fog-xielu', overrides: { softmaxScale: 0.5 }, recipe: 'bf16', whole: 39, worstMatrix: 34 }, // BF16 GEMMs and BF16 wide tensors
];

/** Loss, whole-gradient SQNR and worst per-matrix SQNR of `recipe` vs fp32 after two warm passes. */
function compareWithFp32(c: ModelConfig, recipe: string | Parameters<typeof resolvePrecision>[0], batch: Batch) {
  const ref = new Model(c, kernels, resolvePrecision('fp32'), 7);
  const lossRef = ref.forwardBackward(batch, 1);
  const m = new Model(c, kernels, resolvePrecision(recipe), 7);
  const loss = warmedStep(m, batch, 2);
  let worst = { name: '', db: Infinity };
  for (const s of m.params.specs) {
    if (s.shape.length !== 2) continue;
    const db = sqnrDb(ref.grads.get(s.name), m.grads.get(s.name));
    if (db < worst.db) worst = { name: s.name, db };
  }
  return { lossRel: Math.abs(loss - lossRef) / lossRef, whole: sqnrDb(ref.grads.data, m.grads.data), worst };
}

test('FP8 and BF16 vs fp32 on the same weights (scales warmed): loss within 1 %, whole and worst per-matrix gradient SQNR above thresholds', () => {
  for (const k of SQNR_CASES) {
    const c = resolveModelConfig({ preset: k.preset, size: 'tiny', ...k.overrides });
    const r = compareWithFp32(c, k.recipe, makeBatch(c, 2, 8, 4));
    const what = `${k.preset}${k.preset.startsWith('fog') ? ' (scale 0.5)' : ''} ${k.recipe}`;
    console.log(`# ${what}: loss rel diff ${r.lossRel.toExponential(1)}, whole ${r.whole.toFixed(1)} dB, worst matrix ${r.worst.db.toFixed(1)} dB (${r.worst.name})`);
    assert.ok(r.lossRel < 0.01, `${what}: loss rel diff ${r.lossRel}`);
    assert.ok(r.whole >= k.whole, `${what}: whole-gradient SQNR ${r.whole.toFixed(1)} dB < ${k.whole}`);
    assert.ok(r.worst.db >= k.worstMatrix, `${what}: ${r.worst.name} SQNR ${r.worst.db.toFixed(1)} dB < ${k.worstMatrix}`);
  }
});

test('fog-xielu at tiny with its own softmax scale 16/head_dim = 2: near one-hot attention costs ~12 dB, and sharpening is the cause', () => {
  // Same weights and batch; only the softmax scale differs. Wide tensors stay float32 here so that
  // only the GEMM/attention casts differ from the fp32 reference. At scale 2, P is near one-hot:
  // its E4M3 cast and the cancellation in dS = P ⊙ (dP − D) (formed in float32, then cast E5M2)
  // lose more of the gradient than at scale 0.5.
  const sharp = resolveModelConfig({ preset: 'fog-xielu', size: 'tiny' });
  const soft = resolveModelConfig({ preset: 'fog-xielu', size: 'tiny', softmaxScale: 0.5 });
  const batch = makeBatch(sharp, 2, 8, 4);
  for (const base of ['bf16', 'fp8-delayed']) {
    const recipe = { base, activations: 'fp32' } as const;
    const a = compareWithFp32(sharp, recipe, batch);
    const b = compareWithFp32(soft, recipe, batch);
    console.log(`# fog-xielu ${base} (fp32-wide): whole SQNR ${a.whole.toFixed(1)} dB at scale 2 vs ${b.whole.toFixed(1)} dB at scale 0.5`);
    // BF16 attention rounds P and dS to BF16 (as flash attention does), which costs both scales
    // alike: the gap is ~7 dB there (36.7 → 43.7 dB when measured), ~12 dB with FP8.
    const gain = base === 'bf16' ? 5 : 9;
    assert.ok(b.whole - a.whole >= gain, `${base}: scale 0.5 should gain ≥ ${gain} dB over scale 2, got ${a.whole.toFixed(1)} → ${b.whole.toFixed(1)}`);
    assert.ok(a.whole >= (base === 'bf16' ? 28 : 3), `${base} at scale 2: whole SQNR ${a.whole.toFixed(1)} dB`);
  }
});

test('fp8-current: the attention dS scale follows the previous backward (not stuck at 1), so dS does not flush to zero', () => {
  const c = resolveModelConfig({ preset: 'fog-xielu', size: 'tiny' });
  const m = new Model(c, kernels, resolvePrecision('fp8-current'), 7);
  const batch = makeBatch(c, 2, 8, 4);
  const casts: CastInfo[] = [];
  const sink: MonitorSink = { tensor: () => {}, cast: (i) => casts.push(i), maxLogit: () => {} };
  m.forwardBackward(batch, 1, sink);
  const first = new Map(casts.filter((x) => x.gemm === 'attn.dpa' && x.role === 'ds').map((x) => [`${x.layer}.${x.role}`, x]));
  m.scaling.updateForward();
  m.scaling.updateBackward();
  casts.length = 0;
  m.forwardBackward(batch, 1, sink);
  for (const x of casts.filter((y) => y.gemm === 'attn.dpa' && y.role === 'ds')) {
    const prev = first.get(`${x.layer}.${x.role}`) as CastInfo;
    // same batch and weights: the previous amax is this one, so the scale is the exact current scale
    assert.equal(x.scale, currentScale(prev.stats.amax, E5M2, 0), `${x.layer}.${x.role}`);
    assert.notEqual(x.scale, 1);
    assert.ok(x.stats.underflow / x.count < 0.05, `layer ${x.layer} ${x.role}: ${x.stats.underflow}/${x.count} underflow to 0`);
  }
});

test('determinism and gradient accumulation: same seed → identical loss; two half-scaled micro-batches = one full', () => {
  const c = resolveModelConfig({ preset: 'fog-tanh', size: 'tiny' });
  const batch = makeBatch(c, 2, 6, 9);
  const a = new Model(c, kernels, resolvePrecision('fp32'), 42);
  const b = new Model(c, kernels, resolvePrecision('fp32'), 42);
  assert.equal(a.forwardBackward(batch, 1), b.forwardBackward(batch, 1));
  assert.deepEqual(a.grads.data, b.grads.data);
  b.zeroGrads();
  b.forwardBackward(batch, 0.5);
  b.forwardBackward(batch, 0.5);
  for (let i = 0; i < a.grads.size; i++) assert.ok(Math.abs(a.grads.data[i] - b.grads.data[i]) <= 1e-6 * (1 + Math.abs(a.grads.data[i])));
  const logits = a.logits(batch.inputs.subarray(0, 6), 6);
  assert.equal(logits.length, 6 * c.vocabSize);
});

test('activation memory: every saved byte accounted by hand (llama3, fp8-delayed and fp32), FP8 ≤ 0.5× fp32 at size s', () => {
  const c = resolveModelConfig({ preset: 'llama3', size: 'tiny' });
  const B = 2;
  const T = 8;
  const R = B * T;
  const d = c.dModel;
  const Wq = c.nHeads * c.headDim;
  const Wkv = c.nKvHeads * c.headDim;
  const F = c.ffnDim;
  const norm = R * d * 4 + R * 4; // float32 input + rstd
  const lse = B * c.nHeads * T * 4;
  const h = R * 2 * F; // the MLP activation's input, the fc1 output (R, 2F): SwiGLU has no per-token s
  const perLayer = {
    // norms; Q(x) of qkv, out, fc1, fc2 (1 byte); attention's Q, K, V, O codes + lse; h as BF16 bits
    'fp8-delayed': 2 * norm + (R * d + R * Wq + R * d + R * F) + (2 * R * Wq + 2 * R * Wkv + lse) + 2 * h,
    fp32: 2 * norm + 4 * (R * d + R * Wq + R * d + R * F) + 4 * (2 * R * Wq + 2 * R * Wkv) + lse + 4 * h,
  };
  for (const [recipe, layer] of Object.entries(perLayer)) {
    // + final norm, the LM head's input gradient (R, d) float32 (the fused head keeps no logits), token ids
    const expected = c.nLayers * layer + norm + R * d * 4 + R * 4;
    assert.equal(new Model(c, kernels, resolvePrecision(recipe), 1).activationBytes(B, T), expected, recipe);
    // recomputeMlp keeps no h: fc1's output is recomputed from its saved Q(x)
    const recompute = new Model(c, kernels, resolvePrecision(recipe), 1, { recomputeMlp: true }).activationBytes(B, T);
    assert.equal(recompute, expected - c.nLayers * (recipe === 'fp32' ? 4 : 2) * h, `${recipe} recomputeMlp`);
  }
  for (const size of ['s']) { // m measures 0.389 (llama3) and 0.450 (fog-xielu): see docs/model.md
    for (const preset of ['llama3', 'fog-xielu']) {
      const cs = resolveModelConfig({ preset, size });
      const bytes = (recipe: string) => new Model(cs, kernels, resolvePrecision(recipe), 1).activationBytes(1, cs.seqLen);
      const ratio = bytes('fp8-delayed') / bytes('fp32');
      console.log(`# ${preset} ${size}: FP8/fp32 activation bytes ${ratio.toFixed(3)}`);
      assert.ok(ratio <= 0.5, `${preset} ${size}: FP8/fp32 activation memory ${ratio.toFixed(3)} > 0.5`);
    }
  }
});

test('max attention logit: reported per layer when the sink collects tensors, skipped (kernel work too) when it does not', () => {
  const m = new Model(resolveModelConfig({ preset: 'llama3', size: 'tiny' }), kernels, resolvePrecision('fp8-delayed'), 1);
  const batch = makeBatch(m.config, 2, 6, 3);
  for (const collectingTensors of [true, false, undefined]) {
    const logits: number[] = [];
    let casts = 0;
    const sink: MonitorSink = { tensor: () => {}, cast: () => casts++, maxLogit: (_l, v) => logits.push(v), collectingTensors };
    m.forwardBackward(batch, 1, sink);
    m.scaling.updateForward();
    m.scaling.updateBackward();
    assert.ok(casts > 0, 'casts are reported either way');
    if (collectingTensors === false) assert.equal(logits.length, 0);
    else {
      assert.equal(logits.length, m.config.nLayers);
      for (const v of logits) assert.ok(Number.isFinite(v) && v > 0, `max logit ${v}`);
    }
  }
});

// Tied embeddings and Llama-3.1 RoPE scaling (band edges pulled in so T = 5 positions feel them).
const SCALED_ROPE = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 64 };
// fog-gelu stands for the FOG family here: xIELU's kink at ε = −1e-6 makes FD batch-dependent (see above).
for (const preset of ['llama3', 'fog-gelu'] as const) {
  test(`${preset} tied + Llama-3.1 RoPE scaling: float64 loss equals the oracle, every gradient matches finite differences`, () => {
    const c = resolveModelConfig({ preset, size: 'tiny', tieEmbeddings: true, ropeScaling: SCALED_ROPE });
    const m = new Model(c, withValidation(createReferenceKernels('float64')), resolvePrecision('fp32'), 3);
    assert.ok(!m.params.has('lm_head.weight'));
    const perturb = new Rng(3, 99); // constant-initialised tensors off their init, as in the untied checks above
    for (const s of m.params.specs) {
      if (s.init.kind !== 'constant') continue;
      const v = m.params.get(s.name);
      for (let i = 0; i < v.length; i++) v[i] *= 1 + 0.2 * (perturb.uniform() - 0.5);
    }
    const batch = makeBatch(c, 2, 5, 11);
    const loss = m.forwardLoss(batch);
    assert.ok(Math.abs(loss - modelLoss64(c, params64(m), batch.inputs, batch.targets, 2, 5)) / loss < 1e-12);
    const plain = modelLoss64({ ...c, ropeScaling: null }, params64(m), batch.inputs, batch.targets, 2, 5);
    assert.ok(Math.abs(loss - plain) > 1e-9, 'the scaling changes the loss at these positions');
    assertGradients(`${preset} tied + scaled RoPE`, {
      tensors: m.params.specs.map((s) => ({ name: s.name, value: m.params.get(s.name), grad: m.grads.get(s.name) })),
      loss: () => m.forwardLoss(batch),
      gradient: () => {
        m.zeroGrads();
        m.beginOptimizerStep();
        m.forwardBackward(batch, 1);
      },
    }, { step: 1.5e-4, floor: 1e-4, elements: 2, unitDirection: true, seed: 5 });
  });
}

test('tied embeddings: loss and the one embedding gradient equal an untied copy\'s embedding + LM head gradients', () => {
  const untied = new Model(resolveModelConfig({ preset: 'fog-xielu', size: 'tiny' }), kernels, resolvePrecision('fp32'), 4);
  const tied = new Model(resolveModelConfig({ preset: 'fog-xielu', size: 'tiny', tieEmbeddings: true }), kernels, resolvePrecision('fp32'), 4);
  for (const s of tied.params.specs) tied.params.get(s.name).set(untied.params.get(s.name));
  untied.params.get('lm_head.weight').set(untied.params.get('model.embed_tokens.weight'));
  const batch = makeBatch(untied.config, 2, 6, 3);
  untied.zeroGrads();
  tied.zeroGrads();
  assert.equal(tied.forwardBackward(batch, 1), untied.forwardBackward(batch, 1));
  const ge = untied.grads.get('model.embed_tokens.weight');
  const gh = untied.grads.get('lm_head.weight');
  const gt = tied.grads.get('model.embed_tokens.weight');
  let worst = 0;
  for (let i = 0; i < gt.length; i++) worst = Math.max(worst, Math.abs(gt[i] - (ge[i] + gh[i])) / (1e-6 + Math.abs(ge[i] + gh[i])));
  assert.ok(worst < 1e-5, `worst relative difference ${worst}`);
  for (const s of tied.params.specs) {
    if (s.name !== 'model.embed_tokens.weight') assert.deepEqual(tied.grads.get(s.name), untied.grads.get(s.name), s.name);
  }
});

test('zeroGrads: a linear weight\'s first wgrad overwrites stale gradients (tied and untied heads); a second pass adds to them', () => {
  for (const tieEmbeddings of [false, true]) {
    const c = resolveModelConfig({ preset: 'fog-xielu', size: 'tiny', tieEmbeddings });
    const batch = makeBatch(c, 2, 6, 5);
    const fresh = new Model(c, kernels, resolvePrecision('fp8-delayed'), 6);
    const reused = new Model(c, kernels, resolvePrecision('fp8-delayed'), 6);
    // reused has built its graph (so zeroGrads knows its linears) and holds a stale gradient everywhere
    reused.zeroGrads();
    reused.forwardBackward(batch, 1);
    reused.grads.data.fill(Number.NaN);
    fresh.grads.data.fill(0);
    reused.zeroGrads();
    assert.equal(reused.forwardBackward(batch, 1), fresh.forwardBackward(batch, 1));
    for (const s of fresh.params.specs) assert.deepEqual(reused.grads.get(s.name), fresh.grads.get(s.name), `tied ${tieEmbeddings}: ${s.name}`);
    // Without zeroGrads in between, the next pass adds to them: 2× the gradient (up to the order of the sums).
    reused.forwardBackward(batch, 1);
    for (const s of fresh.params.specs) {
      const once = fresh.grads.get(s.name);
      const twice = reused.grads.get(s.name);
      for (let i = 0; i < once.length; i++) {
        assert.ok(Math.abs(twice[i] - 2 * once[i]) <= 1e-6 * Math.abs(2 * once[i]) + 1e-12, `tied ${tieEmbeddings}: ${s.name}[${i}] ${twice[i]} vs 2 × ${once[i]}`);
      }
    }
  }
});

test('fused casts (delayed scaling): the same loss, gradients and cast counts as casting a, dh and the pre-norm outputs apart (probe on), every MLP kind, both backends', async () => {
  for (const k of await backends()) for (const preset of ['llama3', 'llama3-smooth-swiglu', 'fog-xielu', 'fog-gelu']) {
    const c = resolveModelConfig({ preset, size: 'tiny' });
    const batch = makeBatch(c, 2, 6, 9);
    const run = (probe: boolean) => {
      let quantizeCalls = 0;
      const counting = new Proxy(k, { get: (t, p, r) => (p === 'quantize' ? (...a: Parameters<typeof k.quantize>) => (quantizeCalls++, t.quantize(...a)) : Reflect.get(t, p, r)) });
      const m = new Model(c, counting, resolvePrecision('fp8-delayed'), 12);
      if (probe) m.setActivationProbe({ tensor: () => {} }); // a probe must see a and dh: no fused casts
      const casts: string[] = [];
      const sink: MonitorSink = {
        tensor: () => {}, maxLogit: () => {}, collectingTensors: false,
        cast: (info) => casts.push(`${info.layer} ${info.gemm} ${info.role} ${info.scale} ${info.count} ${info.stats.amax} ${info.stats.underflow} ${info.stats.overflow} ${info.stats.nonzero}`),
      };
      m.zeroGrads();
      const loss = m.forwardBackward(batch, 1, sink);
      return { loss, grads: Float32Array.from(m.grads.data), casts: casts.sort(), quantizeCalls };
    };
    const fused = run(false);
    const apart = run(true);
    assert.equal(fused.loss, apart.loss, `${k.name} ${preset}`);
    assert.deepEqual(fused.grads, apart.grads, `${k.name} ${preset}`);
    assert.deepEqual(fused.casts, apart.casts, `${k.name} ${preset}`);
    // a and dh by the activation kernels, and the pre-norms' outputs by the RMSNorm kernel
    const fusedPerLayer = 2 + (c.preNorm ? 2 : 0);
    assert.equal(fused.quantizeCalls, apart.quantizeCalls - fusedPerLayer * c.nLayers, `${k.name} ${preset}: ${fusedPerLayer} casts per layer made by the producing kernels`);
  }
});

test('gradient accumulation: N micro-batches of B/N sequences (1/N each) = one batch of B, fp32 up to rounding', () => {
  const c = resolveModelConfig({ preset: 'llama3', size: 'tiny' });
  const B = 4;
  const T = 6;
  const rng = new Rng(8, 7);
  const inputs = new Int32Array(B * T).map(() => rng.nextU32() % c.vocabSize);
  const targets = new Int32Array(B * T).map(() => rng.nextU32() % c.vocabSize); // no ignored targets: every micro-batch counts B/N·T
  const whole = new Model(c, kernels, resolvePrecision('fp32'), 5);
  whole.zeroGrads();
  const loss = whole.forwardBackward({ inputs, targets, B, T }, 1);
  for (const N of [2, 4]) {
    const split = new Model(c, kernels, resolvePrecision('fp32'), 5);
    split.zeroGrads();
    let sum = 0;
    const b = B / N;
    for (let j = 0; j < N; j++) {
      const rows = [j * b * T, (j + 1) * b * T] as const;
      sum += split.forwardBackward({ inputs: inputs.subarray(...rows), targets: targets.subarray(...rows), B: b, T }, 1 / N);
    }
    assert.ok(Math.abs(sum / N - loss) <= 1e-6 * loss, `N=${N}: loss ${sum / N} vs ${loss}`);
    // Per tensor: the split sums rows in another order, so compare against the tensor's scale.
    for (const s of whole.params.specs) {
      const g = whole.grads.get(s.name);
      const h = split.grads.get(s.name);
      let diff = 0;
      let norm = 0;
      for (let i = 0; i < g.length; i++) {
        diff += (g[i] - h[i]) ** 2;
        norm += g[i] ** 2;
      }
      assert.ok(Math.sqrt(diff) <= 1e-5 * Math.sqrt(norm) + 1e-12, `N=${N} ${s.name}: |Δ| ${Math.sqrt(diff)} vs |g| ${Math.sqrt(norm)}`);
    }
  }
});

test('recomputeMlp: the fc1 output recomputed in backward gives the same loss, gradients and amaxes as keeping it per layer (BF16 bits or float32); it holds that much less', async () => {
  const { loadKernels } = await import('../../src/kernels/index.js');
  const backends: Kernels[] = [kernels];
  try {
    backends.push(loadKernels('native'));
  } catch {
    // no addon here: the reference backend alone
  }
  for (const k of backends) {
    for (const [preset, recipe] of [['llama3', 'fp8-delayed'], ['fog-xielu', 'bf16'], ['llama3-smooth-swiglu', 'fp8-current'], ['llama3', 'fp32'], ['fog-gelu', 'fp8-delayed-fp32wide']]) {
      const c = resolveModelConfig({ preset, size: 'tiny' });
      const run = (recomputeMlp: boolean) => {
        const precision = recipe === 'fp8-delayed-fp32wide' ? resolvePrecision({ base: 'fp8-delayed', activations: 'fp32' }) : resolvePrecision(recipe);
        const m = new Model(c, k, precision, 5, { recomputeMlp });
        const mlp: number[] = [];
        const sink: MonitorSink = { tensor: (_l, name, x) => { if (name === 'mlp_intermediate') mlp.push(Array.from(x).reduce((s, v) => s + v, 0)); }, cast: () => {}, maxLogit: () => {} };
        const losses: number[] = [];
        for (let step = 0; step < 2; step++) {
          m.beginOptimizerStep();
          m.zeroGrads();
          losses.push(m.forwardBackward(makeBatch(c, 2, 8, step), 1, sink));
          m.scaling.updateForward();
          m.scaling.updateBackward();
        }
        return { m, losses, grads: Float32Array.from(m.grads.data), amax: m.scaling.slots().map((s) => [...s.amaxHistory]), mlp };
      };
      const kept = run(false);
      const recomputed = run(true);
      const label = `${k.name} ${preset} ${recipe}`;
      assert.deepEqual(recomputed.losses, kept.losses, `${label}: losses`);
      assert.deepEqual(recomputed.grads, kept.grads, `${label}: gradients`);
      assert.deepEqual(recomputed.amax, kept.amax, `${label}: amax histories`);
      assert.deepEqual(recomputed.mlp, kept.mlp, `${label}: the monitored fc1 outputs`);
      const F1 = c.mlp === 'swiglu' || c.mlp === 'smooth-swiglu' ? 2 * c.ffnDim : c.ffnDim;
      const held = (m: Model) => m.memory().activations;
      // BF16 h: every layer's bits (2 bytes); float32 h: every layer's own buffer but the one a recompute shares.
      const bf16 = recipe !== 'fp32' && recipe !== 'fp8-delayed-fp32wide';
      const R = 2 * 8;
      assert.equal(held(kept.m) - held(recomputed.m), bf16 ? 2 * R * F1 * c.nLayers : 4 * R * F1 * (c.nLayers - 1), `${label}: bytes held`);
      assert.equal(kept.m.activationBytes(2, 8) - recomputed.m.activationBytes(2, 8), (bf16 ? 2 : 4) * R * F1 * c.nLayers, `${label}: saved for backward`);
    }
  }
});
