import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOutputPath, readFileSafely, writeFileAtomic } from '../../src/util/safe-file.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-safe-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('readFileSafely reads a regular file and refuses FIFOs, devices, directories, oversized and wrong-sized files without reading', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'a.json'), '{"x":1}');
    assert.equal(readFileSafely(join(dir, 'a.json'), { what: 'file', maxBytes: 100 }).toString(), '{"x":1}');
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    const o = { what: 'test file', maxBytes: 100 };
    assert.throws(() => readFileSafely(join(dir, 'fifo'), o), /test file .*fifo: a FIFO, not a regular file/);
    assert.throws(() => readFileSafely('/dev/zero', o), /a character device, not a regular file/);
    symlinkSync('/dev/zero', join(dir, 'zero'));
    assert.throws(() => readFileSafely(join(dir, 'zero'), o), /zero: a character device/);
    assert.throws(() => readFileSafely(dir, o), /a directory, not a regular file/);
    assert.throws(() => readFileSafely(join(dir, 'a.json'), { what: 'file', maxBytes: 3 }), /7 bytes .*more than the 0\.0 MiB allowed/);
    assert.throws(() => readFileSafely(join(dir, 'a.json'), { what: 'file', maxBytes: 100, expectedBytes: 8 }), /7 bytes, expected 8/);
    assert.throws(() => readFileSafely(join(dir, 'missing'), o), /missing: does not exist/);
    assert.equal(readFileSafely(join(dir, 'a.json'), { what: 'file', maxBytes: 1, tailBytes: 3 }).toString(), ':1}');
  });
});

test('with a root: symlinks whose target leaves the root and hard links are refused; links inside the root are fine', () => {
  withDir((dir) => {
    const root = join(dir, 'root');
    mkdirSync(root);
    writeFileSync(join(dir, 'secret'), 'TOP SECRET');
    writeFileSync(join(root, 'inside'), 'ok');
    symlinkSync(join(dir, 'secret'), join(root, 'out'));
    symlinkSync(join(root, 'inside'), join(root, 'in'));
    symlinkSync('../secret', join(root, 'relative-out'));
    linkSync(join(dir, 'secret'), join(root, 'hard'));
    const o = { what: 'run file', maxBytes: 100, root, refuseHardLinks: true };
    assert.equal(readFileSafely(join(root, 'in'), o).toString(), 'ok');
    assert.throws(() => readFileSafely(join(root, 'out'), o), /leads outside/);
    assert.throws(() => readFileSafely(join(root, 'relative-out'), o), /leads outside/);
    assert.throws(() => readFileSafely(join(root, 'hard'), o), /2 hard links/);
    assert.throws(() => readFileSafely(join(dir, 'secret'), o), /leads outside/);
  });
});

test('writeFileAtomic: a directory target is a clear error and leaves no temporary file', () => {
  withDir((dir) => {
    writeFileAtomic(join(dir, 'out.json'), 'x');
    assert.equal(readFileSync(join(dir, 'out.json'), 'utf8'), 'x');
    mkdirSync(join(dir, 'outdir'));
    assert.throws(() => writeFileAtomic(join(dir, 'outdir'), 'x', '--output'), /--output .*outdir: is a directory; give a file path/);
    assert.deepEqual(readdirSync(dir).sort(), ['out.json', 'outdir']);
  });
});

test('checkOutputPath refuses an output that is one of the inputs, also through a symlink or a relative path', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'corpus.txt'), 'text');
    symlinkSync(join(dir, 'corpus.txt'), join(dir, 'alias.txt'));
    assert.throws(() => checkOutputPath(join(dir, 'corpus.txt'), '--output', [join(dir, 'corpus.txt')]), /is also an input/);
    assert.throws(() => checkOutputPath(join(dir, 'alias.txt'), '--output', [join(dir, 'corpus.txt')]), /is also an input/);
    assert.throws(() => checkOutputPath(join(dir, 'sub', '..', 'corpus.txt'), '--output', [join(dir, 'corpus.txt')]), /is also an input|does not exist/);
    checkOutputPath(join(dir, 'tok.json'), '--output', [join(dir, 'corpus.txt')]);
  });
});

/**
 * Runs `body` (TypeScript, with `dir` bound to a 64 KiB tmpfs) in a child process inside a private
 * mount namespace; returns null when this machine cannot do that (no unshare or no user namespaces).
 */
function inTinyTmpfs(body: string): { status: number | null; output: string } | null {
  const base = mkdtempSync(join(tmpdir(), 'fog8-full-'));
  try {
    const mnt = join(base, 'mnt');
    mkdirSync(mnt);
    const script = join(base, 'script.mts');
    writeFileSync(script, `const dir = ${JSON.stringify(mnt)};\n${body}\n`);
    const probe = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o size=64k tmpfs ${mnt}`], { encoding: 'utf8' });
    if (probe.status !== 0) return null;
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o size=64k tmpfs ${mnt} && exec ${process.execPath} --import tsx ${script}`], { encoding: 'utf8', cwd: process.cwd(), timeout: 60_000 });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

test('disk full (a 64 KiB tmpfs): writeFileAtomic and a checkpoint write fail with ENOSPC, leave nothing half-written, and the older checkpoint still loads', (t) => {
  const root = JSON.stringify(process.cwd());
  const r = inTinyTmpfs(`
    const assert = (await import('node:assert/strict')).default;
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { writeFileAtomic } = await import(join(${root}, 'src/util/safe-file.ts'));
    const { writeCheckpointFiles, readCheckpointFiles, listCheckpointSteps } = await import(join(${root}, 'src/train/checkpoint-files.ts'));
    assert.throws(() => writeFileAtomic(join(dir, 'big.json'), Buffer.alloc(200_000)), /big[.]json: cannot be written [(]ENOSPC[)]/);
    assert.deepEqual(readdirSync(dir), []);
    const parent = join(dir, 'checkpoints');
    writeCheckpointFiles(parent, 1, new Map([['model.safetensors', Buffer.alloc(8_000, 1)]]));
    assert.throws(() => writeCheckpointFiles(parent, 2, new Map([['model.safetensors', Buffer.alloc(200_000, 2)]])), /ENOSPC/);
    assert.deepEqual(readdirSync(parent), ['step-1']);
    assert.deepEqual(listCheckpointSteps(parent), [1]);
    assert.equal(readCheckpointFiles(join(parent, 'step-1'), ['model.safetensors']).files.get('model.safetensors').length, 8_000);
    console.log('disk-full checks passed');
  `);
  if (r === null) return t.skip('cannot mount a tmpfs in a user namespace here');
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /disk-full checks passed/);
});
