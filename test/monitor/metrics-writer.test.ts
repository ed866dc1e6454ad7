import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsWriter } from '../../src/monitor/metrics-writer.js';
import { metricsRecord, type MetricsRecord } from '../../src/monitor/schema.js';

const event = (step: number): MetricsRecord => ({ type: 'event', step, tokens: step * 10, time: step, level: 'info', message: `m${step}` });

test('MetricsWriter on a file whose last line a kill -9 cut in half drops that half line, so the next record stays whole', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-mw-'));
  try {
    const path = join(dir, 'metrics.jsonl');
    const w = new MetricsWriter(path);
    w.write(event(1));
    w.close();
    const half = JSON.stringify(event(2)).slice(0, 30);
    appendFileSync(path, half);
    const resumed = new MetricsWriter(path);
    assert.equal(resumed.truncatedBytes, half.length);
    resumed.write(event(3));
    resumed.close();
    const lines = readFileSync(path, 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    assert.deepEqual(lines.map((l) => metricsRecord.parse(JSON.parse(l)).step), [1, 3]);
    // A file with no newline at all (killed during its first record) is emptied; a clean file is untouched.
    writeFileSync(path, 'x'.repeat(100_000));
    const w2 = new MetricsWriter(path);
    assert.equal(w2.truncatedBytes, 100_000);
    w2.close();
    assert.equal(readFileSync(path, 'utf8'), '');
    writeFileSync(path, `${JSON.stringify(event(1))}\n`);
    const w3 = new MetricsWriter(path);
    assert.equal(w3.truncatedBytes, 0);
    w3.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
