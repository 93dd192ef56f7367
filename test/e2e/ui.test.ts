/**
 * The console and the portal in a real browser: Debian's Chromium driven by playwright-core,
 * against the platform in-process on PGlite. Screenshots of the main pages go to
 * test/e2e/screenshots/ (not committed) for a person to look at.
 *
 * Skipped, saying why, when /usr/bin/chromium is missing (`.ci/run` installs it).
 */
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_TOKEN, startPlatform, type TestPlatform } from '../integration/harness.js';
import { until } from '../until.js';
import { launchBrowser, newPage as pageIn, shot, signInWithToken as signIn, view } from './browser.js';

describe('console and portal in Chromium', function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  let p: TestPlatform;
  let page: Page;

  before(async function () {
    browser = await launchBrowser();
    if (!browser) this.skip();
    p = await startPlatform('pglite');
    // A ready cluster with H100s, so the pool has capacity and workloads can be placed.
    const c = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-1', region: 'nansha' } })).body;
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: c.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 8 }] },
    });
  });

  after(async () => {
    await browser?.close();
    await p?.close();
  });

  const newPage = (locale = 'en-US') => pageIn(browser!, locale);
  const signInWithToken = (pg: Page, area: 'console' | 'portal', token: string) => signIn(pg, p.baseUrl, area, token);

  it('signs the operator in and shows the pool numbers the API gives', async () => {
    page = await newPage();
    await page.goto(`${p.baseUrl}/console/`);
    await view(page, 'sign-in');
    await page.fill('input[name="username"]', 'nobody');
    await page.fill('input[name="password"]', 'wrong password');
    await page.click('form[data-form="password"] button[type="submit"]');
    await page.waitForSelector('text=Wrong username or password.');
    await shot(page, 'sign-in');
    await signInWithToken(page, 'console', ADMIN_TOKEN);
    await view(page, 'dashboard');
    const pool = (await p.request('GET', '/api/v1/pool')).body;
    for (const [metric, value] of [
      ['total', pool.totalStdPerMin],
      ['allocated', pool.allocatedStdPerMin],
      ['free', pool.freeStdPerMin],
      ['ready', pool.clusters.ready],
    ]) {
      expect(await page.getAttribute(`[data-metric="${metric}"]`, 'data-value'), metric).to.equal(String(value));
    }
    expect(await page.textContent('[data-metric="total"] .value')).to.equal(new Intl.NumberFormat('en').format(pool.totalStdPerMin));
    await page.waitForSelector('.chart canvas');
    await shot(page, 'console-dashboard');
  });

  it('registers a cluster (its agent token shown once) and cordons it', async () => {
    await page.click('nav a[href="#/clusters"]');
    await view(page, 'clusters');
    await page.fill('form[data-form="register-cluster"] input[name="name"]', 'huangpu-1');
    await page.fill('form[data-form="register-cluster"] input[name="region"]', 'huangpu');
    await page.click('form[data-form="register-cluster"] button[type="submit"]');
    const token = await page.textContent('[data-secret]');
    expect(token).to.match(/^tp_agent_/);
    await page.goto(`${p.baseUrl}/console/#/dashboard`);
    await page.goto(`${p.baseUrl}/console/#/clusters`);
    await page.click('[data-cordon="huangpu-1"]');
    await until(
      'the cordon shown',
      () => page.textContent('[data-cluster-state="huangpu-1"]'),
      (s) => s === 'cordoned',
    );
    const c = (await p.request('GET', '/api/v1/clusters')).body.items.find((x: { name: string }) => x.name === 'huangpu-1');
    expect(c.cordoned).to.equal(true);
    await shot(page, 'console-clusters');
  });

  let tenantKey: string;
  let tenantId: string;

  it('creates a tenant, a plan and a subscription', async () => {
    await page.click('nav a[href="#/tenants"]');
    await view(page, 'tenants');
    await page.fill('form[data-form="create-tenant"] input[name="name"]', 'Panyu Water');
    await page.selectOption('form[data-form="create-tenant"] select[name="kind"]', 'government');
    await page.click('form[data-form="create-tenant"] button[type="submit"]');
    tenantKey = (await page.textContent('[data-secret]'))!;
    expect(tenantKey).to.match(/^tp_key_/);
    tenantId = (await p.request('GET', '/api/v1/tenants')).body.items.find((x: { name: string }) => x.name === 'Panyu Water').id;

    await page.click('nav a[href="#/plans"]');
    await view(page, 'plans');
    await page.fill('form[data-form="create-plan"] input[name="name"]', 'water-payg');
    await page.fill('form[data-form="create-plan"] input[name="price"]', '3.50');
    await page.click('form[data-form="create-plan"] button[type="submit"]');
    await page.waitForSelector('text=water-payg');
    await shot(page, 'console-plans');
    const plan = (await p.request('GET', '/api/v1/plans')).body.items.find((x: { name: string }) => x.name === 'water-payg');
    expect(plan).to.include({ type: 'unit', pricePerMillionStd: '3.50' });

    await page.click('nav a[href="#/tenants"]');
    await view(page, 'tenants');
    await page.selectOption('form[data-form="subscribe"] select[name="tenantId"]', tenantId);
    await page.selectOption('form[data-form="subscribe"] select[name="planId"]', plan.id);
    await page.click('form[data-form="subscribe"] button[type="submit"]');
    await page.waitForSelector('form[data-form="subscribe"] .ok');
    const subs = (await p.request('GET', `/api/v1/tenants/${tenantId}/subscriptions`)).body.items;
    expect(subs.map((s: { planId: string }) => s.planId)).to.deep.equal([plan.id]);
    await shot(page, 'console-tenants');
  });

  let tenantPage: Page;

  it('signs the tenant in, previews a workload, creates it and sees it placed', async () => {
    tenantPage = await newPage();
    await signInWithToken(tenantPage, 'portal', tenantKey);
    await view(tenantPage, 'workloads');
    await tenantPage.fill('input[name="name"]', 'leak-detector');
    await tenantPage.selectOption('select[name="model"]', 'qwen2.5-7b-instruct');
    await tenantPage.fill('input[name="tokensPerMin"]', '150000');
    await tenantPage.fill('input[name="regions"]', 'nansha');
    await tenantPage.click('[data-action="preview"]');
    await tenantPage.waitForSelector('[data-preview] li');
    expect(await tenantPage.textContent('[data-preview]')).to.contain('NVIDIA-H100-80GB-HBM3');
    await tenantPage.click('form[data-form="create-workload"] button[type="submit"]');
    await tenantPage.waitForSelector('[data-workload-state="leak-detector"]');
    await p.app.scheduler.runCycle();
    await tenantPage.reload();
    await until(
      'the workload placed',
      () => tenantPage.textContent('[data-workload-state="leak-detector"]'),
      (s) => s === 'placed',
    );
    await shot(tenantPage, 'portal-workloads');
  });

  it('shows usage, and an invoice after the operator closes the month', async () => {
    const w = (await p.request('GET', '/api/v1/workloads', { token: tenantKey })).body.items[0];
    const cluster = (await p.request('GET', '/api/v1/clusters')).body.items.find((x: { name: string }) => x.name === 'nansha-1');
    // The portal makes gateway workloads, billed from what the gateway metered: a metered call.
    const metered = await p.app.context.services.usage.meter([
      {
        requestId: 'e2e-1',
        tenantId: w.tenantId,
        apiKeyId: null,
        workloadId: w.id,
        placementId: 'pl_e2e',
        clusterId: cluster.id,
        inputTokens: 3_000_000,
        outputTokens: 1_000_000,
        occurredAt: p.clock.now(),
      },
    ]);
    expect(metered).to.equal(1);

    await tenantPage.goto(`${p.baseUrl}/portal/#/usage`);
    await view(tenantPage, 'usage');
    expect(await tenantPage.textContent('[data-metric="output"] .value')).to.equal('1,000,000');
    await tenantPage.waitForSelector('.chart canvas');
    await shot(tenantPage, 'portal-usage');

    const period = p.clock.now().toISOString().slice(0, 7);
    p.clock.set(new Date(Date.UTC(Number(period.slice(0, 4)), Number(period.slice(5, 7)), 2)));
    // Sessions last 12 hours: after the jump to next month both sign in again.
    await signInWithToken(page, 'console', ADMIN_TOKEN);
    await view(page, 'dashboard');
    await page.goto(`${p.baseUrl}/console/#/billing`);
    await view(page, 'billing');
    await page.fill('form[data-form="close-period"] input[name="period"]', period);
    await page.click('form[data-form="close-period"] button[type="submit"]');
    const invoice = await until(
      'the invoice',
      async () => (await p.request('GET', `/api/v1/invoices?tenantId=${tenantId}`)).body.items[0],
      (x) => x !== undefined,
    );
    await shot(page, 'console-billing');

    await signInWithToken(tenantPage, 'portal', tenantKey);
    await view(tenantPage, 'workloads');
    await tenantPage.goto(`${p.baseUrl}/portal/#/invoices`);
    await view(tenantPage, 'invoices');
    await tenantPage.click(`[data-view-invoice="${invoice.number}"]`);
    await tenantPage.waitForSelector(`[data-invoice="${invoice.number}"]`);
    const [integer, fraction] = String(invoice.total).split('.');
    expect(await tenantPage.textContent(`[data-invoice-total="${invoice.number}"]`)).to.equal(
      `¥${new Intl.NumberFormat('en').format(BigInt(integer!))}.${fraction}`,
    );
    const download = await Promise.all([tenantPage.waitForEvent('download'), tenantPage.click(`[data-csv="${invoice.number}"]`)]).then(([d]) => d);
    const csv = await import('node:fs').then(async (fs) => fs.readFileSync(await download.path(), 'utf8'));
    expect(csv).to.contain(invoice.number).and.contain(`"total","","","","${invoice.total}"`);
    await shot(tenantPage, 'portal-invoices');
  });

  it('lets a tenant admin make a user, who signs in with a password', async () => {
    await tenantPage.goto(`${p.baseUrl}/portal/#/keys`);
    await view(tenantPage, 'keys');
    await tenantPage.fill('form[data-form="new-user"] input[name="username"]', 'liu@panyu');
    await tenantPage.fill('form[data-form="new-user"] input[name="password"]', 'a long passphrase');
    await tenantPage.click('form[data-form="new-user"] button[type="submit"]');
    await tenantPage.waitForSelector('form[data-form="new-user"] .ok');
    const liu = await newPage();
    await liu.goto(`${p.baseUrl}/portal/`);
    await view(liu, 'sign-in');
    await liu.fill('input[name="username"]', 'liu@panyu');
    await liu.fill('input[name="password"]', 'a long passphrase');
    await liu.click('form[data-form="password"] button[type="submit"]');
    await view(liu, 'workloads');
    expect(await liu.textContent('[data-workload-state="leak-detector"]')).to.equal('placed');
    // A member sees the tenant's keys but is offered neither a new key nor a revocation (403s).
    await liu.goto(`${p.baseUrl}/portal/#/keys`);
    await view(liu, 'keys');
    expect(await liu.locator('main table tbody tr').count()).to.be.greaterThan(0);
    expect(await liu.locator('form[data-form="new-key"]').count()).to.equal(0);
    expect(await liu.locator('main button', { hasText: /revoke/i }).count()).to.equal(0);
    expect(await tenantPage.locator('form[data-form="new-key"]').count()).to.equal(1);
  });

  it('lets a tenant admin make a named key with its own rate, listed with them', async () => {
    await tenantPage.goto(`${p.baseUrl}/portal/#/keys`);
    await view(tenantPage, 'keys');
    await tenantPage.fill('form[data-form="new-key"] input[name="name"]', 'ci pipeline');
    await tenantPage.fill('form[data-form="new-key"] input[name="rpm"]', '120');
    await tenantPage.click('form[data-form="new-key"] button[type="submit"]');
    expect(await (await tenantPage.waitForSelector('form[data-form="new-key"] [data-secret]')).textContent()).to.match(/^tp_key_/);
    await tenantPage.reload();
    await view(tenantPage, 'keys');
    const row = tenantPage.locator('main table').first().locator('tbody tr', { hasText: 'ci pipeline' });
    expect(await row.count()).to.equal(1);
    expect(await row.textContent()).to.contain('120');
  });

  it('switches the language, and defaults to the browser’s', async () => {
    await page.goto(`${p.baseUrl}/console/#/dashboard`);
    await view(page, 'dashboard');
    expect(await page.textContent('main h1')).to.equal('Pool');
    await page.click('[data-action="language"]');
    await until(
      'the Chinese page',
      () => page.textContent('main h1'),
      (s) => s === '算力池',
    );
    expect(await page.getAttribute('html', 'lang')).to.equal('zh-CN');
    await shot(page, 'console-dashboard-zh');
    const zh = await newPage('zh-CN');
    await signInWithToken(zh, 'portal', tenantKey);
    await view(zh, 'workloads');
    expect(await zh.textContent('main h1')).to.equal('工作负载');
    await zh.click('[data-action="sign-out"]');
    await view(zh, 'sign-in');
  });
});
