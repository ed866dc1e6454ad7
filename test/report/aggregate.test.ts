import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildReportModel, tensorGrid } from '../../src/report/aggregate.js';
import { alignSeries } from '../../src/report/align.js';
import { configRows, flattenConfig } from '../../src/report/config-table.js';
import { loadRun, parseMetricsText, runDataFrom } from '../../src/report/load.js';
import type { ChartSpec, HeatmapSpec } from '../../src/report/model.js';
import { layerAverage } from '../../src/report/stats.js';
import { divergence } from '../../src/report/summary.js';
import { FIXTURE_OPERANDS, FIXTURE_TENSORS, writeTwoRuns } from './fixtures.js';

test('alignSeries merges x values and places each y at its x, null elsewhere', () => {
  const { x, ys } = alignSeries([
    { xs: [1, 3, 5], ys: [10, 30, 50] },
    { xs: [2, 3, 6], ys: [20, Number.NaN, 60] },
  ]);
  assert.deepEqual(x, [1, 2, 3, 5, 6]);
  assert.deepEqual(ys, [[10, null, 30, 50, null], [null, 20, null, null, 60]]);
  assert.throws(() => alignSeries([{ xs: [1], ys: [] }]), /1 x values but 0 y values/);
});

test('configRows flattens nested configs and marks differing and missing fields', () => {
  assert.deepEqual([...flattenConfig({ a: { b: 1, c: [1, 2] }, d: 'x', e: null })], [['a.b', '1'], ['a.c', '[1,2]'], ['d', 'x'], ['e', 'null']]);
  const rows = configRows([{ model: { preset: 'llama3', layers: 4 }, lr: 1e-3 }, { model: { preset: 'fog-xielu', layers: 4 }, seed: 1 }]);
  assert.deepEqual(rows.map((r) => [r.key, r.values, r.differs]), [
    ['lr', ['0.001', '—'], true],
    ['model.layers', ['4', '4'], false],
    ['model.preset', ['llama3', 'fog-xielu'], true],
    ['seed', ['—', '1'], true],
  ]);
});

test('layerAverage is the plain mean over layers of one tensor statistic', () => {
  const rec = { type: 'tensors' as const, step: 5, tokens: 0, time: 0, maxAttentionLogit: [], stats: [
    { layer: 0, tensor: 'q' as const, mean: 0, rms: 1, kurtosis: 3 },
    { layer: 1, tensor: 'q' as const, mean: 0, rms: 2, kurtosis: 9 },
    { layer: 0, tensor: 'k' as const, mean: 0, rms: 5, kurtosis: 100 },
  ] };
  assert.equal(layerAverage(rec, 'q', 'kurtosis'), 6);
  assert.equal(layerAverage(rec, 'q', 'rms'), 1.5);
  assert.equal(layerAverage(rec, 'mlp_out', 'rms'), null);
});

test('divergence: error event, non-finite final loss, or ending above the initial loss', () => {
  const lines = (losses: (number | null)[]) => losses.map((l, i) => JSON.stringify({ type: 'step', step: i + 1, tokens: i, time: i, loss: l, lr: 1, gradNorm: 1, tokensPerSec: 1, mfu: 0, skipped: false, stepTimeMs: 1 })).join('\n');
  const run = (text: string) => runDataFrom('/nonexistent', parseMetricsText(text));
  assert.equal(divergence(run(lines([5, 4, 3, 2.5, 2.4, 2.3, 2.2, 2.1, 2.0, 1.9]))).diverged, false);
  assert.equal(divergence(run(lines([5, 4, 3, null]))).diverged, true);
  assert.equal(divergence(run(lines([5, 4, 3, 4, 5, 6, 7, 8, 9, 10]))).diverged, true);
  const err = `${lines([5, 4])}\n${JSON.stringify({ type: 'event', step: 2, tokens: 2, time: 2, level: 'error', message: 'run diverged' })}`;
  assert.match(divergence(run(err)).reason, /run diverged/);
});

test('buildReportModel: every chart and heatmap of two fixture runs, with values from the records', () => {
  const root = mkdtempSync(join(tmpdir(), 'fog8-agg-'));
  try {
    const { llama, fog } = writeTwoRuns(root, 40);
    const runs = [loadRun(llama), loadRun(fog)];
    const model = buildReportModel(runs);
    const ids = model.sections.map((s) => s.id);
    assert.deepEqual(ids, ['loss', 'optimizer', 'throughput', ...FIXTURE_TENSORS.map((t) => `tensor-${t}`), 'attention-logits', 'fp8-underflow', 'fp8-overflow', 'fp8-relerr', 'fp8-mass-lost', 'fp8-scale', 'fp8-amax']);
    const items = model.sections.flatMap((s) => s.items);
    const charts = items.filter((i): i is ChartSpec => i.kind === 'chart');
    const heatmaps = items.filter((i): i is HeatmapSpec => i.kind === 'heatmap');
    // 8 tensors × {kurtosis, rms} × 2 runs.
    assert.equal(heatmaps.length, 32);
    assert.ok(heatmaps.every((h) => h.layerCount === 4 && h.steps.length === 8));
    const loss = charts.find((c) => c.id === 'loss')!;
    assert.equal(loss.series.length, 4); // train + val per run
    assert.equal(loss.x.length, 40);
    assert.equal(loss.series[1].values.filter((v) => v !== null).length, 4); // evals every 10 steps
    assert.equal(charts.find((c) => c.id === 'max-logit-llama3-fp8-delayed')!.series.length, 4);
    const operands = FIXTURE_OPERANDS.length + 1; // + lm_head
    assert.equal(model.sections.find((s) => s.id === 'fp8-underflow')!.items.length, operands);
    // Heatmap cell = the record's statistic at that layer (independent lookup in the raw records).
    const h = heatmaps.find((x) => x.id === 'heatmap-kurtosis-qkv_input-llama3-fp8-delayed')!;
    const rec = runs[0].records.tensors[5];
    const stat = rec.stats.find((s) => s.layer === 2 && s.tensor === 'qkv_input')!;
    assert.equal(h.values[2][5], stat.kurtosis);
    assert.deepEqual(tensorGrid(runs[0].records.tensors, 'qkv_input', 'kurtosis', 4), h.values);
    // Shared color range across runs of one tensor/metric.
    const pair = heatmaps.filter((x) => x.tensor === 'activation' && x.metric === 'kurtosis');
    assert.equal(pair[0].colorMax, pair[1].colorMax);
    assert.equal(pair[0].colorMax, Math.max(...pair.flatMap((p) => p.values.flat() as number[])));
    // Underflow chart = max over layers of the operand.
    const pChart = charts.find((c) => c.id === 'fp8-underflow-attn-dpa-p')!;
    const lastFp8 = runs[0].records.fp8[runs[0].records.fp8.length - 1];
    const expected = Math.max(...lastFp8.casts.filter((c) => c.gemm === 'attn.dpa' && c.role === 'p').map((c) => c.underflowPct));
    assert.equal(pChart.series[0].values[pChart.x.indexOf(lastFp8.step)], expected);
    // Amax chart = max over layers of the operand's amax.
    const amaxChart = charts.find((c) => c.id === 'fp8-amax-attn-dpa-dqkv')!;
    const expectedAmax = Math.max(...lastFp8.casts.filter((c) => c.gemm === 'attn.dpa' && c.role === 'dqkv').map((c) => c.amax as number));
    assert.equal(amaxChart.series[0].values[amaxChart.x.indexOf(lastFp8.step)], expectedAmax);
    // Summary: the climbing run's kurtosis rises, the flat one's does not.
    const [l, f] = model.runs;
    assert.ok(l.peakActivationKurtosis! > 4 * f.peakActivationKurtosis!);
    assert.ok(f.peakActivationKurtosis! < 3.5);
    assert.equal(l.diverged, false);
    assert.ok(model.configRows.some((r) => r.key === 'model.preset' && r.differs));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
