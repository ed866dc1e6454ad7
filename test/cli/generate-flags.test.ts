import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.js';

// Each bad value is refused before the checkpoint is read (the path does not exist), naming the flag and its range.
const cases: [string, string, RegExp][] = [
  ['--temperature', 'NaN', /--temperature must be a finite number ≥ 0 \(0: greedy\), got "NaN"/],
  ['--temperature', '-0.5', /--temperature must be a finite number ≥ 0 \(0: greedy\), got "-0.5"/],
  ['--temperature', 'Infinity', /--temperature must be a finite number ≥ 0/],
  ['--top-k', '-1', /--top-k must be an integer ≥ 0 \(0: all\), got "-1"/],
  ['--top-k', '2.5', /--top-k must be an integer ≥ 0/],
  ['--top-p', '0', /--top-p must be a number in \(0, 1\], got "0"/],
  ['--top-p', '1.5', /--top-p must be a number in \(0, 1\]/],
  ['--top-p', 'abc', /--top-p must be a number in \(0, 1\], got "abc"/],
  ['--max-tokens', '0', /--max-tokens must be an integer ≥ 1, got "0"/],
  ['--max-tokens', '', /--max-tokens must be an integer ≥ 1, got ""/],
  ['--seed', '1.5', /--seed must be an integer, got "1.5"/],
];

for (const [flag, value, message] of cases) {
  test(`fog8 generate ${flag} ${JSON.stringify(value)} is refused naming the flag and the allowed range`, async (t) => {
    const errors: string[] = [];
    t.mock.method(console, 'error', (...args: unknown[]) => errors.push(args.join(' ')));
    t.mock.method(process.stderr, 'write', (s: string) => (errors.push(String(s)), true));
    const code = await main(['generate', '/nonexistent/fog8-checkpoint', '--prompt', 'x', flag, value]);
    assert.notEqual(code, 0);
    assert.match(errors.join('\n'), message);
    assert.doesNotMatch(errors.join('\n'), /nonexistent/);
  });
}
