import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateCodes, decodeState, encodeState, stateScale, type StateDtype } from '../../src/optim/state-codec.js';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

// Largest relative error of a normal-range value: half an ulp of the mantissa.
const RELATIVE: Record<StateDtype, number> = { fp32: 0, fp16: 2 ** -11, bf16: 2 ** -8, e4m3: 2 ** -4, e5m2: 2 ** -3 };

for (const dtype of ['fp32', 'fp16', 'bf16', 'e4m3', 'e5m2'] as StateDtype[]) {
  test(`${dtype} state: scale = absmax/range, round trip within half an ulp, zeros and signs kept`, () => {
    const rnd = seeded(7);
    const n = 257;
    const x = new Float32Array(n);
    // Magnitudes within 2 decades of absmax stay in every format's normal range after scaling.
    for (let i = 0; i < n; i++) x[i] = (rnd() < 0.5 ? -1 : 1) * 3e-5 * 10 ** (2 * rnd());
    x[3] = 0;
    x[10] = -3e-3; // absmax
    const codes = allocateCodes(dtype, n);
    const s = encodeState(dtype, x, codes, new Float32Array(n));
    assert.equal(s, stateScale(dtype, Math.fround(3e-3)));
    const back = new Float32Array(n);
    decodeState(dtype, codes, s, back);
    for (let i = 0; i < n; i++) {
      const err = Math.abs(back[i] - x[i]);
      assert.ok(err <= RELATIVE[dtype] * Math.abs(x[i]) * 1.0001 + 1e-30, `${dtype} i=${i}: ${x[i]} -> ${back[i]}`);
    }
    assert.equal(back[3], 0);
    assert.ok(back[10] < 0);
  });
}

test('state scale: hand values and edge cases', () => {
  assert.equal(stateScale('e4m3', 448), 1);
  assert.equal(stateScale('e5m2', 57344 * 4), 4);
  assert.equal(stateScale('fp16', 65504 / 8), 0.125);
  assert.equal(stateScale('bf16', 0.5), 0.5);
  assert.equal(stateScale('fp16', 0), 1);
  assert.equal(stateScale('fp32', 123), 1);
  assert.throws(() => stateScale('fp16', NaN), /absmax must be finite/);
  // fp16 without a scale would flush 1e-9 to zero; with the per-tensor scale it survives.
  const x = new Float32Array([1e-9, -2e-9]);
  const codes = allocateCodes('fp16', 2);
  const s = encodeState('fp16', x, codes, new Float32Array(2));
  const back = new Float32Array(2);
  decodeState('fp16', codes, s, back);
  assert.ok(Math.abs(back[0] - 1e-9) < 1e-12 && Math.abs(back[1] + 2e-9) < 1e-12);
  // Exact codes: the absmax maps to the format's max (fp16 0x7BFF, e4m3 0x7E).
  assert.equal(codes[1], 0xfbff);
  const c8 = allocateCodes('e4m3', 2);
  encodeState('e4m3', new Float32Array([0.25, 1]), c8, new Float32Array(2));
  assert.equal(c8[1], 0x7e);
});
