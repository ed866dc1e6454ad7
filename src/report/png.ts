/** `fog8 report --png DIR`: the report's sections as PNG figures, rendered by headless Chromium. */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_CHROMIUM, launchChromium } from './browser.js';

/** Sections written as figures (when present), by their data-section id. */
export const FIGURE_SECTIONS = ['summary', 'loss', 'optimizer', 'throughput', 'tensor-activation', 'tensor-qkv_input', 'attention-logits', 'fp8-underflow', 'fp8-overflow', 'fp8-scale', 'fp8-amax'];

/**
 * Opens the report at `htmlPath`, waits until it has rendered and saves an element screenshot of
 * every section (all of them with `allSections`, else FIGURE_SECTIONS) to DIR/<section>.png at
 * 2× pixel density. Returns the written paths. Console errors in the page are an error.
 */
export async function renderPngFigures(htmlPath: string, outDir: string, options: { chromium?: string; allSections?: boolean } = {}): Promise<string[]> {
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const browser = await launchChromium(options.chromium ?? DEFAULT_CHROMIUM, { width: 1400, height: 900 }, 2);
  try {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(resolve(htmlPath)).href);
    await page.evaluate(() => document.body.classList.add('figure-mode'));
    await page.waitForSelector('#app[data-rendered="true"]', { timeout: 30_000 });
    if (errors.length > 0) throw new Error(`report page logged errors: ${errors.join('; ')}`);
    const ids = await page.$$eval('section[data-section]', (els) => els.map((e) => e.getAttribute('data-section') ?? ''));
    const wanted = options.allSections ? ids : ids.filter((id) => FIGURE_SECTIONS.includes(id));
    const written: string[] = [];
    for (const id of wanted) {
      const path = join(dir, `${id}.png`);
      await page.locator(`section[data-section="${id}"]`).screenshot({ path });
      written.push(path);
    }
    return written;
  } finally {
    await browser.close();
  }
}
