/**
 * The console's engine catalog in a real browser, in both languages: every engine the API lists,
 * its image or "not configured", and its basis. Skipped, saying why, when Chromium is missing.
 */
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { ADMIN_TOKEN, startPlatform, type TestPlatform } from '../integration/harness.js';
import { launchBrowser, newPage, shot, signInWithToken, view } from './browser.js';

describe('console: the engine catalog in Chromium', function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  let p: TestPlatform;

  before(async function () {
    browser = await launchBrowser();
    if (!browser) this.skip();
    p = await startPlatform('pglite');
  });

  after(async () => {
    await browser?.close();
    await p?.close();
  });

  for (const [locale, notConfigured] of [
    ['en-US', 'not configured'],
    ['zh-CN', '未配置'],
  ] as const) {
    it(`lists every engine with its image or "${notConfigured}" (${locale})`, async () => {
      const engines = (await p.request('GET', '/api/v1/engines')).body.items as { name: string; image: string; basis: string }[];
      const page = await newPage(browser!, locale);
      await signInWithToken(page, p.baseUrl, 'console', ADMIN_TOKEN);
      await page.click('nav a[href="#/engines"]');
      await view(page, 'engines');
      const rows = await page.$$eval('main table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      expect(rows).to.have.length(engines.length);
      for (const e of engines) {
        const row = rows.find((r) => r[0]!.startsWith(e.name + ' '));
        expect(row, e.name).to.not.equal(undefined);
        expect(row![3]).to.equal(e.image || notConfigured);
        expect(row![8]).to.equal(e.basis);
      }
      await shot(page, `console-engines-${locale}`);
      await page.close();
    });
  }
});
