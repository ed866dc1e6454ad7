import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPLETION_MARKER, compareJobs, formatCompareTable, pctDifference, runCompare, type CompareJob } from '../../src/report/compare.js';
import { writeSyntheticRun } from './fixtures.js';
import { hasResumableCheckpoint, trainInProcess } from '../../src/cli/commands/compare.js';
import { referenceKernelLoader, type KernelLoader } from '../../src/train/session.js';
import { writeCountingDataset } from '../train/helpers.js';

/** A fake trainer: writes a synthetic run whose final val loss depends on preset and precision. */
function fakeTrainer(calls: CompareJob[], failOn?: string) {
  return async (job: CompareJob): Promise<void> => {
    calls.push(job);
    writeSyntheticRun(job.runDir, {
      preset: job.preset,
      precision: job.precision,
      kurtosis: job.preset === 'llama3' && job.precision !== 'bf16' ? 'climbing' : 'flat',
      steps: 20,
      layers: 2,
      seed: job.preset.length * 7 + job.precision.length,
      // A different steady-state loss per cell, so the bf16 differences are non-trivial.
      tokensPerStep: 1000,
    });
    if (job.name === failOn) {
      mkdirSync(join(job.runDir, 'checkpoints', 'step-10'), { recursive: true });
      throw new Error('interrupted (simulated SIGINT)');
    }
  };
}

test('compareJobs: presets outer, precisions inner; bad names refused', () => {
  const jobs = compareJobs(['llama3', 'fog-xielu'], ['bf16', 'fp8-delayed'], '/tmp/x');
  assert.deepEqual(jobs.map((j) => j.name), ['llama3-bf16', 'llama3-fp8-delayed', 'fog-xielu-bf16', 'fog-xielu-fp8-delayed']);
  assert.equal(jobs[3].runDir, '/tmp/x/fog-xielu-fp8-delayed');
  assert.throws(() => compareJobs(['../evil'], ['bf16'], '/tmp/x'), /not a plain name/);
  assert.throws(() => compareJobs(['a', 'a'], ['bf16'], '/tmp/x'), /duplicates/);
  assert.throws(() => compareJobs([], ['bf16'], '/tmp/x'), /--presets is empty/);
  assert.equal(pctDifference(3.3, 3.0)!.toFixed(6), '10.000000');
  assert.equal(pctDifference(null, 3), null);
});

test('a 2×2 compare runs every cell, writes the report and a summary with differences to bf16', async () => {
  const out = mkdtempSync(join(tmpdir(), 'fog8-compare-'));
  try {
    const calls: CompareJob[] = [];
    const logs: string[] = [];
    const result = await runCompare({ presets: ['llama3', 'fog-xielu'], precisions: ['bf16', 'fp8-delayed'], outDir: out, runTraining: fakeTrainer(calls), hasCheckpoint: () => false, log: (l) => logs.push(l) });
    assert.deepEqual(calls.map((c) => [c.name, c.resume]), [['llama3-bf16', false], ['llama3-fp8-delayed', false], ['fog-xielu-bf16', false], ['fog-xielu-fp8-delayed', false]]);
    assert.ok(calls.every((c) => existsSync(join(c.runDir, COMPLETION_MARKER))));
    assert.ok(readFileSync(result.reportPath, 'utf8').includes('fog8-data'));
    assert.equal(result.rows.length, 4);
    const [lb, lf, fb, ff] = result.rows;
    assert.equal(lb.valLossVsBf16Pct, null);
    // Independent recomputation of the difference from the two final val losses.
    assert.equal(lf.valLossVsBf16Pct, ((lf.finalValLoss! - lb.finalValLoss!) / lb.finalValLoss!) * 100);
    assert.equal(ff.valLossVsBf16Pct, ((ff.finalValLoss! - fb.finalValLoss!) / fb.finalValLoss!) * 100);
    assert.ok(lf.summary.peakActivationKurtosis! > 2 * ff.summary.peakActivationKurtosis!);
    assert.equal(lb.summary.peakOverflowPct, null); // bf16: no FP8 casts
    assert.ok(lf.summary.peakUnderflowPct! > 1);
    const lines = result.table.split('\n');
    assert.equal(lines.length, 6);
    assert.match(lines[0], /^run\s+val loss\s+Δ vs bf16\s+kurt act peak\s+kurt act final\s+kurt qkv_in peak\s+kurt qkv_in final\s+FP8 ovf peak %\s+FP8 unf peak %\s+diverged$/);
    assert.match(lines[3], /^llama3-fp8-delayed\s+\d\.\d{3}\s+[+-]\d+\.\d\d%.*\s+no$/);
    assert.equal(formatCompareTable(result.rows), result.table);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('an interrupted compare resumes: finished runs are not redone, the unfinished one resumes', async () => {
  const out = mkdtempSync(join(tmpdir(), 'fog8-compare-'));
  try {
    const presets = ['llama3', 'fog-xielu'];
    const precisions = ['bf16', 'fp8-delayed'];
    const hasCheckpoint = (dir: string): boolean => existsSync(join(dir, 'checkpoints'));
    const first: CompareJob[] = [];
    await assert.rejects(runCompare({ presets, precisions, outDir: out, runTraining: fakeTrainer(first, 'fog-xielu-bf16'), hasCheckpoint }), /interrupted/);
    assert.deepEqual(first.map((c) => c.name), ['llama3-bf16', 'llama3-fp8-delayed', 'fog-xielu-bf16']);
    assert.equal(existsSync(join(out, 'fog-xielu-bf16', COMPLETION_MARKER)), false);
    // A partial directory without a checkpoint cannot resume: it is set aside and retrained.
    mkdirSync(join(out, 'fog-xielu-fp8-delayed'));
    writeFileSync(join(out, 'fog-xielu-fp8-delayed', 'metrics.jsonl'), '{"type":"step"');
    const second: CompareJob[] = [];
    const result = await runCompare({ presets, precisions, outDir: out, runTraining: fakeTrainer(second), hasCheckpoint });
    assert.deepEqual(second.map((c) => [c.name, c.resume]), [['fog-xielu-bf16', true], ['fog-xielu-fp8-delayed', false]]);
    assert.deepEqual(result.outcomes.map((o) => o.outcome), ['already-finished', 'already-finished', 'resumed', 'restarted']);
    assert.equal(readdirSync(out).filter((n) => n.startsWith('fog-xielu-fp8-delayed.incomplete-')).length, 1);
    // A third call trains nothing.
    const third: CompareJob[] = [];
    await runCompare({ presets, precisions, outDir: out, runTraining: fakeTrainer(third), hasCheckpoint });
    assert.equal(third.length, 0);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('compare checks the shared train flags before training anything', async () => {
  const { checkSharedTrainFlags } = await import('../../src/cli/commands/compare.js');
  assert.doesNotThrow(() => checkSharedTrainFlags(['--lr', '0.01', '--size', 'tiny']));
  assert.throws(() => checkSharedTrainFlags(['--preset', 'llama3']), /--preset is set by compare itself/);
  assert.throws(() => checkSharedTrainFlags(['--run-dir', 'x']), /--run-dir is set by compare itself/);
  assert.throws(() => checkSharedTrainFlags(['--resume', 'x']), /--resume is not a compare option/);
  assert.throws(() => checkSharedTrainFlags(['--learning-rat', '1']), /unknown option/);
});

test('the real trainer interrupted by SIGINT mid-run: rerunning the compare resumes that run bit-identically', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-compare-real-'));
  try {
    const prefix = writeCountingDataset(dir);
    const shared = ['--size', 'tiny', '--data', prefix, '--vocab-size', '64', '--kernels', 'reference', '--batch', '2', '--seq', '16', '--val-fraction', '0.1',
      '--eval-interval', '0', '--eval-batches', '1', '--checkpoint-interval', '0', '--progress', 'none'];
    const matrix = { presets: ['llama3'], precisions: ['bf16', 'fp8-delayed'], hasCheckpoint: hasResumableCheckpoint, log: () => {} };
    const stepLosses = (runDir: string): number[] => readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n')
      .map((l) => JSON.parse(l) as { type: string; loss?: number }).filter((r) => r.type === 'step').map((r) => r.loss as number);

    const straight = join(dir, 'straight');
    await runCompare({ ...matrix, outDir: straight, runTraining: trainInProcess({ steps: 8, shared, loadKernels: referenceKernelLoader }) });

    // The second cell's kernels raise SIGINT inside its 10th AdamW call, i.e. within some optimizer
    // update after the first and before the last (asserted below); the trainer stops at that step's end.
    let loads = 0;
    const interrupting: KernelLoader = async (kind, threads) => {
      const k = await referenceKernelLoader(kind, threads);
      if (++loads !== 2) return k;
      let calls = 0;
      return { ...k, adamw: (...a: Parameters<typeof k.adamw>) => {
        if (++calls === 10) process.emit('SIGINT');
        k.adamw(...a);
      } };
    };
    const interrupted = join(dir, 'interrupted');
    await assert.rejects(
      runCompare({ ...matrix, outDir: interrupted, runTraining: trainInProcess({ steps: 8, shared, loadKernels: interrupting, handleSignals: true }) }),
      /llama3-fp8-delayed was interrupted at step \d+; rerun the same compare command to resume it/,
    );
    const stoppedAt = stepLosses(join(interrupted, 'llama3-fp8-delayed')).length;
    assert.ok(stoppedAt >= 1 && stoppedAt < 8, `stopped at step ${stoppedAt}`);
    assert.equal(process.listenerCount('SIGINT'), 0, 'the trainer removed its signal handler');

    const rerun = await runCompare({ ...matrix, outDir: interrupted, runTraining: trainInProcess({ steps: 8, shared, loadKernels: referenceKernelLoader }) });
    assert.deepEqual(rerun.outcomes.map((o) => o.outcome), ['already-finished', 'resumed']);
    for (const cell of ['llama3-bf16', 'llama3-fp8-delayed']) {
      assert.deepEqual(stepLosses(join(interrupted, cell)), stepLosses(join(straight, cell)), `${cell}: losses step by step, exactly`);
    }
    assert.ok(readFileSync(join(interrupted, 'llama3-fp8-delayed', 'checkpoints', 'step-8', 'model.safetensors'))
      .equals(readFileSync(join(straight, 'llama3-fp8-delayed', 'checkpoints', 'step-8', 'model.safetensors'))), 'final weights identical');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
