import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  E4M3,
  E5M2,
  FLT_MAX,
  blockGrid,
  blockScales,
  blockQuantize,
  blockFakeQuantize,
  encodeFp8,
  decodeFp8,
} from '../../src/numerics/index.js';
import { rng } from './oracle.js';

function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  const next = rng(seed);
  // magnitudes spread over 2^-12..2^12 so tiles get very different scales
  return Float32Array.from({ length: rows * cols }, () => ((next() / 2 ** 32) * 2 - 1) * 2 ** ((next() % 25) - 12));
}

/** Independent per-tile reference: slice each tile out, take its amax, quantize it as one tensor. */
function tileReference(x: Float32Array, rows: number, cols: number, br: number, bc: number, fmax: number, name: 'e4m3' | 'e5m2') {
  const scales: number[] = [];
  const fake = new Float32Array(rows * cols);
  for (let r0 = 0; r0 < rows; r0 += br) {
    for (let c0 = 0; c0 < cols; c0 += bc) {
      const idx: number[] = [];
      for (let r = r0; r < Math.min(rows, r0 + br); r++) for (let c = c0; c < Math.min(cols, c0 + bc); c++) idx.push(r * cols + c);
      const tile = Float32Array.from(idx, (i) => x[i]);
      const amax = tile.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const scale = amax > 0 && Number.isFinite(amax) ? Math.min(Math.fround(fmax / amax), FLT_MAX) : 1;
      scales.push(scale);
      const deq = decodeFp8(encodeFp8(tile, name, scale), name);
      idx.forEach((i, k) => (fake[i] = Math.fround(deq[k] * Math.fround(1 / scale))));
    }
  }
  return { scales: Float32Array.from(scales), fake };
}

test('1×128 activation tiles with a partial edge tile match a per-tile reference', () => {
  const rows = 3;
  const cols = 300; // tiles of 128, 128, 44
  const x = randomMatrix(rows, cols, 1);
  assert.deepEqual(blockGrid(rows, cols, 1, 128), { tileRows: 3, tileCols: 3 });
  const ref = tileReference(x, rows, cols, 1, 128, 448, 'e4m3');
  assert.deepEqual(blockScales(x, rows, cols, 1, 128, E4M3, 0), ref.scales);
  assert.deepEqual(blockFakeQuantize(x, rows, cols, 1, 128, E4M3, 0), ref.fake);
  const { codes, scales } = blockQuantize(x, rows, cols, 1, 128, E4M3, 0);
  assert.equal(codes.length, rows * cols);
  assert.deepEqual(scales, ref.scales);
});

test('128×128 weight blocks (E5M2, margin 1) with partial edge blocks match a per-tile reference', () => {
  const rows = 130;
  const cols = 129;
  const x = randomMatrix(rows, cols, 2);
  const ref = tileReference(x, rows, cols, 128, 128, 57344 / 2, 'e5m2');
  assert.deepEqual(blockScales(x, rows, cols, 128, 128, E5M2, 1), ref.scales);
  assert.deepEqual(blockFakeQuantize(x, rows, cols, 128, 128, E5M2, 1), ref.fake);
});

test('block scale edge cases: zero tile → 1, NaN/inf tile → 1, tiny tile → FLT_MAX; tile max hits ±max exactly', () => {
  const x = new Float32Array([0, 0, NaN, 1, Infinity, 2, 1e-40, -1e-41, 3, -6]); // (1, 10), tiles of 2
  const scales = blockScales(x, 1, 10, 1, 2, E4M3, 0);
  assert.deepEqual([...scales], [1, 1, 1, FLT_MAX, Math.fround(448 / 6)]);
  const { codes } = blockQuantize(x, 1, 10, 1, 2, E4M3, 0);
  assert.equal(codes[9], 0xfe, 'the tile amax maps to −max');
  const fake = blockFakeQuantize(x, 1, 10, 1, 2, E4M3, 0);
  assert.ok(Number.isNaN(fake[2]));
  assert.equal(fake[4], 448, 'infinite tile keeps scale 1 and saturates');
  assert.equal(fake[0], 0);
});

test('block helpers validate shapes', () => {
  assert.throws(() => blockScales(new Float32Array(5), 2, 3, 1, 128, E4M3, 0), /expected rows·cols = 2·3 = 6/);
  assert.throws(() => blockScales(new Float32Array(6), 2, 3, 0, 128, E4M3, 0), /blockRows must be a positive integer/);
});
