import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram } from '../../src/cli/main.js';

test('fog8 --version reports the package version', () => {
  const program = buildProgram();
  assert.match(program.version() ?? '', /^\d+\.\d+\.\d+$/);
});

test('fog8 train --size tiny on the embedded corpus picks a workable vocabulary itself and says so; an explicit too-small --vocab-size is an error', async (t) => {
  const { main } = await import('../../src/cli/main.js');
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'fog8-tiny-vocab-'));
  try {
    const errors: string[] = [];
    t.mock.method(console, 'error', (...args: unknown[]) => errors.push(args.join(' ')));
    const code = await main(['train', '--size', 'tiny', '--steps', '1', '--eval-interval', '0', '--run-dir', join(dir, 'run'), '--progress', 'none']);
    assert.equal(code, 0, errors.join('\n'));
    const log = readFileSync(join(dir, 'run', 'train.log'), 'utf8');
    assert.match(log, /vocabulary: size 'tiny' defaults to 64 tokens, fewer than the 257 a byte-level BPE of the embedded corpus needs; using 512 \(set --vocab-size to choose\)/);
    const config = JSON.parse(readFileSync(join(dir, 'run', 'config.json'), 'utf8')) as { model: { vocabSize: number } };
    assert.equal(config.model.vocabSize, 512);
    const bad = await main(['train', '--size', 'tiny', '--vocab-size', '100', '--steps', '1', '--run-dir', join(dir, 'bad'), '--progress', 'none']);
    assert.equal(bad, 1);
    assert.match(errors.join('\n'), /vocabSize: the embedded corpus needs a byte-level BPE of at least 257 tokens .* got 100/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
