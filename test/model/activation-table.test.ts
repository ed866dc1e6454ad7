import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FloatArray, GemmOperand, Kernels } from '../../src/kernels/types.js';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { resolvePrecision, type PrecisionRecipe } from '../../src/numerics/recipe.js';
import { PRESET_NAMES, resolveModelConfig, type ModelConfig } from '../../src/model/config.js';
import { Model, type Batch } from '../../src/model/model.js';
import { buildActivationTable } from '../../src/model/activation-table.js';
import type { ActivationProbe } from '../../src/ops/boundary.js';
import { Rng } from '../../src/model/rng.js';
import { backends } from '../kernels/backends.js';
import { sqnrDb } from '../util/sqnr.js';
import { warmedStep } from '../util/warmed-step.js';

function makeBatch(c: ModelConfig, B: number, T: number, seed: number): Batch {
  const rng = new Rng(seed, 7);
  const inputs = new Int32Array(B * T).map(() => rng.nextU32() % c.vocabSize);
  const targets = new Int32Array(B * T).map(() => rng.nextU32() % c.vocabSize);
  targets[1] = -1;
  return { inputs, targets, B, T };
}

/** Number of elements of x that are not BF16 values (float32 bit patterns with a non-zero low half). */
function nonBf16Count(x: FloatArray): number {
  const f = Float32Array.from(x);
  const bits = new Uint32Array(f.buffer);
  let n = 0;
  for (let i = 0; i < bits.length; i++) if ((bits[i] & 0xffff) !== 0 || Number.isNaN(f[i]) || f[i] !== x[i]) n++;
  return n;
}

/** The recipes with BF16 wide tensors, each preset's own plus fp32 GEMMs with BF16 tensors. */
const BF16_WIDE: PrecisionRecipe[] = [
  resolvePrecision('bf16'),
  resolvePrecision('fp8-delayed'),
  resolvePrecision('fp8-current'),
  resolvePrecision('fp8-block'),
  resolvePrecision({ base: 'fp32', activations: 'bf16' }),
];

/**
 * Wraps kernels so every activation a non-GEMM kernel reads (norm, RoPE, MLP activation,
 * cross-entropy inputs; attention's inputs when attention is not FP8) and, under fp32 GEMMs, every
 * GEMM operand outside the parameter arena is checked BF16 — independently of the graph's own
 * bookkeeping. FP8 casts and fake-quantized operands are the recipe's own casts, not checked here.
 */
function checkingKernels(k: Kernels, recipe: PrecisionRecipe, params: () => Float32Array | null, bad: string[]): Kernels {
  const check = (what: string, x: FloatArray | Uint16Array) => {
    if (x instanceof Uint16Array) return; // BF16 bits: BF16 by construction
    const n = nonBf16Count(x);
    if (n > 0) bad.push(`${what}: ${n}/${x.length} not BF16`);
  };
  const fp8Attention = recipe.gemm === 'fp8' && recipe.fp8Attention;
  const w: Kernels = Object.create(k) as Kernels;
  Object.assign(w, {
    rmsnormForward: (x, g, y, r, R, C, e, rb, xs) => (check('rmsnormForward x', x), k.rmsnormForward(x, g, y, r, R, C, e, rb, xs)),
    rmsnormBackward: (dy, x, g, r, dx, dg, R, C, rb) => (check('rmsnormBackward dy', dy), check('rmsnormBackward x', x), k.rmsnormBackward(dy, x, g, r, dx, dg, R, C, rb)),
    ropeForward: (x, y, B, T, H, D, th, sc, rb) => (check('ropeForward x', x), k.ropeForward(x, y, B, T, H, D, th, sc, rb)),
    ropeBackward: (dy, dx, B, T, H, D, th, sc, rb) => (check('ropeBackward dy', dy), k.ropeBackward(dy, dx, B, T, H, D, th, sc, rb)),
    swigluForward: (h, a, R, F, rb, hb) => (check('swigluForward h', h), k.swigluForward(h, a, R, F, rb, hb)),
    swigluBackward: (h, da, dh, R, F, rb) => (check('swigluBackward h', h), check('swigluBackward da', da), k.swigluBackward(h, da, dh, R, F, rb)),
    smoothSwigluForward: (h, a, s, R, F, rb, hb) => (check('smoothSwigluForward h', h), k.smoothSwigluForward(h, a, s, R, F, rb, hb)),
    smoothSwigluBackward: (h, s, da, dh, R, F, rb) => (check('smoothSwigluBackward h', h), check('smoothSwigluBackward da', da), k.smoothSwigluBackward(h, s, da, dh, R, F, rb)),
    geluForward: (x, y, rb, xb) => (check('geluForward x', x), k.geluForward(x, y, rb, xb)),
    geluBackward: (x, dy, dx, rb) => (check('geluBackward x', x), check('geluBackward dy', dy), k.geluBackward(x, dy, dx, rb)),
    xieluForward: (x, y, p, rb, xb) => (check('xieluForward x', x), k.xieluForward(x, y, p, rb, xb)),
    xieluBackward: (x, dy, dx, p, rb) => (check('xieluBackward x', x), check('xieluBackward dy', dy), k.xieluBackward(x, dy, dx, p, rb)),
    crossEntropyForward: (l, t, ls, lse, R, V) => (check('crossEntropyForward logits', l), k.crossEntropyForward(l, t, ls, lse, R, V)),
    crossEntropyBackward: (l, t, lse, dl, dlg, R, V, rb) => (check('crossEntropyBackward logits', l), k.crossEntropyBackward(l, t, lse, dl, dlg, R, V, rb)),
    attentionForward: (q, kk, v, o, lse, shape, fp8, opts) => {
      // FP8DPA hands over codes; the wide paths hand over the float buffers themselves.
      if (!fp8Attention) for (const [n, x] of [['q', q], ['k', kk], ['v', v]] as const) if (ArrayBuffer.isView(x)) check(`attentionForward ${n}`, x);
      return k.attentionForward(q, kk, v, o, lse, shape, fp8, opts);
    },
    attentionBackward: (q, kk, v, o, lse, dO, dq, dk, dv, shape, fp8) => {
      if (!fp8Attention) for (const [n, x] of [['q', q], ['k', kk], ['v', v], ['o', o], ['dO', dO]] as const) if (ArrayBuffer.isView(x)) check(`attentionBackward ${n}`, x);
      return k.attentionBackward(q, kk, v, o, lse, dO, dq, dk, dv, shape, fp8);
    },
    gemm: (M, N, K, a, b, c, alpha, beta, roundBf16) => {
      if (recipe.gemm === 'fp32') {
        for (const [n, op] of [['A', a], ['B', b]] as [string, GemmOperand][]) {
          const arena = params();
          if (op.dtype === 'f32' && !(arena && (op.data as Float32Array).buffer === arena.buffer)) check(`gemm ${n} (${M}×${N}×${K})`, op.data as FloatArray);
        }
      }
      return k.gemm(M, N, K, a, b, c, alpha, beta, roundBf16);
    },
  } satisfies Partial<Kernels>);
  return w;
}

test('activation table: names unique per pass, dtype = recipe.activations, rounding kinds; fp32 recipe keeps everything float32', () => {
  assert.equal(resolvePrecision('fp32').activations, 'fp32');
  for (const preset of PRESET_NAMES) {
    const c = resolveModelConfig({ preset, size: 'tiny' });
    for (const act of ['bf16', 'fp32'] as const) {
      const t = buildActivationTable(c, act);
      for (const pass of ['forward', 'backward']) {
        const names = t.filter((s) => s.pass === pass).map((s) => s.name);
        assert.equal(new Set(names).size, names.length, `${preset} ${pass}: duplicate names`);
      }
      assert.ok(t.every((s) => s.dtype === act));
      assert.ok(t.every((s) => (s.pass === 'backward') === s.name.startsWith('d.')));
    }
    const t = buildActivationTable(c, 'bf16');
    assert.deepEqual(t.filter((s) => s.rounding === 'exact').map((s) => s.name), ['split.q', 'split.k', 'split.v', 'd.split.in']);
    assert.deepEqual(t.filter((s) => s.rounding === 'op').map((s) => s.name), ['attention.out', 'lm_head.logits', 'd.lm_head.logits']);
    // the knobs decide which ops exist, hence which entries
    assert.equal(t.some((s) => s.name === 'input_norm.out'), c.preNorm, preset);
    assert.equal(t.some((s) => s.name === 'q_norm.out'), c.qkNorm !== 'none', preset);
    assert.equal(t.some((s) => s.name === 'attn_post.out'), c.postNorm || c.layerScale, preset);
    assert.equal(t.some((s) => s.name === 'rescale.out'), c.mlp === 'smooth-swiglu', preset);
    assert.equal(t.some((s) => s.name === 'final_norm.out'), c.finalNorm, preset);
  }
});

test('BF16 wide tensors: in one training step every inter-op tensor of the table (forward and backward) is BF16, every kernel reads BF16 activations, parameter gradients stay float32 — each preset and recipe, both backends', async () => {
  for (const base of await backends()) {
    for (const preset of PRESET_NAMES) {
      const c = resolveModelConfig({ preset, size: 'tiny' });
      const batch = makeBatch(c, 2, 8, 5);
      for (const recipe of BF16_WIDE) {
        const what = `${base.name} ${preset} ${recipe.name}`;
        const bad: string[] = [];
        let arena: Float32Array | null = null;
        const m = new Model(c, checkingKernels(base, recipe, () => arena, bad), recipe, 11);
        arena = m.params.data;
        const seen = new Map<string, number>(); // `${pass} ${name} ${layer}` → reports
        const probe: ActivationProbe = {
          tensor(name, layer, pass, x) {
            const key = `${pass} ${name} ${layer}`;
            seen.set(key, (seen.get(key) ?? 0) + 1);
            const n = nonBf16Count(x);
            if (n > 0) bad.push(`${key}: ${n}/${x.length} not BF16`);
          },
        };
        // scales warmed once so the FP8 recipes cast as in training
        m.forwardBackward(batch, 1);
        m.scaling.updateForward();
        m.scaling.updateBackward();
        m.zeroGrads();
        m.beginOptimizerStep();
        m.setActivationProbe(probe);
        bad.length = 0;
        const loss = m.forwardBackward(batch, 1);
        assert.ok(Number.isFinite(loss), what);
        assert.deepEqual(bad, [], what);
        // every entry of the table was handed on (and seen) in every layer
        const expected = new Set<string>();
        for (const s of buildActivationTable(c, 'bf16')) {
          for (const layer of s.perLayer ? Array.from({ length: c.nLayers }, (_, i) => i) : [-1]) expected.add(`${s.pass} ${s.name} ${layer}`);
        }
        assert.deepEqual([...seen.keys()].sort(), [...expected].sort(), what);
        // float32-only: parameter gradients accumulate in float32 (not rounded), most are not BF16 values
        const nonBf16 = nonBf16Count(m.grads.data);
        assert.ok(nonBf16 > 0.9 * m.grads.size, `${what}: only ${nonBf16}/${m.grads.size} parameter-gradient values are non-BF16`);
      }
    }
  }
});

test('fp32 recipe: the same probe sees float32 tensors (nothing rounded), so the BF16 checks above can fail', async () => {
  const [k] = await backends();
  for (const preset of ['llama3', 'fog-xielu']) {
    const c = resolveModelConfig({ preset, size: 'tiny' });
    const m = new Model(c, k, resolvePrecision('fp32'), 11);
    let tensors = 0;
    let nonBf16 = 0;
    m.setActivationProbe({
      tensor(_n, _l, _p, x) {
        tensors++;
        if (nonBf16Count(x) > 0) nonBf16++;
      },
    });
    m.forwardBackward(makeBatch(c, 2, 8, 5), 1);
    assert.ok(tensors > 40, `${preset}: ${tensors} tensors seen`);
    assert.ok(nonBf16 > 0.9 * tensors, `${preset}: ${nonBf16}/${tensors} tensors hold non-BF16 values`);
  }
});

/** Loss and gradients of one step (FP8: after two warm passes, scales as in training), same seed and batch. */
function stepOf(c: ModelConfig, k: Kernels, recipe: PrecisionRecipe, batch: Batch): { loss: number; m: Model } {
  const m = new Model(c, k, recipe, 7);
  return { loss: warmedStep(m, batch, recipe.gemm === 'fp8' ? 2 : 0), m };
}

/**
 * bf16-wide vs fp32-wide, same GEMM recipe, weights and batch: loss difference and gradient SQNR of
 * one against the other, and of each against the all-float32 reference (for FP8 GEMMs the direct
 * comparison mostly measures two FP8 runs decorrelating: a changed input flips FP8 roundings).
 */
function wideVsFp32Wide(c: ModelConfig, k: Kernels, base: string, batch: Batch) {
  const narrow = stepOf(c, k, resolvePrecision({ base, activations: 'bf16' }), batch);
  const wide = stepOf(c, k, resolvePrecision({ base, activations: 'fp32' }), batch);
  const ref = stepOf(c, k, resolvePrecision('fp32'), batch);
  let worst = { name: '', db: Infinity };
  for (const s of wide.m.params.specs) {
    if (s.shape.length !== 2) continue;
    const db = sqnrDb(wide.m.grads.get(s.name), narrow.m.grads.get(s.name));
    if (db < worst.db) worst = { name: s.name, db };
  }
  return {
    lossRel: Math.abs(narrow.loss - wide.loss) / wide.loss,
    whole: sqnrDb(wide.m.grads.data, narrow.m.grads.data),
    worst,
    bf16WideVsRef: sqnrDb(ref.m.grads.data, narrow.m.grads.data),
    fp32WideVsRef: sqnrDb(ref.m.grads.data, wide.m.grads.data),
  };
}

// Thresholds sit ~3 dB under the values measured on the reference backend (docs/model.md); FP8
// GEMMs are judged against the float32 reference: BF16 wide tensors may cost at most 1.5 dB there.
const WIDE_CASES: { preset: string; overrides: object; base: string; whole: number; worst: number }[] = [
  { preset: 'llama3', overrides: {}, base: 'fp32', whole: 42, worst: 38 },
  { preset: 'llama3', overrides: {}, base: 'bf16', whole: 43, worst: 37 },
  { preset: 'llama3', overrides: {}, base: 'fp8-delayed', whole: -Infinity, worst: -Infinity },
  { preset: 'fog-xielu', overrides: {}, base: 'fp32', whole: 29, worst: 25 },
  { preset: 'fog-xielu', overrides: {}, base: 'bf16', whole: 25, worst: 19 },
  { preset: 'fog-xielu', overrides: {}, base: 'fp8-delayed', whole: -Infinity, worst: -Infinity },
  { preset: 'fog-xielu', overrides: { softmaxScale: 0.5 }, base: 'fp32', whole: 39, worst: 34 },
  { preset: 'fog-xielu', overrides: { softmaxScale: 0.5 }, base: 'fp8-delayed', whole: -Infinity, worst: -Infinity },
];

test('bf16-wide vs fp32-wide on the same weights and batch: loss within 0.1 %, whole and worst per-matrix gradient SQNR (printed; docs/model.md)', () => {
  const k = createReferenceKernels();
  for (const w of WIDE_CASES) {
    const c = resolveModelConfig({ preset: w.preset, size: 'tiny', ...w.overrides });
    const r = wideVsFp32Wide(c, k, w.base, makeBatch(c, 2, 8, 4));
    const what = `${w.preset}${'softmaxScale' in w.overrides ? ' (softmax scale 0.5)' : ''} tiny, ${w.base} GEMMs`;
    console.log(
      `# ${what}: bf16-wide vs fp32-wide loss rel diff ${r.lossRel.toExponential(1)}, gradient SQNR whole ${r.whole.toFixed(1)} dB, worst matrix ${r.worst.db.toFixed(1)} dB (${r.worst.name}); ` +
        `vs all-fp32: bf16-wide ${r.bf16WideVsRef.toFixed(1)} dB, fp32-wide ${r.fp32WideVsRef.toFixed(1)} dB`,
    );
    assert.ok(r.lossRel < (w.base.startsWith('fp8') ? 1e-2 : 1e-3), `${what}: loss rel diff ${r.lossRel}`);
    assert.ok(Number.isFinite(r.whole) && r.whole < 120, `${what}: BF16 wide tensors changed nothing (${r.whole} dB)`);
    assert.ok(r.whole >= w.whole, `${what}: whole-gradient SQNR ${r.whole.toFixed(1)} dB < ${w.whole}`);
    assert.ok(r.worst.db >= w.worst, `${what}: ${r.worst.name} SQNR ${r.worst.db.toFixed(1)} dB < ${w.worst}`);
    if (w.base.startsWith('fp8')) assert.ok(r.bf16WideVsRef >= r.fp32WideVsRef - 1.5, `${what}: BF16 wide tensors cost ${(r.fp32WideVsRef - r.bf16WideVsRef).toFixed(1)} dB against float32`);
  }
});

test('bf16-wide vs fp32-wide at size small (native kernels, 2 × 64 tokens): loss and gradient SQNR (printed; docs/model.md)', async (t) => {
  const native = (await backends()).find((k) => k.name === 'native');
  if (!native) {
    t.skip('native kernels unavailable (the reference backend is too slow for size small)');
    return;
  }
  for (const preset of ['llama3', 'fog-xielu']) {
    const c = resolveModelConfig({ preset, size: 'small' });
    const batch = makeBatch(c, 2, 64, 4);
    for (const base of ['fp32', 'bf16', 'fp8-delayed']) {
      const r = wideVsFp32Wide(c, native, base, batch);
      const what = `${preset} small, ${base} GEMMs`;
      console.log(
        `# ${what}: bf16-wide vs fp32-wide loss rel diff ${r.lossRel.toExponential(1)}, gradient SQNR whole ${r.whole.toFixed(1)} dB, worst matrix ${r.worst.db.toFixed(1)} dB (${r.worst.name}); ` +
          `vs all-fp32: bf16-wide ${r.bf16WideVsRef.toFixed(1)} dB, fp32-wide ${r.fp32WideVsRef.toFixed(1)} dB`,
      );
      assert.ok(r.lossRel < (base.startsWith('fp8') ? 1e-2 : 1e-3), `${what}: loss rel diff ${r.lossRel}`);
      if (!base.startsWith('fp8')) assert.ok(r.whole >= 25 && r.whole < 120, `${what}: whole-gradient SQNR ${r.whole.toFixed(1)} dB`);
      else assert.ok(r.bf16WideVsRef >= r.fp32WideVsRef - 1.5, `${what}: BF16 wide tensors cost ${(r.fp32WideVsRef - r.bf16WideVsRef).toFixed(1)} dB against float32`);
    }
  }
});
