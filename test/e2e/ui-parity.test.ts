/**
 * What the first console and portal (a hand-built page, replaced by ui/) did, done by the UI in
 * Chromium, in English and Chinese: the energy page (measured tokens per joule beside the TDP estimate), the
 * engine catalog with "not configured" images, a cluster registered and a tenant created with
 * their secrets shown once, workloads with how they are called (a shared one made by the
 * operator, a direct one by a tenant), a workload's SLA spells, keys limited in models, tokens,
 * concurrency and time (an expired one marked), the playground's snippets run as shown, the
 * operator's request log with the serving cluster and a tenant's keys, password sign-in and the
 * language switch. Every view must show no page error, no failed request, no unexpected 4xx/5xx
 * and no serious or critical axe-core violation; each is saved to
 * test/e2e/screenshots/ui-parity-*.png (not committed).
 */
import { execFile, execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import type { SimulatedEngine } from '../../adapters/simulated/engine.js';
import { MODEL, serveModel } from '../integration/gateway-fixture.js';
import { ADMIN_TOKEN, startPlatform, type TestPlatform } from '../integration/harness.js';
import { until } from '../until.js';
import { checkView, launchBrowser, newPage, watch } from './browser.js';

const run = promisify(execFile);
const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const H100 = 'NVIDIA-H100-80GB-HBM3';
const OTHER_MODEL = 'qwen2.5-32b-instruct';

interface EnergyFigure {
  clusterName: string | null;
  stdTokensPerJoule: number | null;
  tdpStdTokensPerJoule: number | null;
  joules: number;
}

describe('the new UI does what the old console and portal did (Chromium)', function () {
  this.timeout(180_000);
  let browser: Browser | undefined;
  let p: TestPlatform;
  let engine: SimulatedEngine | undefined;
  let figure: EnergyFigure;
  let energyWorkloadId: string;
  let transit: { id: string; apiKey: string };
  let appKey: string;
  let served: string;
  let refused: string;

  before(async function () {
    browser = await launchBrowser();
    if (!browser) this.skip();
    execFileSync(process.execPath, ['ui/build.mjs'], { stdio: 'inherit' });
    p = await startPlatform('pglite');

    // Energy: a cluster whose agent reports 39 kJ over a minute in which 10,000 tokens were metered.
    const t0 = p.clock.now().getTime();
    const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-energy', region: 'nansha' } })).body;
    const heartbeat = (placements: object[]) =>
      p.request('POST', '/api/v1/agent/heartbeat', {
        token: cluster.agentToken,
        body: { inventory: [{ deviceModel: H100, total: 2, healthy: 2 }], placements },
      });
    await heartbeat([]);
    const viewer = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Energy Viewer', kind: 'enterprise' } })).body;
    const w = (await p.request('POST', '/api/v1/workloads', { token: viewer.apiKey, body: { name: 'meter', model: MODEL, tokensPerMin: 100_000 } })).body;
    energyWorkloadId = w.id;
    await p.app.scheduler.runCycle();
    const placementId = (await heartbeat([])).body.placements[0].id as string;
    await heartbeat([{ id: placementId, readyReplicas: 1, energyJoules: 0, powerWatts: 650 }]);
    p.clock.set(new Date(t0 + 60_000));
    await heartbeat([{ id: placementId, readyReplicas: 1, energyJoules: 39_000, powerWatts: 650 }]);
    await p.app.context.services.usage.meter([
      {
        requestId: 'r-energy',
        tenantId: viewer.id,
        apiKeyId: null,
        workloadId: w.id,
        placementId,
        clusterId: cluster.id,
        inputTokens: 2_000,
        outputTokens: 8_000,
        occurredAt: new Date(t0 + 20_000),
      },
    ]);
    // SLA: its replica is not ready for two minutes, a shortfall spell the cluster is responsible for.
    p.clock.set(new Date(t0 + 120_000));
    await heartbeat([{ id: placementId, readyReplicas: 0, energyJoules: 39_000, powerWatts: 650 }]);
    p.clock.set(new Date(t0 + 240_000));
    await heartbeat([{ id: placementId, readyReplicas: 1, energyJoules: 39_000, powerWatts: 650 }]);
    figure = (await p.request('GET', '/api/v1/energy?groupBy=cluster')).body.items[0];
    expect(figure.stdTokensPerJoule, 'a measured figure').to.be.a('number');
    // Nothing else is placed there: the gateway's model goes to its own cluster.
    await p.request('POST', `/api/v1/clusters/${cluster.id}/cordon`);

    // The gateway: a tenant's model on a simulated engine, a key limited to it, a call served and one refused.
    transit = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Huadu Transit', kind: 'government' } })).body;
    engine = (await serveModel(p, transit.apiKey, { clusterName: 'huadu-1' })).engine;
    appKey = (
      await p.request('POST', `/api/v1/tenants/${transit.id}/api-keys`, { token: transit.apiKey, body: { name: 'transit app', allowedModels: [MODEL] } })
    ).body.key;
    const call = (model: string) =>
      fetch(`${p.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${appKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: '到机场怎么走' }], max_tokens: 5 }),
      });
    const one = await call(MODEL);
    expect(one.status).to.equal(200);
    await one.text();
    served = one.headers.get('x-request-id')!;
    const no = await call(OTHER_MODEL);
    expect(no.status).to.equal(403);
    await no.text();
    refused = no.headers.get('x-request-id')!;
    await until(
      'the calls in the request log',
      async () => (await p.request('GET', `/api/v1/requests?tenantId=${transit.id}`)).body.items as { requestId: string }[],
      (rows) => [served, refused].every((id) => rows.some((r) => r.requestId === id)),
    );
  });

  after(async () => {
    await browser?.close();
    await engine?.close();
    await p?.close();
  });

  for (const [locale, lang] of [
    ['en-US', 'en'],
    ['zh-CN', 'zh'],
  ] as const) {
    const zh = lang === 'zh';
    const text = zh
      ? {
          notConfigured: '未配置',
          gateway: '经 token 网关',
          direct: '集群直连',
          expired: '已过期',
          active: '有效',
          wrongPassword: '用户名或密码错误。',
          nameRule: '小写字母、数字和“-”（DNS 标签）',
          shared: '共享',
        }
      : {
          notConfigured: 'not configured',
          gateway: 'Through the gateway',
          direct: 'Direct on the cluster',
          expired: 'Expired',
          active: 'Active',
          wrongPassword: 'Wrong username or password.',
          nameRule: 'Lower-case letters, digits and "-" (a DNS label)',
          shared: 'Shared',
        };
    const nf = new Intl.NumberFormat(zh ? 'zh-CN' : 'en');
    const sig = (n: number) => new Intl.NumberFormat(zh ? 'zh-CN' : 'en', { maximumSignificantDigits: 3 }).format(n);

    describe(`in ${locale}`, () => {
      let page: Page;
      let problems: string[];
      const expected: RegExp[] = [/^GET \/api\/v1\/session 401$/];
      const check = (name: string) => checkView(page, problems, `ui-parity-${name}-${lang}`);
      const pick = async (trigger: string, option: string) => {
        await page.click(trigger);
        await page.click(`.el-select-dropdown__item:visible >> text="${option}"`);
      };

      before(async () => {
        page = await newPage(browser!, locale, { permissions: ['clipboard-read', 'clipboard-write'] });
        problems = watch(page, expected);
        await page.goto(`${p.baseUrl}/console/overview`);
        await page.waitForSelector('[data-view="login"]');
        await page.click('#tab-token');
        await page.fill('input[name="token"]', ADMIN_TOKEN);
        await page.click('[data-submit]');
        await page.waitForSelector('[data-metric="total"]');
      });

      after(async () => {
        await page?.context().close();
      });

      it("energy: each cluster's measured standard tokens per joule beside the TDP estimate, kWh and power, with a chart", async () => {
        await page.click('[data-nav="/console/energy"]');
        await page.waitForSelector('main[data-view="energy"] h1');
        await page.waitForSelector('[data-measured="nansha-energy"]');
        expect(await page.locator('[data-table="energy"] .el-table__body tr').count()).to.equal(1);
        expect(await page.getAttribute('[data-measured="nansha-energy"]', 'data-value')).to.equal(String(figure.stdTokensPerJoule));
        expect(await page.textContent('[data-measured="nansha-energy"]')).to.equal(sig(figure.stdTokensPerJoule!));
        expect(await page.getAttribute('[data-tdp="nansha-energy"]', 'data-value')).to.equal(String(figure.tdpStdTokensPerJoule));
        expect(await page.textContent('[data-tdp="nansha-energy"]')).to.equal(sig(figure.tdpStdTokensPerJoule!));
        const row = (await page.locator('[data-table="energy"] .el-table__body tr').first().locator('td').allTextContents()).map((s) => s.trim());
        expect(row.slice(0, 3)).to.deep.equal(['nansha-energy', 'nvidia', 'NVIDIA-H100-80GB']);
        expect(await page.textContent('[data-kwh="nansha-energy"]')).to.equal(
          new Intl.NumberFormat(zh ? 'zh-CN' : 'en', { maximumFractionDigits: 3 }).format(figure.joules / 3.6e6),
        );
        await page.waitForSelector('[data-chart="energy"][data-points="1"] canvas');
        await page.waitForSelector('[data-table="throughput"]');
        await check('energy');
      });

      it('engines: every engine the API lists, with its image or "not configured", and its basis', async () => {
        const engines = (await p.request('GET', '/api/v1/engines?limit=1000')).body.items as { name: string; image: string; basis: string }[];
        expect(
          engines.some((e) => !e.image),
          'an engine without an image',
        ).to.equal(true);
        await page.click('[data-nav="/console/catalog"]');
        await page.click('#tab-engines');
        await page.waitForSelector('[data-table="engines"] .el-table__row');
        const rows = await page.$$eval('[data-table="engines"] .el-table__body tr', (trs) =>
          trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())),
        );
        expect(rows).to.have.length(engines.length);
        for (const e of engines) {
          const r = rows.find((x) => x[0] === e.name);
          expect(r, e.name).to.not.equal(undefined);
          expect(r![3], e.name).to.equal(e.image || text.notConfigured);
          expect(r![7], e.name).to.equal(e.basis || '—');
        }
        await check('engines');
      });

      it('registers a cluster (a wrong name refused beside its field), its agent token shown once and working', async () => {
        await page.click('[data-nav="/console/clusters"]');
        await page.waitForSelector('[data-cluster="huadu-1"]');
        await page.click('[data-action="new-cluster"]');
        const form = '[data-form="cluster"]';
        await page.waitForSelector(form);
        await page.fill(`${form} input[name="name"]`, 'Yuexiu One');
        await page.fill(`${form} input[name="region"]`, 'yuexiu');
        await page.click('[data-dialog="cluster"] [data-submit]');
        await page.waitForSelector('[data-field-name="name"] .el-form-item__error');
        expect(await page.textContent('[data-field-name="name"] .el-form-item__error')).to.equal(text.nameRule);
        const name = `yuexiu-${lang}`;
        await page.fill(`${form} input[name="name"]`, name);
        await page.click('[data-dialog="cluster"] [data-submit]');
        const token = (await page.textContent('[data-dialog="cluster-secret"] [data-secret]'))!;
        expect(token).to.match(/^tp_agent_/);
        await check('cluster-token');
        // The agent reports with it.
        const beat = await p.request('POST', '/api/v1/agent/heartbeat', {
          token,
          body: { inventory: [{ deviceModel: H100, total: 4, healthy: 4 }], placements: [] },
        });
        expect(beat.status).to.equal(200);
        await page.click('[data-dialog="cluster-secret"] [data-action="close-secret"]');
        await page.waitForSelector(`[data-cluster="${name}"]`);
        // Cordoned at once: the rest of the suite places nothing there.
        const made = (await p.request('GET', '/api/v1/clusters?limit=1000')).body.items.find((c: { name: string }) => c.name === name);
        expect(made.region).to.equal('yuexiu');
        await p.request('POST', `/api/v1/clusters/${made.id}/cordon`);
        expect(problems).to.deep.equal([]);
      });

      it('creates a tenant, its first API key shown once and working', async () => {
        await page.click('[data-nav="/console/tenants"]');
        await page.waitForSelector('[data-tenant="Huadu Transit"]');
        await page.click('[data-action="new-tenant"]');
        const form = '[data-form="tenant"]';
        await page.waitForSelector(form);
        const name = zh ? '番禺水务' : 'Panyu Water';
        await page.fill(`${form} input[name="name"]`, name);
        await pick(`${form} [data-field-name="kind"] .el-select`, zh ? '企业' : 'Enterprise');
        await page.click('[data-dialog="tenant"] [data-submit]');
        const key = (await page.textContent('[data-dialog="tenant-secret"] [data-secret]'))!;
        expect(key).to.match(/^tp_key_/);
        await check('tenant-key');
        const me = await p.request('GET', '/api/v1/me', { token: key });
        expect(me.status).to.equal(200);
        await page.click('[data-dialog="tenant-secret"] [data-action="close-secret"]');
        await page.waitForSelector(`[data-tenant="${name}"]`);
        const made = (await p.request('GET', '/api/v1/tenants?limit=1000')).body.items.find((x: { name: string }) => x.name === name);
        expect(made).to.include({ kind: 'enterprise', billingMode: 'postpaid' });
        expect(problems).to.deep.equal([]);
      });

      it('makes a shared workload; the list shows which are shared and how each is called', async () => {
        await page.click('[data-nav="/console/workloads/new"]');
        const form = '[data-form="workload"]';
        await page.waitForSelector(form);
        const name = `city-qwen-${lang}`;
        await page.fill(`${form} input[name="name"]`, name);
        await page.click(`${form} [data-field-name="shared"] .el-switch`);
        await page.waitForSelector(`${form} [data-field-name="tenantId"]`, { state: 'detached' });
        await pick(`${form} [data-field-name="model"] .el-select`, MODEL);
        await page.fill(`${form} input[name="tokensPerMin"]`, '2000');
        await page.click('[data-action="create"]');
        await page.waitForSelector('[data-section="workload"]');
        const made = (await p.request('GET', '/api/v1/workloads?limit=1000')).body.items.find((x: { name: string }) => x.name === name);
        expect(made).to.deep.include({ shared: true, access: 'gateway', model: MODEL });

        await page.click('[data-nav="/console/workloads"]');
        await page.waitForSelector(`[data-workload-shared="${name}"]`);
        expect(await page.textContent(`[data-workload-shared="${name}"]`)).to.equal(text.shared);
        expect(await page.textContent(`[data-workload-access="${name}"]`)).to.equal(text.gateway);
        expect(await page.textContent('[data-workload-access="assistant"]')).to.equal(text.gateway);
        expect(await page.locator('[data-workload-shared="assistant"]').count()).to.equal(0);
        await check('workloads');
      });

      it("shows a workload's SLA shortfall spell and the cluster responsible", async () => {
        const sla = (await p.request('GET', `/api/v1/workloads/${energyWorkloadId}/sla`)).body;
        expect(sla.spells.map((s: { reason: string }) => s.reason)).to.deep.equal(['under_replicated']);
        await page.goto(`${p.baseUrl}/console/workloads/${energyWorkloadId}`);
        await page.waitForSelector('[data-section="sla"] [data-spell="under_replicated"]');
        const cells = await page.locator('[data-table="sla-spells"] .el-table__body tr').first().locator('td').allTextContents();
        expect(cells[0]).to.equal(zh ? '副本未就绪' : 'Replicas not ready');
        expect(cells[1]).to.equal('nansha-energy');
        expect(await page.getAttribute('[data-spell-end]', 'data-spell-end')).to.equal(sla.spells[0].endedAt);
        await page.waitForSelector('[data-table="sla-credits"] .el-table__empty-text');
        await check('workload-sla');
      });

      it("shows every tenant's request log with the cluster that served each call, and a tenant's keys", async () => {
        await page.click('[data-nav="/console/logs"]');
        await page.waitForSelector('[data-table="requests"]');
        await page.click('[data-filter="tenant"]');
        await page.click('.el-select-dropdown__item:visible >> text="Huadu Transit"');
        await page.click('[data-search="requests"]');
        await page.waitForSelector(`[data-request-cluster="${served}"]`);
        expect(await page.textContent(`[data-request-cluster="${served}"]`)).to.equal('huadu-1');
        expect(await page.textContent(`[data-request-cluster="${refused}"]`)).to.equal('—');
        const row = page.locator('[data-table="requests"] .el-table__body tr', { has: page.locator(`[data-request-cluster="${served}"]`) });
        expect(await row.textContent())
          .to.contain('Huadu Transit')
          .and.contain(MODEL);
        expect(await page.locator('[data-table="requests"] .el-table__body tr', { hasText: 'Energy Viewer' }).count()).to.equal(0);
        await check('logs');

        await page.goto(`${p.baseUrl}/console/tenants/${transit.id}`);
        await page.waitForSelector('[data-table="api-keys"] >> text=transit app');
        const key = page.locator('[data-table="api-keys"] .el-table__body tr', { hasText: 'transit app' });
        expect(await key.textContent()).to.contain(MODEL);
        expect(problems).to.deep.equal([]);
      });

      if (!zh) {
        it('switches the language from the header', async () => {
          await page.click('[data-nav="/console/energy"]');
          await page.waitForSelector('main[data-view="energy"] h1');
          expect(await page.textContent('main h1')).to.equal('Energy efficiency');
          await page.click('[data-lang-switch]');
          await page.click('.el-select-dropdown__item:visible >> text="中文"');
          await until(
            'the Chinese page',
            () => page.textContent('main h1'),
            (s) => s === '能效',
          );
          expect(await page.getAttribute('html', 'lang')).to.equal('zh-CN');
          expect(await page.textContent('[data-nav="/console/energy"]')).to.contain('能效');
          await page.click('[data-lang-switch]');
          await page.click('.el-select-dropdown__item:visible >> text="English"');
          await until(
            'the English page',
            () => page.textContent('main h1'),
            (s) => s === 'Energy efficiency',
          );
          expect(problems).to.deep.equal([]);
        });
      }

      describe('the portal', () => {
        let portal: Page;
        let seen: string[];
        const portalCheck = (name: string) => checkView(portal, seen, `ui-parity-portal-${name}-${lang}`);

        before(async () => {
          portal = await newPage(browser!, locale, { permissions: ['clipboard-read', 'clipboard-write'] });
          seen = watch(portal, [/^GET \/api\/v1\/session 401$/, /^POST \/api\/v1\/session 401$/]);
        });
        after(async () => {
          await portal?.context().close();
        });

        it('signs a tenant user in with a password, a wrong one refused in the page’s language', async () => {
          const username = `liu-${lang}@huadu`;
          const made = await p.request('POST', '/api/v1/users', {
            body: { username, password: 'a long passphrase', kind: 'tenant', tenantId: transit.id, admin: true },
          });
          expect(made.status).to.equal(201);
          await portal.goto(`${p.baseUrl}/portal`);
          await portal.waitForSelector('[data-view="login"]');
          await portal.fill('input[name="username"]', username);
          await portal.fill('input[name="password"]', 'not the passphrase');
          await portal.click('[data-submit]');
          await portal.waitForSelector('.request-error');
          expect(await portal.textContent('.request-error')).to.contain(text.wrongPassword);
          await portal.fill('input[name="password"]', 'a long passphrase');
          await portal.click('[data-submit]');
          await portal.waitForSelector('main[data-view="playground"] h1');
          expect(seen).to.deep.equal([]);
        });

        it('makes a key limited in models, tokens, concurrency and time; marks an expired key', async () => {
          // The server's clock is the test's (October 2026), the browser's the real one: a key that
          // expires a day after the server's now is accepted, and has expired for the browser.
          const old = `batch-2026-${lang}`;
          const past = await p.request('POST', `/api/v1/tenants/${transit.id}/api-keys`, {
            token: transit.apiKey,
            body: { name: old, expiresAt: new Date(p.clock.now().getTime() + 86_400_000).toISOString() },
          });
          expect(past.status).to.equal(201);
          await portal.click('[data-nav="/portal/keys"]');
          await portal.waitForSelector('[data-table="keys"] [data-state]');
          const name = `transit batch ${lang}`;
          await portal.click('[data-action="create-key"]');
          const dialog = portal.locator('[data-dialog="create-key"]');
          await dialog.locator('input[name="name"]').fill(name);
          await dialog.locator('[data-field="allowedModels"]').click();
          await portal.locator('.el-select-dropdown__item:visible', { hasText: MODEL }).click();
          await dialog.locator('input[name="name"]').click();
          await dialog.locator('.el-date-editor input').fill('2030-01-01 09:00:00');
          await dialog.locator('.el-date-editor input').press('Enter');
          await dialog.locator('input[name="name"]').click();
          await dialog.locator('input[name="tpm"]').fill('50000');
          await dialog.locator('input[name="maxConcurrent"]').fill('4');
          await dialog.locator('input[name="name"]').click();
          await dialog.locator('[data-submit]').click();
          expect(await dialog.locator('[data-secret]').textContent()).to.match(/^tp_key_/);
          const keys = (await p.request('GET', `/api/v1/tenants/${transit.id}/api-keys?limit=1000`)).body.items as {
            name: string | null;
            allowedModels: string[] | null;
            tpm: number | null;
            maxConcurrent: number | null;
            expiresAt: string | null;
          }[];
          const made = keys.find((k) => k.name === name)!;
          expect(made).to.deep.include({ allowedModels: [MODEL], tpm: 50_000, maxConcurrent: 4 });
          expect(made.expiresAt).to.equal(await portal.evaluate(`new Date('2030-01-01T09:00:00').toISOString()`));
          await dialog
            .getByRole('button', { name: zh ? '关闭' : 'Close' })
            .last()
            .click();

          const row = (key: string) => portal.locator('[data-table="keys"] .el-table__body tr', { hasText: key });
          await row(name).waitFor();
          const shown = (await row(name).textContent())!;
          expect(shown).to.contain(MODEL).and.contain(nf.format(50_000)).and.contain(text.active);
          expect(await row(name).locator('[data-state]').getAttribute('data-state')).to.equal('active');
          expect(await row(old).locator('[data-state]').getAttribute('data-state')).to.equal('expired');
          expect(await row(old).textContent()).to.contain(text.expired);
          await portalCheck('keys');
        });

        it("runs the playground's curl and Node snippets as shown, with an API key in TOKENPOOL_API_KEY", async () => {
          await portal.click('[data-nav="/portal/playground"]');
          await portal.waitForSelector(`[data-field="model"] >> text=${MODEL}`);
          const curl = (await portal.textContent('[data-snippet="curl"]'))!;
          expect(curl).to.contain(`${p.baseUrl}/v1/chat/completions`).and.contain(`"model":"${MODEL}"`);
          const env = { ...process.env, TOKENPOOL_API_KEY: appKey };
          const viaCurl = await run('bash', ['-c', curl], { env });
          expect(JSON.parse(viaCurl.stdout)).to.deep.include({ object: 'chat.completion', model: MODEL });
          await portal.click('#tab-node');
          const node = (await portal.textContent('[data-snippet="node"]'))!;
          const viaNode = await run(process.execPath, ['--input-type=module', '-e', node], { cwd: ROOT, env });
          expect(viaNode.stdout.trim()).to.not.equal('');
          expect(seen).to.deep.equal([]);
        });

        it('makes a direct workload; the list shows how each is called', async () => {
          await portal.click('[data-nav="/portal/workloads"]');
          await portal.waitForSelector('[data-workload-access="assistant"]');
          expect(await portal.textContent('[data-workload-access="assistant"]')).to.equal(text.gateway);
          const name = `meter-reader-${lang}`;
          await portal.fill('input[name="name"]', name);
          await portal.click('[data-field="model"]');
          await portal.locator('.el-select-dropdown__item:visible', { hasText: MODEL }).click();
          await portal.fill('input[name="tokensPerMin"]', '500');
          await portal.locator('input[name="tokensPerMin"]').blur();
          await portal.click('[data-field="access"]');
          await portal.locator('.el-select-dropdown__item:visible', { hasText: text.direct }).click();
          await portal.click('[data-action="preview"]');
          await portal.waitForSelector('[data-preview]');
          await portal.waitForSelector('[data-action="create-workload"]:not(.is-disabled)');
          await portal.click('[data-action="create-workload"]');
          await portal.waitForSelector(`[data-workload-access="${name}"]`);
          expect(await portal.textContent(`[data-workload-access="${name}"]`)).to.equal(text.direct);
          const made = (await p.request('GET', '/api/v1/workloads', { token: transit.apiKey })).body.items.find((x: { name: string }) => x.name === name);
          expect(made).to.deep.include({ access: 'direct', shared: false });
          await portal.waitForTimeout(300);
          await portalCheck('workloads');
        });
      });
    });
  }
});
