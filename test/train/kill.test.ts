import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main.js';
import { listCheckpointSteps, readCheckpointFiles } from '../../src/train/checkpoint-files.js';
import { metricsRecord } from '../../src/monitor/schema.js';
import { writeCountingDataset } from './helpers.js';

/** Step losses of a run: every metrics line must parse (no record glued to a half line). */
function stepLosses(runDir: string): Map<number, number | null> {
  const out = new Map<number, number | null>();
  for (const l of readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n')) {
    const r = metricsRecord.parse(JSON.parse(l));
    if (r.type === 'step') out.set(r.step, r.loss);
  }
  return out;
}

test('kill -9 in the middle of a checkpoint write: the older checkpoints verify, the half-written one is never used, and --resume finishes bit-identically to a straight run', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-kill9-'));
  t.mock.method(console, 'log', () => {});
  try {
    const prefix = writeCountingDataset(dir);
    const args = (runDir: string): string[] => ['train', '--size', 'tiny', '--data', prefix, '--vocab-size', '64', '--kernels', 'reference', '--steps', '4', '--batch', '2', '--seq', '16',
      '--eval-interval', '0', '--eval-batches', '1', '--checkpoint-interval', '2', '--keep-checkpoints', '2', '--run-dir', runDir, '--progress', 'none', '--val-fraction', '0.1', '--precision', 'fp8-delayed'];
    const straight = join(dir, 'straight');
    assert.equal(await main(args(straight)), 0);

    // The child SIGKILLs itself at its 9th fsync: checkpoints are fsynced file by file (model,
    // config, optimizer, trainer state, manifest, then the directory: 6 per checkpoint), so that
    // is the middle of writing step-4, after three of its files. Deterministic, unlike a timed kill.
    const killed = join(dir, 'killed');
    const script = join(dir, 'run.mjs');
    writeFileSync(script, [
      "import fs from 'node:fs';",
      "import { syncBuiltinESMExports } from 'node:module';",
      'const fsync = fs.fsyncSync;',
      'let calls = 0;',
      "fs.fsyncSync = (fd) => { if (++calls === 9) process.kill(process.pid, 'SIGKILL'); return fsync(fd); };",
      'syncBuiltinESMExports();',
      `const { main } = await import(${JSON.stringify(resolve('src/cli/main.ts'))});`,
      'process.exitCode = await main(process.argv.slice(2));',
    ].join('\n'));
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args(killed)], { stdio: 'ignore' });
    const signal = await new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, sig) => r(sig)));
    assert.equal(signal, 'SIGKILL');
    const left = readdirSync(join(killed, 'checkpoints')).sort();
    assert.deepEqual(listCheckpointSteps(join(killed, 'checkpoints')), [2]);
    assert.ok(left.some((n) => n.startsWith('.tmp-step-4-')), `a half-written step-4 is left only as a temporary directory: ${left.join(', ')}`);
    for (const s of [2]) readCheckpointFiles(join(killed, 'checkpoints', `step-${s}`), ['model.safetensors']); // complete ones verify
    const partial = stepLosses(killed);
    assert.equal(partial.size, 4, 'four steps were logged before the kill');

    assert.equal(await main(['train', '--resume', killed, '--progress', 'none']), 0);
    assert.deepEqual([...stepLosses(killed)].sort((x, y) => x[0] - y[0]), [...stepLosses(straight)].sort((x, y) => x[0] - y[0]));
    assert.ok(readFileSync(join(killed, 'checkpoints', 'step-4', 'model.safetensors')).equals(readFileSync(join(straight, 'checkpoints', 'step-4', 'model.safetensors'))), 'final weights identical');
    assert.deepEqual(readdirSync(join(killed, 'checkpoints')).sort(), ['step-2', 'step-4'], 'the stale temporary directory is pruned');
    assert.ok(!existsSync(join(killed, 'train.pid')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
