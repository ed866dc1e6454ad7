import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeCountingDataset } from './helpers.js';

test('SIGINT during fog8 train writes a checkpoint and exits with 130 (128 + SIGINT), like shells report an interrupted command', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-sigint-'));
  try {
    const prefix = writeCountingDataset(dir);
    const runDir = join(dir, 'run');
    const script = join(dir, 'run.mjs');
    writeFileSync(script, `const { main } = await import(${JSON.stringify(resolve('src/cli/main.ts'))});\nprocess.exitCode = await main(process.argv.slice(2));\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', script, 'train', '--size', 'tiny', '--data', prefix, '--vocab-size', '64', '--kernels', 'reference',
      '--steps', '100000', '--batch', '2', '--seq', '16', '--run-dir', runDir, '--progress', 'lines', '--val-fraction', '0.1', '--eval-interval', '0', '--eval-batches', '1', '--checkpoint-interval', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const metrics = join(runDir, 'metrics.jsonl');
    const deadline = Date.now() + 60_000;
    while (!(existsSync(metrics) && readFileSync(metrics, 'utf8').includes('"type":"step"')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    assert.equal(code, 130, out);
    const steps = readFileSync(metrics, 'utf8').split('\n').filter((l) => l.includes('"type":"step"')).length;
    assert.ok(existsSync(join(runDir, 'checkpoints', `step-${steps}`, 'manifest.json')), out);
    assert.match(out, /resume with: npx fog8 train --resume/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
