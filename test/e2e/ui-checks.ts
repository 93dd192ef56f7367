/**
 * What the new UI's browser tests check on every view: a page that records what went wrong on it
 * (page errors, failed requests, answers ≥ 400, console errors), and axe-core's serious and
 * critical violations.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { shot } from './browser.js';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** A page that records what went wrong on it: page errors, failed requests and answers ≥ 400. */
export function watch(pg: Page): string[] {
  pg.setDefaultTimeout(10_000);
  const problems: string[] = [];
  pg.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  pg.on('requestfailed', (r) => problems.push(`failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
  pg.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  pg.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  return problems;
}

/** axe-core's serious and critical violations on the page as it is. */
export async function axeViolations(pg: Page): Promise<string[]> {
  // evaluate() is not subject to the page's CSP, which forbids inline scripts.
  await pg.evaluate(AXE);
  // A string: the page's globals (window, document) are not this program's.
  const found: { id: string; impact: string; targets: string[] }[] = await pg.evaluate(`(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ') + ' ' + n.html.slice(0, 120)) }));
  })()`);
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.targets.join(', ')}`);
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
