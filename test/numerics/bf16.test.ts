import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  roundToBf16,
  roundToBf16Into,
  roundToBf16Scalar,
  roundToFp16,
  roundToFp16Scalar,
  amax,
} from '../../src/numerics/index.js';
import { bitsToFloat, floatToBits, rng } from './oracle.js';

/** [input float32 bits, expected output float32 bits] */
const BF16_CASES: [number, number][] = [
  [0x3f800000, 0x3f800000], // 1 exact
  [0x3f808000, 0x3f800000], // tie between 0x3f80 (even) and 0x3f81 → even below
  [0x3f818000, 0x3f820000], // tie between 0x3f81 and 0x3f82 (even) → even above
  [0x3f807fff, 0x3f800000], // just below the tie
  [0x3f808001, 0x3f810000], // just above the tie
  [0xbf808000, 0xbf800000], // negative tie
  [0xbf818000, 0xbf820000],
  [0x7f7f0000, 0x7f7f0000], // max BF16 stays
  [0x7f7f7fff, 0x7f7f0000], // just under the tie with infinity
  [0x7f7f8000, 0x7f800000], // tie between max (odd) and inf (even) → inf
  [0x7f7fffff, 0x7f800000], // FLT_MAX → +inf
  [0xff7fffff, 0xff800000], // −FLT_MAX → −inf
  [0x7f800000, 0x7f800000], // +inf
  [0xff800000, 0xff800000], // −inf
  [0x00000000, 0x00000000], // +0
  [0x80000000, 0x80000000], // −0
  [0x00000001, 0x00000000], // smallest denormal → +0
  [0x80000001, 0x80000000], // → −0
  [0x00008000, 0x00000000], // denormal tie → even (0)
  [0x00018000, 0x00020000], // denormal tie → even above
  [0x00010000, 0x00010000], // smallest BF16 subnormal
  [0x007fffff, 0x00800000], // largest denormal rounds up to min normal
  [0x00800000, 0x00800000], // min normal
];

test('BF16 rounding of all special cases (ties, max, inf, zeros, subnormals)', () => {
  const input = new Float32Array(BF16_CASES.map(([i]) => bitsToFloat(i)));
  const output = roundToBf16(input);
  BF16_CASES.forEach(([i, o], k) => {
    const hex = `0x${i.toString(16)}`;
    assert.equal(floatToBits(roundToBf16Scalar(bitsToFloat(i))), o, `scalar ${hex}`);
    assert.equal(floatToBits(output[k]), o, `array ${hex}`);
  });
});

test('BF16: NaN stays NaN, including payloads that would carry into infinity', () => {
  for (const bits of [0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fffffff, 0x7f80ffff]) {
    const x = bitsToFloat(bits);
    assert.ok(Number.isNaN(roundToBf16Scalar(x)), `scalar 0x${bits.toString(16)}`);
    const out = new Float32Array(1);
    roundToBf16Into(new Float32Array([x]), out);
    assert.ok(Number.isNaN(out[0]), `array 0x${bits.toString(16)}`);
    assert.equal(floatToBits(out[0]) & 0xffff, 0, 'a BF16 value has zero low bits');
  }
});

test('BF16: random float32 values match a two-candidate nearest oracle; in-place works', () => {
  const next = rng(99);
  const n = 200_000;
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++) bits[i] = next();
  const x = new Float32Array(bits.buffer);
  const out = roundToBf16(x);
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (Number.isNaN(v)) {
      assert.ok(Number.isNaN(out[i]));
      continue;
    }
    const down = bitsToFloat(bits[i] & 0xffff0000); // truncation toward zero
    const up = bitsToFloat((bits[i] & 0xffff0000) + 0x10000); // next BF16 away from zero
    const dDown = Math.abs(v - down);
    // past max the next step is inf, which RNE treats as the value 2^128 (IEEE overflow rule)
    const dUp = Math.abs((Number.isFinite(up) ? up : Math.sign(up) * 2 ** 128) - v);
    const expected = dDown < dUp ? down : dUp < dDown ? up : ((bits[i] >>> 16) & 1) === 0 ? down : up;
    assert.ok(Object.is(out[i], expected), `0x${bits[i].toString(16)}: ${out[i]} vs ${expected}`);
  }
  const inPlace = Float32Array.from(x);
  roundToBf16Into(inPlace, inPlace);
  assert.deepEqual(inPlace, out);
});

test('FP16 rounding: ties to even, overflow to inf at 65520, subnormals, NaN, −0', () => {
  const cases: [number, number][] = [
    [1, 1],
    [65504, 65504],
    [65519.99609375, 65504],
    [65520, Infinity], // tie between 65504 (odd) and 65536 (= inf, even)
    [-65520, -Infinity],
    [1e10, Infinity],
    [Infinity, Infinity],
    [2 ** -24, 2 ** -24], // min subnormal
    [2 ** -25, 0], // half of it: tie → 0
    [Math.fround(2 ** -25 * (1 + 2 ** -23)), 2 ** -24],
    [3 * 2 ** -25, 2 ** -23], // tie between 1·2^-24 and 2·2^-24 → even (2)
    [2049, 2048], // tie → even mantissa
    [2051, 2052],
    [2050, 2050],
    [Math.fround(1 / 3), 0.333251953125],
    [2 ** -14, 2 ** -14], // min normal
    [Math.fround(2 ** -14 - 2 ** -26), 2 ** -14], // rounds up into the normal range
  ];
  const out = roundToFp16(new Float32Array(cases.map(([x]) => x)));
  cases.forEach(([x, expected], k) => {
    assert.ok(Object.is(roundToFp16Scalar(x), expected), `scalar ${x}: ${roundToFp16Scalar(x)}`);
    assert.ok(Object.is(out[k], expected), `array ${x}`);
  });
  assert.ok(Object.is(roundToFp16Scalar(-0), -0));
  assert.ok(Object.is(roundToFp16Scalar(-1e-30), -0));
  assert.ok(Number.isNaN(roundToFp16Scalar(NaN)));
});

test('FP16: random values in the FP16 range match a nearest-on-grid oracle', () => {
  const next = rng(7);
  for (let i = 0; i < 50_000; i++) {
    const x = Math.fround(((next() / 2 ** 32) * 2 - 1) * 2 ** ((next() % 40) - 26));
    // grid spacing at x: 2^(floor(log2|x|) − 10), never finer than the subnormal step 2^-24
    const exponent = x === 0 ? -24 : Math.max(Math.floor(Math.log2(Math.abs(x))) - 10, -24);
    const step = 2 ** exponent;
    const q = x / step; // exact: power-of-two division
    const floor = Math.floor(q);
    const frac = q - floor;
    const k = frac < 0.5 ? floor : frac > 0.5 ? floor + 1 : floor % 2 === 0 ? floor : floor + 1;
    let expected = k * step;
    if (Math.abs(expected) > 65504) expected = Math.sign(x) * Infinity;
    if (expected === 0 && x < 0) expected = -0;
    assert.ok(Object.is(roundToFp16Scalar(x), expected), `${x}: ${roundToFp16Scalar(x)} vs ${expected}`);
  }
});

test('amax: max |x|, NaN if any NaN, Infinity allowed, 0 for empty', () => {
  assert.equal(amax(new Float32Array([1, -3, 2])), 3);
  assert.equal(amax(new Float32Array([-0, 0])), 0);
  assert.equal(amax(new Float32Array(0)), 0);
  assert.equal(amax(new Float32Array([1, -Infinity])), Infinity);
  assert.ok(Number.isNaN(amax(new Float32Array([5, NaN, 1]))));
  assert.ok(Number.isNaN(amax(new Float32Array([NaN, 5]))));
  assert.ok(Number.isNaN(amax(new Float32Array([Infinity, NaN]))));
  assert.throws(() => amax([1, 2] as unknown as Float32Array), TypeError);
});
