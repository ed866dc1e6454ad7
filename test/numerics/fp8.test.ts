import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  E4M3,
  E5M2,
  encodeFp8,
  decodeFp8,
  encodeFp8Into,
  decodeFp8Into,
  encodeFp8Scalar,
  decodeFp8Scalar,
  fp8DecodeTable,
} from '../../src/numerics/index.js';
import { fp8Oracle, slowEncode, rng, bitsToFloat, nextFloat32 } from './oracle.js';

const FORMATS = [
  { name: 'e4m3', format: E4M3, oracle: fp8Oracle('e4m3') },
  { name: 'e5m2', format: E5M2, oracle: fp8Oracle('e5m2') },
] as const;

function isNaNCode(code: number, name: 'e4m3' | 'e5m2'): boolean {
  return name === 'e4m3' ? (code & 0x7f) === 0x7f : (code & 0x7c) === 0x7c && (code & 0x03) !== 0;
}

test('hand-picked codes decode to the DESIGN §2 values', () => {
  const e4m3: [number, number][] = [
    [0x00, 0], [0x01, 2 ** -9], [0x07, 7 * 2 ** -9], [0x08, 2 ** -6], [0x38, 1], [0x39, 1.125],
    [0x3f, 1.875], [0x40, 2], [0x77, 240], [0x78, 256], [0x7e, 448], [0xb8, -1], [0xfe, -448],
  ];
  for (const [code, value] of e4m3) assert.equal(decodeFp8Scalar(code, E4M3), value, `e4m3 0x${code.toString(16)}`);
  assert.ok(Object.is(decodeFp8Scalar(0x80, E4M3), -0));
  assert.ok(Number.isNaN(decodeFp8Scalar(0x7f, E4M3)) && Number.isNaN(decodeFp8Scalar(0xff, E4M3)));
  const e5m2: [number, number][] = [
    [0x00, 0], [0x01, 2 ** -16], [0x03, 3 * 2 ** -16], [0x04, 2 ** -14], [0x3c, 1], [0x3d, 1.25],
    [0x3e, 1.5], [0x7b, 57344], [0x7c, Infinity], [0xfc, -Infinity], [0xfb, -57344],
  ];
  for (const [code, value] of e5m2) assert.equal(decodeFp8Scalar(code, E5M2), value, `e5m2 0x${code.toString(16)}`);
  for (const code of [0x7d, 0x7e, 0x7f, 0xfd, 0xfe, 0xff]) assert.ok(Number.isNaN(decodeFp8Scalar(code, E5M2)));
  assert.throws(() => decodeFp8Scalar(256, E4M3), RangeError);
  assert.throws(() => decodeFp8Scalar(1.5, E4M3), RangeError);
});

for (const { name, format, oracle } of FORMATS) {
  test(`${name}: all 256 codes decode to the independently derived values`, () => {
    const table = fp8DecodeTable(format);
    const decoded = decodeFp8(Uint8Array.from({ length: 256 }, (_, i) => i), name);
    const into = new Float32Array(256);
    decodeFp8Into(Uint8Array.from({ length: 256 }, (_, i) => i), format, into);
    for (let code = 0; code < 256; code++) {
      const expected = oracle.valueOfCode[code];
      assert.ok(Object.is(table[code], expected), `table 0x${code.toString(16)}: ${table[code]} vs ${expected}`);
      assert.ok(Object.is(decoded[code], expected), `decodeFp8 0x${code.toString(16)}`);
      assert.ok(Object.is(into[code], expected), `decodeFp8Into 0x${code.toString(16)}`);
      assert.equal(isNaNCode(code, name), Number.isNaN(expected));
    }
    assert.equal(format.maxFinite, oracle.maxFinite);
  });

  test(`${name}: encode(decode(c)) = c for every finite code, ±0 apart; ±inf saturate`, () => {
    for (let code = 0; code < 256; code++) {
      const v = oracle.valueOfCode[code];
      if (Number.isNaN(v)) continue;
      const expected = Number.isFinite(v) ? code : (code & 0x80) | 0x7b; // E5M2 ±inf → ±max
      assert.equal(encodeFp8Scalar(v, format), expected, `code 0x${code.toString(16)} value ${v}`);
    }
    assert.equal(encodeFp8Scalar(0, format), 0x00);
    assert.equal(encodeFp8Scalar(-0, format), 0x80);
    const all = new Float32Array(oracle.valueOfCode.filter((v) => Number.isFinite(v)));
    const codes = encodeFp8(all, name);
    assert.deepEqual(decodeFp8(codes, name), all);
  });

  test(`${name}: every midpoint rounds to the even code, one float32 ulp either side to the nearer`, () => {
    const list = oracle.positives;
    let checked = 0;
    for (let k = 0; k + 1 < list.length; k++) {
      const lo = list[k];
      const hi = list[k + 1];
      const mid = (lo.value + hi.value) / 2;
      assert.equal(Math.fround(mid), mid, 'midpoints of FP8 values are float32 values');
      const even = lo.code % 2 === 0 ? lo.code : hi.code;
      assert.notEqual(lo.code % 2, hi.code % 2);
      for (const sign of [1, -1]) {
        const signBit = sign < 0 ? 0x80 : 0;
        assert.equal(encodeFp8Scalar(sign * mid, format), signBit | even, `tie ${sign * mid}`);
        assert.equal(encodeFp8Scalar(sign * nextFloat32(mid, -1), format), signBit | lo.code, `below ${sign * mid}`);
        assert.equal(encodeFp8Scalar(sign * nextFloat32(mid, 1), format), signBit | hi.code, `above ${sign * mid}`);
        const batch = encodeFp8(new Float32Array([sign * mid, sign * nextFloat32(mid, -1), sign * nextFloat32(mid, 1)]), name);
        assert.deepEqual([...batch], [signBit | even, signBit | lo.code, signBit | hi.code]);
        checked++;
      }
    }
    assert.equal(checked, 2 * (list.length - 1));
  });

  test(`${name}: saturation of large finite values and ±inf to ±max`, () => {
    const max = oracle.maxFinite;
    const maxCode = name === 'e4m3' ? 0x7e : 0x7b;
    // the first value past max would be 480 (E4M3) / 61440 (E5M2); its midpoint with max and beyond saturate
    const nextStep = name === 'e4m3' ? 480 : 61440;
    const big = [nextFloat32(max, 1), (max + nextStep) / 2, nextStep, 1e6, 3.4028234663852886e38, Infinity];
    for (const v of big) {
      assert.equal(encodeFp8Scalar(v, format), maxCode, `+${v}`);
      assert.equal(encodeFp8Scalar(-v, format), 0x80 | maxCode, `-${v}`);
    }
    assert.deepEqual([...encodeFp8(new Float32Array([Infinity, -Infinity, 1e30]), name)], [maxCode, 0x80 | maxCode, maxCode]);
    // scale pushes an in-range value over max
    assert.deepEqual([...encodeFp8(new Float32Array([max, -max]), name, 4)], [maxCode, 0x80 | maxCode]);
  });

  test(`${name}: NaN stays NaN; below half the min subnormal becomes signed zero`, () => {
    const nanCode = name === 'e4m3' ? 0x7f : 0x7e;
    assert.equal(encodeFp8Scalar(NaN, format), nanCode);
    assert.equal(encodeFp8Scalar(bitsToFloat(0xffc00000), format), 0x80 | nanCode);
    const codes = encodeFp8(new Float32Array([NaN, bitsToFloat(0x7f800001), bitsToFloat(0xff800001)]), name, 3);
    for (const c of codes) assert.ok(isNaNCode(c, name), `0x${c.toString(16)} is a NaN code`);
    assert.ok(Number.isNaN(decodeFp8(codes, name)[0]));
    assert.deepEqual([...encodeFp8(new Float32Array([1]), name, NaN)], [nanCode]);
    const halfMin = format.minSubnormal / 2;
    const tiny = [halfMin, nextFloat32(halfMin, -1), 2 ** -40, 2 ** -149, 1e-45];
    for (const v of tiny) {
      assert.equal(encodeFp8Scalar(v, format), 0x00, `+${v}`);
      assert.equal(encodeFp8Scalar(-v, format), 0x80, `-${v}`);
    }
    assert.equal(encodeFp8Scalar(nextFloat32(halfMin, 1), format), 0x01);
    assert.equal(encodeFp8Scalar(-nextFloat32(halfMin, 1), format), 0x81);
    assert.deepEqual([...encodeFp8(new Float32Array([-halfMin, halfMin]), name)], [0x80, 0x00]);
  });
}

test('scale is applied as a float32 product (a float64 product would round differently)', () => {
  // x·s in float64 is just above the E4M3 midpoint 1.0625 (→ 1.125); in float32 it is the tie (→ 1.0).
  const x = Math.fround(1 + 2 ** -23);
  const s = Math.fround(1.0625 / x);
  assert.ok(x * s > 1.0625 && Math.fround(x * s) === 1.0625, 'the case really separates the two');
  const oracle = fp8Oracle('e4m3');
  assert.equal(slowEncode(x * s, oracle), 0x39);
  assert.equal(slowEncode(Math.fround(x * s), oracle), 0x38);
  assert.deepEqual([...encodeFp8(new Float32Array([x, -x]), 'e4m3', s)], [0x38, 0xb8]);
  // the scale itself is used as a float32: 1/3 and fround(1/3) give the same codes
  const values = new Float32Array([1, 3, 100, 1000, 7e-3]);
  assert.deepEqual(encodeFp8(values, 'e5m2', 1 / 3), encodeFp8(values, 'e5m2', Math.fround(1 / 3)));
});

test('encodeFp8 validates its arguments', () => {
  assert.throws(() => encodeFp8(new Float32Array(1), 'e3m4' as 'e4m3'), /'e4m3' or 'e5m2'/);
  assert.throws(() => encodeFp8([1] as unknown as Float32Array, 'e4m3'), TypeError);
  assert.throws(() => encodeFp8Into(new Float32Array(2), E4M3, 1, new Uint8Array(3)), /length 2/);
  assert.throws(() => decodeFp8Into(new Uint8Array(2), E4M3, new Float32Array(1)), /length 2/);
});

// Random float32 bit patterns whose exponent field is uniform over 0..255: log-uniform magnitudes
// over the whole float32 range (denormals, inf and NaN included), random signs and mantissas.
function randomFloat32s(n: number, next: () => number, minExp: number, maxExp: number): Float32Array {
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const r = next();
    const e = minExp + (next() % (maxExp - minExp + 1));
    bits[i] = (r & 0x80000000) | (e << 23) | (r & 0x7fffff);
  }
  return out;
}

for (const { name, oracle } of FORMATS) {
  test(`${name}: 1M random float32 values (whole range, random scales) match the slow encoder`, () => {
    const next = rng(name === 'e4m3' ? 12345 : 67890);
    const chunks = 8;
    const perChunk = 1 << 17; // 8·131072 = 1,048,576 values
    let mismatches = 0;
    let firstMismatch = '';
    for (let chunk = 0; chunk < chunks; chunk++) {
      // half the chunks cover the whole float32 range, half the range where FP8 codes differ
      const values = chunk % 2 === 0 ? randomFloat32s(perChunk, next, 0, 255) : randomFloat32s(perChunk, next, 127 - 30, 127 + 20);
      const scale = chunk < 2 ? 1 : Math.fround(2 ** ((next() % 4001) / 100 - 20));
      const codes = encodeFp8(values, name, scale);
      for (let i = 0; i < values.length; i++) {
        const product = Math.fround(values[i] * scale);
        const expected = slowEncode(product, oracle);
        const ok = expected === -1 ? isNaNCode(codes[i], name) : codes[i] === expected;
        if (!ok && mismatches++ === 0) firstMismatch = `x=${values[i]} scale=${scale}: got 0x${codes[i].toString(16)}, expected 0x${expected.toString(16)}`;
      }
    }
    assert.equal(mismatches, 0, firstMismatch);
  });
}
