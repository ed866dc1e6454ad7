import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends, onEveryNativePath } from './backends.js';
import { Rng } from './random.js';
import { roundToBf16Scalar } from '../../src/numerics/bf16.js';
import type { Kernels } from '../../src/kernels/types.js';

// addInPlace and copyColumns are exact: every backend, every native ISA path and thread count
// must give the same bits as the formula (a float32 sum, then RNE to BF16; a plain copy).

/** Values that exercise the BF16 rounding: ties both ways, NaN, infinities, overflow, ±0, subnormals. */
function awkward(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = rng.normals(n, 3);
  const special = [NaN, Infinity, -Infinity, 3.4e38, -0, 0, 1e-40, -1e-40, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20];
  for (let i = 0; i < special.length && i < n; i++) x[(i * 7919) % n] = special[i];
  return x;
}

function expectedSum(acc: Float32Array, x: Float32Array, round: boolean): Float32Array {
  return acc.map((a, i) => {
    const s = Math.fround(a + x[i]);
    return round ? roundToBf16Scalar(s) : s;
  });
}

function sameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    // NaN: any quiet NaN is fine (payloads are not specified)
    if (Number.isNaN(actual[i]) && Number.isNaN(expected[i])) continue;
    if (a[i] !== e[i]) assert.fail(`${what}: element ${i} is ${actual[i]} (0x${a[i].toString(16)}), expected ${expected[i]} (0x${e[i].toString(16)})`);
  }
}

function checkAdd(k: Kernels, n: number, seed: number): void {
  for (const round of [false, true]) {
    const acc = awkward(n, seed);
    const x = awkward(n, seed + 1).reverse();
    const want = expectedSum(acc, x, round);
    k.addInPlace(acc, x, round);
    sameBits(acc, want, `${k.name} addInPlace n=${n} round=${round}`);
  }
}

function checkCopy(k: Kernels): void {
  const R = 37, srcCols = 23, dstCols = 11;
  const src = new Rng(5).normals(R * srcCols);
  const dst = new Rng(6).normals(R * dstCols);
  const want = dst.slice();
  for (let r = 0; r < R; r++) for (let c = 0; c < 7; c++) want[r * dstCols + 3 + c] = src[r * srcCols + 16 + c];
  k.copyColumns(src, srcCols, 16, dst, dstCols, 3, R, 7);
  sameBits(dst, want, `${k.name} copyColumns`);
}

test('addInPlace: float32 sum, BF16-rounded on request, bit-exact on every backend (short and threaded lengths)', async () => {
  for (const k of await backends()) for (const n of [1, 37, 300_001]) checkAdd(k, n, n);
});

test('copyColumns: copies a column block between row-major tensors of different widths; bad ranges are refused', async () => {
  for (const k of await backends()) {
    checkCopy(k);
    const a = new Float32Array(12);
    assert.throws(() => k.copyColumns(a, 4, 3, a, 4, 0, 3, 2), /srcCol0/);
    assert.throws(() => k.copyColumns(a, 4, 0, a, 4, 0, 4, 2), /src has length 12/);
    assert.throws(() => k.addInPlace(a, new Float32Array(11)), /x has length 11/);
  }
});

test('native addInPlace and copyColumns: every ISA path and thread count gives the reference bits', async (t) => {
  const skip = await onEveryNativePath((native) => {
    for (const n of [5, 16, 300_001]) checkAdd(native, n, 3 * n);
    checkCopy(native);
  });
  if (skip) t.skip(skip);
});

// The token embedding kernels replace TypeScript loops on Float32Array elements, so every backend
// and native path must give those loops' bits: h = fround(scale·e), dtable = fround(dtable + scale·dh)
// in float64 per element, rows in order (repeated tokens accumulate in row order).
function checkEmbedding(k: Kernels, label: string): void {
  const R = 67, C = 37, V = 11, scale = Math.sqrt(37); // a scale that is not a float32
  const table = awkward(V * C, 3).map((v) => (Number.isFinite(v) ? v : 1.5));
  const tokens = Int32Array.from({ length: R }, (_, r) => (r * 7 + (r >> 2)) % V);
  const h = new Float32Array(R * C).fill(NaN);
  k.embeddingForward(table, tokens, h, R, C, V, scale);
  const hExpected = new Float32Array(R * C);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) hExpected[r * C + c] = scale * table[tokens[r] * C + c];
  sameBits(h, hExpected, `${label} embeddingForward`);
  const dh = new Rng(9).normals(R * C, 1e-3);
  const dtable = new Rng(10).normals(V * C, 0.1);
  const dExpected = dtable.slice();
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) dExpected[tokens[r] * C + c] += scale * dh[r * C + c];
  k.embeddingBackward(dh, tokens, dtable, R, C, V, scale);
  sameBits(dtable, dExpected, `${label} embeddingBackward`);
  assert.throws(() => k.embeddingForward(table, Int32Array.from({ length: R }, (_, r) => (r === 5 ? V : 0)), h, R, C, V, scale), /tokens/);
}

test('embeddingForward/Backward: the float64-per-element arithmetic, bit for bit (every backend)', async () => {
  for (const k of await backends()) checkEmbedding(k, k.name);
});

test('embeddingForward/Backward: every native ISA path and thread count', async (t) => {
  const skip = await onEveryNativePath((native, label) => checkEmbedding(native, label));
  if (skip) t.skip(skip);
});
