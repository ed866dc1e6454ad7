import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKernels, measuredPeakFlops, nativeAvailability } from '../../src/kernels/index.js';

test('measuredPeakFlops: null on the reference backend; the native peak loop once per process, positive', (t) => {
  assert.equal(measuredPeakFlops(loadKernels('reference')), null);
  if (!nativeAvailability().available) {
    t.skip(`native addon unavailable: ${nativeAvailability().reason}`);
    return;
  }
  const native = loadKernels('native');
  const first = measuredPeakFlops(native);
  assert.ok(first !== null && Number.isFinite(first) && first > 1e8, `peak ${first}`);
  assert.equal(measuredPeakFlops(native), first, 'cached: the loop runs once per (isa, threads)');
});
