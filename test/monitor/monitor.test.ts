import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { StepMonitor } from '../../src/monitor/step-monitor.js';
import { DivergenceForecaster } from '../../src/monitor/divergence.js';
import type { TensorStat } from '../../src/monitor/schema.js';

const kernels = createReferenceKernels();

test('tensor statistics: per-sequence mean, rms, kurtosis averaged over sequences and micro-batches (hand values)', () => {
  const m = new StepMonitor(kernels);
  m.beginStep(true);
  // Two sequences of (T=2, C=2): [1,-1,1,-1] → mean 0, rms 1, kurtosis 1; [0,0,0,2] → mean 0.5, rms 1, kurtosis (16/4)/1² = 4.
  m.tensor(0, 'mlp_out', new Float32Array([1, -1, 1, -1, 0, 0, 0, 2]), 2, 4);
  // A second micro-batch with one sequence [3,3,3,3]: mean 3, rms 3, kurtosis 1.
  m.tensor(0, 'mlp_out', new Float32Array([3, 3, 3, 3]), 1, 4);
  m.tensor(1, 'q', new Float32Array(4), 1, 4); // all zeros: kurtosis counted as 0
  const stats = m.tensorStats();
  assert.deepEqual(stats[0], { layer: 0, tensor: 'mlp_out', mean: (0 + 0.5 + 3) / 3, rms: (1 + 1 + 3) / 3, kurtosis: (1 + 4 + 1) / 3 });
  assert.deepEqual(stats[1], { layer: 1, tensor: 'q', mean: 0, rms: 0, kurtosis: 0 });
  m.beginStep(false);
  m.tensor(0, 'q', new Float32Array(4), 2, 2);
  assert.equal(m.tensorStats().length, 0);
});

test('cast statistics aggregate per (layer, gemm, role); the first non-finite operand is reported before saturation', () => {
  const m = new StepMonitor(kernels);
  m.beginStep(false);
  m.cast({ layer: 0, gemm: 'attn.qkv', role: 'input', format: 'e4m3', scale: 2, stats: { amax: 3, underflow: 1, overflow: 0, nonzero: 50 }, count: 100 });
  m.cast({ layer: 0, gemm: 'attn.qkv', role: 'input', format: 'e4m3', scale: 4, stats: { amax: 5, underflow: 3, overflow: 2, nonzero: 50 }, count: 100 });
  m.cast({ layer: 1, gemm: 'mlp.fc2', role: 'grad_output', format: 'e5m2', scale: 1, stats: { amax: Infinity, underflow: 0, overflow: 1, nonzero: 5 }, count: 10 });
  const c = m.castStats();
  assert.deepEqual(c[0], { layer: 0, gemm: 'attn.qkv', role: 'input', format: 'e4m3', amax: 5, scale: 4, underflowPct: 4, overflowPct: 1 }); // underflow over the 100 non-zero inputs, overflow over all 200
  assert.equal(c[1].amax, null);
  const bad = m.firstBadCast();
  assert.equal(bad?.kind, 'non-finite');
  assert.equal(bad?.gemm, 'mlp.fc2');
  m.maxLogit(1, 7);
  m.maxLogit(0, 2);
  m.maxLogit(1, 9);
  assert.deepEqual(m.maxLogits(), [2, 9]);
});

test('first bad cast: a non-finite scale counts as non-finite; the forward view skips backward operands', () => {
  const m = new StepMonitor(kernels, (role) => role === 'grad_output');
  m.beginStep(false);
  m.cast({ layer: 0, gemm: 'attn.qkv', role: 'input', format: 'e4m3', scale: 2, stats: { amax: 300, underflow: 0, overflow: 4, nonzero: 4 }, count: 8 });
  m.cast({ layer: 1, gemm: 'mlp.fc2', role: 'grad_output', format: 'e5m2', scale: NaN, stats: { amax: 0.5, underflow: 0, overflow: 0, nonzero: 4 }, count: 8 });
  m.cast({ layer: 1, gemm: 'mlp.fc1', role: 'weight', format: 'e4m3', scale: 1, stats: { amax: NaN, underflow: 0, overflow: 0, nonzero: 4 }, count: 8 });
  assert.deepEqual([m.firstBadCast()?.kind, m.firstBadCast()?.gemm, m.firstBadCast()?.role], ['non-finite', 'mlp.fc2', 'grad_output']);
  assert.deepEqual([m.firstBadCast('forward')?.kind, m.firstBadCast('forward')?.gemm], ['non-finite', 'mlp.fc1']);
  m.beginStep(false);
  m.cast({ layer: 0, gemm: 'attn.qkv', role: 'input', format: 'e4m3', scale: 2, stats: { amax: 300, underflow: 0, overflow: 4, nonzero: 4 }, count: 8 });
  m.cast({ layer: 1, gemm: 'mlp.fc2', role: 'grad_output', format: 'e5m2', scale: 1, stats: { amax: Infinity, underflow: 0, overflow: 1, nonzero: 4 }, count: 8 });
  assert.deepEqual([m.firstBadCast('forward')?.kind, m.firstBadCast('forward')?.gemm, m.firstBadCast('forward')?.overflow], ['saturated', 'attn.qkv', 4]);
  m.beginStep(false);
  assert.equal(m.firstBadCast(), null);
});

test('divergence forecaster flags sustained kurtosis growth once, not noise or flat curves', () => {
  const f = new DivergenceForecaster({ window: 4, growth: 1.5 });
  const at = (k: number): TensorStat[] => [
    { layer: 0, tensor: 'mlp_post_act', mean: 0, rms: 1, kurtosis: k },
    { layer: 1, tensor: 'mlp_post_act', mean: 0, rms: 1, kurtosis: k },
    { layer: 0, tensor: 'qkv', mean: 0, rms: 1, kurtosis: 3 },
  ];
  const series = [3, 3.2, 3.1, 3.3, 3.4, 4, 5, 6, 7, 8, 7.5];
  const fired: number[] = [];
  series.forEach((k, i) => {
    for (const w of f.observe(i, at(k))) {
      assert.equal(w.tensor, 'mlp_post_act');
      assert.match(w.message, /kurtosis of mlp_post_act/);
      fired.push(i);
    }
  });
  // Window 3.3, 3.4, 4, 5 rises but 5/3.3 = 1.52 ≥ 1.5 → first flag at index 6; then held until the dip.
  assert.deepEqual(fired, [6]);
  const g = new DivergenceForecaster({ window: 4, growth: 1.5 });
  g.restore(JSON.parse(JSON.stringify(f.toJSON())));
  assert.deepEqual(g.observe(11, at(9)), []);
});
