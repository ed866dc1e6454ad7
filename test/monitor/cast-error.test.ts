import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StepMonitor } from '../../src/monitor/step-monitor.js';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { castStat } from '../../src/monitor/schema.js';

test('StepMonitor: relErr and massLostPct from the summed error sums of an interval\'s casts', () => {
  const m = new StepMonitor(createReferenceKernels());
  m.beginStep(true);
  const base = { layer: 0, gemm: 'attn.dpa', role: 'p', format: 'e4m3' as const, scale: 1, count: 10 };
  m.cast({ ...base, stats: { amax: 1, underflow: 2, overflow: 0, nonzero: 10, sumSq: 4, errSq: 0.04, absSum: 6, lostAbs: 0.3 } });
  m.cast({ ...base, stats: { amax: 2, underflow: 0, overflow: 0, nonzero: 10, sumSq: 12, errSq: 0.12, absSum: 4, lostAbs: 0.2 } });
  // A cast by a kernel without error sums: its entry reports none rather than a wrong value.
  m.cast({ ...base, gemm: 'attn.qkv', role: 'input', stats: { amax: 1, underflow: 0, overflow: 0, nonzero: 10 } });
  const [p, q] = m.castStats();
  assert.equal(p.relErr, Math.sqrt(0.16 / 16));
  assert.equal(p.massLostPct, (100 * 0.5) / 10);
  assert.equal(q.relErr, undefined);
  assert.equal(q.massLostPct, undefined);
  assert.ok(castStat.safeParse(p).success && castStat.safeParse(q).success);
});

test('StepMonitor: the error fields of a real reference cast match an independent computation', () => {
  const k = createReferenceKernels();
  const x = Float32Array.from([1, 0.3, 1e-4, -2e-3, 0.07, 5]);
  const stats = k.quantize(x, 'e4m3', 1, new Uint8Array(x.length));
  const m = new StepMonitor(k);
  m.beginStep(false);
  m.cast({ layer: 0, gemm: 'attn.qkv', role: 'input', format: 'e4m3', scale: 1, count: x.length, stats });
  const [c] = m.castStats();
  const xhat = [1, 0.3125, 0, -0.001953125, 0.0703125, 5];
  const num = Math.sqrt([...x].reduce((a, v, i) => a + (v - xhat[i]) ** 2, 0));
  const den = Math.sqrt([...x].reduce((a, v) => a + v * v, 0));
  assert.ok(Math.abs(c.relErr! - num / den) < 1e-12, `${c.relErr} vs ${num / den}`);
  assert.ok(Math.abs(c.massLostPct! - (100 * x[2]) / [...x].reduce((a, v) => a + Math.abs(v), 0)) < 1e-9);
});
