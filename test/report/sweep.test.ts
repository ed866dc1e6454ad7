import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lrLabel, meanStd, runSweep, sweepJobs, type SweepJob, type SweepSummary } from '../../src/report/sweep.js';
import { COMPLETION_MARKER } from '../../src/report/compare.js';
import { loadRun } from '../../src/report/load.js';
import { writeSyntheticRun } from './fixtures.js';
import { checkSweepTrainFlags, parseShard, sweepTrainInProcess } from '../../src/cli/commands/sweep.js';
import { hasResumableCheckpoint } from '../../src/cli/commands/compare.js';
import { referenceKernelLoader } from '../../src/train/session.js';
import { writeCountingDataset } from '../train/helpers.js';

function fakeTrainer(calls: SweepJob[], failOn?: string) {
  return async (job: SweepJob): Promise<void> => {
    calls.push(job);
    writeSyntheticRun(job.runDir, { preset: job.preset, precision: job.precision, kurtosis: job.precision === 'bf16' ? 'flat' : 'climbing', steps: 20, layers: 2, seed: job.seed * 31 + Math.round(job.lr * 1e4) });
    if (job.name === failOn) {
      mkdirSync(join(job.runDir, 'checkpoints', 'step-10'), { recursive: true });
      throw new Error('interrupted (simulated SIGINT)');
    }
  };
}

test('sweepJobs: seeds outer, then presets, precisions, lrs; names carry lr and seed; bad lists refused', () => {
  const jobs = sweepJobs({ presets: ['llama3'], precisions: ['bf16', 'fp8-delayed'], lrs: [3e-3, 0.01], seeds: [1, 2], outDir: '/tmp/s' });
  assert.equal(jobs.length, 8);
  assert.deepEqual(jobs.slice(0, 4).map((j) => j.name), ['llama3-bf16-lr3e-3-s1', 'llama3-bf16-lr1e-2-s1', 'llama3-fp8-delayed-lr3e-3-s1', 'llama3-fp8-delayed-lr1e-2-s1']);
  assert.equal(jobs[4].seed, 2);
  assert.equal(lrLabel(0.025), '2.5e-2');
  assert.throws(() => sweepJobs({ presets: ['a'], precisions: ['bf16'], lrs: [0], seeds: [1], outDir: '/x' }), /--lrs entry 0/);
  assert.throws(() => sweepJobs({ presets: ['a'], precisions: ['bf16'], lrs: [1e-3], seeds: [1.5], outDir: '/x' }), /--seeds entry 1.5/);
  assert.throws(() => sweepJobs({ presets: ['a'], precisions: ['bf16'], lrs: [1e-3, 1e-3], seeds: [1], outDir: '/x' }), /duplicates/);
  assert.deepEqual(parseShard('1/4'), [1, 4]);
  assert.throws(() => parseShard('4/4'), /K\/N/);
  assert.throws(() => checkSweepTrainFlags(['--lr', '0.1']), /--lr is set by sweep itself/);
  assert.throws(() => checkSweepTrainFlags(['--seed', '3']), /--seed is set by sweep itself/);
  assert.doesNotThrow(() => checkSweepTrainFlags(['--steps', '10', '--size', 'tiny']));
});

test('meanStd: sample standard deviation, nulls ignored', () => {
  assert.deepEqual(meanStd([1, 2, 3, null]), { mean: 2, std: 1, n: 3 });
  assert.deepEqual(meanStd([5]), { mean: 5, std: 0, n: 1 });
  assert.deepEqual(meanStd([null]), { mean: null, std: null, n: 0 });
});

test('an interrupted sweep resumes: finished runs never retrained, the interrupted one resumed, shards split the rest', async () => {
  const out = mkdtempSync(join(tmpdir(), 'fog8-sweep-'));
  try {
    const spec = { presets: ['llama3', 'fog-xielu'], precisions: ['bf16', 'fp8-delayed'], lrs: [1e-3], seeds: [1, 2], outDir: out, runReports: false };
    const hasCheckpoint = (dir: string): boolean => existsSync(join(dir, 'checkpoints'));
    const first: SweepJob[] = [];
    await assert.rejects(runSweep({ ...spec, runTraining: fakeTrainer(first, 'fog-xielu-bf16-lr1e-3-s1'), hasCheckpoint }), /interrupted/);
    assert.equal(first.length, 3);
    // Shard 0/2 of the rerun takes jobs 0, 2, 4, 6: 0 is finished, 2 (interrupted) resumes, 4 and 6 train.
    const shard0: SweepJob[] = [];
    const r0 = await runSweep({ ...spec, shard: [0, 2], runTraining: fakeTrainer(shard0), hasCheckpoint });
    assert.deepEqual(shard0.map((j) => [j.name, j.resume]), [['fog-xielu-bf16-lr1e-3-s1', true], ['llama3-bf16-lr1e-3-s2', false], ['fog-xielu-bf16-lr1e-3-s2', false]]);
    assert.equal(r0.outcomes[1].outcome, 'already-finished'); // job 1 is shard 1's but finished in the first call
    assert.equal(r0.outcomes[3].outcome, 'other-shard');
    const shard1: SweepJob[] = [];
    await runSweep({ ...spec, shard: [1, 2], runTraining: fakeTrainer(shard1), hasCheckpoint });
    assert.deepEqual(shard1.map((j) => j.name), ['fog-xielu-fp8-delayed-lr1e-3-s1', 'llama3-fp8-delayed-lr1e-3-s2', 'fog-xielu-fp8-delayed-lr1e-3-s2']);
    const again: SweepJob[] = [];
    const final = await runSweep({ ...spec, runTraining: fakeTrainer(again), hasCheckpoint });
    assert.equal(again.length, 0, 'a complete sweep trains nothing');
    assert.ok(final.outcomes.every((o) => o.outcome === 'already-finished'));
    // Per-cell mean ± std over seeds, recomputed from the runs' own final val losses.
    const summary = JSON.parse(readFileSync(final.summaryPath, 'utf8')) as SweepSummary;
    assert.equal(summary.cells.length, 4);
    const cell = summary.cells.find((c) => c.preset === 'llama3' && c.precision === 'fp8-delayed')!;
    const v = [1, 2].map((s) => { const e = loadRun(join(out, `llama3-fp8-delayed-lr1e-3-s${s}`)).records.evals; return e[e.length - 1].valLoss; });
    assert.ok(Math.abs(cell.stats.finalValLoss.mean! - (v[0] + v[1]) / 2) < 1e-12);
    assert.ok(Math.abs(cell.stats.finalValLoss.std! - Math.abs(v[0] - v[1]) / Math.SQRT2) < 1e-12);
    const bf = [1, 2].map((s) => { const e = loadRun(join(out, `llama3-bf16-lr1e-3-s${s}`)).records.evals; return e[e.length - 1].valLoss; });
    assert.ok(Math.abs(cell.stats.gapVsBf16.mean! - ((v[0] - bf[0]) + (v[1] - bf[1])) / 2) < 1e-12);
    assert.equal(summary.cells.find((c) => c.precision === 'bf16')!.stats.unfP.n, 0); // no casts in bf16
    assert.ok(cell.stats.unfP.mean! > 0);
    assert.match(final.table.split('\n')[0], /^preset\s+precision\s+lr\s+seeds\s+val loss\s+Δ vs bf16/);
    assert.match(final.table, /llama3\s+fp8-delayed\s+1e-3\s+2\/2\s+\d\.\d+±/);
    const html = readFileSync(final.htmlPath, 'utf8');
    assert.match(html, /href="llama3-fp8-delayed-lr1e-3-s2\/report.html"/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a real 2-run sweep (reference kernels): summary, per-run reports, rerun trains nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-sweep-real-'));
  try {
    const prefix = writeCountingDataset(dir);
    const shared = ['--size', 'tiny', '--data', prefix, '--vocab-size', '64', '--kernels', 'reference', '--batch', '2', '--seq', '16', '--val-fraction', '0.1',
      '--steps', '4', '--eval-interval', '0', '--eval-batches', '1', '--checkpoint-interval', '0', '--metrics-interval', '2', '--progress', 'none'];
    const spec = { presets: ['llama3'], precisions: ['bf16', 'fp8-delayed'], lrs: [1e-3], seeds: [7], outDir: join(dir, 'sw'), hasCheckpoint: hasResumableCheckpoint };
    const r = await runSweep({ ...spec, runTraining: sweepTrainInProcess({ shared, loadKernels: referenceKernelLoader }) });
    assert.ok(existsSync(join(dir, 'sw', 'llama3-fp8-delayed-lr1e-3-s7', COMPLETION_MARKER)));
    assert.ok(existsSync(join(dir, 'sw', 'llama3-fp8-delayed-lr1e-3-s7', 'report.html')));
    const cfg = JSON.parse(readFileSync(join(dir, 'sw', 'llama3-fp8-delayed-lr1e-3-s7', 'config.json'), 'utf8')) as { train: { lr: number; seed: number } };
    assert.deepEqual([cfg.train.lr, cfg.train.seed], [1e-3, 7]);
    const fp8 = r.summary.runs.find((x) => x.precision === 'fp8-delayed')!;
    assert.ok(fp8.metrics!.gapVsBf16 !== null && Number.isFinite(fp8.metrics!.gapVsBf16));
    writeFileSync(join(dir, 'marker'), '');
    let calls = 0;
    await runSweep({ ...spec, runTraining: async () => { calls++; } });
    assert.equal(calls, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
