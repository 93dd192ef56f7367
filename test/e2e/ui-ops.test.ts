/**
 * The operator console's platform views (ui/src/views/ops) in Chromium, in English and Chinese:
 * the overview's trend opening with the last 24 hours of GET /api/v1/history, and the catalog
 * (device profiles, models, engines) listed, validated, created, edited and deleted. Every view
 * must load with no page error, no failed request and no serious or critical axe-core violation;
 * each is saved to test/e2e/screenshots/ui-ops-*.png (not committed).
 */
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_TOKEN, startPlatform, type TestPlatform } from '../integration/harness.js';
import { axeViolations, launchBrowser, newPage, shot, watch } from './browser.js';

const HOUR = 3_600_000;

describe('the operator console platform views (/console) in Chromium', function () {
  this.timeout(180_000);
  let browser: Browser | undefined;
  let p: TestPlatform;
  let tenantId: string;
  let refusedStatus: number;

  before(async function () {
    browser = await launchBrowser();
    if (!browser) this.skip();
    execFileSync(process.execPath, ['ui/build.mjs'], { stdio: 'inherit' });
    p = await startPlatform('pglite');
    // Two hours of history before now: a minute sampled every ten minutes, the rest gaps.
    p.clock.set(new Date(Date.now() - 2 * HOUR));
    const c = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-1', region: 'nansha' } })).body;
    const beat = () =>
      p.request('POST', '/api/v1/agent/heartbeat', {
        token: c.agentToken,
        body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 8 }] },
      });
    for (let i = 0; i < 12; i++) {
      await beat();
      await p.app.history.sample();
      p.clock.advance(10 * 60_000);
    }
    p.clock.set(new Date());
    await beat();
    const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Guangzhou Transport Bureau', kind: 'government' } })).body;
    tenantId = tenant.id;
    // A gateway call refused (nothing serves the model yet): a line of the request log.
    const refused = await p.request('POST', '/v1/chat/completions', {
      token: tenant.apiKey,
      body: { model: 'qwen2.5-7b-instruct', messages: [{ role: 'user', content: 'hi' }] },
    });
    refusedStatus = refused.status;
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

      const check = async (name: string) => {
        expect(problems, `${name}: problems`).to.deep.equal([]);
        await page.waitForSelector('.el-loading-mask', { state: 'detached' });
        expect(await axeViolations(page), `${name}: axe`).to.deep.equal([]);
        await shot(page, `ui-ops-${name}-${lang}`);
      };

      it('opens the overview trend with the last 24 hours of history', async () => {
        page = await newPage(browser!, locale);
        problems = watch(page);
        const history = page.waitForResponse((r) => r.url().includes('/api/v1/history'));
        await page.goto(`${p.baseUrl}/login?next=/console/overview`);
        await page.click('#tab-token');
        await page.fill('input[name="token"]', ADMIN_TOKEN);
        await page.click('[data-submit]');
        const answer = await (await history).json();
        expect(answer.points.length).to.be.within(288, 300);
        const sampled = answer.points.filter((x: { minutes: number }) => x.minutes > 0);
        expect(sampled.length).to.be.within(10, 13);
        expect(sampled[0].totalStdPerMin).to.be.greaterThan(0);
        // Every bucket is on the chart (gaps included), with the live points after them.
        // A string: the page's globals are not this program's.
        await page.waitForFunction(`Number(document.querySelector('[data-chart="trend"]')?.getAttribute('data-points')) >= ${answer.points.length}`);
        await page.waitForSelector('canvas');
        await check('overview');
      });

      it("opens the cockpit's trend with the same history", async () => {
        const wall = await newPage(browser!, locale, { viewport: { width: 1920, height: 1080 } });
        const wallProblems = watch(wall);
        await wall.context().addCookies(await page.context().cookies());
        await wall.goto(`${p.baseUrl}/login`);
        await wall.evaluate("localStorage.setItem('tokenpool.signedIn', '1')");
        const history = wall.waitForResponse((r) => r.url().includes('/api/v1/history'));
        await wall.goto(`${p.baseUrl}/cockpit`);
        const answer = await (await history).json();
        await wall.waitForFunction(`Number(document.querySelector('[data-chart="trend"]')?.getAttribute('data-points')) >= ${answer.points.length}`);
        expect(wallProblems).to.deep.equal([]);
        await wall.context().close();
      });

      it('lists, validates, creates, edits and deletes a device profile', async () => {
        const name = `Test-Accel-${lang}`;
        await page.click('[data-nav="/console/catalog"]');
        await page.waitForSelector('[data-table="device-profiles"] .el-table__row');
        expect(await page.textContent('[data-table="device-profiles"]')).to.contain('NVIDIA-H100-80GB-HBM3');
        await check('catalog-profiles');

        await page.click('[data-action="new-device-profiles"]');
        await page.waitForSelector('[data-dialog="device-profiles"] [data-form="device-profiles"]');
        await page.click('[data-dialog="device-profiles"] [data-submit]');
        await page.waitForSelector('[data-field-name="name"] .el-form-item__error');
        expect(await page.textContent('[data-field-name="name"] .el-form-item__error')).to.equal(lang === 'en' ? 'Required' : '必填');
        expect(problems, 'nothing sent').to.deep.equal([]);
        const form = '[data-form="device-profiles"]';
        await page.fill(`${form} input[name="name"]`, name);
        await page.fill(`${form} input[name="vendor"]`, 'testvendor');
        await page.fill(`${form} input[name="memoryGiB"]`, '64');
        await page.fill(`${form} input[name="tdpWatts"]`, '300');
        await page.fill(`${form} input[name="stdTokensPerSec"]`, '1500');
        await page.fill(`${form} input[name="resourceName"]`, 'not a resource');
        await page.click('[data-dialog="device-profiles"] [data-submit]');
        // The API's field error, next to its field (waited for by its text: the form's own "Required"
        // of the first submit may still stand there until the answer comes).
        await page.locator('[data-field-name="resourceName"] .el-form-item__error', { hasText: 'Kubernetes resource name' }).waitFor();
        // The 400 and Chromium's console line about it, expected.
        expect(problems.splice(0).every((x) => x.includes('400'))).to.equal(true);
        await page.fill(`${form} input[name="resourceName"]`, 'example.com/accel');
        await page.click('[data-dialog="device-profiles"] [data-submit]');
        await page.waitForSelector(`[data-table="device-profiles"] >> text=${name}`);
        const listed = (await p.request('GET', '/api/v1/device-profiles?limit=1000')).body.items.find((x: { name: string }) => x.name === name);
        expect(listed).to.include({ vendor: 'testvendor', memoryGiB: 64, tdpWatts: 300, stdTokensPerSec: 1500, resourceName: 'example.com/accel' });

        await page.click(`[data-edit="${name}"]`);
        await page.fill(`${form} input[name="tdpWatts"]`, '350');
        const patched = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().endsWith(`/api/v1/device-profiles/${listed.id}`));
        await page.click('[data-dialog="device-profiles"] [data-submit]');
        expect((await (await patched).json()).tdpWatts).to.equal(350);
        await page.waitForSelector('[data-dialog="device-profiles"]', { state: 'hidden' });

        await page.click(`[data-delete="${name}"]`);
        await page.click('.el-message-box__btns .el-button--primary');
        await page.waitForSelector(`[data-table="device-profiles"] >> text=${name}`, { state: 'detached' });
        expect((await p.request('GET', `/api/v1/device-profiles/${listed.id}`)).status).to.equal(404);
        expect(problems).to.deep.equal([]);
      });

      it('lists the models and the serving engines', async () => {
        await page.click(`#tab-models`);
        await page.waitForSelector('[data-table="models"] .el-table__row');
        await check('catalog-models');
        await page.click(`#tab-engines`);
        await page.waitForSelector('[data-table="engines"] .el-table__row');
        expect(await page.textContent('[data-table="engines"]')).to.contain('vllm');
        await check('catalog-engines');
      });

      it('creates a unit plan with VAT and per-model prices, and a monthly package, and makes the unit plan the default', async () => {
        const name = `Standard ${lang}`;
        await page.click('[data-nav="/console/plans"]');
        await page.waitForSelector('[data-table="plans"]');
        await page.click('[data-action="new-plans"]');
        const form = '[data-form="plans"]';
        await page.waitForSelector(form);
        await page.fill(`${form} input[name="name"]`, name);
        await page.fill(`${form} input[name="pricePerMillionStd"]`, '2.50');
        await page.fill(`${form} textarea[name="modelPrices"]`, 'qwen2.5-7b-instruct=x1.5\nqwen2.5-72b-instruct=12.00');
        await page.fill(`${form} input[name="vatRate"]`, '0.0625');
        await page.click('[data-dialog="plans"] [data-submit]');
        await page.waitForSelector(`[data-table="plans"] >> text=${name}`);
        const plans = (await p.request('GET', '/api/v1/plans?limit=1000')).body.items;
        const unit = plans.find((x: { name: string }) => x.name === name);
        expect(unit).to.deep.include({
          type: 'unit',
          pricePerMillionStd: '2.50',
          vatRate: '0.0625',
          modelPrices: { 'qwen2.5-7b-instruct': { multiplier: '1.5' }, 'qwen2.5-72b-instruct': { pricePerMillionStd: '12.00' } },
        });
        expect(await page.textContent('[data-table="plans"]')).to.contain('6.25%');

        await page.click('[data-action="new-plans"]');
        await page.waitForSelector(form);
        await page.fill(`${form} input[name="name"]`, `Package ${lang}`);
        await page.click(`${form} [data-field-name="type"] .el-select`);
        await page.click(`.el-select-dropdown__item >> text=${lang === 'en' ? 'Monthly package' : '包月套餐'}`);
        await page.fill(`${form} input[name="fee"]`, '1000');
        await page.fill(`${form} input[name="includedStd"]`, '500000000');
        await page.click('[data-dialog="plans"] [data-submit]');
        await page.waitForSelector(`[data-table="plans"] >> text=Package ${lang}`);
        const periodic = (await p.request('GET', '/api/v1/plans?limit=1000')).body.items.find((x: { name: string }) => x.name === `Package ${lang}`);
        expect(periodic).to.deep.include({ type: 'periodic', fee: '1000.00', includedStd: 500000000, overagePricePerMillionStd: null, vatRate: '0.06' });

        await page.click(`[data-make-default="${name}"]`);
        await page.waitForSelector(`[data-make-default="${name}"]`, { state: 'detached' });
        expect((await p.request('GET', `/api/v1/plans/${unit.id}`)).body.default).to.equal(true);
        await check('plans');
      });

      it("sets a tenant's quota, priority and limits, subscribes it to a plan, and manages its users and keys", async () => {
        await page.click('[data-nav="/console/tenants"]');
        await page.click('[data-tenant="Guangzhou Transport Bureau"]');
        await page.waitForSelector('[data-section="settings"]');
        await page.waitForSelector('[data-table="api-keys"] .el-table__row');
        await check('tenant');

        await page.click('[data-action="edit-tenant"]');
        const form = '[data-form="tenant"]';
        await page.waitForSelector(form);
        // Each language sets its own values (the tenant is shared).
        const [quota, rpm, priority, priorityText] = lang === 'en' ? [500000, 600, 'high', 'High'] : [400000, 300, 'low', '低'];
        await page.fill(`${form} input[name="maxStdPerMin"]`, String(quota));
        await page.fill(`${form} input[name="rpm"]`, String(rpm));
        await page.click(`${form} [data-field-name="maxPriority"] .el-select`);
        await page.click(`.el-select-dropdown__item:visible >> text=${priorityText}`);
        const patched = page.waitForResponse((r) => r.request().method() === 'PATCH');
        await page.click('[data-dialog="tenant"] [data-submit]');
        expect((await patched).request().postDataJSON()).to.deep.equal({ maxStdPerMin: quota, maxPriority: priority, rpm });
        await page.waitForSelector(`[data-value="maxPriority"] >> text=${priorityText}`);
        expect((await p.request('GET', `/api/v1/tenants/${tenantId}`)).body).to.include({ maxStdPerMin: quota, maxPriority: priority, rpm });

        // Subscribed to the unit plan made above, from a date.
        await page.click('[data-action="new-subscriptions"]');
        await page.click('[data-form="subscriptions"] [data-field-name="planId"] .el-select');
        await page.click(`.el-select-dropdown__item:visible >> text="Standard ${lang}"`);
        const starts = lang === 'en' ? '2027-01-01T00:00:00+08:00' : '2027-02-01T00:00:00+08:00';
        await page.fill('[data-form="subscriptions"] input[name="startsAt"]', starts);
        await page.click('[data-dialog="subscriptions"] [data-submit]');
        await page.waitForSelector(`[data-table="subscriptions"] >> text=Standard ${lang}`);
        const subs = (await p.request('GET', `/api/v1/tenants/${tenantId}/subscriptions`)).body.items;
        expect(subs.find((x: { planName: string }) => x.planName === `Standard ${lang}`).startsAt).to.equal(new Date(starts).toISOString());

        const user = `gz-ops-${lang}`;
        await page.click('[data-action="new-users"]');
        await page.fill('[data-form="users"] input[name="username"]', user);
        await page.fill('[data-form="users"] input[name="password"]', 'correct-horse-battery');
        await page.click('[data-dialog="users"] [data-submit]');
        await page.waitForSelector(`[data-table="users"] >> text=${user}`);
        await page.click(`[data-toggle="${user}"]`);
        await page.waitForSelector(`[data-table="users"] >> text=${lang === 'en' ? 'Disabled' : '已停用'}`);
        const listed = (await p.request('GET', `/api/v1/users?tenantId=${tenantId}`)).body.items.find((u: { username: string }) => u.username === user);
        expect(listed).to.include({ disabled: true, kind: 'tenant', tenantId });
        await page.click(`[data-toggle="${user}"]`);
        await page.waitForSelector(`[data-table="users"] >> text=${lang === 'en' ? 'Active' : '有效'}`);
        await page.click(`[data-reset="${user}"]`);
        await page.fill('.el-message-box input', 'a-brand-new-password');
        const reset = page.waitForResponse((r) => r.request().method() === 'PATCH');
        await page.click('.el-message-box__btns .el-button--primary');
        expect((await reset).status()).to.equal(200);
        const signIn = await p.request('POST', '/api/v1/session', { token: null, body: { username: user, password: 'a-brand-new-password' } });
        expect(signIn.status).to.equal(201);
        await page.click(`[data-delete="${user}"]`);
        await page.click('.el-message-box__btns .el-button--primary');
        await page.waitForSelector(`[data-table="users"] >> text=${user}`, { state: 'detached' });

        const keyName = `ci-${lang}`;
        await page.click('[data-action="new-api-keys"]');
        await page.fill('[data-form="api-keys"] input[name="name"]', keyName);
        await page.click('[data-form="api-keys"] [data-field-name="allowedModels"] .el-select');
        await page.click('.el-select-dropdown__item:visible >> text=qwen2.5-7b-instruct');
        await page.keyboard.press('Escape');
        await page.fill('[data-form="api-keys"] input[name="rpm"]', '60');
        await page.click('[data-dialog="api-keys"] [data-submit]');
        await page.waitForSelector('[data-new-key]');
        const key = await page.inputValue('[data-new-key]');
        expect(key).to.match(/^tp_/);
        await check('tenant-key');
        await page.click('[data-dialog="new-key"] .el-button--primary');
        const keys = (await p.request('GET', `/api/v1/tenants/${tenantId}/api-keys`)).body.items;
        const made = keys.find((k: { name: string | null }) => k.name === keyName);
        expect(made).to.deep.include({ role: 'member', allowedModels: ['qwen2.5-7b-instruct'], rpm: 60, revokedAt: null });
        await page.click(`[data-delete="${keyName}"]`);
        await page.click('.el-message-box__btns .el-button--primary');
        await page.waitForSelector(`[data-delete="${keyName}"][disabled], [data-delete="${keyName}"].is-disabled`);
        expect(
          (await p.request('GET', `/api/v1/tenants/${tenantId}/api-keys`)).body.items.find((k: { id: string }) => k.id === made.id).revokedAt,
        ).to.not.equal(null);
        expect(problems).to.deep.equal([]);
      });

      it("previews a tenant's workload with a dry run, creates it, rescales it and deletes it", async () => {
        await page.goto(`${p.baseUrl}/console/tenants/${tenantId}`);
        await page.click('[data-action="new-workload"]');
        const form = '[data-form="workload"]';
        await page.waitForSelector(form);
        const select = async (field: string, text: string) => {
          await page.click(`${form} [data-field-name="${field}"] .el-select`);
          await page.click(`.el-select-dropdown__item:visible >> text="${text}"`);
        };
        expect(await page.textContent(`${form} [data-field-name="tenantId"]`)).to.contain('Guangzhou Transport Bureau');
        await page.fill(`${form} input[name="name"]`, `chat-${lang}`);
        await select('model', 'qwen2.5-7b-instruct');
        await select('priority', lang === 'en' ? 'Low' : '低');
        await page.fill(`${form} input[name="tokensPerMin"]`, '180000');
        await page.click('[data-action="preview"]');
        await page.waitForSelector('[data-table="preview"] .el-table__row');
        expect(await page.getAttribute('[data-preview-placed]', 'data-value')).to.equal('180000');
        expect(await page.textContent('[data-table="preview"]')).to.contain('nansha-1');
        // A dry run changes nothing.
        expect((await p.request('GET', `/api/v1/workloads?tenantId=${tenantId}`)).body.items).to.have.length(0);
        // A rule's message shown while a select changed fades out: look once it is gone.
        await page.waitForSelector('.el-form-item__error', { state: 'detached' });
        await check('workload-new');

        await page.click('[data-action="create"]');
        await page.waitForSelector('[data-section="workload"]');
        const wid = page.url().split('/').pop()!;
        const made = (await p.request('GET', `/api/v1/workloads/${wid}`)).body;
        expect(made).to.include({ name: `chat-${lang}`, tenantId, model: 'qwen2.5-7b-instruct', tokensPerMin: 180000, priority: 'low' });
        await check('workload');

        await page.fill('[data-input="scale"] input', '360000');
        const rescaled = page.waitForResponse((r) => r.request().method() === 'PATCH');
        await page.click('[data-action="rescale"]');
        expect((await rescaled).status()).to.equal(200);
        await page.waitForSelector('[data-value="tokensPerMin"] >> text=/360/');
        expect((await p.request('GET', `/api/v1/workloads/${wid}`)).body.tokensPerMin).to.equal(360000);

        await page.click('[data-action="delete"]');
        await page.click('.el-message-box__btns .el-button--primary');
        await page.waitForSelector('[data-section="workload"] [data-state="deleted"]');
        expect((await p.request('GET', `/api/v1/workloads/${wid}`)).body.state).to.equal('deleted');
        expect(problems).to.deep.equal([]);
      });

      it('shows the request log, the audit log and the alerts, with filters', async () => {
        await page.click('[data-nav="/console/logs"]');
        await page.waitForSelector('[data-table="requests"] .el-table__row');
        expect(await page.textContent('[data-table="requests"]')).to.contain('qwen2.5-7b-instruct');
        await check('logs-requests');
        await page.fill('[data-filters="requests"] input[name="status"]', '200');
        const filtered = page.waitForResponse((r) => r.url().includes('/api/v1/requests') && r.url().includes('status=200'));
        await page.click('[data-search="requests"]');
        expect((await (await filtered).json()).items).to.have.length(0);
        await page.waitForSelector('[data-table="requests"] .el-table__empty-text');
        await page.fill('[data-filters="requests"] input[name="status"]', String(refusedStatus));
        await page.click('[data-search="requests"]');
        await page.waitForSelector('[data-table="requests"] .el-table__row');

        await page.click('#tab-audit');
        await page.waitForSelector('[data-table="audit"] .el-table__row');
        await page.fill('[data-filters="audit"] input[name="route"]', '/api/v1/plans');
        const audited = page.waitForResponse((r) => r.url().includes('/api/v1/audit') && r.url().includes('route='));
        await page.click('[data-search="audit"]');
        const entries = (await (await audited).json()).items as { route: string }[];
        expect(entries.length).to.be.greaterThan(0);
        expect(entries.every((e) => e.route.startsWith('/api/v1/plans'))).to.equal(true);
        await page.waitForSelector('[data-table="audit"] .el-table__row');
        await check('logs-audit');

        await page.click('#tab-alerts');
        await page.waitForSelector('[data-table="alerts"]');
        await check('logs-alerts');
      });
    });
  }
});
