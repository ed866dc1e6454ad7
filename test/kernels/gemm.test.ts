import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';
import { Rng } from './random.js';
import { fp8Format } from '../../src/numerics/formats.js';
import { encodeFp8Scalar, decodeFp8Scalar } from '../../src/numerics/fp8.js';
import { roundToBf16Scalar } from '../../src/numerics/bf16.js';
import type { GemmOperand, Kernels, OperandDtype } from '../../src/kernels/types.js';

const DTYPES: OperandDtype[] = ['f32', 'bf16', 'e4m3', 'e5m2'];
const U = 2 ** -24; // float32 unit roundoff

/** A logical (rows × cols) matrix of exactly representable values and its stored operand. */
interface TestOperand {
  logical: Float64Array; // (rows, cols), the exact decoded values
  operand: GemmOperand;
}

/**
 * Random operand of `dtype`, logical shape (rows, cols), stored transposed when `trans`. FP8 values
 * are codes of N(0, σ²)·scale, so the logical value is decode(code) (invScale is applied by the GEMM).
 */
function makeOperand(rng: Rng, dtype: OperandDtype, rows: number, cols: number, trans: boolean, invScale?: number): TestOperand {
  const logical = new Float64Array(rows * cols);
  const codes = new Uint8Array(rows * cols);
  const bits = new Uint16Array(rows * cols);
  const floats = new Float32Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) {
    const x = rng.normal();
    if (dtype === 'e4m3' || dtype === 'e5m2') {
      const fmt = fp8Format(dtype);
      codes[i] = encodeFp8Scalar(x * 16, fmt);
      logical[i] = decodeFp8Scalar(codes[i], fmt);
    } else if (dtype === 'bf16') {
      const f = new Float32Array([roundToBf16Scalar(x)]);
      bits[i] = new Uint32Array(f.buffer)[0] >>> 16;
      logical[i] = f[0];
    } else {
      floats[i] = x;
      logical[i] = floats[i];
    }
  }
  const source = dtype === 'f32' ? floats : dtype === 'bf16' ? bits : codes;
  // Stored layout: (rows, cols) or, transposed, (cols, rows).
  const stored = new (source.constructor as new (n: number) => typeof source)(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) stored[trans ? c * rows + r : r * cols + c] = source[r * cols + c];
  }
  return { logical, operand: { dtype, data: stored, trans, ...(invScale === undefined ? {} : { invScale }) } };
}

/**
 * Runs one GEMM and checks it against a float64 GEMM on the decoded operands within the float32
 * accumulation bound |c − c64| ≤ (K + 3)·u·(|s|·Σₖ|a||b| + |β·c₀|), u = 2^-24, s = α·invA·invB
 * (K roundings of a sequential sum, one of s, one of the epilogue, one spare).
 */
function checkGemm(k: Kernels, rng: Rng, M: number, N: number, K: number, dtypeA: OperandDtype, dtypeB: OperandDtype,
  transA: boolean, transB: boolean, options: { alpha?: number; beta?: number; invA?: number; invB?: number } = {}): void {
  const a = makeOperand(rng, dtypeA, M, K, transA, options.invA);
  const b = makeOperand(rng, dtypeB, K, N, transB, options.invB);
  const c0 = rng.normals(M * N);
  const c = c0.slice();
  if (options.beta === undefined || options.beta === 0) c.fill(NaN); // beta = 0 must ignore old C, even NaN
  k.gemm(M, N, K, a.operand, b.operand, c, options.alpha, options.beta);
  const s = (options.alpha ?? 1) * (options.invA ?? 1) * (options.invB ?? 1);
  const beta = options.beta ?? 0;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let exact = 0;
      let magnitude = 0;
      for (let p = 0; p < K; p++) {
        exact += a.logical[i * K + p] * b.logical[p * N + j];
        magnitude += Math.abs(a.logical[i * K + p] * b.logical[p * N + j]);
      }
      const expected = s * exact + beta * c0[i * N + j];
      const bound = (K + 3) * U * (Math.abs(s) * magnitude + Math.abs(beta * c0[i * N + j])) + 1e-30;
      const got = c[i * N + j];
      if (!(Math.abs(got - expected) <= bound)) {
        assert.fail(`${M}×${N}×${K} ${dtypeA}${transA ? 'ᵀ' : ''}·${dtypeB}${transB ? 'ᵀ' : ''}: c[${i},${j}] = ${got}, expected ${expected} ± ${bound}`);
      }
    }
  }
}

test('gemm: hand-computed 2×2×2 and 1×1×1', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const a = { dtype: 'f32' as const, data: Float32Array.from([1, 2, 3, 4]), trans: false };
      const b = { dtype: 'f32' as const, data: Float32Array.from([5, 6, 7, 8]), trans: false };
      const c = new Float32Array(4);
      k.gemm(2, 2, 2, a, b, c);
      assert.deepEqual([...c], [19, 22, 43, 50]);
      k.gemm(2, 2, 2, { ...a, trans: true }, b, c); // Aᵀ = [[1, 3], [2, 4]]
      assert.deepEqual([...c], [26, 30, 38, 44]);
      k.gemm(2, 2, 2, a, { ...b, trans: true }, c, 2, 1); // 2·A·Bᵀ + C, A·Bᵀ = [[17, 23], [39, 53]]
      assert.deepEqual([...c], [26 + 34, 30 + 46, 38 + 78, 44 + 106]);
      const one = new Float32Array([7]);
      k.gemm(1, 1, 1, { dtype: 'e4m3', data: Uint8Array.from([0x40]), trans: false, invScale: 0.5 },
        { dtype: 'bf16', data: Uint16Array.from([0xc040]), trans: true }, one); // 2 · 0.5 · (−3)
      assert.deepEqual([...one], [-3]);
    });
  }
});

test('gemm: every dtype pair and transpose combination, alpha and beta', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const rng = new Rng(21);
      for (const dtypeA of DTYPES) {
        for (const dtypeB of DTYPES) {
          for (const transA of [false, true]) {
            for (const transB of [false, true]) {
              checkGemm(k, rng, 5, 7, 9, dtypeA, dtypeB, transA, transB);
              checkGemm(k, rng, 3, 4, 6, dtypeA, dtypeB, transA, transB, { alpha: -0.75, beta: 0.5 });
            }
          }
        }
      }
    });
  }
});

test('gemm: shapes 1×1×1, primes 37×53×61, non-multiples of any tile 65×129×31', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const rng = new Rng(5);
      checkGemm(k, rng, 1, 1, 1, 'f32', 'f32', false, false);
      checkGemm(k, rng, 37, 53, 61, 'f32', 'f32', false, true, { beta: 1 });
      checkGemm(k, rng, 37, 53, 61, 'bf16', 'bf16', true, false);
      checkGemm(k, rng, 65, 129, 31, 'e4m3', 'e4m3', false, true);
      checkGemm(k, rng, 17, 3, 257, 'f32', 'bf16', true, true, { alpha: 0.5, beta: -2 });
    });
  }
});

test('gemm: FP8 operands with inverse scales equal a float64 GEMM on decoded operands within the float32 bound', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const rng = new Rng(9);
      // The three layouts of an FP8 linear: fprop x·Wᵀ, dgrad dy·W, wgrad dyᵀ·x.
      checkGemm(k, rng, 33, 40, 48, 'e4m3', 'e4m3', false, true, { invA: 1 / 16, invB: 1 / 24 });
      checkGemm(k, rng, 33, 48, 40, 'e5m2', 'e4m3', false, false, { invA: 1 / 4096, invB: 1 / 24 });
      checkGemm(k, rng, 40, 48, 33, 'e5m2', 'e4m3', true, false, { invA: 1 / 4096, invB: 1 / 16, beta: 1 });
      checkGemm(k, rng, 19, 23, 130, 'e4m3', 'e5m2', true, true, { invA: 3, invB: 0.1, alpha: 2 });
    });
  }
});
