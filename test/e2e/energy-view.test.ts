/**
 * The console's energy view in a real browser, in both languages: each cluster's measured
 * standard tokens per joule beside the catalog's TDP estimate, as the API computes them from the
 * agents' energy reports and the metered tokens. Skipped, saying why, when Chromium is missing.
 */
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { ADMIN_TOKEN, startPlatform, type TestPlatform } from '../integration/harness.js';
import { launchBrowser, newPage, shot, signInWithToken, view } from './browser.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';

describe('console: measured tokens per joule in Chromium', function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  let p: TestPlatform;
  let figure: { stdTokensPerJoule: number; tdpStdTokensPerJoule: number };

  before(async function () {
    browser = await launchBrowser();
    if (!browser) this.skip();
    p = await startPlatform('pglite');
    const t0 = Date.parse('2026-10-20T02:00:00Z');
    p.clock.set(new Date(t0));
    const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-energy', region: 'nansha' } })).body;
    const heartbeat = (placements: object[]) =>
      p.request('POST', '/api/v1/agent/heartbeat', {
        token: cluster.agentToken,
        body: { inventory: [{ deviceModel: H100, total: 2, healthy: 2 }], placements },
      });
    await heartbeat([]);
    const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Energy Viewer', kind: 'enterprise' } })).body;
    const w = (await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { name: 'w', model: 'qwen2.5-7b-instruct', tokensPerMin: 100_000 } }))
      .body;
    await p.app.scheduler.runCycle();
    const placementId = (await heartbeat([])).body.placements[0].id as string;
    await heartbeat([{ id: placementId, readyReplicas: 1, energyJoules: 0, powerWatts: 650 }]);
    p.clock.set(new Date(t0 + 60_000));
    await heartbeat([{ id: placementId, readyReplicas: 1, energyJoules: 39_000, powerWatts: 650 }]);
    await p.app.context.services.usage.meter([
      {
        requestId: 'r-view',
        tenantId: tenant.id,
        apiKeyId: null,
        workloadId: w.id,
        placementId,
        clusterId: cluster.id,
        inputTokens: 2_000,
        outputTokens: 8_000,
        occurredAt: new Date(t0 + 20_000),
      },
    ]);
    figure = (await p.request('GET', '/api/v1/energy?groupBy=cluster')).body.items[0];
  });

  after(async () => {
    await browser?.close();
    await p?.close();
  });

  for (const locale of ['en-US', 'zh-CN'] as const) {
    it(`shows each cluster's measured figure beside the TDP estimate (${locale})`, async () => {
      const page = await newPage(browser!, locale);
      await signInWithToken(page, p.baseUrl, 'console', ADMIN_TOKEN);
      await page.click('nav a[href="#/energy"]');
      await view(page, 'energy');
      const rows = await page.$$eval('main table:first-of-type tbody tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
      );
      expect(rows).to.have.length(1);
      const [name, vendor, profile, measured, tdp] = rows[0]!;
      expect([name, vendor, profile]).to.deep.equal(['nansha-energy', 'nvidia', 'NVIDIA-H100-80GB']);
      expect(Number(measured)).to.equal(Number(figure.stdTokensPerJoule.toPrecision(3)));
      expect(Number(tdp)).to.equal(Number(figure.tdpStdTokensPerJoule.toPrecision(3)));
      await shot(page, `console-energy-${locale}`);
      await page.close();
    });
  }
});
