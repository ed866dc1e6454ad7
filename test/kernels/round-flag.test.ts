import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends, onEveryNativePath } from './backends.js';
import { Rng } from './random.js';
import type { GemmOperand, Kernels } from '../../src/kernels/types.js';

// The roundBf16 flag of the kernels that write float outputs: the output must be bit for bit the
// unflagged kernel's output followed by a roundBf16 pass (what the graph did before fusing it), the
// returned statistics unchanged, on every backend, every native ISA path and thread count.

const R = 37, F = 19, C = 24, B = 2, T = 5, H = 3, D = 8;
/** Cast length: several threads' chunks and dequantize's 4096-element blocks, with a ragged tail. */
const N = 150_001;

interface Case {
  name: string;
  /** Runs the kernel with the flag; returns the output buffer(s) it wrote and any returned value. */
  run(k: Kernels, round: boolean | undefined): { outs: Float32Array[]; result?: unknown };
}

function cases(): Case[] {
  const rng = new Rng(17);
  const h = rng.normals(R * 2 * F, 2);
  const x = rng.normals(R * C, 3);
  const dy = rng.normals(R * C, 1e-3);
  const gain = rng.uniforms(C, 0.5, 1.5);
  const rope = rng.normals(B * T * H * D);
  const codes = new Uint8Array(N).map((_, i) => (i * 37) & 0xff);
  const xs = rng.normals(N, 0.7);
  const xielu = { alphaP: 0.8, alphaN: 0.8, beta: 0.5, eps: -1e-6 };
  const rstd = new Float32Array(R);
  return [
    { name: 'dequantize', run: (k, r) => { const o = new Float32Array(N); k.dequantize(codes, 'e4m3', 0.37, o, r); return { outs: [o] }; } },
    { name: 'quantizeDequantize', run: (k, r) => { const o = new Float32Array(N); return { outs: [o], result: k.quantizeDequantize(xs, 'e5m2', 3.5, o, r) }; } },
    { name: 'quantizeDequantize in place', run: (k, r) => { const o = xs.slice(); return { outs: [o], result: k.quantizeDequantize(o, 'e4m3', 100, o, r) }; } },
    { name: 'rmsnormForward', run: (k, r) => { const y = new Float32Array(R * C); k.rmsnormForward(x, gain, y, rstd, R, C, 1e-5, r); return { outs: [y] }; } },
    { name: 'rmsnormBackward', run: (k, r) => {
      k.rmsnormForward(x, gain, new Float32Array(R * C), rstd, R, C, 1e-5);
      const dx = new Float32Array(R * C), dg = new Float32Array(C);
      k.rmsnormBackward(dy, x, gain, rstd, dx, dg, R, C, r);
      return { outs: [dx, dg] };
    } },
    { name: 'ropeForward in place', run: (k, r) => { const y = rope.slice(); k.ropeForward(y, y, B, T, H, D, 10000, null, r); return { outs: [y] }; } },
    { name: 'ropeBackward', run: (k, r) => { const y = new Float32Array(rope.length); k.ropeBackward(rope, y, B, T, H, D, 500000, { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 4 }, r); return { outs: [y] }; } },
    { name: 'swigluForward', run: (k, r) => { const a = new Float32Array(R * F); k.swigluForward(h, a, R, F, r); return { outs: [a] }; } },
    { name: 'swigluBackward', run: (k, r) => { const dh = new Float32Array(R * 2 * F); k.swigluBackward(h, h.subarray(0, R * F), dh, R, F, r); return { outs: [dh] }; } },
    { name: 'smoothSwigluForward', run: (k, r) => { const a = new Float32Array(R * F), s = new Float32Array(R); k.smoothSwigluForward(h, a, s, R, F, r); return { outs: [a, s] }; } },
    { name: 'smoothSwigluBackward', run: (k, r) => {
      const s = new Float32Array(R).fill(1.7);
      const dh = new Float32Array(R * 2 * F);
      k.smoothSwigluBackward(h, s, h.subarray(R * F), dh, R, F, r);
      return { outs: [dh] };
    } },
    { name: 'crossEntropyBackward', run: (k, r) => {
      const V = 2 * F + 3;
      const logits = new Rng(3).normals(R * V, 3);
      const targets = new Int32Array(R).map((_, i) => (i % 5 === 4 ? -1 : (i * 7) % V));
      const lse = new Float32Array(R), losses = new Float32Array(R), dl = new Float32Array(R).fill(0.37);
      k.crossEntropyForward(logits, targets, losses, lse, R, V);
      const d = new Float32Array(R * V);
      k.crossEntropyBackward(logits, targets, lse, dl, d, R, V, r);
      return { outs: [d] };
    } },
    // GEMM: the float32 path, and the BF16-pair path (BF16, FP8 with inverse scales, a transposed A,
    // several k blocks, M/N edge tiles), with and without beta.
    ...gemmCases(rng),
    { name: 'geluForward', run: (k, r) => { const y = new Float32Array(x.length); k.geluForward(x, y, r); return { outs: [y] }; } },
    { name: 'geluBackward', run: (k, r) => { const d = new Float32Array(x.length); k.geluBackward(x, xs.subarray(0, x.length), d, r); return { outs: [d] }; } },
    { name: 'xieluForward', run: (k, r) => { const y = new Float32Array(x.length); k.xieluForward(x, y, xielu, r); return { outs: [y] }; } },
    { name: 'xieluBackward', run: (k, r) => { const d = new Float32Array(x.length); return { outs: [d], result: k.xieluBackward(x, xs.subarray(0, x.length), d, xielu, r) }; } },
  ];
}

function gemmCases(rng: Rng): Case[] {
  const M = 37, N = 53, K = 600;
  const f32a = rng.normals(M * K), f32b = rng.normals(K * N), c0 = rng.normals(M * N, 3);
  const bits = (v: Float32Array): Uint16Array => {
    const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
    return Uint16Array.from(u, (w) => w >>> 16); // truncation: any BF16 values will do
  };
  const withSpecials = (u: Uint16Array): Uint16Array => {
    u[3 * K + 5] = 0x7fc1; // NaN with payload
    u[7 * K + 9] = 0xff80; // −inf
    u[20 * K] = 0x7f80; // +inf
    return u;
  };
  // Bit 3 cleared: no NaN or infinity code in either format (0x7f, 0x7c–0x7f and their negatives).
  const codes = (n: number, seed: number): Uint8Array => new Uint8Array(n).map((_, i) => (i * 131 + seed) & 0xf7);
  const ops: [string, GemmOperand, GemmOperand][] = [
    ['f32', { dtype: 'f32', data: f32a, trans: false }, { dtype: 'f32', data: f32b, trans: true }],
    ['bf16', { dtype: 'bf16', data: bits(f32a), trans: false }, { dtype: 'bf16', data: bits(f32b), trans: false }],
    ['e5m2ᵀ·e4m3', { dtype: 'e5m2', data: codes(M * K, 3), trans: true, invScale: 0.37 }, { dtype: 'e4m3', data: codes(K * N, 5), trans: false, invScale: 1.9 }],
    // NaN and infinity in some rows (NaN outputs keep their quiet bit and top payload bits when rounded)
    ['bf16 with NaN, ±inf', { dtype: 'bf16', data: withSpecials(bits(f32a)), trans: false }, { dtype: 'bf16', data: bits(f32b), trans: true }],
  ];
  return ops.flatMap(([name, a, b]) => [0, 0.5].map((beta): Case => ({
    name: `gemm ${name} beta ${beta}`,
    run: (k, r) => { const c = c0.slice(); k.gemm(M, N, K, a, b, c, 1.25, beta, r); return { outs: [c] }; },
  })));
}

function bitsEqual(a: Float32Array, b: Float32Array, what: string): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) if (ua[i] !== ub[i]) assert.fail(`${what}: element ${i} is ${a[i]}, expected ${b[i]}`);
}

function checkAll(k: Kernels, label: string): void {
  for (const c of cases()) {
    const plain = c.run(k, undefined);
    const off = c.run(k, false);
    const on = c.run(k, true);
    // The first output is the one the flag rounds; any others (dgain, s) and the result are unaffected.
    const want = plain.outs[0].slice();
    k.roundBf16(want, want);
    bitsEqual(on.outs[0], want, `${label} ${c.name} rounded`);
    bitsEqual(off.outs[0], plain.outs[0], `${label} ${c.name} unrounded`);
    for (let i = 1; i < plain.outs.length; i++) bitsEqual(on.outs[i], plain.outs[i], `${label} ${c.name} output ${i}`);
    assert.deepEqual(on.result, plain.result, `${label} ${c.name}: the statistics are those of the unrounded output`);
    assert.ok(want.some((v, i) => v !== plain.outs[0][i]), `${label} ${c.name}: the case must need rounding`);
  }
}

test('roundBf16 flag = the kernel then roundBf16, bit for bit, statistics unchanged (every backend)', async () => {
  for (const k of await backends()) checkAll(k, k.name);
});

test('roundBf16 flag: every native ISA path and thread count', async (t) => {
  const skip = await onEveryNativePath((native, label) => checkAll(native, label));
  if (skip) t.skip(skip);
});

test('roundBf16 flag: a non-boolean is refused, naming the argument', async () => {
  for (const k of await backends()) {
    const o = new Float32Array(4);
    assert.throws(() => k.dequantize(new Uint8Array(4), 'e4m3', 1, o, 1 as unknown as boolean), /dequantize: roundBf16 must be a boolean/);
  }
});
