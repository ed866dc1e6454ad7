/**
 * With the real trainer: `fog8 compare` over a tiny 2×2 matrix end to end (CLI → src/train →
 * run directories → report → summary), then the report of those real runs in headless Chromium.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { main } from '../../src/cli/main.js';
import { DEFAULT_CHROMIUM, launchChromium } from '../../src/report/browser.js';
import { COMPLETION_MARKER } from '../../src/report/compare.js';
import { loadRun } from '../../src/report/load.js';
import { writeCountingDataset } from '../train/helpers.js';

const MATRIX = ['llama3-bf16', 'llama3-fp8-delayed', 'fog-xielu-bf16', 'fog-xielu-fp8-delayed'];

test('fog8 compare: a tiny real 2×2 matrix, rerun without retraining, and its report in Chromium', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-real-compare-'));
  try {
    const prefix = writeCountingDataset(dir);
    const out = join(dir, 'matrix');
    const args = ['compare', '--presets', 'llama3,fog-xielu', '--precisions', 'bf16,fp8-delayed', '--steps', '6', '--out', out,
      '--size', 'tiny', '--data', prefix, '--vocab-size', '64', '--kernels', 'reference', '--batch', '4', '--seq', '16', '--warmup', '1',
      '--metrics-interval', '2', '--eval-interval', '3', '--eval-batches', '1', '--checkpoint-interval', '3', '--progress', 'none', '--val-fraction', '0.1'];
    const printed: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => printed.push(a.join(' '));
    let code: number;
    try {
      code = await main(args);
    } finally {
      console.log = log;
    }
    assert.equal(code, 0, printed.join('\n'));
    for (const name of MATRIX) {
      assert.ok(existsSync(join(out, name, COMPLETION_MARKER)), `${name} finished`);
      const run = loadRun(join(out, name));
      assert.equal(run.malformedLines, 0);
      assert.equal(run.records.steps.length, 6);
      assert.equal(run.records.runs[0].preset, name.startsWith('llama3') ? 'llama3' : 'fog-xielu');
    }
    const table = printed.join('\n');
    assert.match(table, /llama3-fp8-delayed\s+\d\.\d{3}\s+[+-]\d+\.\d\d%/);
    assert.match(table, /report: .*report\.html/);

    // Rerun: everything is finished, nothing is trained again (metrics files are untouched).
    const before = MATRIX.map((n) => readFileSync(join(out, n, 'metrics.jsonl'), 'utf8'));
    const again: string[] = [];
    console.log = (...a: unknown[]) => again.push(a.join(' '));
    try {
      assert.equal(await main(args), 0);
    } finally {
      console.log = log;
    }
    assert.equal(again.filter((l) => /finished earlier, not redone/.test(l)).length, 4);
    assert.deepEqual(MATRIX.map((n) => readFileSync(join(out, n, 'metrics.jsonl'), 'utf8')), before);

    if (!existsSync(DEFAULT_CHROMIUM)) {
      t.skip(`${DEFAULT_CHROMIUM} is missing: the browser half is skipped (CI installs chromium)`);
      return;
    }
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(join(out, 'report.html')).href);
      await page.waitForSelector('#app[data-rendered="true"]', { timeout: 20_000 });
      const counts = await page.evaluate(() => ({
        charts: [...document.querySelectorAll<HTMLElement>('[data-chart]')].map((e) => [e.dataset.chart, e.dataset.expectedSeries, e.dataset.renderedSeries]),
        heatmaps: [...document.querySelectorAll<HTMLElement>('[data-heatmap]')].map((e) => [e.dataset.heatmap, e.dataset.expectedLayers, e.dataset.renderedLayers]),
      }));
      for (const [id, expected, rendered] of [...counts.charts, ...counts.heatmaps]) assert.equal(rendered, expected, `${id}`);
      const loss = counts.charts.find((c) => c[0] === 'loss');
      assert.equal(loss?.[2], '8'); // train + val for 4 runs
      const layers = loadRun(join(out, 'llama3-bf16')).records.tensors[0].maxAttentionLogit.length;
      assert.ok(counts.heatmaps.length >= 4 * 2 * 4, `heatmaps: ${counts.heatmaps.length}`);
      assert.ok(counts.heatmaps.every((h) => h[2] === String(layers)));
      assert.deepEqual(errors, []);
      const shots = resolve('test-output/report');
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, 'report-real-compare.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
