import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { metricsRecord, type MetricsRecord, type StepRecord } from '../../src/monitor/schema.js';
import { writeCountingDataset } from './helpers.js';
import { buildReportModel } from '../../src/report/aggregate.js';
import { loadRun } from '../../src/report/load.js';

function readMetrics(runDir: string): MetricsRecord[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => metricsRecord.parse(JSON.parse(l)));
}

test('fog8 train: a 20-step tiny run lowers the loss and writes a schema-valid metrics.jsonl, log, config and checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-train-'));
  try {
    const prefix = writeCountingDataset(dir);
    const runDir = join(dir, 'run');
    const code = await main([
      'train', '--size', 'tiny', '--precision', 'fp8-delayed', '--data', prefix, '--vocab-size', '64', '--kernels', 'reference',
      '--steps', '20', '--batch', '8', '--seq', '16', '--lr', '0.01', '--warmup', '2', '--metrics-interval', '5',
      '--eval-interval', '10', '--eval-batches', '2', '--checkpoint-interval', '10', '--run-dir', runDir, '--progress', 'none', '--val-fraction', '0.1',
    ]);
    assert.equal(code, 0);
    const records = readMetrics(runDir);
    assert.equal(records[0].type, 'run');
    const steps = records.filter((r): r is StepRecord => r.type === 'step');
    assert.equal(steps.length, 20);
    assert.deepEqual(steps.map((s) => s.step), Array.from({ length: 20 }, (_, i) => i + 1));
    const first = steps.slice(0, 3).reduce((a, s) => a + (s.loss ?? NaN), 0) / 3;
    const last = steps.slice(-3).reduce((a, s) => a + (s.loss ?? NaN), 0) / 3;
    assert.ok(last < first - 0.3, `loss ${first} → ${last} should fall`);
    const evals = records.filter((r) => r.type === 'eval');
    assert.deepEqual(evals.map((e) => e.step), [0, 10, 20]);
    assert.ok(evals[2].type === 'eval' && evals[0].type === 'eval' && evals[2].valLoss < evals[0].valLoss);
    const tensors = records.filter((r) => r.type === 'tensors');
    assert.ok(tensors.length >= 4);
    const fp8 = records.filter((r) => r.type === 'fp8');
    assert.ok(fp8.length >= 4, 'FP8 records every metrics interval');
    // Every FP8DPA slot of every layer (DESIGN §3: qkv, p, o E4M3; do, ds, dqkv E5M2; no dP), with
    // amax, scale, underflow and overflow, in every record.
    const slots: Record<string, 'e4m3' | 'e5m2'> = { qkv: 'e4m3', p: 'e4m3', o: 'e4m3', do: 'e5m2', ds: 'e5m2', dqkv: 'e5m2' };
    for (const r of fp8) {
      assert.ok(r.type === 'fp8');
      const attn = r.casts.filter((c) => c.gemm === 'attn.dpa');
      assert.deepEqual(attn.map((c) => `${c.layer}.${c.role}`).sort(), [0, 1].flatMap((l) => Object.keys(slots).map((role) => `${l}.${role}`)).sort(), `step ${r.step}`);
      for (const c of attn) {
        assert.equal(c.format, slots[c.role], c.role);
        assert.ok(c.amax !== null && c.amax > 0 && c.scale > 0 && c.underflowPct >= 0 && c.underflowPct <= 100 && c.overflowPct >= 0, `${c.role}: ${JSON.stringify(c)}`);
      }
    }
    // The report shows them: one chart per attention slot in each FP8 section.
    const report = buildReportModel([loadRun(runDir)]);
    for (const section of ['fp8-underflow', 'fp8-overflow', 'fp8-scale', 'fp8-amax']) {
      const items = report.sections.find((x) => x.id === section)?.items ?? [];
      for (const role of Object.keys(slots)) {
        const chart = items.find((c) => c.id === `${section}-attn-dpa-${role}`);
        assert.ok(chart !== undefined && chart.kind === 'chart', `${section} chart for attn.dpa · ${role}`);
        assert.ok(chart.series[0].values.some((v) => v !== null && Number.isFinite(v)), `${section} ${role} has values`);
      }
    }
    assert.ok(existsSync(join(runDir, 'train.log')) && readFileSync(join(runDir, 'train.log'), 'utf8').includes('eval step 20'));
    assert.ok(existsSync(join(runDir, 'config.json')));
    assert.ok(existsSync(join(runDir, 'checkpoints', 'step-20', 'model.safetensors')));
    assert.ok(existsSync(join(runDir, 'checkpoints', 'step-10', 'manifest.json')));

    // eval and inspect read the newest checkpoint of the run directory.
    const printed: string[] = [];
    const log = console.log;
    console.log = (s: string) => printed.push(s);
    try {
      assert.equal(await main(['eval', runDir, '--json', '--kernels', 'reference', '--no-record']), 0);
      assert.equal(await main(['inspect', runDir, '--json']), 0);
    } finally {
      console.log = log;
    }
    const ev = JSON.parse(printed[0]);
    const finalEval = evals[2].type === 'eval' ? evals[2].valLoss : NaN;
    assert.equal(ev.step, 20);
    assert.equal(ev.scalingStateLoaded, true);
    // Same model, scales and held-out documents as the trainer's eval; eval scores every held-out
    // document on its own (the trainer packs them into its eval batches), so close, not equal.
    assert.equal(ev.split, 'val');
    assert.ok(Math.abs(ev.loss - finalEval) / finalEval < 0.1, `eval ${ev.loss} vs trainer ${finalEval}`);
    const info = JSON.parse(printed[1]);
    assert.equal(info.step, 20);
    assert.equal(info.parameters, (records[0].type === 'run' && records[0].parameters));
    assert.ok(info.scaling.slots > 0 && info.scaling.maxScale > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fog8 train: a config error found during setup (BPE vocabulary too small for the corpus) leaves no run directory behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-train-'));
  try {
    const runDir = join(dir, 'run');
    const code = await main(['train', '--size', 'tiny', '--data', 'brown', '--vocab-size', '100', '--kernels', 'reference', '--run-dir', runDir, '--progress', 'none']);
    assert.notEqual(code, 0);
    assert.ok(!existsSync(runDir), 'the run directory must not exist after a failed setup');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fog8 train --kernels native --threads 1: runs, and config.json, the run record and the MFU peak use 1 thread', async (t) => {
  const { nativeAvailability } = await import('../../src/kernels/index.js');
  if (!nativeAvailability().available) return t.skip('native addon not built');
  const { loadNativeAddon } = await import('../../src/kernels/native.js');
  const addon = loadNativeAddon();
  const savedThreads = addon.threads();
  const dir = mkdtempSync(join(tmpdir(), 'fog8-threads-'));
  try {
    const prefix = writeCountingDataset(dir);
    const runDir = join(dir, 'run');
    const code = await main([
      'train', '--size', 'tiny', '--data', prefix, '--vocab-size', '64', '--kernels', 'native', '--threads', '1', '--steps', '2', '--batch', '2', '--seq', '16',
      '--eval-batches', '1', '--run-dir', runDir, '--progress', 'none', '--val-fraction', '0.1',
    ]);
    assert.equal(code, 0);
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as { train: { threads: number }; kernels: { name: string; threads: number } };
    assert.equal(config.train.threads, 1);
    assert.deepEqual([config.kernels.name, config.kernels.threads], ['native', 1]);
    const records = readMetrics(runDir);
    const run = records[0];
    assert.ok(run.type === 'run' && run.kernels.endsWith('/1t'), run.type === 'run' ? run.kernels : '');
    const steps = records.filter((r): r is StepRecord => r.type === 'step');
    assert.ok(steps.every((s) => Number.isFinite(s.mfu) && s.mfu > 0));
  } finally {
    addon.setThreads(savedThreads);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fog8 train: --vocab-size that conflicts with --tokenizer, --tokenizer with the embedded corpus and --lr 1e308 are config errors; no run directory is left', async (t) => {
  const { trainTokenizer } = await import('../../src/data/tokenizer.js');
  const dir = mkdtempSync(join(tmpdir(), 'fog8-vocab-'));
  const errors: string[] = [];
  t.mock.method(console, 'error', (...args: unknown[]) => errors.push(args.join(' ')));
  try {
    const prefix = writeCountingDataset(dir);
    const tok = join(dir, 'tokenizer.json');
    trainTokenizer(['the cat sat on the mat', 'the dog sat on the log'], { vocabSize: 260, minPairFrequency: 1 }).save(tok);
    const runDir = join(dir, 'run');
    const common = ['--size', 'tiny', '--kernels', 'reference', '--steps', '1', '--run-dir', runDir, '--progress', 'none'];
    assert.equal(await main(['train', ...common, '--data', prefix, '--tokenizer', tok, '--vocab-size', '64']), 1);
    assert.match(errors.pop() ?? '', /vocabSize \(64\) conflicts with tokenizer .*tokenizer\.json, which has \d+ tokens/);
    assert.equal(await main(['train', ...common, '--tokenizer', tok, '--vocab-size', '512']), 1);
    assert.match(errors.pop() ?? '', /tokenizer \(".*"\) applies only to --data PREFIX/);
    assert.equal(await main(['train', ...common, '--data', prefix, '--vocab-size', '64', '--lr', '1e308']), 1);
    assert.match(errors.pop() ?? '', /invalid training config: lr \(1e\+308\)/);
    assert.ok(!existsSync(runDir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
