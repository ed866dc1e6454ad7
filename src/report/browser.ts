/**
 * Headless Chromium for figures and browser tests: Debian's /usr/bin/chromium driven by
 * playwright-core (which never downloads a browser). Loaded lazily so that the rest of the report
 * works where playwright-core (a dev dependency) is not installed.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A launched browser context plus the function that closes it and removes its profile. */
export interface HeadlessBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh profile directory. */
export async function launchChromium(executablePath = DEFAULT_CHROMIUM, viewport = { width: 1400, height: 900 }, deviceScaleFactor = 1): Promise<HeadlessBrowser> {
  if (!existsSync(executablePath)) {
    throw new RangeError(`chromium not found at ${executablePath}; install Debian's chromium (apt-get install chromium) or pass its path`);
  }
  let playwright: typeof import('playwright-core');
  try {
    playwright = await import('playwright-core');
  } catch {
    throw new Error('playwright-core is not installed; run `npm install` with dev dependencies to render PNG figures');
  }
  const profile = mkdtempSync(join(tmpdir(), 'fog8-chromium-'));
  const context = await playwright.chromium.launchPersistentContext(profile, { executablePath, headless: true, args: CHROMIUM_ARGS, viewport, deviceScaleFactor });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
