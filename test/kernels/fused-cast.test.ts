import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends, onEveryNativePath } from './backends.js';
import { Rng } from './random.js';
import type { CastStats, FusedCast, Kernels } from '../../src/kernels/types.js';

// The activation kernels' and RMSNorm forward's fused FP8 cast (last argument `cast`): the codes and stats must be those of
// the kernel's float output (rounded as the flag says) cast by quantize afterwards — what the graph
// did before fusing it — and the float output array must be left alone. Shapes span several
// 4096-element stage pieces per thread, rows longer than a piece (the gated kernels cut rows) and a
// ragged tail; every backend, native ISA path and thread count.

/** Gated shapes: rows longer than a stage piece (cut into pieces), and short rows gathered many to a stage. */
const GATED: [number, number][] = [[5, 4100], [700, 37]];
const N = 3 * 16384 + 77;
/** Per format: both overflow above |x| ≈ 9 (and underflow far below). */
const SCALE = { e4m3: 48, e5m2: 6144 } as const;

interface Case {
  name: string;
  /** Runs the kernel, with `cast` or without; returns its float output buffer and any other result. */
  run(k: Kernels, round: boolean, cast: FusedCast | null): { out: Float32Array; stats: CastStats | null; other?: unknown };
}

function cases(): Case[] {
  const rng = new Rng(23);
  // magnitudes spread over 2⁻²⁰…2⁴, so that the casts underflow and overflow
  const wide = (n: number) => rng.normals(n).map((v) => v * 2 ** rng.uniform(-20, 4));
  const x = wide(N);
  const dy = wide(N);
  const xielu = { alphaP: 0.8, alphaN: 0.8, beta: 0.5, eps: -1e-6 };
  const gated = GATED.flatMap(([R, F]): Case[] => {
    const h = wide(R * 2 * F);
    const da = wide(R * F);
    const s = rng.uniforms(R, 1, 4);
    const at = ` ${R}×${F}`;
    return [
      { name: `swigluForward${at}`, run: (k, r, c) => { const a = new Float32Array(R * F); return { out: a, stats: k.swigluForward(h, a, R, F, r, null, c) }; } },
      { name: `swigluBackward${at}`, run: (k, r, c) => { const d = new Float32Array(R * 2 * F); return { out: d, stats: k.swigluBackward(h, da, d, R, F, r, c) }; } },
      {
        name: `smoothSwigluForward${at}`,
        run: (k, r, c) => { const a = new Float32Array(R * F), sOut = new Float32Array(R); return { out: a, stats: k.smoothSwigluForward(h, a, sOut, R, F, r, null, c), other: sOut }; },
      },
      { name: `smoothSwigluBackward${at}`, run: (k, r, c) => { const d = new Float32Array(R * 2 * F); return { out: d, stats: k.smoothSwigluBackward(h, s, da, d, R, F, r, c) }; } },
    ];
  });
  const norms = ([[37, 300], [5, 5000], [700, 64]] as const).map(([R, C]): Case => {
    const xs = wide(R * C);
    const gain = rng.uniforms(C, 0.5, 1.5);
    return {
      name: `rmsnormForward ${R}×${C}`,
      run: (k, r, c) => {
        const y = new Float32Array(R * C), rstd = new Float32Array(R), saved = new Float32Array(R * C);
        return { out: y, stats: k.rmsnormForward(xs, gain, y, rstd, R, C, 1e-5, r, saved, c), other: [rstd, saved] };
      },
    };
  });
  return [
    ...gated,
    ...norms,
    { name: 'geluForward', run: (k, r, c) => { const y = new Float32Array(N); return { out: y, stats: k.geluForward(x, y, r, null, c) }; } },
    { name: 'geluBackward', run: (k, r, c) => { const d = new Float32Array(N); return { out: d, stats: k.geluBackward(x, dy, d, r, c) }; } },
    { name: 'xieluForward', run: (k, r, c) => { const y = new Float32Array(N); return { out: y, stats: k.xieluForward(x, y, xielu, r, null, c) }; } },
    {
      name: 'xieluBackward',
      run: (k, r, c) => {
        const d = new Float32Array(N);
        const g = k.xieluBackward(x, dy, d, xielu, r, c);
        return { out: d, stats: g.cast, other: [g.dAlphaP, g.dAlphaN] };
      },
    },
  ];
}

const counts = (c: CastStats) => ({ amax: c.amax, underflow: c.underflow, overflow: c.overflow, nonzero: c.nonzero });

function checkAll(k: Kernels, label: string): void {
  for (const format of ['e4m3', 'e5m2'] as const) {
    for (const c of cases()) {
      for (const round of [false, true]) {
        const what = `${label} ${c.name} ${format} round ${round}`;
        const plain = c.run(k, round, null);
        assert.equal(plain.stats, null, `${what}: no cast, no stats`);
        const want = new Uint8Array(plain.out.length);
        const wantStats = k.quantize(plain.out, format, SCALE[format], want);
        const codes = new Uint8Array(plain.out.length).fill(0x5a);
        const fused = c.run(k, round, { format, scale: SCALE[format], codes });
        assert.ok(fused.out.every((v) => v === 0), `${what}: the float output is not written`);
        assert.deepEqual(codes, want, `${what}: codes`);
        const got = fused.stats as CastStats;
        assert.deepEqual(counts(got), counts(wantStats), `${what}: counts`);
        for (const f of ['sumSq', 'errSq', 'absSum', 'lostAbs'] as const) {
          assert.ok(Math.abs(got[f]! - wantStats[f]!) <= 1e-6 * Math.abs(wantStats[f]!), `${what}: ${f} ${got[f]} vs ${wantStats[f]}`);
        }
        assert.ok(wantStats.overflow > 0 && wantStats.underflow > 0, `${what}: the case exercises both counts`);
        assert.deepEqual(fused.other, plain.other, `${what}: the kernel's other results are unchanged`);
      }
    }
  }
}

test('fused FP8 cast of an activation\'s output = the kernel then quantize: codes, stats, other results; the float output untouched (every backend)', async () => {
  for (const k of await backends()) checkAll(k, k.name);
});

test('fused FP8 cast: every native ISA path and thread count', async (t) => {
  const skip = await onEveryNativePath((native, label) => checkAll(native, label));
  if (skip) t.skip(skip);
});

test('fused FP8 cast: a codes array of the wrong length is refused, naming it', async () => {
  for (const k of await backends()) {
    const x = new Float32Array(8);
    assert.throws(() => k.geluForward(x, new Float32Array(8), false, null, { format: 'e4m3', scale: 1, codes: new Uint8Array(7) }), /codes/);
  }
});
