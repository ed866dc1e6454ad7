import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSweep, type SweepJob } from '../../src/report/sweep.js';
import { writeStudy, beforeTrouble } from '../../src/report/study.js';
import { loadRun } from '../../src/report/load.js';
import { writeSyntheticRun } from './fixtures.js';

test('writeStudy: markdown with the gap table, troubled runs and the held-out forecaster; HTML with SVG loss charts', async () => {
  const out = mkdtempSync(join(tmpdir(), 'fog8-study-'));
  try {
    const trainer = async (job: SweepJob): Promise<void> => {
      writeSyntheticRun(job.runDir, { preset: job.preset, precision: job.precision, kurtosis: job.preset === 'llama3' && job.precision !== 'bf16' ? 'climbing' : 'flat', steps: 40, layers: 2, seed: job.seed * 7 + job.preset.length });
      // The trainer records the seed in config.json's train section; the forecaster splits on it.
      const cfgPath = join(job.runDir, 'config.json');
      const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { train: Record<string, unknown> };
      cfg.train.seed = job.seed;
      writeFileSync(cfgPath, JSON.stringify(cfg));
    };
    const r = await runSweep({ presets: ['llama3', 'fog-xielu'], precisions: ['bf16', 'fp8-delayed'], lrs: [1e-2], seeds: [1, 2], outDir: out, runTraining: trainer, hasCheckpoint: () => false, runReports: false });
    const s = writeStudy({ outDir: out, summary: r.summary, command: 'fog8 study stability (test)', wallSeconds: 12 });
    const md = readFileSync(s.markdownPath, 'utf8');
    assert.match(md, /Command: `fog8 study stability \(test\)`/);
    assert.match(md, /Machine: .*cores/);
    assert.match(md, /\| llama3 \| 1e-2 \| [-\d.e±]+ \| \d\/2 \| \d\/2 \|/);
    assert.match(md, /\| fog-xielu \| 1e-2 \|/);
    assert.match(md, /## Spike forecaster on held-out seeds/);
    assert.match(md, /evaluated on 4 held-out runs \(seeds 2\)/);
    const html = readFileSync(s.htmlPath, 'utf8');
    assert.equal((html.match(/<svg /g) ?? []).length, 2, 'one chart per (preset, lr)');
    assert.ok(!/https?:\/\//.test(html), 'self-contained');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('beforeTrouble: telemetry at the last metrics interval before the onset', () => {
  const out = mkdtempSync(join(tmpdir(), 'fog8-study-bt-'));
  try {
    writeSyntheticRun(join(out, 'r'), { preset: 'llama3', precision: 'fp8-delayed', kurtosis: 'climbing', steps: 40, layers: 2, seed: 3 });
    const run = loadRun(join(out, 'r'));
    // Make a spike: losses from step 30 on jump by 2 nats.
    for (const s of run.records.steps) if (s.step >= 30 && s.loss !== null) s.loss += 2;
    const b = beforeTrouble(run);
    assert.ok(b !== null);
    assert.ok(b.onset >= 30 && b.onset <= 32, `onset ${b.onset}`);
    const prior = run.records.tensors.filter((t) => t.step < b.onset);
    assert.equal(b.at, prior[prior.length - 1].step);
    assert.equal(b.maxLogit, Math.max(...prior[prior.length - 1].maxAttentionLogit));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
