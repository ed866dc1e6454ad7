import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsWriter } from '../../src/monitor/metrics-writer.js';
import { TrainLog } from '../../src/monitor/train-log.js';
import type { MetricsRecord } from '../../src/monitor/schema.js';
import { injectDiskFull } from '../util/disk-full.js';
import { withDir } from '../util/temp-dir.js';

const event: MetricsRecord = { type: 'event', step: 1, tokens: 10, time: 1, level: 'info', message: 'm' };

test('a full disk while appending to metrics.jsonl or train.log gives an error naming the file and ENOSPC', () => {
  withDir('fog8-runfiles-', (dir) => {
    const metrics = new MetricsWriter(join(dir, 'metrics.jsonl'));
    const log = new TrainLog(join(dir, 'train.log'));
    let full = true;
    const undo = injectDiskFull(() => full);
    try {
      assert.throws(() => metrics.write(event), (e: Error) => e.message.includes(join(dir, 'metrics.jsonl')) && /ENOSPC/.test(e.message) && (e as NodeJS.ErrnoException).code === 'ENOSPC');
      assert.throws(() => log.line('hello'), (e: Error) => e.message.includes(join(dir, 'train.log')) && /ENOSPC/.test(e.message) && (e as NodeJS.ErrnoException).code === 'ENOSPC');
    } finally {
      full = false;
      undo();
    }
    // Space freed: both keep working.
    metrics.write(event);
    log.line('after');
    metrics.close();
    log.close();
    assert.equal(readFileSync(join(dir, 'metrics.jsonl'), 'utf8'), `${JSON.stringify(event)}\n`);
    assert.match(readFileSync(join(dir, 'train.log'), 'utf8'), /^\[[^\]]+\] after\n$/);
  });
});

test('a FIFO or a directory as metrics.jsonl or train.log is refused at once (no blocking open) with an error naming the file', () => {
  withDir('fog8-runfiles-', (dir) => {
    for (const name of ['metrics.jsonl', 'train.log']) execFileSync('mkfifo', [join(dir, name)]);
    assert.throws(() => new MetricsWriter(join(dir, 'metrics.jsonl')), /metrics file .*metrics\.jsonl: a FIFO, not a regular file/);
    assert.throws(() => new TrainLog(join(dir, 'train.log')), /train log .*train\.log: a FIFO, not a regular file/);
  });
  withDir('fog8-runfiles-', (dir) => {
    execFileSync('mkdir', [join(dir, 'train.log')]);
    assert.throws(() => new TrainLog(join(dir, 'train.log')), /train log .*train\.log: a directory, not a regular file/);
  });
});
