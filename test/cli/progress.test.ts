import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressDisplay, formatDuration, progressMode } from '../../src/cli/progress.js';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 120, write: (s: string) => out.push(s) } };
}

test('progress: a live bar on a TTY, plain lines otherwise', () => {
  const tty = sink(true);
  assert.equal(progressMode('auto', tty.stream), 'bar');
  const bar = new ProgressDisplay({ mode: 'bar', stream: tty.stream });
  bar.update({ step: 5, totalSteps: 10, loss: 2.5, tokensPerSec: 1234.4, elapsedSeconds: 10, stepsThisSession: 5 });
  assert.match(tty.out[0], /^\r\x1b\[K\[█+░+\]  50% step 5\/10 \| loss 2\.5000 \| 1,234 tok\/s \| elapsed 10s \| ETA 10s$/);
  bar.message('eval');
  assert.equal(tty.out.at(-1), 'eval\n');
  const pipe = sink(false);
  assert.equal(progressMode('auto', pipe.stream), 'lines');
  const lines = new ProgressDisplay({ mode: 'lines', stream: pipe.stream, lineIntervalSeconds: 5 });
  for (let s = 1; s <= 100; s++) lines.update({ step: s, totalSteps: 100, loss: null, tokensPerSec: 10, elapsedSeconds: s * 0.5, stepsThisSession: s });
  assert.ok(pipe.out.every((l) => l.endsWith('\n') && !l.includes('\r')));
  assert.equal(pipe.out.length, 1 + 10); // first step, then every 5 s (10 steps), the last included
  assert.match(pipe.out.at(-1) ?? '', /step 100\/100 \| loss nan/);
  assert.equal(formatDuration(3725), '1h02m');
  assert.equal(formatDuration(187), '3m07s');
});
