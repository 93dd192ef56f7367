/**
 * What the browser suites share: Debian's Chromium started by playwright-core on a closed network,
 * pages in a locale, screenshots to test/e2e/screenshots/ (not committed), and signing in.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = resolve(fileURLToPath(import.meta.url), '../screenshots');
// A closed network: nothing may call home, and root needs no sandbox in a container.
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--metrics-recording-only',
  '--disable-features=Translate,OptimizationHints,MediaRouter',
];

/** Chromium, or undefined (the suite skips, saying why) when it is not installed. */
export async function launchBrowser(): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    console.log(`    (skipped: no Chromium at ${CHROMIUM}; install Debian's chromium package)`);
    return undefined;
  }
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

/** A page in its own context (cookies, locale), printing the page's uncaught errors. */
export async function newPage(browser: Browser, locale = 'en-US', options: BrowserContextOptions = {}): Promise<Page> {
  const context = await browser.newContext({ locale, viewport: { width: 1280, height: 900 }, ...options });
  const pg = await context.newPage();
  pg.on('pageerror', (err) => console.log(`    page error: ${err.message}`));
  return pg;
}

export const shot = (pg: Page, name: string) => pg.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

/** Waits for a view of the console or portal to be shown (its heading rendered). */
export const view = (pg: Page, name: string) => pg.waitForSelector(`main[data-view="${name}"] h1`);

export async function signInWithToken(pg: Page, baseUrl: string, area: 'console' | 'portal', token: string): Promise<void> {
  await pg.goto(`${baseUrl}/${area}/`);
  await view(pg, 'sign-in');
  await pg.fill('form[data-form="token"] input[name="token"]', token);
  await pg.click('form[data-form="token"] button[type="submit"]');
}
