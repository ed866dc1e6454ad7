import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';
import { Rng, assertClose, finiteDifference, weightedSum } from './random.js';
import { ropeFrequencies } from '../../src/kernels/reference/rope.js';
import type { RopeScaling } from '../../src/kernels/types.js';

const B = 2;
const T = 6;
const H = 3;
const D = 8;

/**
 * Llama-3.1 frequency scaling written from the published formula (Meta's reference
 * `apply_scaling`): for each f = θ^(−2i/D), wavelength λ = 2π/f; λ < C/high keeps f; λ > C/low
 * gives f/factor; in between, smooth = (C/λ − low)/(high − low) and f' = (1 − smooth)·f/factor + smooth·f.
 */
function llama31Frequency(f: number, s: RopeScaling): number {
  const wavelength = (2 * Math.PI) / f;
  const C = s.originalContext;
  if (wavelength < C / s.highFreqFactor) return f;
  if (wavelength > C / s.lowFreqFactor) return f / s.factor;
  const smooth = (C / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
  return (1 - smooth) * (f / s.factor) + smooth * f;
}

/** Naive float64 RoPE, written from DESIGN §4: pairs (i, i + D/2), angle t·θ^(−2i/D) (Llama-3.1-scaled when given). */
function rope64(x: ArrayLike<number>, theta: number, scaling: RopeScaling | null = null): Float64Array {
  const y = new Float64Array(B * T * H * D);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const base = ((b * T + t) * H + h) * D;
        for (let i = 0; i < D / 2; i++) {
          const f = 1 / theta ** ((2 * i) / D);
          const angle = t * (scaling ? llama31Frequency(f, scaling) : f);
          const [x1, x2] = [x[base + i], x[base + i + D / 2]];
          y[base + i] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
          y[base + i + D / 2] = x1 * Math.sin(angle) + x2 * Math.cos(angle);
        }
      }
    }
  }
  return y;
}

test('rope forward vs float64, backward vs finite differences, in place', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      for (const theta of [10000, 500000]) {
        const rng = new Rng(theta);
        const x = rng.normals(B * T * H * D);
        const y = new Float32Array(x.length);
        k.ropeForward(x, y, B, T, H, D, theta);
        assertClose(y, rope64(x, theta), 1e-6, 1e-6, 'y');
        assert.deepEqual(y.subarray(0, H * D), x.subarray(0, H * D), 'position 0 is the identity');
        const inPlace = x.slice();
        k.ropeForward(inPlace, inPlace, B, T, H, D, theta);
        assert.deepEqual(inPlace, y, 'y aliasing x');
        const w = rng.normals(x.length);
        const dx = new Float32Array(x.length);
        k.ropeBackward(w, dx, B, T, H, D, theta);
        assertClose(dx, finiteDifference((xx) => weightedSum(rope64(xx, theta), w), x, 1e-5), 1e-5, 1e-4, 'dx');
        const dxInPlace = w.slice();
        k.ropeBackward(dxInPlace, dxInPlace, B, T, H, D, theta);
        assert.deepEqual(dxInPlace, dx, 'dx aliasing dy');
      }
    });
  }
});

// With D = 8, θ = 10⁴ the wavelengths are 6.3, 63, 628, 6283: C = 1000, low 1, high 4 puts two in
// the kept band, one in the interpolated band and one in the divided band.
const BANDS: RopeScaling = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 1000 };

test('rope with Llama-3.1 scaling: forward vs the float64 published formula, backward vs finite differences', async (t) => {
  const f = ropeFrequencies(D, 10000, BANDS);
  const plain = ropeFrequencies(D, 10000);
  assert.equal(f[0], plain[0], 'high frequency kept');
  assert.equal(f[3], plain[3] / 8, 'low frequency divided by factor');
  assert.ok(f[2] < plain[2] && f[2] > plain[2] / 8, 'middle band interpolated');
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const rng = new Rng(31);
      const x = rng.normals(B * T * H * D);
      const y = new Float32Array(x.length);
      k.ropeForward(x, y, B, T, H, D, 10000, BANDS);
      assertClose(y, rope64(x, 10000, BANDS), 1e-6, 1e-6, 'y');
      const unscaled = new Float32Array(x.length);
      k.ropeForward(x, unscaled, B, T, H, D, 10000, null);
      assert.notDeepEqual(y, unscaled, 'scaling changes the rotation');
      const w = rng.normals(x.length);
      const dx = new Float32Array(x.length);
      k.ropeBackward(w, dx, B, T, H, D, 10000, BANDS);
      assertClose(dx, finiteDifference((xx) => weightedSum(rope64(xx, 10000, BANDS), w), x, 1e-5), 1e-5, 1e-4, 'dx');
      assert.throws(() => k.ropeForward(x, y, B, T, H, D, 10000, { ...BANDS, highFreqFactor: 1 }), /highFreqFactor/);
    });
  }
});

test('ropeFrequencies at the paper shape (head_dim 128, θ 500000, factor 8 / 1 / 4 / 8192) equal the published formula', () => {
  const s: RopeScaling = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 };
  const f = ropeFrequencies(128, 500000, s);
  let kept = 0, divided = 0, mixed = 0;
  for (let i = 0; i < 64; i++) {
    const base = 1 / 500000 ** ((2 * i) / 128);
    const want = llama31Frequency(base, s);
    assert.ok(Math.abs(f[i] - want) <= 1e-15 * want, `f[${i}] = ${f[i]}, want ${want}`);
    const ratio = f[i] / base;
    if (Math.abs(ratio - 1) < 1e-12) kept++;
    else if (Math.abs(ratio - 1 / 8) < 1e-12) divided++;
    else mixed++;
  }
  // Wavelength 2π·500000^(i/64) passes 2048 after i = 28 and 8192 after i = 34.
  assert.deepEqual([kept, mixed, divided], [29, 6, 29]);
});

test('native RoPE: the vector paths (avx2, avx512bf16) give the scalar path\'s bits (float64 products, no FMA), 1 or 2 threads', async (t) => {
  let control: { bestIsa(): string; isa(): string; setIsa(i: string): void; threads(): number; setThreads(n: number): void };
  let native: import('../../src/kernels/types.js').Kernels;
  try {
    const m = (await import('../../src/kernels/native.js')) as { loadNativeKernels(): typeof native; loadNativeAddon(): typeof control };
    native = m.loadNativeKernels();
    control = m.loadNativeAddon();
  } catch (error) {
    t.skip(`native addon unavailable: ${(error as Error).message}`);
    return;
  }
  const isas = ['scalar', 'avx2', 'avx512bf16'].slice(0, ['scalar', 'avx2', 'avx512bf16'].indexOf(control.bestIsa()) + 1);
  const savedIsa = control.isa(), savedThreads = control.threads();
  // head sizes: a multiple of every vector width, and ragged ones (vector body + scalar tail)
  const shapes = [[2, 33, 3, 64], [1, 17, 2, 40], [2, 9, 1, 6]];
  const run = (isa: string, threads: number, B: number, T: number, H: number, D: number, forward: boolean) => {
    control.setIsa(isa);
    control.setThreads(threads);
    const x = new Rng(B * T + D).normals(B * T * H * D, 3);
    const y = new Float32Array(x.length);
    if (forward) native.ropeForward(x, y, B, T, H, D, 500000, BANDS);
    else native.ropeBackward(x, y, B, T, H, D, 10000, null);
    return new Uint32Array(y.buffer);
  };
  try {
    for (const [B, T, H, D] of shapes) {
      for (const forward of [true, false]) {
        const want = run('scalar', 1, B, T, H, D, forward);
        for (const isa of isas) for (const threads of [1, 2]) assert.deepEqual(run(isa, threads, B, T, H, D, forward), want, `${isa}/${threads} ${forward ? 'forward' : 'backward'} ${B}×${T}×${H}×${D}`);
      }
    }
  } finally {
    control.setIsa(savedIsa);
    control.setThreads(savedThreads);
  }
});
