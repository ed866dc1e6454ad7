import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';

test('rowMoments and sumSquares: hand-computed sums, float64 accumulation', async (t) => {
  for (const k of await backends()) {
    await t.test(k.name, () => {
      const out = new Float64Array(6).fill(NaN);
      k.rowMoments(Float32Array.from([1, -2, 3, 0.5, 0.5, -1]), 2, 3, out);
      assert.deepEqual([...out], [2, 14, 98, 0, 1.5, 1.125]);
      assert.equal(k.sumSquares(Float32Array.from([3, 4])), 25);
      // 4096² + 1000·1² = 16778216 exactly; a float32 accumulator would stay at 16777216.
      const wide = new Float32Array(1001).fill(1);
      wide[0] = 4096;
      assert.equal(k.sumSquares(wide), 16778216);
      const row = new Float64Array(3);
      k.rowMoments(wide, 1, 1001, row);
      assert.deepEqual([...row], [5096, 16778216, 4096 ** 4 + 1000]);
    });
  }
});
