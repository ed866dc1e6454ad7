import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { resolveTrainConfig } from '../../src/cli/config.js';
import { metricsRecord, type MetricsRecord } from '../../src/monitor/schema.js';
import { prepareTraining, referenceKernelLoader } from '../../src/train/session.js';
import { writeCountingDataset } from './helpers.js';

function records(runDir: string): MetricsRecord[] {
  const text = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8');
  assert.ok(text.endsWith('\n'));
  return text.trim().split('\n').map((l) => metricsRecord.parse(JSON.parse(l)));
}

/** A run directory as a kill -9 before the first checkpoint leaves it: config.json, the run record, a half-written line, no checkpoint. */
async function killedBeforeFirstCheckpoint(args: string[]): Promise<void> {
  const { config, extras } = resolveTrainConfig(args);
  const prepared = await prepareTraining({ config, resume: extras.resume, loadKernels: referenceKernelLoader });
  appendFileSync(join(prepared.runDir, 'metrics.jsonl'), '{"type":"eval","step":0,"tok');
}

test('a run killed before its first checkpoint: the same command starts it over, --resume starts it from step 0, a changed config or a live trainer is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-restart-'));
  const errors: string[] = [];
  t.mock.method(console, 'error', (...a: unknown[]) => errors.push(a.join(' ')));
  try {
    const prefix = writeCountingDataset(dir);
    const args = (runDir: string): string[] => ['--size', 'tiny', '--data', prefix, '--vocab-size', '64', '--kernels', 'reference', '--steps', '3', '--batch', '2', '--seq', '16',
      '--eval-batches', '1', '--run-dir', runDir, '--progress', 'none', '--val-fraction', '0.1'];

    // 1. The original command again.
    const a = join(dir, 'a');
    await killedBeforeFirstCheckpoint(args(a));
    assert.ok(!existsSync(join(a, 'checkpoints')));
    assert.equal(await main(['train', ...args(a), '--lr', '0.02']), 1);
    assert.match(errors.pop() ?? '', /holds a run stopped before its first checkpoint with a different config \(lr\)/);
    assert.equal(await main(['train', ...args(a)]), 0, errors.join('\n'));
    const ra = records(a);
    assert.deepEqual(ra.filter((r) => r.type === 'run').map((r) => r.step), [0, 0]);
    assert.deepEqual(ra.filter((r) => r.type === 'step').map((r) => r.step), [1, 2, 3]);
    assert.ok(existsSync(join(a, 'checkpoints', 'step-3', 'manifest.json')));
    assert.match(readFileSync(join(a, 'train.log'), 'utf8'), /stopped before its first checkpoint: starting it over from step 0/);
    assert.ok(!existsSync(join(a, 'train.pid')), 'the run lock is removed at the end');

    // 2. --resume on such a directory starts from step 0 with its saved config; same losses as run 1.
    const b = join(dir, 'b');
    await killedBeforeFirstCheckpoint(args(b));
    assert.equal(await main(['train', '--resume', b, '--progress', 'none']), 0, errors.join('\n'));
    const lossesOf = (rs: MetricsRecord[]) => rs.filter((r) => r.type === 'step').map((r) => (r.type === 'step' ? r.loss : null));
    assert.deepEqual(lossesOf(records(b)), lossesOf(ra));

    // 3. Not while another live process trains it.
    const c = join(dir, 'c');
    await killedBeforeFirstCheckpoint(args(c));
    const sleeper = spawn('sleep', ['30']);
    try {
      writeFileSync(join(c, 'train.pid'), `${sleeper.pid}\n`);
      assert.equal(await main(['train', '--resume', c, '--progress', 'none']), 1);
      assert.match(errors.pop() ?? '', new RegExp(`is being trained by process ${sleeper.pid}`));
      // Nor a run with checkpoints (run a is complete, with step-3).
      writeFileSync(join(a, 'train.pid'), `${sleeper.pid}\n`);
      assert.equal(await main(['train', '--resume', a, '--progress', 'none']), 1);
      assert.match(errors.pop() ?? '', new RegExp(`${a.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is being trained by process ${sleeper.pid}`));
    } finally {
      sleeper.kill();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
