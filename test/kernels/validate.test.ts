import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends, nativeUnavailableReason } from './backends.js';
import type { AttentionShape, GemmOperand } from '../../src/kernels/types.js';

// Reflect.apply passes deliberately mistyped arguments past the type checker.

/** Asserts that `fn` throws `kind` whose message contains every fragment. */
function throwsNaming(fn: () => unknown, kind: typeof TypeError | typeof RangeError, ...fragments: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), `message "${error.message}" lacks "${fragment}"`);
    return true;
  });
}

test('backends: the reference always runs; native joins when it loads', async (t) => {
  const list = await backends();
  assert.equal(list[0].name, 'reference');
  t.diagnostic(`backends: ${list.map((k) => `${k.name} (${k.isa}, ${k.threads} threads)`).join(', ')}`);
  if (nativeUnavailableReason !== null) t.diagnostic(`native not tested: ${nativeUnavailableReason}`);
});

test('validation: wrong lengths, dims, formats and dtypes throw a TypeError naming the argument', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const x = new Float32Array(6);
      throwsNaming(() => k.quantize(x, 'e4m3', 1, new Uint8Array(5)), TypeError, 'quantize', 'codes', '5', '6');
      throwsNaming(() => Reflect.apply(k.quantize, k, [x, 'e4m3', 1, new Uint16Array(6)]), TypeError, 'codes', 'Uint8Array');
      throwsNaming(() => k.quantize(x, 'e3m4' as 'e4m3', 1, new Uint8Array(6)), TypeError, 'format', "'e3m4'");
      // an activation's input may be BF16 bits (a Uint16Array of the same length), nothing else
      throwsNaming(() => Reflect.apply(k.geluForward, k, [new Uint8Array(6), x]), TypeError, 'geluForward', 'x', 'Float32Array or a Uint16Array of BF16 bits');
      throwsNaming(() => k.swigluForward(new Uint16Array(10), new Float32Array(3), 1, 3), TypeError, 'swigluForward', 'h', '10', '2·R·F');
      assert.doesNotThrow(() => k.geluForward(new Uint16Array(6), x));
      throwsNaming(() => k.quantize(x, 'e4m3', 0, new Uint8Array(6)), RangeError, 'scale', '0');
      throwsNaming(() => k.dequantize(new Uint8Array(6), 'e5m2', NaN, x), RangeError, 'invScale');
      throwsNaming(() => k.roundBf16(x, new Float32Array(7)), TypeError, 'out', '7');
      throwsNaming(() => k.packBf16(x, new Uint16Array(2)), TypeError, 'bits');

      const a: GemmOperand = { dtype: 'f32', data: new Float32Array(6), trans: false };
      const b: GemmOperand = { dtype: 'e4m3', data: new Uint8Array(12), trans: true, invScale: 0.5 };
      const c = new Float32Array(8);
      k.gemm(2, 4, 3, a, b, c); // valid
      throwsNaming(() => k.gemm(2, 4, 3, a, b, new Float32Array(7)), TypeError, 'gemm', 'c', '7', '8');
      throwsNaming(() => k.gemm(2, 4, 3, { ...a, data: new Float32Array(5) }, b, c), TypeError, 'a.data', '5', '6');
      throwsNaming(() => k.gemm(2, 4, 3, a, { ...b, dtype: 'bf16' }, c), TypeError, 'b.data', 'Uint16Array', 'bf16');
      throwsNaming(() => k.gemm(2, 4, 3, a, { ...b, dtype: 'fp4' as 'e4m3' }, c), TypeError, 'b.dtype', "'fp4'");
      throwsNaming(() => k.gemm(2.5, 4, 3, a, b, c), TypeError, 'M', '2.5');
      throwsNaming(() => k.gemm(0, 4, 3, a, b, c), TypeError, 'M', 'positive integer');
      throwsNaming(() => Reflect.apply(k.gemm, k, [2, 4, 3, { ...a, trans: 1 }, b, c]), TypeError, 'a.trans');
      throwsNaming(() => k.gemm(2, 4, 3, a, { ...b, invScale: -1 }, c), RangeError, 'b.invScale');
      throwsNaming(() => k.gemm(2, 4, 3, a, b, c, 1, Infinity), RangeError, 'beta');

      throwsNaming(() => k.rmsnormForward(x, new Float32Array(2), x, new Float32Array(2), 2, 3, 1e-5), TypeError, 'gain', '2', '3');
      throwsNaming(() => k.rmsnormBackward(x, x, null, new Float32Array(2), new Float32Array(5), null, 2, 3), TypeError, 'dx', '5');
      throwsNaming(() => k.ropeForward(x, x, 1, 1, 2, 3, 1e4), TypeError, 'D', 'even');
      throwsNaming(() => k.ropeBackward(x, new Float32Array(4), 1, 1, 3, 2, 1e4), TypeError, 'dx', '4', '6');
      throwsNaming(() => k.crossEntropyForward(x, Int32Array.from([0, 3]), new Float32Array(2), new Float32Array(2), 2, 3), RangeError, 'targets[1]', '3');
      throwsNaming(() => k.crossEntropyForward(x, new Int32Array(3), new Float32Array(2), new Float32Array(2), 2, 3), TypeError, 'targets', '3', '2');
      throwsNaming(() => k.crossEntropyBackward(x, new Int32Array(2), new Float32Array(2), new Float32Array(2), new Float32Array(5), 2, 3), TypeError, 'dlogits');

      const shape: AttentionShape = { B: 1, T: 2, Hq: 3, Hkv: 2, D: 1, softmaxScale: 1 };
      const q = new Float32Array(6);
      const kv = new Float32Array(4);
      throwsNaming(() => k.attentionForward(q, kv, kv, q, new Float32Array(6), shape, null), TypeError, 'shape.Hq', 'multiple');
      const ok: AttentionShape = { ...shape, Hkv: 1 };
      const kv1 = new Float32Array(2);
      throwsNaming(() => k.attentionForward(q, kv, kv1, q, new Float32Array(6), ok, null), TypeError, 'k', '4', '2');
      throwsNaming(() => k.attentionForward(q, kv1, kv1, q, new Float32Array(5), ok, null), TypeError, 'lse', '5', '6');
      throwsNaming(() => k.attentionForward(q, kv1, kv1, q, new Float32Array(6), ok, { p: 0, ds: 1 }), RangeError, 'fp8.p');
      throwsNaming(() => k.attentionBackward(q, kv1, kv1, q, new Float32Array(6), q, q, kv1, new Float32Array(3), ok, null), TypeError, 'dv', '3');
      throwsNaming(() => k.attentionBackward(q, kv1, kv1, q, new Float32Array(6), q, q, kv1, kv1, ok, { p: 1, ds: -2 }), RangeError, 'fp8.ds');
      throwsNaming(() => k.attentionForward(q, kv1, kv1, q, new Float32Array(6), ok, { p: 1, ds: 1, qkvInv: 0 }), RangeError, 'fp8.qkvInv');
      throwsNaming(() => k.attentionBackward(q, kv1, kv1, q, new Float32Array(6), q, q, kv1, kv1, ok, { p: 1, ds: 1, doInv: NaN }), RangeError, 'fp8.doInv');
      // FP8-code inputs (Fp8Codes): checked field by field against the same length.
      const codes = (n: number) => ({ format: 'e4m3' as const, data: new Uint8Array(n) });
      assert.doesNotThrow(() => k.attentionForward(codes(6), codes(2), { ...codes(2), invScale: 0.5 }, q, new Float32Array(6), ok, null));
      throwsNaming(() => k.attentionForward(codes(5), kv1, kv1, q, new Float32Array(6), ok, null), TypeError, 'q.data', '5', '6');
      // @ts-expect-error: an unknown format
      throwsNaming(() => k.attentionForward(q, { format: 'e3m4', data: new Uint8Array(2) }, kv1, q, new Float32Array(6), ok, null), TypeError, 'k.format', 'e4m3');
      throwsNaming(() => k.attentionBackward(q, kv1, kv1, { ...codes(6), invScale: 0 }, new Float32Array(6), q, q, kv1, kv1, ok, null), RangeError, 'o.invScale');
      throwsNaming(() => k.attentionBackward(q, kv1, kv1, q, new Float32Array(6), new Uint8Array(6) as unknown as Float32Array, q, kv1, kv1, ok, null), TypeError, 'do_', 'Fp8Codes');
      // @ts-expect-error: a non-boolean bf16Operands must throw, not be ignored
      throwsNaming(() => k.attentionForward(q, kv1, kv1, q, new Float32Array(6), { ...ok, bf16Operands: 1 }, null), TypeError, 'shape.bf16Operands');

      throwsNaming(() => k.swigluForward(new Float32Array(12), new Float32Array(5), 2, 3), TypeError, 'a', '5', '6');
      throwsNaming(() => k.smoothSwigluBackward(new Float32Array(12), new Float32Array(1), x, new Float32Array(12), 2, 3), TypeError, 's', '1');
      throwsNaming(() => k.geluBackward(x, x, new Float32Array(1)), TypeError, 'dx', '1', '6');
      throwsNaming(() => k.xieluForward(x, x, { alphaP: 0.8, alphaN: NaN, beta: 0.5, eps: -1e-6 }), RangeError, 'p.alphaN');
      const p = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 1 };
      throwsNaming(() => k.adamw(x, x, x, new Float32Array(3), p), TypeError, 'adamw', 'v', '3');
      throwsNaming(() => k.adamw(x, x, x, x, { ...p, step: 0 }), TypeError, 'p.step');
      throwsNaming(() => k.adamw(x, x, x, x, { ...p, beta2: 1 }), RangeError, 'p.beta2');
      throwsNaming(() => k.rowMoments(x, 2, 3, new Float64Array(5)), TypeError, 'out', '5', '6');
      throwsNaming(() => Reflect.apply(k.sumSquares, k, [new Float64Array(2)]), TypeError, 'sumSquares', 'x', 'Float32Array');
    });
  }
});

test('withValidation reports the live isa and thread count of the backend it wraps (not a copy taken at wrap time)', async () => {
  const { withValidation } = await import('../../src/kernels/validate.js');
  const { createReferenceKernels } = await import('../../src/kernels/reference/index.js');
  const inner = createReferenceKernels();
  let threads = 4;
  let isa = 'avx2';
  const live = Object.create(inner, { threads: { get: () => threads }, isa: { get: () => isa } }) as typeof inner;
  const wrapped = withValidation(live);
  assert.deepEqual([wrapped.isa, wrapped.threads], ['avx2', 4]);
  threads = 1;
  isa = 'scalar';
  assert.deepEqual([wrapped.isa, wrapped.threads], ['scalar', 1]);
});
