import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram } from '../../src/cli/main.js';

test('fog8 --version reports the package version', () => {
  const program = buildProgram();
  assert.match(program.version() ?? '', /^\d+\.\d+\.\d+$/);
});
