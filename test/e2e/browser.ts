/**
 * What the browser suites share: Debian's Chromium started by playwright-core on a closed network,
 * pages in a locale, screenshots to test/e2e/screenshots/ (not committed), and signing in.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
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

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * A page that records what went wrong on it: page errors, failed requests (not of `blob:` URLs, which
 * downloads revoke), console errors and answers ≥ 400 other than the `expected` ones (matched against
 * `METHOD /path STATUS`). The browser's own console line for an answer ≥ 400 is left out: the answer
 * itself is checked.
 */
export function watch(pg: Page, expected: readonly RegExp[] = []): string[] {
  pg.setDefaultTimeout(10_000);
  const problems: string[] = [];
  pg.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  pg.on('requestfailed', (r) => {
    if (!r.url().startsWith('blob:')) problems.push(`failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`);
  });
  pg.on('response', (r) => {
    const what = `${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`;
    if (r.status() >= 400 && !expected.some((e) => e.test(what))) problems.push(`answered: ${what}`);
  });
  pg.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of \d+/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return problems;
}

/**
 * axe-core's serious and critical violations on the page as it is. A page still moving (a tag
 * fading in has, for a moment, the colours of neither end) is looked at again after its
 * transitions: only what is still there counts.
 */
export async function axeViolations(pg: Page): Promise<string[]> {
  // evaluate() is not subject to the page's CSP, which forbids inline scripts.
  await pg.evaluate(AXE);
  const run = async () => {
    // A string: the page's globals (window, document) are not this program's.
    const found: { id: string; impact: string; targets: string[] }[] = await pg.evaluate(`(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ') + ' ' + n.html.slice(0, 120)) }));
    })()`);
    return found.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.targets.join(', ')}`);
  };
  const first = await run();
  if (first.length === 0) return first;
  await pg.waitForTimeout(600);
  return run();
}

/**
 * Checks a view as it is: nothing went wrong on the page (`problems` of {@link watch}), no serious
 * or critical axe-core violation once the loading masks are gone; then saves its screenshot `name`.
 */
export async function checkView(pg: Page, problems: string[], name: string): Promise<void> {
  expect(problems, `${name}: problems`).to.deep.equal([]);
  // A loading mask fading out has text of no contrast: look once it is gone.
  await pg.waitForSelector('.el-loading-mask', { state: 'detached' });
  expect(await axeViolations(pg), `${name}: axe`).to.deep.equal([]);
  await shot(pg, name);
}
