import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { AdamW, type OptimizedTensor } from '../../src/optim/adamw.js';
import { clipFactor, clipGradNorm, globalGradNorm } from '../../src/optim/clip.js';

const kernels = createReferenceKernels();
// A 2×2 matrix (decayed) followed by a 2-vector gain (never decayed), in one arena.
const tensors: OptimizedTensor[] = [
  { name: 'w', shape: [2, 2], offset: 0, size: 4, weightDecay: true },
  { name: 'gain', shape: [2], offset: 4, size: 2, weightDecay: false },
];

test('AdamW + global-norm clipping on a toy problem match the hand computation', () => {
  const params = new Float32Array([0.5, -0.3, 0.2, 0.1, 1, -1]);
  const opt = new AdamW(tensors, kernels); // β 0.9/0.95, ε 1e-8, wd 0.1
  const lr = 0.01;
  // Step 1: g has norm 5 → clipped by 1/(5 + 1e-6) to (almost exactly) unit norm.
  const g1 = new Float32Array([3, 0, -4, 0, 0, 0]);
  const norm = clipGradNorm(kernels, g1, 1.0);
  assert.equal(norm, 5);
  const c = 1 / (5 + 1e-6);
  assert.ok(Math.abs(g1[0] - 3 * c) < 1e-7 && Math.abs(g1[2] + 4 * c) < 1e-7);
  opt.step(params, g1, lr);
  // Hand: after one step m̂ = g, v̂ = g², so w −= lr·(g/(|g| + ε) + wd·w) with wd only on the matrix.
  const expect1 = [
    0.5 - lr * ((3 * c) / (3 * c + 1e-8) + 0.1 * 0.5),
    -0.3 - lr * (0 + 0.1 * -0.3),
    0.2 - lr * ((-4 * c) / (4 * c + 1e-8) + 0.1 * 0.2),
    0.1 - lr * (0.1 * 0.1),
    1, // zero grad, no decay: unchanged
    -1,
  ];
  expect1.forEach((e, i) => assert.ok(Math.abs(params[i] - e) < 2e-7, `step 1 [${i}] ${params[i]} vs ${e}`));
  // Step 2: below the clip threshold; hand-rolled moments with bias correction 1−β^2.
  const g2 = new Float32Array([0.1, 0.2, 0, 0, 0.3, -0.4]); // norm √0.3 < 1
  assert.ok(Math.abs(clipGradNorm(kernels, g2, 1.0) - Math.sqrt(0.3)) < 1e-7);
  const before = Array.from(params);
  opt.step(params, g2, lr);
  const g1v = [3 * c, 0, -4 * c, 0, 0, 0];
  for (let i = 0; i < 6; i++) {
    const m = 0.9 * (0.1 * g1v[i]) + 0.1 * g2[i];
    const v = 0.95 * (0.05 * g1v[i] ** 2) + 0.05 * g2[i] ** 2;
    const mHat = m / (1 - 0.9 ** 2);
    const vHat = v / (1 - 0.95 ** 2);
    const wd = i < 4 ? 0.1 : 0;
    const e = before[i] - lr * (mHat / (Math.sqrt(vHat) + 1e-8) + wd * before[i]);
    assert.ok(Math.abs(params[i] - e) < 2e-7, `step 2 [${i}] ${params[i]} vs ${e}`);
  }
  assert.equal(opt.stepCount, 2);
});

test('low-precision AdamW state: checkpointed state() restored into a fresh optimizer continues bit-identically', () => {
  const precision = { master: 'fp16', m1: 'fp8', m2: 'bf16', grads: 'bf16' } as const;
  const run = (restoreAt: number | null): Float32Array => {
    const params = new Float32Array([0.5, -0.3, 0.2, 0.1, 1, -1]);
    let opt = new AdamW(tensors, kernels, undefined, precision);
    opt.roundMaster(params);
    for (let s = 0; s < 4; s++) {
      if (s === restoreAt) {
        const st = opt.state();
        const copy = { ...st, m1: st.m1.slice(), m2: st.m2.slice(), m1Scales: st.m1Scales.slice(), m2Scales: st.m2Scales.slice(), masterScales: st.masterScales.slice() };
        opt = new AdamW(tensors, kernels, undefined, precision);
        opt.restore(copy);
      }
      const g = new Float32Array(6).map((_, i) => Math.sin(1 + i * 7 + s * 3) * 0.01);
      opt.roundGrads(g);
      opt.step(params, g, 1e-2);
    }
    return params;
  };
  const straight = run(null);
  assert.deepEqual(run(2), straight);
  // The master weights are fp16 values times a per-tensor scale: not the fp32 trajectory.
  const fp32 = new Float32Array([0.5, -0.3, 0.2, 0.1, 1, -1]);
  const ref = new AdamW(tensors, kernels);
  for (let s = 0; s < 4; s++) ref.step(fp32, new Float32Array(6).map((_, i) => Math.sin(1 + i * 7 + s * 3) * 0.01), 1e-2);
  assert.notDeepEqual(straight, fp32);
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(straight[i] - fp32[i]) < 2e-3, `low precision stays close at ${i}`);
});

test('AdamW rejects bad precision, non-tiling tensors and mismatched restore', () => {
  assert.throws(() => new AdamW(tensors, kernels, undefined, { master: 'fp8' as never, m1: 'fp32', m2: 'fp32', grads: 'fp32' }), /master must be one of fp32, fp16, bf16/);
  assert.throws(() => new AdamW([{ ...tensors[0], offset: 1 }], kernels), /starts at 1, expected 0/);
  const opt = new AdamW(tensors, kernels, undefined, { master: 'fp32', m1: 'fp8', m2: 'fp8', grads: 'fp32' });
  const st = opt.state();
  assert.throws(() => opt.restore({ ...st, m1: new Float32Array(6) }), /m1 must be a Uint8Array of length 6/);
  assert.throws(() => opt.step(new Float32Array(5), new Float32Array(6), 1), /params must be a Float32Array of length 6/);
});

test('AdamW.step with gradScale = the clip factor equals clipping first, bit for bit; gradScale outside (0, 1] is refused', () => {
  const tensors = [
    { name: 'w', shape: [3, 4], offset: 0, size: 12, weightDecay: true },
    { name: 'g', shape: [5], offset: 12, size: 5, weightDecay: false },
  ];
  const params = () => new Float32Array(17).map((_, i) => Math.cos(i) * 0.3);
  const grads = () => new Float32Array(17).map((_, i) => Math.sin(3 * i) * 2);
  const a = new AdamW(tensors, kernels);
  const b = new AdamW(tensors, kernels);
  const [wa, wb] = [params(), params()];
  for (let s = 0; s < 3; s++) {
    const [ga, gb] = [grads(), grads()];
    const norm = clipGradNorm(kernels, ga, 1.0); // separate pass
    a.step(wa, ga, 1e-2);
    b.step(wb, gb, 1e-2, clipFactor(globalGradNorm(kernels, gb), 1.0)); // fused
    assert.ok(norm > 1);
    assert.deepEqual(gb, ga);
  }
  assert.deepEqual(new Uint32Array(wb.buffer), new Uint32Array(wa.buffer));
  assert.deepEqual(new Uint32Array((b.m1 as Float32Array).buffer), new Uint32Array((a.m1 as Float32Array).buffer));
  assert.throws(() => b.step(wb, grads(), 1e-2, 0), /gradScale must be in \(0, 1\], got 0/);
  assert.throws(() => b.step(wb, grads(), 1e-2, 1.5), /gradScale must be in \(0, 1\], got 1\.5/);
});
