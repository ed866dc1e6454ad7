/**
 * Real headless Chromium (Debian's /usr/bin/chromium via playwright-core): the report and the
 * dashboard page render every chart with the expected series and every heatmap with all layers,
 * without console errors. Screenshots go to test-output/report/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { DEFAULT_CHROMIUM, launchChromium, type HeadlessBrowser } from '../../src/report/browser.js';
import { startDashServer } from '../../src/report/dash-server.js';
import type { ChartSpec, HeatmapSpec, ReportModel } from '../../src/report/model.js';
import { renderPngFigures } from '../../src/report/png.js';
import { writeReport } from '../../src/report/write-report.js';
import { syntheticRecords, writeSyntheticRun, writeTwoRuns } from './fixtures.js';

const OUTPUT = resolve('test-output/report');
const hasChromium = existsSync(DEFAULT_CHROMIUM);
const skip = hasChromium ? false : `${DEFAULT_CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/install-chromium.sh does it in CI)`;

let browser: HeadlessBrowser | null = null;
let root = '';

before(async () => {
  if (!hasChromium) return;
  mkdirSync(OUTPUT, { recursive: true });
  root = mkdtempSync(join(tmpdir(), 'fog8-browser-'));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** What the page says it rendered, per chart and heatmap id. */
async function renderedCounts(page: Page): Promise<{ charts: Record<string, { expected: number; rendered: number }>; heatmaps: Record<string, { expected: number; rendered: number }> }> {
  return page.evaluate(() => {
    const charts: Record<string, { expected: number; rendered: number }> = {};
    const heatmaps: Record<string, { expected: number; rendered: number }> = {};
    document.querySelectorAll<HTMLElement>('[data-chart]').forEach((e) => {
      charts[e.dataset.chart ?? ''] = { expected: Number(e.dataset.expectedSeries), rendered: Number(e.dataset.renderedSeries ?? -1) };
    });
    document.querySelectorAll<HTMLElement>('[data-heatmap]').forEach((e) => {
      heatmaps[e.dataset.heatmap ?? ''] = { expected: Number(e.dataset.expectedLayers), rendered: Number(e.dataset.renderedLayers ?? -1) };
    });
    return { charts, heatmaps };
  });
}

function assertAllRendered(model: ReportModel, got: Awaited<ReturnType<typeof renderedCounts>>, layers: number): void {
  const items = model.sections.flatMap((s) => s.items);
  const charts = items.filter((i): i is ChartSpec => i.kind === 'chart');
  const heatmaps = items.filter((i): i is HeatmapSpec => i.kind === 'heatmap');
  assert.equal(Object.keys(got.charts).length, charts.length, 'every chart has a card');
  assert.equal(Object.keys(got.heatmaps).length, heatmaps.length, 'every heatmap has a card');
  for (const c of charts) assert.deepEqual(got.charts[c.id], { expected: c.series.length, rendered: c.series.length }, `chart ${c.id}`);
  for (const h of heatmaps) assert.deepEqual(got.heatmaps[h.id], { expected: layers, rendered: layers }, `heatmap ${h.id}`);
}

function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('http://127.0.0.1')) errors.push(`network request to ${r.url()}`); });
  return errors;
}

test('report renders every chart and heatmap in headless Chromium, offline, without console errors', { skip }, async () => {
  const { llama, fog } = writeTwoRuns(join(root, 'runs'), 60);
  const bad = join(root, 'runs', 'llama3-bf16');
  writeSyntheticRun(bad, { preset: 'llama3', precision: 'bf16', kurtosis: 'climbing', steps: 60, layers: 4, seed: 5, malformedLines: 3, partialTail: true });
  const html = join(root, 'report.html');
  const model = writeReport([llama, fog, bad], html);
  const page = await browser!.context.newPage();
  const errors = collectErrors(page);
  await page.goto(pathToFileURL(html).href);
  await page.waitForSelector('#app[data-rendered="true"]', { timeout: 20_000 });
  const got = await renderedCounts(page);
  assertAllRendered(model, got, 4);
  // 3 runs: loss has train + val per run; 8 tensors × 2 metrics × 3 runs heatmaps.
  assert.equal(got.charts.loss.rendered, 6);
  assert.equal(Object.keys(got.heatmaps).length, 48);
  // The bf16 run has no FP8 series; the two FP8 runs do.
  assert.equal(got.charts['fp8-underflow-attn-dpa-p'].rendered, 2);
  assert.equal(await page.getAttribute('#app', 'data-malformed-total'), '3');
  assert.match(await page.innerText('section[data-section="summary"]'), /3 malformed metrics line\(s\) skipped; last metrics line incomplete/);
  const differing = await page.$$eval('section[data-section="config"] tr.differs', (rows) => rows.map((r) => r.firstElementChild?.textContent));
  assert.ok(differing.includes('model.preset') && differing.includes('train.precision'), `differing rows: ${differing.join(', ')}`);
  assert.deepEqual(errors, []);
  const shot = join(OUTPUT, 'report-synthetic.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 50_000);
  await page.close();

  const t0 = Date.now();
  const figures = await renderPngFigures(html, join(OUTPUT, 'figures'));
  console.log(`png figures: ${Date.now() - t0} ms`);
  assert.deepEqual(figures.map((f) => f.split('/').pop()), ['summary.png', 'loss.png', 'optimizer.png', 'throughput.png', 'tensor-activation.png', 'tensor-qkv_input.png', 'attention-logits.png', 'fp8-underflow.png', 'fp8-overflow.png', 'fp8-scale.png', 'fp8-amax.png']);
  for (const f of figures) assert.ok(statSync(f).size > 10_000, `${f} is too small to hold a figure`);
});

test('dashboard page renders the same views and picks up appended steps', { skip }, async () => {
  const runsRoot = join(root, 'dash-runs');
  writeTwoRuns(runsRoot, 30);
  const dash = await startDashServer({ root: runsRoot, port: 0, pollMs: 300 });
  try {
    const page = await browser!.context.newPage();
    const errors = collectErrors(page);
    await page.goto(dash.url);
    await page.waitForSelector('#app[data-rendered="true"]', { timeout: 20_000 });
    const model = (await (await fetch(`${dash.url}api/report`)).json()) as ReportModel;
    assertAllRendered(model, await renderedCounts(page), 4);
    assert.match((await page.innerText('#status')) ?? '', /live · 2 run\(s\)/);
    // The writer goes on: the page's summary shows the new step count on a later poll.
    const more = syntheticRecords({ preset: 'llama3', precision: 'fp8-delayed', kurtosis: 'climbing', steps: 45, layers: 4, seed: 1 }).filter((r) => r.type === 'step' && r.step > 30);
    appendFileSync(join(runsRoot, 'llama3-fp8-delayed', 'metrics.jsonl'), more.map((r) => `${JSON.stringify(r)}\n`).join(''));
    await page.waitForFunction(() => [...document.querySelectorAll('section[data-section="summary"] tbody tr td:nth-child(5)')].some((td) => td.textContent === '45'), undefined, { timeout: 10_000 });
    assert.deepEqual(errors, []);
    await page.screenshot({ path: join(OUTPUT, 'dashboard.png') });
    await page.close();
  } finally {
    await dash.close();
  }
});
