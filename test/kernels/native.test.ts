// Native-addon-specific checks: codecs bit-exact with the reference over all codes and > 1 M
// random values, GEMM results independent of the thread count, every forced ISA path within the
// float32 accumulation bound of a float64 GEMM, and bad raw-addon calls throwing TypeError.
import type { CastStats } from '../../src/kernels/types.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeAddon, type NativeCoreAddon, type NativeIsa } from '../../src/kernels/native.js';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { decodeFp8 } from '../../src/numerics/fp8.js';
import type { Fp8FormatName, GemmOperand, OperandDtype } from '../../src/kernels/types.js';
import { Rng } from './random.js';
import { allCandidates } from '../../src/kernels/tune.js';

let addon: NativeCoreAddon | null = null;
let skipReason: string | false = false;
try {
  addon = loadNativeAddon();
} catch (error) {
  skipReason = `native addon unavailable: ${error instanceof Error ? error.message : String(error)}`;
}
const reference = createReferenceKernels();
const FORMATS: Fp8FormatName[] = ['e4m3', 'e5m2'];
const ISAS: NativeIsa[] = ['scalar', 'avx2', 'avx512bf16'];

function native(): NativeCoreAddon {
  if (addon === null) throw new Error('unreachable: test should have been skipped');
  return addon;
}

/** The ISA paths this CPU can run, lowest first. */
function runnableIsas(): NativeIsa[] {
  return ISAS.slice(0, ISAS.indexOf(native().bestIsa()) + 1);
}

/** Random float32 bit patterns (all exponents, NaN and Inf included) mixed with format-range values. */
function codecInputs(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    if (i % 4 === 0) bits[i] = (rng.int(65536) << 16) | rng.int(65536);
    else bits[i] = (rng.int(2) << 31) | ((127 + rng.int(50) - 25) << 23) | rng.int(1 << 23);
  }
  const x = new Float32Array(bits.buffer);
  x.set([0, -0, NaN, -NaN, Infinity, -Infinity, 448, 464, 57344, 61440, 2 ** -10, 2 ** -17, 1e-45, -3.4e38]);
  return x;
}

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function withIsa<T>(isa: NativeIsa, fn: () => T): T {
  const saved = native().isa();
  native().setIsa(isa);
  try {
    return fn();
  } finally {
    native().setIsa(saved);
  }
}

function withThreads<T>(n: number, fn: () => T): T {
  const saved = native().threads();
  native().setThreads(n);
  try {
    return fn();
  } finally {
    native().setThreads(saved);
  }
}

test('dequantize: all 256 codes of both formats equal the reference', { skip: skipReason }, () => {
  const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
  for (const isa of runnableIsas()) {
    withIsa(isa, () => {
      for (const format of FORMATS) {
        for (const invScale of [1, 0.125, 3.7]) {
          const got = new Float32Array(256);
          const want = new Float32Array(256);
          native().dequantize(codes, format, invScale, got);
          reference.dequantize(codes, format, invScale, want);
          assert.deepEqual(bitsOf(got), bitsOf(want), `${isa} ${format} invScale ${invScale}`);
        }
      }
    });
  }
});

/** Counts and amax exactly; the error sums to 1e-5 relative (the AVX2 loop sums sub-blocks in float32 lanes). */
function assertSameStats(got: CastStats, want: CastStats, what: string): void {
  const { sumSq, errSq, absSum, lostAbs, ...counts } = got;
  const { sumSq: s2, errSq: e2, absSum: a2, lostAbs: l2, ...wantCounts } = want;
  assert.deepEqual(counts, wantCounts, what);
  [[sumSq, s2], [errSq, e2], [absSum, a2], [lostAbs, l2]].forEach(([g, w], i) => {
    assert.ok(typeof g === 'number' && Math.abs(g - (w as number)) <= 1e-5 * Math.abs(w as number), `${what}: error sum ${i}: ${g} vs ${w}`);
  });
}

test('quantize, quantizeDequantize, roundBf16, packBf16: bit-exact with the reference on 1 M values', { skip: skipReason }, () => {
  const x = codecInputs(1 << 20, 11);
  const rng = new Rng(5);
  for (const isa of runnableIsas()) {
    withIsa(isa, () => {
      for (const format of FORMATS) {
        const scales = isa === 'scalar' ? [1, rng.uniform(0.01, 100)] : [1, 2 ** -7, rng.uniform(0.01, 100), 3e5];
        for (const scale of scales) {
          const got = new Uint8Array(x.length);
          const want = new Uint8Array(x.length);
          const gotStats = native().quantize(x, format, scale, got);
          const wantStats = reference.quantize(x, format, scale, want);
          assertSameStats(gotStats, wantStats, `${isa} ${format} scale ${scale} stats`);
          assert.ok(Buffer.compare(got, want) === 0, `${isa} ${format} scale ${scale} codes`);
          const gotOut = new Float32Array(x.length);
          const wantOut = new Float32Array(x.length);
          assertSameStats(native().quantizeDequantize(x, format, scale, gotOut), reference.quantizeDequantize(x, format, scale, wantOut), `${isa} ${format} scale ${scale} qdq stats`);
          assert.ok(Buffer.compare(new Uint8Array(gotOut.buffer), new Uint8Array(wantOut.buffer)) === 0, `${isa} ${format} qdq`);
        }
      }
      const rounded = new Float32Array(x.length);
      const roundedRef = new Float32Array(x.length);
      native().roundBf16(x, rounded);
      reference.roundBf16(x, roundedRef);
      assert.ok(Buffer.compare(new Uint8Array(rounded.buffer), new Uint8Array(roundedRef.buffer)) === 0, `${isa} roundBf16`);
      const packed = new Uint16Array(x.length);
      const packedRef = new Uint16Array(x.length);
      native().packBf16(x, packed);
      reference.packBf16(x, packedRef);
      assert.ok(Buffer.compare(new Uint8Array(packed.buffer), new Uint8Array(packedRef.buffer)) === 0, `${isa} packBf16`);
    });
  }
});

/** A random operand of `rows × cols` logical elements in `dtype`, and its decoded float64 values. */
function operand(rng: Rng, dtype: OperandDtype, elements: number, trans: boolean, invScale: number): GemmOperand {
  const values = rng.normals(elements, 2);
  if (dtype === 'f32') return { dtype, data: values, trans, invScale };
  if (dtype === 'bf16') {
    const bits = new Uint16Array(elements);
    reference.packBf16(values, bits);
    return { dtype, data: bits, trans, invScale };
  }
  const codes = new Uint8Array(elements);
  reference.quantize(values, dtype, 1, codes);
  return { dtype, data: codes, trans, invScale };
}

function decoded(op: GemmOperand): Float64Array {
  if (op.data instanceof Float32Array) return Float64Array.from(op.data);
  if (op.data instanceof Uint16Array) return Float64Array.from(op.data, (h) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]);
  if (op.dtype !== 'e4m3' && op.dtype !== 'e5m2') throw new TypeError(`dtype ${op.dtype} with Uint8Array data`);
  return Float64Array.from(decodeFp8(op.data, op.dtype));
}

/** Checks c against a float64 GEMM within the float32 accumulation bound (K + 2)·u·Σ|a·b|. */
function assertWithinBound(M: number, N: number, K: number, a: GemmOperand, b: GemmOperand, c: Float32Array, c0: Float32Array, alpha: number, beta: number, label: string): void {
  const A = decoded(a);
  const B = decoded(b);
  const s = alpha * (a.invScale ?? 1) * (b.invScale ?? 1);
  const u = 2 ** -24;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      let abs = 0;
      for (let k = 0; k < K; k++) {
        const av = a.trans ? A[k * M + i] : A[i * K + k];
        const bv = b.trans ? B[j * K + k] : B[k * N + j];
        sum += av * bv;
        abs += Math.abs(av * bv);
      }
      const want = s * sum + beta * c0[i * N + j];
      const bound = (K + 3) * u * Math.abs(s) * abs + 2 * u * Math.abs(beta * c0[i * N + j]) + 1e-30;
      const got = c[i * N + j];
      if (!(Math.abs(got - want) <= bound)) assert.fail(`${label}: c[${i},${j}] = ${got}, float64 ${want}, bound ${bound}`);
    }
  }
}

test('gemm: every forced ISA path reports its name and stays within the float32 bound', { skip: skipReason }, () => {
  const rng = new Rng(3);
  const dtypes: OperandDtype[] = ['f32', 'bf16', 'e4m3', 'e5m2'];
  for (const isa of runnableIsas()) {
    withIsa(isa, () => {
      assert.equal(native().isa(), isa);
      for (const [M, N, K] of [[1, 1, 1], [37, 53, 61], [7, 19, 300]]) {
        for (const da of dtypes) {
          for (const db of dtypes) {
            for (const ta of [false, true]) {
              const tb = (M + K + (ta ? 1 : 0)) % 2 === 0;
              const a = operand(rng, da, M * K, ta, da.startsWith('e') ? 0.5 : 1);
              const b = operand(rng, db, K * N, tb, db.startsWith('e') ? 0.25 : 1);
              const beta = ta ? 0.5 : 0;
              const c0 = rng.normals(M * N);
              const c = Float32Array.from(c0);
              native().gemm(M, N, K, a, b, c, 1.5, beta);
              assertWithinBound(M, N, K, a, b, c, c0, 1.5, beta, `${isa} ${M}x${N}x${K} ${da}${ta ? 'ᵀ' : ''}·${db}${tb ? 'ᵀ' : ''}`);
            }
          }
        }
      }
    });
  }
});

test('gemm: 1 and 2 threads give bit-identical results (K split never)', { skip: skipReason }, () => {
  const rng = new Rng(9);
  const cases: [number, number, number, OperandDtype, OperandDtype][] = [
    [300, 200, 700, 'f32', 'f32'], [256, 96, 513, 'e4m3', 'e4m3'], [129, 260, 64, 'e5m2', 'e4m3'], [64, 33, 1000, 'bf16', 'bf16'],
  ];
  for (const isa of runnableIsas()) {
    withIsa(isa, () => {
      for (const [M, N, K, da, db] of cases) {
        const a = operand(rng, da, M * K, false, 1);
        const b = operand(rng, db, K * N, true, 1);
        const c1 = new Float32Array(M * N);
        const c2 = new Float32Array(M * N);
        const c3 = new Float32Array(M * N);
        withThreads(1, () => native().gemm(M, N, K, a, b, c1));
        withThreads(2, () => native().gemm(M, N, K, a, b, c2));
        withThreads(3, () => native().gemm(M, N, K, a, b, c3));
        assert.deepEqual(bitsOf(c2), bitsOf(c1), `${isa} ${M}x${N}x${K} ${da}·${db} 2 threads`);
        assert.deepEqual(bitsOf(c3), bitsOf(c1), `${isa} ${M}x${N}x${K} ${da}·${db} 3 threads`);
      }
    });
  }
});

test('raw addon: wrong argument types and lengths throw TypeError, never crash', { skip: skipReason }, () => {
  const n = native();
  const f = new Float32Array(4);
  const op = (data: unknown, dtype: unknown = 'f32', trans: unknown = false): unknown => ({ dtype, data, trans });
  // Deliberately ill-typed calls, made through Reflect so that the types do not stop them.
  const call = (name: string, args: unknown[]): unknown => {
    const fn: unknown = Reflect.get(n, name);
    if (typeof fn !== 'function') return assert.fail(`addon.${name} is not a function`);
    return Reflect.apply(fn, n, args);
  };
  const bad: [string, unknown[]][] = [
    ['quantize', [[1, 2], 'e4m3', 1, new Uint8Array(2)]],
    ['quantize', [f, 'e3m4', 1, new Uint8Array(4)]],
    ['quantize', [f, 'e4m3', '1', new Uint8Array(4)]],
    ['quantize', [f, 'e4m3', 1, new Uint8Array(3)]],
    ['quantize', [f, 'e4m3']],
    ['dequantize', [new Int8Array(4), 'e4m3', 1, f]],
    ['quantizeDequantize', [f, 'e5m2', 1, new Float64Array(4)]],
    ['roundBf16', [f, new Float32Array(5)]],
    ['packBf16', [f, new Int16Array(4)]],
    ['gemm', [2, 2, 1, op(new Float64Array(2)), op(f.subarray(0, 2)), f]],
    ['gemm', [2, 2, 1, op(f.subarray(0, 2)), op(f.subarray(0, 2)), new Float32Array(3)]],
    ['gemm', [2, 2, 1, op(f.subarray(0, 2), 'fp8'), op(f.subarray(0, 2)), f]],
    ['gemm', [2, 2, 1, op(new Uint8Array(2), 'e4m3', 'no'), op(f.subarray(0, 2)), f]],
    ['gemm', [2, 2, 1, op(new Uint8Array(3), 'e4m3'), op(f.subarray(0, 2)), f]],
    ['gemm', [2.5, 2, 1, op(f), op(f), f]],
    ['gemm', [-1, 2, 1, op(f), op(f), f]],
    ['gemm', [2, 2, 1, f, op(f.subarray(0, 2)), f]],
    ['gemm', [2, 2, 1, null, op(f.subarray(0, 2)), f]],
    ['gemm', [2, 2, 1, op(f.subarray(0, 2)), op(f.subarray(0, 2)), f, 'alpha']],
    ['setThreads', ['two']],
  ];
  for (const [name, args] of bad) {
    assert.throws(() => call(name, args), TypeError, `${name}(${args.map((a) => typeof a).join(', ')})`);
  }
  assert.throws(() => n.setIsa('avx9' as NativeIsa), RangeError);
  assert.throws(() => n.setThreads(0), RangeError);
});

test('gemm: every tuning candidate (tile × blocking) equals the default variant bit for bit (also rounded to BF16) and the reference within the bound', { skip: skipReason }, () => {
  const rng = new Rng(21);
  const pairs: [OperandDtype, OperandDtype][] = [['bf16', 'bf16'], ['e4m3', 'e4m3'], ['e5m2', 'e4m3'], ['bf16', 'e5m2']];
  // One k block with M/N edges; several k blocks (≤ 512 each), odd K, a partial last row panel.
  const shapes: [number, number, number][] = [[37, 53, 61], [13, 40, 1031]];
  // One thread: results do not depend on it (tested above), and ~5000 small GEMMs stay quick on a busy machine.
  for (const isa of runnableIsas()) {
    withThreads(1, () => withIsa(isa, () => {
      const tiles = native().gemmTiles();
      // plus a k block longer than the packing routines' 256-pair chunks (set by hand, never tuned)
      const candidates = isa === 'avx512bf16' ? [...allCandidates(tiles), '4x64-kc1030-mc96-nc1024'] : tiles;
      assert.ok(candidates.length >= 1);
      if (isa === 'avx512bf16') assert.ok(tiles.length >= 4, `avx512bf16 offers several tiles, got ${tiles.join(', ')}`);
      for (const [M, N, K] of shapes) {
        for (const [da, db] of pairs) {
          for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
            const a = operand(rng, da, M * K, ta, da.startsWith('e') ? 0.5 : 1);
            const b = operand(rng, db, K * N, tb, db.startsWith('e') ? 0.25 : 1);
            const c0 = rng.normals(M * N);
            const beta = ta ? 0.5 : 0;
            const label = `${isa} ${M}x${N}x${K} ${da}${ta ? 'ᵀ' : ''}·${db}${tb ? 'ᵀ' : ''}`;
            native().setGemmVariant('default');
            const want = Float32Array.from(c0);
            native().gemm(M, N, K, a, b, want, 1.5, beta);
            assertWithinBound(M, N, K, a, b, want, c0, 1.5, beta, `${label} default`);
            const ref = Float32Array.from(c0);
            reference.gemm(M, N, K, a, b, ref, 1.5, beta);
            assertWithinBound(M, N, K, a, b, ref, c0, 1.5, beta, `${label} reference`);
            // The output rounded to BF16 (the micro-kernels round in their epilogue): the bits of
            // the unrounded output followed by a roundBf16 pass, on every variant.
            const wantRounded = new Float32Array(want.length);
            reference.roundBf16(want, wantRounded);
            const same = (x: Float32Array, y: Float32Array) => Buffer.compare(new Uint8Array(x.buffer), new Uint8Array(y.buffer)) === 0;
            for (const v of candidates) {
              native().setGemmVariant(v);
              assert.equal(native().gemmVariant(), v);
              const got = Float32Array.from(c0);
              native().gemm(M, N, K, a, b, got, 1.5, beta);
              if (!same(got, want)) assert.fail(`${label}: variant ${v} differs from the default`);
              const rounded = Float32Array.from(c0);
              native().gemm(M, N, K, a, b, rounded, 1.5, beta, true);
              if (!same(rounded, wantRounded)) assert.fail(`${label}: variant ${v} rounded to BF16 differs from the default then roundBf16`);
            }
            native().setGemmVariant('default');
          }
        }
      }
    }));
  }
});

test('gemm: every FP8 code decodes exactly in every packing path (A k-contiguous / transposed, B k-major / k-contiguous)', { skip: skipReason }, () => {
  // 32×32×32 with every code four times in the FP8 operand and a BF16 identity as the other: each
  // output is one decoded code (or NaN where an inf or NaN code meets a zero); 32 contiguous codes
  // reach the vector (VBMI) decode of each path.
  const n = 32;
  const eye = new Uint16Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 0x3f80; // BF16 1.0
  for (const isa of runnableIsas()) {
    withIsa(isa, () => {
      for (const format of FORMATS) {
        const codes = Uint8Array.from({ length: n * n }, (_, i) => (i * 37 + 11) & 0xff);
        for (const trans of [false, true]) {
          const fp8: GemmOperand = { dtype: format, data: codes, trans, invScale: 1 };
          const id: GemmOperand = { dtype: 'bf16', data: eye, trans: false };
          for (const [name, a, b] of [['A', fp8, id], ['B', id, fp8]] as const) {
            const got = new Float32Array(n * n), want = new Float32Array(n * n);
            native().gemm(n, n, n, a, b, got);
            reference.gemm(n, n, n, a, b, want);
            for (let i = 0; i < n * n; i++) {
              const ok = Number.isNaN(want[i]) ? Number.isNaN(got[i]) : Object.is(got[i], want[i]);
              if (!ok) assert.fail(`${isa} ${format} as ${name}${trans ? 'ᵀ' : ''}: element ${i} is ${got[i]}, expected ${want[i]}`);
            }
          }
        }
      }
    });
  }
});

test('setGemmVariant: malformed names, unknown tiles and out-of-range blockings throw RangeError', { skip: skipReason }, () => {
  const saved = native().gemmVariant();
  try {
    if (native().isa() === 'avx512bf16') {
      const tile = native().gemmTiles()[0];
      const [mr, nr] = tile.split('x').map(Number);
      for (const bad of ['fast', '3x7-kc256-mc96-nc512', `${tile}-kc255-mc${mr * 4}-nc${nr * 4}`, `${tile}-kc256-mc${mr * 4 + 1}-nc${nr * 4}`, `${tile}-kc256-mc${mr * 4}-nc${nr * 4 + 1}`, `${tile}-kc256-mc${mr * 4}-nc${nr * 4}x`]) {
        assert.throws(() => native().setGemmVariant(bad), RangeError, bad);
      }
      native().setGemmVariant(`${tile}-kc256-mc${mr * 4}-nc${nr * 4}`);
      assert.equal(native().gemmVariant(), `${tile}-kc256-mc${mr * 4}-nc${nr * 4}`);
    } else {
      assert.throws(() => native().setGemmVariant('12x32-kc256-mc96-nc512'), RangeError);
      assert.equal(native().gemmVariant(), native().gemmTiles()[0]);
    }
  } finally {
    native().setGemmVariant(saved);
  }
  assert.equal(native().gemmVariant(), saved);
});
