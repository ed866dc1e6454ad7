// The addon-path override and the emulated AVX-512 build (docs/kernels.md, "AVX-512 path verified
// by emulation"). scripts/test-avx512-emulated.mjs runs test/kernels with FOG8_NATIVE_ADDON set to
// the SIMDe build and FOG8_EXPECT_AVX512_EMULATED=1: then the last test must run (never skip) and
// proves that GEMMs of every dtype executed the avx512bf16 code; in the main run it is skipped and
// the default build is checked to be the real (not emulated) one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { loadNativeAddon, nativeAddonPath, type NativeCoreAddon } from '../../src/kernels/native.js';
import { loadKernels } from '../../src/kernels/index.js';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { decodeFp8 } from '../../src/numerics/fp8.js';
import type { GemmOperand, OperandDtype } from '../../src/kernels/types.js';
import { Rng } from './random.js';

const expectEmulated = process.env.FOG8_EXPECT_AVX512_EMULATED === '1';
const overridden = (process.env.FOG8_NATIVE_ADDON ?? '') !== '';

let addon: NativeCoreAddon | null = null;
let loadError = '';
try {
  addon = loadNativeAddon();
} catch (error) {
  loadError = error instanceof Error ? error.message : String(error);
}

test('FOG8_NATIVE_ADDON overrides the addon path (resolved against the working directory)', () => {
  const saved = process.env.FOG8_NATIVE_ADDON;
  try {
    process.env.FOG8_NATIVE_ADDON = 'some/dir/addon.node';
    assert.equal(nativeAddonPath(), resolve('some/dir/addon.node'));
    process.env.FOG8_NATIVE_ADDON = '';
    assert.match(nativeAddonPath(), /build[/\\]Release[/\\]fog8_native\.node$/);
  } finally {
    if (saved === undefined) delete process.env.FOG8_NATIVE_ADDON;
    else process.env.FOG8_NATIVE_ADDON = saved;
  }
});

test('the default build runs the real AVX-512 code, never the emulation', { skip: addon === null ? `native addon unavailable: ${loadError}` : overridden ? 'FOG8_NATIVE_ADDON is set' : false }, () => {
  assert.equal(addon?.avx512Emulated(), false);
});

/** A random operand and its exact values as float64, logical (rows × cols): normal values (FP8:
 *  codes of 8·N(0, 1)), or small integers in [−8, 8] (exact in every dtype) when `integers`. */
function randomOperand(rng: Rng, dtype: OperandDtype, rows: number, cols: number, trans: boolean, integers: boolean): { op: GemmOperand; exact: Float64Array } {
  const reference = createReferenceKernels();
  const values = integers ? Float32Array.from({ length: rows * cols }, () => rng.int(17) - 8) : rng.normals(rows * cols);
  const fp8Scale = integers ? 1 : 8;
  const invScale = dtype.startsWith('e') ? 1 / fp8Scale : 1;
  let op: GemmOperand;
  let stored: Float64Array;
  if (dtype === 'f32') {
    op = { dtype, data: values, trans, invScale };
    stored = Float64Array.from(values);
  } else if (dtype === 'bf16') {
    const bits = new Uint16Array(values.length);
    reference.packBf16(values, bits);
    op = { dtype, data: bits, trans, invScale };
    stored = Float64Array.from(bits, (h) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]);
  } else {
    const codes = new Uint8Array(values.length);
    reference.quantize(values, dtype, fp8Scale, codes);
    op = { dtype, data: codes, trans, invScale };
    stored = Float64Array.from(decodeFp8(codes, dtype), (x) => x * invScale);
  }
  // Stored (cols × rows) when transposed → logical (rows × cols) row-major, inverse scale applied.
  const exact = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) exact[r * cols + c] = trans ? stored[c * rows + r] : stored[r * cols + c];
  return { op, exact };
}

/** C = alpha·A·B + beta·C0 in float64, and Σ|alpha·a·b| per element (for the float32 bound). */
function gemm64(M: number, N: number, K: number, a: Float64Array, b: Float64Array, c0: Float32Array, alpha: number, beta: number): { c: Float64Array; magnitude: Float64Array } {
  const c = new Float64Array(M * N);
  const magnitude = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      let abs = 0;
      for (let k = 0; k < K; k++) {
        sum += a[i * K + k] * b[k * N + j];
        abs += Math.abs(a[i * K + k] * b[k * N + j]);
      }
      c[i * N + j] = alpha * sum + beta * c0[i * N + j];
      magnitude[i * N + j] = Math.abs(alpha) * abs + Math.abs(beta * c0[i * N + j]);
    }
  }
  return { c, magnitude };
}

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

const DTYPES: readonly OperandDtype[] = ['f32', 'bf16', 'e4m3', 'e5m2'];
// M, N not multiples of the 8 × 32 tile, K odd (BF16 pair padding) and over two 256-long K blocks.
const [M, N, K] = [19, 45, 301];

test('emulated AVX-512 run: avx512bf16 (SIMDe) is in use; GEMMs of every dtype on it meet the float32 bound, match the reference, and are exact where float32 is', { skip: expectEmulated ? false : 'runs only under scripts/test-avx512-emulated.mjs' }, () => {
  assert.ok(addon !== null, `the emulated addon did not load: ${loadError}`);
  const native = addon;
  assert.equal(native.avx512Emulated(), true, 'the addon under test was built with fog8_avx512_emulated=1');
  assert.equal(native.bestIsa(), 'avx512bf16');
  assert.equal(native.isa(), 'avx512bf16');
  assert.equal(loadKernels('native').isa, 'avx512bf16', 'the loader hands out the emulated path');
  const reference = createReferenceKernels();
  const rng = new Rng(512);
  const alpha = 1.25;
  const beta = 0.5;
  const u = 2 ** -24;
  for (const dtype of DTYPES) {
    // Normal values: within (K + 3)·u·Σ|terms| of float64, and of the reference backend.
    const a = randomOperand(rng, dtype, M, K, false, false);
    const b = randomOperand(rng, dtype, K, N, true, false);
    const c0 = rng.normals(M * N);
    const got = Float32Array.from(c0);
    native.gemm(M, N, K, a.op, b.op, got, alpha, beta);
    const ref = Float32Array.from(c0);
    reference.gemm(M, N, K, a.op, b.op, ref, alpha, beta);
    const want = gemm64(M, N, K, a.exact, b.exact, c0, alpha, beta);
    for (let i = 0; i < M * N; i++) {
      const bound = (K + 3) * u * want.magnitude[i] + 1e-30;
      const at = `${dtype} c[${Math.floor(i / N)},${i % N}]`;
      assert.ok(Math.abs(got[i] - want.c[i]) <= bound, `${at} = ${got[i]}, float64 ${want.c[i]} ± ${bound}`);
      assert.ok(Math.abs(got[i] - ref[i]) <= 2 * bound, `${at} = ${got[i]}, reference ${ref[i]}`);
    }
    // Small integers: every partial sum is exact in float32 whatever the summation order, so the
    // result must equal float64 bit for bit (a misplaced or dropped element cannot hide in rounding).
    const ai = randomOperand(rng, dtype, M, K, true, true);
    const bi = randomOperand(rng, dtype, K, N, false, true);
    const ci0 = Float32Array.from({ length: M * N }, () => rng.int(64) - 32);
    const gotInt = Float32Array.from(ci0);
    native.gemm(M, N, K, ai.op, bi.op, gotInt, 2, beta);
    assert.deepEqual(Array.from(gotInt), Array.from(gemm64(M, N, K, ai.exact, bi.exact, ci0, 2, beta).c), `${dtype}: small-integer GEMM exact`);
  }
});

test('emulated AVX-512 run: float32 GEMMs (zmm FMA kernel) equal the AVX2 path bit for bit', { skip: expectEmulated ? false : 'runs only under scripts/test-avx512-emulated.mjs' }, () => {
  // Both accumulate each output with FMAs in k order, so any difference is a tiling or tail bug.
  // (BF16/FP8 are not compared so: vdpbf16ps adds a pair of products in its own order — the SDM's
  // odd-then-even, SIMDe's (even + odd) — which neither equals the AVX2 code's k order.)
  assert.ok(addon !== null, `the emulated addon did not load: ${loadError}`);
  const native = addon;
  const rng = new Rng(1024);
  for (const [transA, transB] of [[false, true], [true, false]]) {
    const a = randomOperand(rng, 'f32', M, K, transA, false);
    const b = randomOperand(rng, DTYPES[rng.int(4)], K, N, transB, false);
    const c0 = rng.normals(M * N);
    const got = Float32Array.from(c0);
    native.gemm(M, N, K, a.op, b.op, got, 0.75, -1);
    const saved = native.isa();
    const avx2 = Float32Array.from(c0);
    native.setIsa('avx2');
    try {
      native.gemm(M, N, K, a.op, b.op, avx2, 0.75, -1);
    } finally {
      native.setIsa(saved);
    }
    assert.equal(native.isa(), 'avx512bf16');
    assert.deepEqual(bitsOf(got), bitsOf(avx2), `f32${transA ? 'ᵀ' : ''}·${b.op.dtype}${transB ? 'ᵀ' : ''}: avx512bf16 vs avx2`);
  }
});

test('emulated AVX-512 run: every AVX-512 peak loop (zmm FMA, vdpbf16ps zmm and ymm) runs and reports a positive rate', { skip: expectEmulated ? false : 'runs only under scripts/test-avx512-emulated.mjs' }, () => {
  // Proves only that the loops execute and end: their emulated speed means nothing.
  assert.ok(addon !== null, `the emulated addon did not load: ${loadError}`);
  for (const kind of ['fma512', 'bf16dot512', 'bf16dot256'] as const) {
    const gflops = addon.peakGflops(kind, 1, 0.02);
    assert.ok(Number.isFinite(gflops) && gflops > 0, `${kind}: ${gflops} GFLOP/s`);
  }
});
