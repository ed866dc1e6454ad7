import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram } from '../../src/cli/main.js';

test('fog8 --version reports the package version', () => {
  const program = buildProgram();
  assert.match(program.version() ?? '', /^\d+\.\d+\.\d+$/);
});

test('fog8 train --size tiny on the embedded corpus asks for --vocab-size instead of failing inside the BPE trainer', async (t) => {
  const { main } = await import('../../src/cli/main.js');
  const errors: string[] = [];
  t.mock.method(console, 'error', (...args: unknown[]) => errors.push(args.join(' ')));
  const code = await main(['train', '--size', 'tiny', '--steps', '1', '--run-dir', `${process.env.TMPDIR ?? '/tmp'}/fog8-tiny-vocab-${process.pid}`, '--progress', 'none']);
  assert.equal(code, 1);
  assert.match(errors.join('\n'), /vocabSize: .*size 'tiny' defaults to 64; pass --vocab-size N with N ≥ 257/);
});
