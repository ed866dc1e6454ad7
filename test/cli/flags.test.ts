import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNumberFlag } from '../../src/cli/flags.js';
import { main } from '../../src/cli/main.js';

test('parseNumberFlag accepts numbers in range and refuses NaN, ±Infinity, empty, non-integers and out-of-range values naming the flag and the range', () => {
  assert.equal(parseNumberFlag('--x', '3', { integer: true, min: 1 }), 3);
  assert.equal(parseNumberFlag('--p', '1', { min: 0, minExclusive: true, max: 1 }), 1);
  assert.equal(parseNumberFlag('--t', '0', { min: 0 }), 0);
  assert.equal(parseNumberFlag('--s', '-7', { integer: true }), -7);
  const bad: [string, Parameters<typeof parseNumberFlag>[2], RegExp][] = [
    ['NaN', { min: 0 }, /^--f must be a finite number ≥ 0, got "NaN"$/],
    ['Infinity', {}, /^--f must be a finite number, got "Infinity"$/],
    [' ', { integer: true }, /^--f must be an integer, got " "$/],
    ['1e300', { integer: true }, /an integer/],
    ['0', { min: 0, minExclusive: true, max: 1 }, /^--f must be a number in \(0, 1\], got "0"$/],
    ['2', { integer: true, min: 0, max: 1, note: '(n)' }, /^--f must be an integer in \[0, 1\] \(n\), got "2"$/],
  ];
  for (const [value, range, message] of bad) assert.throws(() => parseNumberFlag('--f', value, range), (e: Error) => e instanceof RangeError && message.test(e.message), value);
});

test('eval, dash, tune and compare refuse a bad numeric flag while parsing, naming it and its range', async (t) => {
  const errors: string[] = [];
  t.mock.method(console, 'error', (...a: unknown[]) => errors.push(a.join(' ')));
  const cases: [string[], RegExp][] = [
    [['eval', '/nonexistent', '--batch', '0'], /--batch must be an integer ≥ 1, got "0"/],
    [['eval', '/nonexistent', '--batches', 'x'], /--batches must be an integer ≥ 1, got "x"/],
    [['dash', '--port', '70000'], /--port must be an integer in \[0, 65535\], got "70000"/],
    [['tune', '--threads', '0'], /--threads must be an integer in \[1, 256\], got "0"/],
    [['compare', '--presets', 'llama3', '--precisions', 'bf16', '--steps', '1.5'], /--steps must be an integer ≥ 1, got "1.5"/],
  ];
  for (const [args, message] of cases) {
    errors.length = 0;
    assert.equal(await main(args), 1, args.join(' '));
    assert.match(errors.join('\n'), message);
  }
});
