import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';
import { Rng } from './random.js';
import { fp8Format, type FloatFormat } from '../../src/numerics/formats.js';
import { encodeFp8Scalar, decodeFp8Scalar } from '../../src/numerics/fp8.js';
import { roundToBf16Scalar } from '../../src/numerics/bf16.js';
import type { CastStats, Fp8FormatName } from '../../src/kernels/types.js';

const FORMATS: Fp8FormatName[] = ['e4m3', 'e5m2'];

/** Float32 values spread over the whole exponent range (random bit patterns) plus edge cases. */
function castInputs(fmt: FloatFormat, seed: number): Float32Array {
  const rng = new Rng(seed);
  const bits = new Uint32Array(6000);
  for (let i = 0; i < bits.length; i++) {
    // exponents around the format's range, so that under/overflow and subnormals all occur
    const exponent = 127 + Math.round(rng.uniform(-fmt.bias - 6, fmt.bias + 6));
    bits[i] = (rng.int(2) << 31) | (exponent << 23) | rng.int(1 << 23);
  }
  const random = new Float32Array(bits.buffer);
  const edges = [0, -0, NaN, Infinity, -Infinity, fmt.maxFinite, -fmt.maxFinite, fmt.maxFinite * 1.01, fmt.minSubnormal,
    fmt.minSubnormal / 2, -fmt.minSubnormal / 2, fmt.minSubnormal * 0.51, fmt.minNormal, 1, -1, 3.4e38, 1e-45];
  return Float32Array.from([...edges, ...random]);
}

/** Expected codes and stats from the numerics codecs, counting exactly as CastStats documents. */
function expectedCast(x: Float32Array, fmt: FloatFormat, scale: number): { codes: Uint8Array; stats: CastStats } {
  const codes = new Uint8Array(x.length);
  let amax = 0;
  let underflow = 0;
  let overflow = 0;
  let nonzero = 0;
  let sawNaN = false;
  // Error sums, independently: x̂ from the scalar decoder and the dequantize rule, float64 sums.
  let sumSq = 0;
  let errSq = 0;
  let absSum = 0;
  let lostAbs = 0;
  const s = Math.fround(scale);
  const inv = Math.fround(1 / s);
  for (let i = 0; i < x.length; i++) {
    const scaled = Math.fround(x[i] * s);
    codes[i] = encodeFp8Scalar(scaled, fmt);
    if (x[i] !== 0) nonzero++; // NaN included
    if (Number.isFinite(x[i])) {
      const xhat = Math.fround(decodeFp8Scalar(codes[i], fmt) * inv);
      sumSq += x[i] ** 2;
      errSq += (x[i] - xhat) ** 2;
      absSum += Math.abs(x[i]);
      if ((codes[i] & 0x7f) === 0) lostAbs += Math.abs(x[i]);
    }
    if (Number.isNaN(x[i])) {
      sawNaN = true;
      continue;
    }
    amax = Math.max(amax, Math.abs(x[i]));
    if (x[i] !== 0 && decodeFp8Scalar(codes[i], fmt) === 0) underflow++;
    if (Math.abs(scaled) > fmt.maxFinite) overflow++;
  }
  return { codes, stats: { amax: sawNaN ? NaN : amax, underflow, overflow, nonzero, sumSq, errSq, absSum, lostAbs } };
}

/**
 * Counts exactly; the error sums to 1e-5 relative: the reference sums in float64, the native AVX2
 * loop in float32 lanes per 512-element sub-block (then float64), the scalar path in float64.
 */
function assertStats(actual: CastStats, expected: CastStats, what: string): void {
  const counts = (c: CastStats) => ({ amax: c.amax, underflow: c.underflow, overflow: c.overflow, nonzero: c.nonzero });
  assert.deepEqual(counts(actual), counts(expected), what);
  for (const f of ['sumSq', 'errSq', 'absSum', 'lostAbs'] as const) {
    const a = actual[f];
    const e = expected[f];
    assert.equal(typeof a, 'number', `${what}: ${f} reported`);
    assert.ok(Math.abs((a as number) - (e as number)) <= 1e-5 * Math.abs(e as number), `${what}: ${f} ${a} vs ${e}`);
  }
}

test('quantize: codes bit-exact with the numerics codec, stats counted', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      for (const format of FORMATS) {
        const fmt = fp8Format(format);
        for (const scale of [1, 0.375, 64]) {
          const x = castInputs(fmt, 7);
          const expected = expectedCast(x, fmt, scale);
          const codes = new Uint8Array(x.length);
          const stats = k.quantize(x, format, scale, codes);
          assert.deepEqual(codes, expected.codes, `${format} scale ${scale}`);
          assertStats(stats, expected.stats, `${format} scale ${scale}`);
          assert.ok(stats.underflow > 0 && stats.overflow > 0, 'inputs exercise both counts');
          const finite = x.filter((v) => !Number.isNaN(v));
          const finiteStats = k.quantize(finite, format, scale, new Uint8Array(finite.length));
          assert.equal(finiteStats.amax, Infinity, 'amax may be Infinity');
        }
      }
    });
  }
});

test('quantizeColumns: the codes of quantize placed in a column block of a wider matrix, other columns untouched, same stats; threaded rows too', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      for (const format of FORMATS) {
        const fmt = fp8Format(format);
        const edgy = castInputs(fmt, 9);
        // one small shape (row blocks of one thread) and one the native driver splits over threads
        for (const [R, cols, codesCols, col0] of [[40, 150, 400, 100], [2000, 256, 768, 512]]) {
          const x = Float32Array.from({ length: R * cols }, (_, i) => edgy[(i * 7919) % edgy.length]);
          const expected = expectedCast(x, fmt, 0.375);
          const codes = new Uint8Array(R * codesCols).fill(0xa5);
          const stats = k.quantizeColumns(x, format, 0.375, codes, codesCols, col0, R, cols);
          for (let r = 0; r < R; r++) {
            const row = codes.subarray(r * codesCols, (r + 1) * codesCols);
            assert.deepEqual(row.subarray(col0, col0 + cols), expected.codes.subarray(r * cols, (r + 1) * cols), `${format} ${R}×${cols} row ${r}`);
            assert.ok(row.subarray(0, col0).every((c) => c === 0xa5) && row.subarray(col0 + cols).every((c) => c === 0xa5), `row ${r}: other columns kept`);
          }
          assertStats(stats, expected.stats, `${format} ${R}×${cols}`);
        }
      }
      assert.throws(() => k.quantizeColumns(new Float32Array(8), 'e4m3', 1, new Uint8Array(20), 10, 7, 2, 4), /codesCol0/);
    });
  }
});

test('quantize: hand-counted stats (E4M3, scale 1)', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      // 1e-4 < 2^-10 (half the smallest subnormal) → 0: underflow. 500 and −1000 saturate; 448 is max, not above it.
      const x = Float32Array.from([0, 1e-4, 500, -1000, 448, 0.25, -2e-3]);
      const codes = new Uint8Array(x.length);
      const stats = k.quantize(x, 'e4m3', 1, codes);
      // the one exact 0 is not an input that could underflow; x̂ = [0, 0, 448, −448, 448, 0.25, −0.001953125]
      const xhat = [0, 0, 448, -448, 448, 0.25, -0.001953125];
      assertStats(stats, {
        amax: 1000, underflow: 1, overflow: 2, nonzero: 6,
        sumSq: [...x].reduce((a, v) => a + v * v, 0),
        errSq: [...x].reduce((a, v, i) => a + (v - xhat[i]) ** 2, 0),
        absSum: [...x].reduce((a, v) => a + Math.abs(v), 0),
        lostAbs: x[1],
      }, 'hand-counted');
      assert.deepEqual([...codes], [0x00, 0x00, 0x7e, 0xfe, 0x7e, 0x28, 0x81]);
      const withNaN = Float32Array.from([1, NaN, 2]);
      const nanStats = k.quantize(withNaN, 'e5m2', 1, new Uint8Array(3));
      assert.ok(Number.isNaN(nanStats.amax), 'NaN input → NaN amax');
      assert.equal(nanStats.underflow + nanStats.overflow, 0);
      assert.equal(nanStats.nonzero, 3, 'NaN counts as non-zero');
      // Vector body + scalar tail on every path: 37 elements, every 3rd one ±0.
      const mixed = Float32Array.from({ length: 37 }, (_, i) => (i % 3 === 0 ? (i % 2 ? -0 : 0) : 1 + i));
      assert.equal(k.quantize(mixed, 'e4m3', 1, new Uint8Array(37)).nonzero, 24);
      assert.equal(k.quantizeDequantize(mixed, 'e4m3', 1, new Float32Array(37)).nonzero, 24);
    });
  }
});

test('dequantize: all 256 codes times invScale', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      for (const format of FORMATS) {
        const fmt = fp8Format(format);
        const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
        for (const invScale of [1, 0.5, 1 / 3]) {
          const out = new Float32Array(256);
          k.dequantize(codes, format, invScale, out);
          const expected = Float32Array.from(codes, (c) => Math.fround(decodeFp8Scalar(c, fmt) * Math.fround(invScale)));
          assert.deepEqual(out, expected, `${format} invScale ${invScale}`);
        }
      }
    });
  }
});

test('quantizeDequantize: equals dequantize(quantize) with invScale 1/scale, same stats, may alias', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      for (const format of FORMATS) {
        const fmt = fp8Format(format);
        for (const scale of [1, 3, 0.01]) {
          const x = castInputs(fmt, 11);
          const codes = new Uint8Array(x.length);
          const quantStats = k.quantize(x, format, scale, codes);
          const viaCodes = new Float32Array(x.length);
          k.dequantize(codes, format, Math.fround(1 / Math.fround(scale)), viaCodes);
          const out = new Float32Array(x.length);
          const stats = k.quantizeDequantize(x, format, scale, out);
          assert.deepEqual(out, viaCodes, `${format} scale ${scale}`);
          assertStats(stats, quantStats, `quantizeDequantize vs quantize, ${format} scale ${scale}`);
          const inPlace = x.slice();
          k.quantizeDequantize(inPlace, format, scale, inPlace);
          assert.deepEqual(inPlace, viaCodes, 'out aliasing x');
        }
      }
    });
  }
});

test('roundBf16 and packBf16: RNE on the top 16 bits, NaN stays NaN', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const rng = new Rng(3);
      const bits = Uint32Array.from({ length: 5000 }, () => (rng.int(65536) << 16) | rng.int(65536));
      const x = Float32Array.from([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1, -0, NaN, -Infinity, ...new Float32Array(bits.buffer)]);
      const out = new Float32Array(x.length);
      k.roundBf16(x, out);
      assert.equal(out[0], 1, 'tie to even (down)');
      assert.equal(out[1], 1 + 2 ** -6, 'tie to even (up)');
      for (let i = 0; i < x.length; i++) {
        const e = roundToBf16Scalar(x[i]);
        assert.ok(Number.isNaN(e) ? Number.isNaN(out[i]) : Object.is(out[i], e), `x = ${x[i]}: ${out[i]} vs ${e}`);
      }
      const packed = new Uint16Array(x.length);
      k.packBf16(x, packed);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < x.length; i++) assert.equal(packed[i], outBits[i] >>> 16, `x = ${x[i]}`);
      assert.equal(packed[2], 0x3f80);
    });
  }
});

test('unpackBf16: all 65 536 BF16 codes decode to bits·2¹⁶ exactly (NaN payloads kept), on a threaded length too; packBf16 inverts it', async (t) => {
  // Independent decode: the code in the top half of a float32's bits, read through a DataView.
  const view = new DataView(new ArrayBuffer(4));
  const expected = (code: number): number => {
    view.setUint32(0, code << 16, true);
    return view.getFloat32(0, true);
  };
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const codes = Uint16Array.from({ length: 65536 }, (_, i) => i);
      const out = new Float32Array(codes.length);
      k.unpackBf16(codes, out);
      const outBits = new Uint32Array(out.buffer);
      for (let c = 0; c < 65536; c++) {
        const e = expected(c);
        if (Number.isNaN(e)) assert.ok(Number.isNaN(out[c]), `code 0x${c.toString(16)}`);
        else assert.equal(outBits[c], c << 16 >>> 0, `code 0x${c.toString(16)}: ${out[c]} vs ${e}`);
      }
      const finite = codes.filter((c) => !Number.isNaN(expected(c)));
      const back = new Uint16Array(finite.length);
      const values = new Float32Array(finite.length);
      k.unpackBf16(finite, values);
      k.packBf16(values, back);
      assert.deepEqual(back, finite);
      const long = Uint16Array.from({ length: 300_001 }, (_, i) => (i * 40503) & 0x7f7f);
      const wide = new Float32Array(long.length);
      k.unpackBf16(long, wide);
      for (let i = 0; i < long.length; i += 997) assert.equal(new Uint32Array(wide.buffer, i * 4, 1)[0], long[i] << 16, `i = ${i}`);
    });
  }
});

test('cast error sums: native equals the reference to 1e-5 on a threaded 300k-element cast (both paths)', async () => {
  const ks = await backends();
  if (ks.length < 2) return; // native absent: the test above already checked the reference
  const [ref, nat] = ks;
  const rng = new Rng(5);
  // Softmax-like magnitudes spanning 12 decades, so underflow mass is non-trivial.
  const x = Float32Array.from({ length: 300_000 }, () => (rng.int(2) ? 1 : -1) * 10 ** rng.uniform(-12, 0));
  for (const format of FORMATS) {
    for (const scale of [1, 448]) {
      const a = ref.quantize(x, format, scale, new Uint8Array(x.length));
      const b = nat.quantize(x, format, scale, new Uint8Array(x.length));
      const c = nat.quantizeDequantize(x, format, scale, new Float32Array(x.length));
      for (const f of ['sumSq', 'errSq', 'absSum', 'lostAbs'] as const) {
        assert.ok(Math.abs(b[f]! - a[f]!) <= 1e-5 * a[f]!, `${format} ${scale} ${f}: native codes ${b[f]} vs reference ${a[f]}`);
        assert.ok(Math.abs(c[f]! - a[f]!) <= 1e-5 * a[f]!, `${format} ${scale} ${f}: native values ${c[f]} vs reference ${a[f]}`);
      }
      assert.ok(a.lostAbs! > 0 && a.lostAbs! < a.absSum!);
    }
  }
});
