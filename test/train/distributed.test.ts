/**
 * Data parallelism over MPI (issue 13), end to end with 2 ranks on localhost: `mpirun -np 2
 * fog8 train` must give exactly the losses, weights and FP8 scaling state of one process running
 * the same global batch as 2 micro-batches; a SIGINT'ed and resumed 2-rank run too; a killed rank
 * ends the job naming rank and step, and the run resumes; mismatched ranks are refused.
 * Needs Open MPI (`.ci/install-openmpi.sh`); without mpirun the tests skip, except in CI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig, type TrainConfig } from '../../src/train/config.js';
import { runTraining } from '../../src/train/session.js';
import { loadKernelBackend } from '../../src/train/kernel-backend.js';
import { mpiAvailable } from '../../src/train/distributed.js';
import { writeCountingDataset } from './helpers.js';

const hasMpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' }).status === 0;
const hasAddon = mpiAvailable();
/** Newest modification time (ms) of the .ts files under dir. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.ts')) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}
// mpirun runs the CLI from dist/, the in-process side runs src/: a dist/ older than src/ compares
// two different programs (non-identical losses that look like a distributed bug), so rebuild it.
const distMain = resolve('dist/src/cli/main.js');
if (existsSync(distMain) && statSync(distMain).mtimeMs < newestSource(resolve('src'))) {
  console.log('dist/ is older than src/: rebuilding it (tsc -p tsconfig.build.json) for the mpirun side');
  const r = spawnSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`rebuilding dist/ failed: ${r.stdout}${r.stderr}`);
}
const built = existsSync(distMain);
const skip = hasMpirun && hasAddon && built ? false : `needs mpirun and the MPI addon (Debian ${'openmpi-bin libopenmpi-dev'}, then npm run build): mpirun ${hasMpirun ? 'found' : 'missing'}, addon ${hasAddon ? 'with MPI' : 'without MPI'}, dist ${built ? 'built' : 'missing'}`;
if (skip && process.env.CI) {
  test('Open MPI is installed in CI (.ci/install-openmpi.sh)', () => assert.fail(String(skip)));
}
const opts = { skip: process.env.CI ? false : skip, timeout: 180_000 };

const MPIRUN = ['--allow-run-as-root', '--oversubscribe', '--bind-to', 'none', '-np', '2'];
const FOG8 = [process.execPath, resolve('bin/fog8.js'), 'train'];

/** Flags of a tiny run on the counting dataset; `config` is the same run in-process. */
function runFlags(prefix: string, runDir: string, extra: Record<string, string | number | boolean>): string[] {
  const flags: Record<string, string | number | boolean> = {
    size: 'tiny', data: prefix, 'vocab-size': 64, kernels: 'native', threads: 1, batch: 4, seq: 16, lr: 0.01, warmup: 2, 'metrics-interval': 2,
    'eval-interval': 0, 'eval-batches': 1, 'val-fraction': 0.1, progress: 'none', 'run-dir': runDir, ...extra,
  };
  return Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]);
}

function inProcessConfig(prefix: string, runDir: string, extra: Partial<TrainConfig>): TrainConfig {
  return validateTrainConfig({
    ...DEFAULT_TRAIN_CONFIG, size: 'tiny', data: prefix, vocabSize: 64, kernels: 'native', threads: 1, batch: 4, seq: 16, lr: 0.01, warmup: 2, metricsInterval: 2,
    evalInterval: 0, evalBatches: 1, valFraction: 0.1, progress: 'none', runDir, microBatches: 2, ...extra,
  });
}

/** mpirun jobs still running; a failed test ends them (SIGTERM: mpirun then ends its ranks). */
const live = new Set<ReturnType<typeof spawn>>();
function endLiveJobs(): void {
  for (const c of live) c.kill('SIGTERM');
}

function mpirun(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; child: ReturnType<typeof spawn> }> {
  const child = spawn('mpirun', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  live.add(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((r) =>
    child.on('exit', (code) => {
      live.delete(child);
      r({ code, out, child });
    }),
  );
}

function steps(runDir: string): { step: number; loss: number; gradNorm: number }[] {
  if (!existsSync(join(runDir, 'metrics.jsonl'))) return [];
  // The run may be writing: skip an empty file or a partial last line.
  const records = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.endsWith('}'));
  return records.flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  }).filter((r) => r.type === 'step');
}

function checkpointOf(runDir: string, step: number): { weights: Buffer; optimizer: Buffer; scaling: unknown; data: unknown } {
  const dir = join(runDir, 'checkpoints', `step-${step}`);
  const state = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8'));
  return { weights: readFileSync(join(dir, 'model.safetensors')), optimizer: readFileSync(join(dir, 'optimizer.safetensors')), scaling: state.scaling, data: state.data };
}

function assertSameRun(dp: string, single: string, lastStep: number): void {
  const a = steps(dp);
  const b = steps(single);
  assert.equal(a.length, lastStep);
  assert.deepEqual(a.map((s) => [s.step, s.loss, s.gradNorm]), b.map((s) => [s.step, s.loss, s.gradNorm])); // exact
  const ca = checkpointOf(dp, lastStep);
  const cb = checkpointOf(single, lastStep);
  assert.ok(ca.weights.equals(cb.weights), 'weights differ');
  assert.ok(ca.optimizer.equals(cb.optimizer), 'optimizer state differs');
  assert.deepEqual(ca.scaling, cb.scaling); // FP8 scales and amax histories
  assert.deepEqual(ca.data, cb.data); // data position
}

async function waitForSteps(runDir: string, n: number, deadlineMs = 60_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (steps(runDir).length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/** PID of rank `rank` among mpirun's children (from their OMPI_COMM_WORLD_RANK). */
function rankPid(mpirunPid: number, rank: number): number | null {
  const r = spawnSync('pgrep', ['-P', String(mpirunPid)], { encoding: 'utf8' });
  for (const pid of r.stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`OMPI_COMM_WORLD_RANK=${rank}`)) return pid;
    } catch {
      /* exited */
    }
  }
  return null;
}

test('2 ranks = 1 process with 2 micro-batches, bit for bit: fp8-delayed with FP8 attention (losses, weights, optimizer, FP8 scales)', opts, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-dp-'));
  try {
    const prefix = writeCountingDataset(dir);
    const dp = join(dir, 'dp');
    const r = await mpirun([...MPIRUN, ...FOG8, ...runFlags(prefix, dp, { precision: 'fp8-delayed', 'fp8-attention': true, steps: 5, 'checkpoint-interval': 0 })]);
    assert.equal(r.code, 0, r.out);
    const config = JSON.parse(readFileSync(join(dp, 'config.json'), 'utf8'));
    assert.equal(config.train.microBatches, 2); // one micro-batch per rank
    assert.deepEqual(config.distributed, { ranks: 2, microBatchesPerRank: 1 });
    const single = join(dir, 'single');
    await runTraining({ config: inProcessConfig(prefix, single, { precision: 'fp8-delayed', fp8Attention: true, steps: 5, checkpointInterval: 0 }), loadKernels: loadKernelBackend });
    assertSameRun(dp, single, 5);
    const scaling = checkpointOf(dp, 5).scaling as { slots: { key: string; scale: number }[] };
    assert.ok(scaling.slots.some((s) => s.key.includes('attn') && s.scale !== 1), 'FP8 attention scales moved'); // the test exercises real scale updates
  } finally {
    endLiveJobs();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('2 ranks in bf16, SIGINT to one rank: both stop at the same step with a checkpoint; the resumed 2-rank run = 1 process straight', opts, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-dp-sigint-'));
  try {
    const prefix = writeCountingDataset(dir);
    const dp = join(dir, 'dp');
    const flags = runFlags(prefix, dp, { precision: 'bf16', steps: 100000, 'checkpoint-interval': 0 });
    const pending = mpirun([...MPIRUN, ...FOG8, ...flags]);
    await waitForSteps(dp, 2);
    // mpirun itself answers Ctrl-C by killing the ranks after 1 s (docs/train.md); a SIGINT to a
    // rank is the clean stop: it travels with the next step exchange, so all ranks stop together.
    const child = spawnSync('pgrep', ['-f', `^mpirun .*${dp}`], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number)[0];
    const rank1 = rankPid(child, 1);
    assert.ok(rank1 !== null, 'rank 1 found');
    process.kill(rank1, 'SIGINT');
    const r = await pending;
    assert.equal(r.code, 130, r.out); // the SIGINT'ed rank exits 128 + 2 after the checkpoint, and mpirun returns its code
    const stopped = steps(dp).length;
    assert.ok(existsSync(join(dp, 'checkpoints', `step-${stopped}`, 'manifest.json')), r.out);
    const log = readFileSync(join(dp, 'train.log'), 'utf8');
    assert.match(log, new RegExp(`stopped at step ${stopped} \\(stop requested by rank 1\\)`));
    assert.match(log, /resume with: mpirun -np 2 npx fog8 train --resume/);
    const target = stopped + 3;
    const resumed = await mpirun([...MPIRUN, ...FOG8, '--resume', dp, '--stop-after', String(target), '--threads', '1', '--progress', 'none']);
    assert.equal(resumed.code, 0, resumed.out);
    const single = join(dir, 'single');
    await runTraining({ config: inProcessConfig(prefix, single, { precision: 'bf16', steps: 100000, checkpointInterval: 0 }), loadKernels: loadKernelBackend, stopAfterStep: target });
    assertSameRun(dp, single, target);
  } finally {
    endLiveJobs();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a killed rank ends the job naming the rank and the step; the run resumes from its newest checkpoint', opts, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-dp-kill-'));
  try {
    const prefix = writeCountingDataset(dir);
    const dp = join(dir, 'dp');
    const pending = mpirun([...MPIRUN, ...FOG8, ...runFlags(prefix, dp, { precision: 'fp8-delayed', steps: 100000, 'checkpoint-interval': 2 })]);
    await waitForSteps(dp, 3);
    const child = spawnSync('pgrep', ['-f', `^mpirun .*${dp}`], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number)[0];
    const rank1 = rankPid(child, 1);
    assert.ok(rank1 !== null);
    process.kill(rank1, 'SIGKILL');
    const r = await pending;
    assert.notEqual(r.code, 0);
    assert.match(r.out, /process rank 1 .*exited on signal 9/s); // mpirun names the dead rank
    assert.match(r.out, /fog8: rank 0 of 2 \(host [^)]*\): SIGTERM in step \d+ while waiting for the other ranks/); // the survivor names the step
    const newest = Math.max(...readdirSync(join(dp, 'checkpoints')).filter((n) => n.startsWith('step-')).map((n) => Number(n.slice(5))));
    assert.ok(newest >= 2);
    const resumed = await mpirun([...MPIRUN, ...FOG8, '--resume', dp, '--stop-after', String(newest + 1), '--threads', '1', '--progress', 'lines']);
    assert.equal(resumed.code, 0, resumed.out);
    assert.match(resumed.out, new RegExp(`resumed from step ${newest}`));
    assert.ok(existsSync(join(dp, 'checkpoints', `step-${newest + 1}`, 'manifest.json')));
  } finally {
    endLiveJobs();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ranks with a different config or data are refused at start, naming the field', opts, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-dp-mismatch-'));
  try {
    const prefix = writeCountingDataset(dir);
    const other = writeCountingDataset(mkdtempSync(join(dir, 'other-')), 121); // one more document
    const dp = join(dir, 'dp');
    const base = runFlags(prefix, dp, { steps: 2 });
    const lr = await mpirun(['--allow-run-as-root', '--oversubscribe', '-np', '1', ...FOG8, ...base, ':', '-np', '1', ...FOG8, ...base, '--lr', '0.02']);
    assert.notEqual(lr.code, 0);
    assert.match(lr.out, /ranks differ: lr is 0\.01 on rank 0 but 0\.02 on rank 1/);
    assert.equal((lr.out.match(/ranks differ/g) ?? []).length, 1, 'rank 0 alone reports');
    assert.ok(!existsSync(join(dp, 'metrics.jsonl')), 'nothing written');
    const data = await mpirun(['--allow-run-as-root', '--oversubscribe', '-np', '1', ...FOG8, ...base, ':', '-np', '1', ...FOG8, ...runFlags(other, dp, { steps: 2 })]);
    assert.notEqual(data.code, 0);
    assert.match(data.out, /ranks differ: data is "[^"]*counting" on rank 0 but "[^"]*other-[^"]*counting" on rank 1/);
  } finally {
    endLiveJobs();
    rmSync(dir, { recursive: true, force: true });
  }
});
