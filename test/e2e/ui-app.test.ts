/**
 * The UI (ui/, served at /console, /portal and /cockpit) in Chromium, in English and Chinese: sign-in, the operator's
 * overview, clusters, a cluster, tenants, workloads and the cockpit at 1920×1080. Every view must
 * load with no page error, no failed request and no serious or critical axe-core violation, under
 * the console's CSP; each is saved to test/e2e/screenshots/ui-*.png (not committed).
 *
 * Builds dist/ui first when its sources changed (ui/build.mjs; a no-op when they did not).
 */
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_TOKEN, startPlatform, type TestPlatform } from '../integration/harness.js';
import { checkView, launchBrowser, newPage, watch } from './browser.js';

describe('the UI (/console, /cockpit) in Chromium', function () {
  this.timeout(120_000);
  let browser: Browser | undefined;
  let p: TestPlatform;
  let clusterId: string;
  /** The placement whose pods fail (reported by its agent in `before`). */
  let failing: { cluster: string; placement: string; clusterName?: string } | undefined;

  /** Tenants with usage this period (name, kind, output tokens), least first. */
  const TOP_TENANTS = [
    ['Guangzhou Transport Bureau', 'government', 2_000_000],
    ['Pearl River Logistics', 'enterprise', 5_000_000],
  ] as const;

  before(async function () {
    browser = await launchBrowser();
    if (!browser) this.skip();
    execFileSync(process.execPath, ['ui/build.mjs'], { stdio: 'inherit' });
    p = await startPlatform('pglite');
    const agents = new Map<string, string>();
    for (const [name, region, total] of [
      ['nansha-1', 'nansha', 8],
      ['tianhe-1', 'tianhe', 16],
    ] as const) {
      const c = (await p.request('POST', '/api/v1/clusters', { body: { name, region } })).body;
      clusterId ??= c.id;
      agents.set(c.id, c.agentToken);
      await p.request('POST', '/api/v1/agent/heartbeat', {
        token: c.agentToken,
        body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total, healthy: total }] },
      });
    }
    // Two tenants' usage this period, the second's larger: the cockpit ranks them.
    for (const [name, kind, tokens] of TOP_TENANTS) {
      const t = (await p.request('POST', '/api/v1/tenants', { body: { name, kind } })).body;
      const w = (
        await p.request('POST', '/api/v1/workloads', {
          token: t.apiKey,
          body: { name: 'svc', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, access: 'direct' },
        })
      ).body;
      await p.app.scheduler.runCycle();
      const placed = (await p.request('GET', `/api/v1/workloads/${w.id}`)).body;
      const at = new Date(p.clock.now().getTime() - 60_000).toISOString();
      const usage = await p.request('POST', '/api/v1/agent/usage', {
        token: agents.get(placed.placements[0].clusterId),
        body: { events: [{ id: `u-${t.id}`, workloadId: w.id, inputTokens: 0, outputTokens: tokens, occurredAt: at }] },
      });
      expect(usage.body.accepted, JSON.stringify(usage.body)).to.equal(1);
      failing ??= { cluster: placed.placements[0].clusterId, placement: placed.placements[0].id };
    }
    // The first tenant's replica cannot pull its image: the cockpit raises it.
    const cluster = (await p.request('GET', `/api/v1/clusters/${failing!.cluster}`)).body;
    const report = await p.request('POST', '/api/v1/agent/heartbeat', {
      token: agents.get(failing!.cluster),
      body: {
        inventory: cluster.inventory.map((d: { deviceModel: string; total: number; healthy: number }) => ({
          deviceModel: d.deviceModel,
          total: d.total,
          healthy: d.healthy,
        })),
        placements: [{ id: failing!.placement, readyReplicas: 0, phase: 'failing', reason: 'ImagePullBackOff', message: 'Back-off pulling image' }],
      },
    });
    expect(report.status, JSON.stringify(report.body)).to.equal(200);
    failing = { ...failing!, clusterName: cluster.name };
  });

  after(async () => {
    await browser?.close();
    await p?.close();
  });

  for (const [locale, lang] of [
    ['en-US', 'en'],
    ['zh-CN', 'zh'],
  ] as const) {
    describe(`in ${locale}`, () => {
      let page: Page;
      let problems: string[];

      const check = (name: string) => checkView(page, problems, `ui-${name}-${lang}`);

      it('refuses a wrong token with the translated problem, then signs the operator in', async () => {
        page = await newPage(browser!, locale);
        problems = watch(page);
        await page.goto(`${p.baseUrl}/console/overview`);
        await page.waitForSelector('[data-view="login"]');
        await page.click('#tab-token');
        await page.fill('input[name="token"]', 'tp_admin_wrong-token-0123456789');
        await page.click('[data-submit]');
        await page.waitForSelector('.request-error');
        expect(await page.textContent('.request-error')).to.contain(lang === 'en' ? 'The token is not valid.' : '令牌无效。');
        expect(problems.splice(0)).to.have.length.greaterThan(0); // the 401 of the refused sign-in, expected
        await check('sign-in');
        await page.fill('input[name="token"]', ADMIN_TOKEN);
        await page.click('[data-submit]');
        await page.waitForSelector('[data-metric="total"]');
      });

      it('shows the pool as the API gives it', async () => {
        const pool = (await p.request('GET', '/api/v1/pool')).body;
        expect(await page.getAttribute('[data-metric="total"]', 'data-value')).to.equal(String(pool.totalStdPerMin));
        expect(await page.getAttribute('[data-metric="ready"]', 'data-value')).to.equal(String(pool.clusters.ready));
        expect(await page.textContent('[data-metric="total"] .value')).to.equal(
          new Intl.NumberFormat(lang === 'en' ? 'en' : 'zh-CN').format(pool.totalStdPerMin),
        );
        await page.waitForSelector('canvas');
        await check('overview');
      });

      it('lists the clusters with their districts and opens one with its inventory', async () => {
        await page.click('[data-nav="/console/clusters"]');
        await page.waitForSelector('[data-cluster="nansha-1"]');
        expect(await page.textContent('[data-table="clusters"]')).to.contain(lang === 'en' ? 'Nansha' : '南沙区');
        await check('clusters');
        await page.click('[data-cluster="nansha-1"]');
        await page.waitForSelector('[data-table="inventory"] .el-table__row');
        expect(await page.textContent('[data-table="inventory"]')).to.contain('NVIDIA-H100-80GB-HBM3');
        await check('cluster');
      });

      it('cordons a cluster and lifts it again', async () => {
        await page.goto(`${p.baseUrl}/console/clusters/${clusterId}`);
        await page.waitForSelector('[data-state="ready"]');
        await page.click('[data-action="cordon"]');
        await page.waitForSelector('[data-state="cordoned"]');
        expect((await p.request('GET', `/api/v1/clusters/${clusterId}`)).body.cordoned).to.equal(true);
        await page.click('[data-action="cordon"]');
        await page.waitForSelector('[data-state="ready"]');
        expect(problems).to.deep.equal([]);
      });

      it('lists tenants and workloads', async () => {
        await page.goto(`${p.baseUrl}/console/tenants`);
        await page.waitForSelector('text=Guangzhou Transport Bureau');
        expect(await page.textContent('[data-table="tenants"]')).to.contain(lang === 'en' ? 'Government' : '政府部门');
        await check('tenants');
        await page.goto(`${p.baseUrl}/console/workloads`);
        await page.waitForSelector('[data-table="workloads"]');
        await check('workloads');
        // A workload's name opens its page.
        await page.click('[data-workload="svc"] >> nth=0');
        await page.waitForSelector('[data-section="workload"]');
        expect(await page.textContent('h1.page-title')).to.equal('svc');
        expect(problems).to.deep.equal([]);
      });

      it('shows the cockpit at 1920×1080 with every cluster on the district map', async () => {
        const wall = await newPage(browser!, locale, { viewport: { width: 1920, height: 1080 } });
        const wallProblems = watch(wall);
        await wall.context().addCookies(await page.context().cookies());
        await wall.goto(`${p.baseUrl}/login`);
        await wall.evaluate("localStorage.setItem('tokenpool.signedIn', '1')");
        await wall.goto(`${p.baseUrl}/cockpit`);
        await wall.waitForSelector('[data-map="guangzhou"][data-points="2"]').catch((e: Error) => {
          throw new Error(`${e.message}\n${wallProblems.join('\n')}`);
        });
        await wall.waitForSelector('[data-metric="capacity"][data-value]:not([data-value=""])');
        const pool = (await p.request('GET', '/api/v1/pool')).body;
        expect(await wall.getAttribute('[data-metric="capacity"]', 'data-value')).to.equal(String(pool.totalStdPerMin));
        expect(await wall.textContent('h1')).to.equal(lang === 'en' ? 'Guangzhou City Compute Network' : '广州市城市算力网');
        // Top tenants, most first, from the usage report's byTenant.
        await wall.waitForSelector(`[data-top="tenants"][aria-label*="${TOP_TENANTS[0][0]}"]`);
        const ranked = (await wall.getAttribute('[data-top="tenants"]', 'aria-label'))!;
        expect(ranked.indexOf(TOP_TENANTS[1][0])).to.be.within(0, ranked.indexOf(TOP_TENANTS[0][0]));
        // The failing placement, among the alerts as it happens.
        const alert = await wall.textContent('[data-alert="placement"] [data-alert-text]');
        expect(alert).to.equal(
          lang === 'en' ? `svc on ${failing!.clusterName} is failing: Image cannot be pulled` : `svc 在 ${failing!.clusterName} 上运行异常：镜像无法拉取`,
        );
        await wall.waitForTimeout(800); // the map's first frame
        page = wall;
        problems = wallProblems;
        await check('cockpit');
      });

      it('signs out', async () => {
        await page.goto(`${p.baseUrl}/console/overview`);
        await page.click('[data-sign-out]');
        await page.waitForSelector('[data-view="login"]');
        expect(problems).to.deep.equal([]);
      });
    });
  }
});
