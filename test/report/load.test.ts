import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, linkSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupRecords, loadRun, MetricsFollower, parseMetricsText } from '../../src/report/load.js';
import { syntheticRecords, writeSyntheticRun } from './fixtures.js';

const stepLine = (step: number, loss: number | null): string =>
  JSON.stringify({ type: 'step', step, tokens: step * 100, time: step, loss, lr: 1e-3, gradNorm: 1, tokensPerSec: 10, mfu: 0.1, skipped: false, stepTimeMs: 5 });

test('parseMetricsText skips and counts malformed lines; an unterminated bad last line is a partial tail', () => {
  const text = [stepLine(1, 5), '{"type":"step","step":', '', '{"type":"bogus","step":1,"tokens":0,"time":0}', stepLine(2, 4), '{"type":"step","step":3,"tok'].join('\n');
  const parsed = parseMetricsText(text);
  assert.equal(parsed.records.length, 2);
  assert.equal(parsed.malformedLines, 2);
  assert.equal(parsed.partialTail, true);
  assert.deepEqual(parsed.skippedExamples.map((s) => s.line), [2, 4]);
  assert.match(parsed.skippedExamples[1].reason, /^schema:/);
  // The same bad line followed by a newline is complete, hence malformed.
  const terminated = parseMetricsText(`${text}\n`);
  assert.equal(terminated.malformedLines, 3);
  assert.equal(terminated.partialTail, false);
});

test('MetricsFollower reads only appended bytes and completes a half-written line on the next poll', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-follow-'));
  try {
    const path = join(dir, 'metrics.jsonl');
    const line2 = stepLine(2, 4.5);
    writeFileSync(path, `${stepLine(1, 5)}\n${line2.slice(0, 20)}`);
    const f = new MetricsFollower(path);
    let p = f.poll();
    assert.equal(p.records.length, 1);
    assert.equal(p.malformedLines, 0);
    assert.equal(p.partialTail, true);
    appendFileSync(path, `${line2.slice(20)}\nnot json\n`);
    p = f.poll();
    assert.equal(p.records.length, 2);
    assert.equal(p.malformedLines, 1);
    assert.equal(p.partialTail, false);
    assert.deepEqual(p.skippedExamples, [{ line: 3, reason: 'not valid JSON' }]);
    // A rewritten (shorter) file is read again from the start.
    writeFileSync(path, `${stepLine(7, 1)}\n`);
    p = f.poll();
    assert.deepEqual(p.records.map((r) => r.step), [7]);
    assert.equal(p.malformedLines, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('groupRecords keeps the last record of a step repeated by a resumed run, sorted by step', () => {
  const parsed = parseMetricsText([stepLine(1, 5), stepLine(2, 4), stepLine(3, 3.9), stepLine(2, 4.25), stepLine(3, 3.5), stepLine(4, 3)].join('\n'));
  const g = groupRecords(parsed.records);
  assert.deepEqual(g.steps.map((s) => [s.step, s.loss]), [[1, 5], [2, 4.25], [3, 3.5], [4, 3]]);
});

test('loadRun reads a synthetic run directory: records, malformed count, config and log tail', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-load-'));
  try {
    const options = { preset: 'llama3', precision: 'bf16', kurtosis: 'flat' as const, steps: 20, layers: 2, seed: 3, malformedLines: 3, partialTail: true };
    writeSyntheticRun(dir, options);
    const run = loadRun(dir);
    const expected = syntheticRecords(options);
    assert.equal(run.records.steps.length, 20);
    assert.equal(run.records.evals.length, 2);
    assert.equal(run.records.tensors.length, 4);
    assert.equal(run.records.fp8.length, 0);
    assert.equal(run.records.runs.length + run.records.steps.length + run.records.evals.length + run.records.tensors.length + run.records.events.length, expected.length);
    assert.equal(run.malformedLines, 3);
    assert.equal(run.partialTail, true);
    assert.equal((run.config?.model as Record<string, unknown>).preset, 'llama3');
    assert.equal(run.logTail.length, 2);
    assert.throws(() => loadRun(join(dir, 'nope')), /no metrics\.jsonl/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadRun (fog8 report) keeps to the run directory: links to outside files and FIFOs are refused, never read', () => {
  const base = mkdtempSync(join(tmpdir(), 'fog8-load-links-'));
  try {
    const dir = join(base, 'run');
    writeSyntheticRun(dir, { preset: 'llama3', precision: 'bf16', kurtosis: 'flat', steps: 4, layers: 1, seed: 1 });
    writeFileSync(join(base, 'secret'), 'TOP SECRET\n');
    for (const f of ['train.log', 'config.json']) rmSync(join(dir, f));
    symlinkSync(join(base, 'secret'), join(dir, 'train.log'));
    execFileSync('mkfifo', [join(dir, 'config.json')]);
    const run = loadRun(dir);
    assert.equal(run.records.steps.length, 4);
    assert.match(run.configError ?? '', /config\.json.*a FIFO, not a regular file/);
    assert.equal(run.logTail.length, 1);
    assert.match(run.logTail[0], /train\.log not shown: .*leads outside/);
    assert.doesNotMatch(JSON.stringify(run), /TOP SECRET/);
    rmSync(join(dir, 'train.log'));
    linkSync(join(base, 'secret'), join(dir, 'train.log'));
    assert.match(loadRun(dir).logTail[0], /2 hard links/);
    rmSync(join(dir, 'metrics.jsonl'));
    execFileSync('mkfifo', [join(dir, 'metrics.jsonl')]);
    assert.throws(() => loadRun(dir), /metrics\.jsonl: a FIFO/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
