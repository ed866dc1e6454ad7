import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GemmOperand } from '../../src/kernels/types.js';
import { backends } from './backends.js';

// A GEMM row does not depend on how many rows are computed with it: M = 1 (KV-cache decoding,
// the native micro-kernel's one-row path) and M = 9 (a last row panel of one row) give exactly the
// rows of an M = 24 GEMM, for every operand type.
for (const k of await backends()) {
  test(`gemm (${k.name}): rows of M = 1 and M = 9 equal the same rows of M = 24, f32/bf16/e4m3`, () => {
    const N = 70;
    const K = 300;
    const Mbig = 24;
    const a = k.alloc(Mbig * K).map((_, i) => Math.sin(i * 0.37) * 3);
    const w = k.alloc(N * K).map((_, i) => Math.cos(i * 0.11) * 0.5);
    const operands = (rows: number): [GemmOperand, GemmOperand][] => {
      const aRows = a.subarray(0, rows * K);
      const aBits = new Uint16Array(rows * K);
      const wBits = new Uint16Array(N * K);
      k.packBf16(aRows, aBits);
      k.packBf16(w, wBits);
      const aCodes = new Uint8Array(rows * K);
      const wCodes = new Uint8Array(N * K);
      k.quantize(aRows, 'e4m3', 16, aCodes);
      k.quantize(w, 'e4m3', 64, wCodes);
      return [
        [{ dtype: 'f32', data: aRows, trans: false }, { dtype: 'f32', data: w, trans: true }],
        [{ dtype: 'bf16', data: aBits, trans: false }, { dtype: 'bf16', data: wBits, trans: true }],
        [{ dtype: 'e4m3', data: aCodes, trans: false, invScale: 1 / 16 }, { dtype: 'e4m3', data: wCodes, trans: true, invScale: 1 / 64 }],
      ];
    };
    const big = operands(Mbig);
    for (const rows of [1, 9]) {
      const small = operands(rows);
      for (let t = 0; t < big.length; t++) {
        const cBig = k.alloc(Mbig * N);
        const cSmall = k.alloc(rows * N);
        k.gemm(Mbig, N, K, big[t][0], big[t][1], cBig);
        k.gemm(rows, N, K, small[t][0], small[t][1], cSmall);
        assert.deepEqual(cSmall, cBig.subarray(0, rows * N), `${big[t][0].dtype}, M = ${rows}`);
      }
    }
  });
}

for (const k of await backends()) {
  test(`gemm (${k.name}): a frozen B gives the same result as packing it afresh; a new id sees changed data; a bad id is refused`, () => {
    const M = 1;
    const N = 40;
    const K = 50;
    const a = k.alloc(M * K).map((_, i) => Math.sin(i) * 2);
    const w = k.alloc(N * K).map((_, i) => Math.cos(i * 0.3));
    const plain = k.alloc(M * N);
    const frozen = k.alloc(M * N);
    k.gemm(M, N, K, { dtype: 'f32', data: a, trans: false }, { dtype: 'f32', data: w, trans: true }, plain);
    for (let rep = 0; rep < 2; rep++) {
      k.gemm(M, N, K, { dtype: 'f32', data: a, trans: false }, { dtype: 'f32', data: w, trans: true, frozen: 7 }, frozen);
      assert.deepEqual(frozen, plain);
    }
    w.fill(0.5); // changed data under a new id is packed again
    k.gemm(M, N, K, { dtype: 'f32', data: a, trans: false }, { dtype: 'f32', data: w, trans: true }, plain);
    k.gemm(M, N, K, { dtype: 'f32', data: a, trans: false }, { dtype: 'f32', data: w, trans: true, frozen: 8 }, frozen);
    assert.deepEqual(frozen, plain);
    assert.throws(() => k.gemm(M, N, K, { dtype: 'f32', data: a, trans: false }, { dtype: 'f32', data: w, trans: true, frozen: 0 }, frozen), /b\.frozen must be a positive integer/);
  });
}
