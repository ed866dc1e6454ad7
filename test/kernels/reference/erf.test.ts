import { test } from 'node:test';
import assert from 'node:assert/strict';
import { erf, erfc } from '../../../src/kernels/reference/erf.js';

// Values of erf from CPython's math.erf (correctly rounded libm values to ~1 ulp).
const KNOWN: [number, number][] = [
  [1e-3, 0.0011283787909692365], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [-0.7, -0.6778011938374184],
  [1, 0.8427007929497149], [1.5, 0.9661051464753108], [2, 0.9953222650189527], [2.5, 0.999593047982555],
  [3, 0.9999779095030014], [3.5, 0.9999992569016276], [4, 0.9999999845827421], [5, 0.9999999999984626],
];

test('erf matches known values to 1e-14 (the kernels need 1e-7)', () => {
  for (const [x, expected] of KNOWN) {
    assert.ok(Math.abs(erf(x) - expected) < 1e-14, `erf(${x}) = ${erf(x)}, expected ${expected}`);
    assert.ok(Math.abs(erf(-x) + expected) < 1e-14, `erf is odd at ${x}`);
  }
  assert.equal(erf(0), 0);
  assert.equal(erf(Infinity), 1);
  assert.equal(erf(-40), -1);
  assert.ok(Number.isNaN(erf(NaN)));
  // Continuity across the series / continued-fraction switch at 3.
  assert.ok(Math.abs(erf(3 - 1e-12) - erf(3)) < 1e-14);
});

test('erfc keeps relative accuracy in the tail', () => {
  // erfc(5) = 1.5374597944280351e-12, erfc(10) = 2.088487583762545e-45 (CPython math.erfc)
  assert.ok(Math.abs(erfc(5) / 1.5374597944280351e-12 - 1) < 1e-12);
  assert.ok(Math.abs(erfc(10) / 2.088487583762545e-45 - 1) < 1e-12);
  assert.ok(Math.abs(erfc(-1) - (1 + 0.8427007929497149)) < 1e-15);
});
