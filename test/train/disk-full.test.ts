import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { writeCountingDataset } from './helpers.js';

/** Makes every fs.writeSync fail with ENOSPC while `full()` is true (an injected disk full; works on any machine). */
function injectDiskFull(full: () => boolean): () => void {
  const original = fs.writeSync;
  fs.writeSync = ((...args: Parameters<typeof fs.writeSync>) => {
    if (full()) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    return (original as (...a: unknown[]) => number)(...args);
  }) as typeof fs.writeSync;
  syncBuiltinESMExports();
  return () => {
    fs.writeSync = original;
    syncBuiltinESMExports();
  };
}

test('disk full during a checkpoint: the run stops with an error naming ENOSPC, leaves no half checkpoint, and --resume (space freed) finishes bit-identically', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-diskfull-'));
  const errors: string[] = [];
  t.mock.method(console, 'error', (...a: unknown[]) => errors.push(a.join(' ')));
  try {
    const prefix = writeCountingDataset(dir);
    const args = (runDir: string): string[] => ['train', '--size', 'tiny', '--data', prefix, '--vocab-size', '64', '--kernels', 'reference', '--steps', '4', '--batch', '2', '--seq', '16',
      '--eval-interval', '0', '--eval-batches', '1', '--checkpoint-interval', '2', '--run-dir', runDir, '--progress', 'none', '--val-fraction', '0.1'];
    const straight = join(dir, 'straight');
    assert.equal(await main(args(straight)), 0);

    // The disk fills up while step-4's checkpoint is being written (once step-2's exists).
    const full = join(dir, 'full');
    const restore = injectDiskFull(() => existsSync(join(full, 'checkpoints')) && readdirSync(join(full, 'checkpoints')).some((n) => n.startsWith('.tmp-step-4-')));
    let code: number;
    try {
      code = await main(args(full));
    } finally {
      restore();
    }
    assert.equal(code, 1);
    assert.match(errors.join('\n'), /checkpoint file .*\.tmp-step-4-.*: cannot be written \(ENOSPC\)/);
    assert.deepEqual(readdirSync(join(full, 'checkpoints')), ['step-2'], 'no temporary or partial step-4 is left');
    assert.ok(!existsSync(join(full, 'train.pid')));

    assert.equal(await main(['train', '--resume', full, '--progress', 'none']), 0, errors.join('\n'));
    assert.ok(readFileSync(join(full, 'checkpoints', 'step-4', 'model.safetensors')).equals(readFileSync(join(straight, 'checkpoints', 'step-4', 'model.safetensors'))), 'final weights identical');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
