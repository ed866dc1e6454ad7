import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { writeSyntheticRun } from '../report/fixtures.js';

async function run(t: { mock: { method: (o: object, m: string, f: (...a: unknown[]) => void) => unknown } }, argv: string[]): Promise<{ code: number; errors: string }> {
  const errors: string[] = [];
  t.mock.method(console, 'error', (...args: unknown[]) => errors.push(args.join(' ')));
  t.mock.method(console, 'log', () => {});
  const code = await main(argv);
  return { code, errors: errors.join('\n') };
}

test('fog8 tokenizer train refuses --output equal to an --input (the corpus is left intact)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-tok-cli-'));
  try {
    const corpus = join(dir, 'corpus.txt');
    writeFileSync(corpus, 'the cat sat on the mat. the dog sat on the log.\n');
    const r = await run(t, ['tokenizer', 'train', '--input', corpus, '--output', join(dir, '.', 'corpus.txt'), '--vocab-size', '260']);
    assert.equal(r.code, 1);
    assert.match(r.errors, /--output .*corpus\.txt: is also an input/);
    assert.equal(readFileSync(corpus, 'utf8'), 'the cat sat on the mat. the dog sat on the log.\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fog8 tokenizer train and fog8 report with an --output that is a directory: a clear error, no .tmp file left', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-tok-cli-'));
  try {
    const corpus = join(dir, 'corpus.txt');
    writeFileSync(corpus, 'the cat sat on the mat.\n');
    const out = join(dir, 'out');
    mkdirSync(out);
    let r = await run(t, ['tokenizer', 'train', '--input', corpus, '--output', out, '--vocab-size', '260']);
    assert.equal(r.code, 1);
    assert.match(r.errors, /--output .*out: is a directory; give a file path/);
    writeSyntheticRun(join(dir, 'run'), { preset: 'llama3', precision: 'bf16', kurtosis: 'flat', steps: 3, layers: 1, seed: 1 });
    r = await run(t, ['report', join(dir, 'run'), '-o', out]);
    assert.equal(r.code, 1);
    assert.match(r.errors, /report output .*out: is a directory; give a file path/);
    assert.deepEqual(readdirSync(dir).sort(), ['corpus.txt', 'out', 'run']);
    assert.deepEqual(readdirSync(out), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
