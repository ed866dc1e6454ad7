import { test } from 'node:test';
import assert from 'node:assert/strict';
import { E4M3, E5M2, fp8Format, encodeFp8, decodeFp8, encodeFp8Scalar, roundToBf16Scalar, amax } from '../../src/numerics/index.js';

test('format records carry the DESIGN §2 numbers', () => {
  assert.deepEqual([E4M3.bias, E4M3.maxFinite, E4M3.minNormal, E4M3.minSubnormal], [7, 448, 2 ** -6, 2 ** -9]);
  assert.deepEqual([E5M2.bias, E5M2.maxFinite, E5M2.minNormal, E5M2.minSubnormal], [15, 57344, 2 ** -14, 2 ** -16]);
  assert.equal(fp8Format('e4m3'), E4M3);
  assert.throws(() => fp8Format('e3m4' as 'e4m3'), /'e4m3' or 'e5m2'/);
});

test('encode/decode smoke values', () => {
  assert.deepEqual([...encodeFp8(new Float32Array([1, -448, 1e6, NaN]), 'e4m3')], [0x38, 0xfe, 0x7e, 0x7f]);
  assert.deepEqual([...decodeFp8(new Uint8Array([0x3e, 0x7b, 0x7c]), 'e5m2')], [1.5, 57344, Infinity]);
  assert.equal(encodeFp8Scalar(-Infinity, E5M2), 0xfb);
  assert.equal(roundToBf16Scalar(1 + 2 ** -8), 1);
  assert.ok(Number.isNaN(amax(new Float32Array([1, NaN, 2]))));
});
