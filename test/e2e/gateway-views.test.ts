/**
 * The token gateway in the console and the portal, in a real browser: API keys with their limits,
 * "Call the models" (whose snippets are run as given), the request log of calls made through the
 * gateway to a simulated engine, usage per key, and the operator's shared workloads.
 *
 * Skipped, saying why, when /usr/bin/chromium is missing (`.ci/run` installs it).
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import type { SimulatedEngine } from '../../adapters/simulated/engine.js';
import { MODEL, serveModel } from '../integration/gateway-fixture.js';
import { ADMIN_TOKEN, startPlatform, type TestPlatform } from '../integration/harness.js';
import { until } from '../until.js';
import { launchBrowser, newPage, shot, signInWithToken, view } from './browser.js';

const run = promisify(execFile);
const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const OTHER_MODEL = 'qwen2.5-32b-instruct';

interface KeyView {
  id: string;
  name: string | null;
  role: string;
  allowedModels: string[] | null;
  expiresAt: string | null;
  tpm: number | null;
  maxConcurrent: number | null;
}
interface RequestRow {
  requestId: string;
  status: number;
  apiKeyId: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
}

describe('the token gateway in the console and the portal (Chromium)', function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  let p: TestPlatform;
  let engine: SimulatedEngine | undefined;
  let tenant: { id: string; apiKey: string };
  let admin: Page;

  before(async function () {
    browser = await launchBrowser();
    if (!browser) this.skip();
    p = await startPlatform('pglite');
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Huadu Transit', kind: 'government' } })).body;
    // The tenant's gateway workload ("assistant") runs on a simulated engine, as an agent reports it.
    engine = (await serveModel(p, tenant.apiKey, { clusterName: 'huadu-1' })).engine;

    admin = await newPage(browser, 'en-US', { permissions: ['clipboard-read', 'clipboard-write'] });
    await signInWithToken(admin, p.baseUrl, 'portal', tenant.apiKey);
    await view(admin, 'workloads');
  });

  after(async () => {
    await browser?.close();
    await engine?.close();
    await p?.close();
  });

  const keysOf = async () => (await p.request('GET', `/api/v1/tenants/${tenant.id}/api-keys`)).body.items as KeyView[];
  /** A datetime-local input's value for an instant, in the browser's time zone. */
  const localValue = (pg: Page, at: Date) =>
    pg.evaluate((ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16), at.getTime());
  const keyRow = (pg: Page, name: string) => pg.locator('main table').first().locator('tbody tr', { hasText: name });

  let appKey: string;
  let appKeyId: string;

  it('lets a tenant admin make a key limited in models, tokens, concurrency and time, and lists it with them', async () => {
    await admin.goto(`${p.baseUrl}/portal/#/keys`);
    await view(admin, 'keys');
    const f = 'form[data-form="new-key"]';
    await admin.fill(`${f} input[name="name"]`, 'transit app');
    await admin.selectOption(`${f} select[name="role"]`, 'member');
    await admin.check(`${f} input[name="allowedModels"][value="${MODEL}"]`);
    await admin.fill(`${f} input[name="expiresAt"]`, '2030-01-01T09:00');
    await admin.fill(`${f} input[name="tpm"]`, '50000');
    await admin.fill(`${f} input[name="maxConcurrent"]`, '4');
    await admin.click(`${f} button[type="submit"]`);
    appKey = (await (await admin.waitForSelector(`${f} [data-secret]`)).textContent())!;
    expect(appKey).to.match(/^tp_key_/);

    const made = (await keysOf()).find((k) => k.name === 'transit app')!;
    appKeyId = made.id;
    expect(made).to.deep.include({ role: 'member', allowedModels: [MODEL], tpm: 50_000, maxConcurrent: 4 });
    expect(made.expiresAt).to.equal(await admin.evaluate(() => new Date('2030-01-01T09:00').toISOString()));

    await admin.click('[data-action="show-keys"]');
    await admin.waitForSelector('[data-key-state]');
    const row = keyRow(admin, 'transit app');
    expect(await row.count()).to.equal(1);
    const text = (await row.textContent())!;
    expect(text).to.contain(MODEL).and.contain('50,000').and.contain('Member').and.contain('Active');
    expect(await row.locator('td').nth(7).textContent()).to.equal('4');
    // A key with no limits of its own says so.
    expect(await keyRow(admin, 'transit app').locator('td').nth(5).textContent()).to.equal('—');
  });

  it('marks an expired key', async () => {
    // The server runs on the test's fake clock (October 2026), the browser on the real one: a key
    // expiring a day after the fake now is accepted as future, and has expired for the browser.
    await admin.goto(`${p.baseUrl}/portal/#/keys`);
    await view(admin, 'keys');
    const f = 'form[data-form="new-key"]';
    await admin.fill(`${f} input[name="name"]`, 'last year batch');
    await admin.fill(`${f} input[name="expiresAt"]`, await localValue(admin, new Date(p.clock.now().getTime() + 86_400_000)));
    await admin.click(`${f} button[type="submit"]`);
    await admin.waitForSelector(`${f} [data-secret]`);
    await admin.click('[data-action="show-keys"]');
    await admin.waitForSelector('[data-key-state]');
    expect(await keyRow(admin, 'last year batch').locator('[data-key-state]').getAttribute('data-key-state')).to.equal('expired');
    expect(await keyRow(admin, 'last year batch').textContent()).to.contain('Expired');
    expect(await keyRow(admin, 'transit app').locator('[data-key-state]').getAttribute('data-key-state')).to.equal('active');
    await shot(admin, 'portal-keys');
  });

  it('shows the base URL and the callable models, with snippets that copy by keyboard and work as given', async () => {
    await admin.goto(`${p.baseUrl}/portal/#/call`);
    await view(admin, 'call');
    const base = `${p.baseUrl}/v1`;
    expect(await admin.textContent('[data-snippet="Base URL"]')).to.equal(base);
    expect(await admin.textContent(`[data-callable="${MODEL}"]`)).to.equal(MODEL);
    expect(await admin.locator('[data-callable]').count()).to.equal(1);
    expect(await admin.locator('main table tbody tr').first().textContent()).to.contain('assistant');

    await admin.focus('[data-copy="Node.js (openai)"]');
    await admin.keyboard.press('Enter');
    await admin.waitForSelector('text=Copied.');
    const node = String(await admin.evaluate('navigator.clipboard.readText()'));
    expect(node).to.equal(await admin.textContent('[data-snippet="Node.js (openai)"]'));
    const curl = (await admin.textContent('[data-snippet="curl"]'))!;
    expect(curl).to.contain(`${base}/chat/completions`).and.contain(`"model": "${MODEL}"`);
    await shot(admin, 'portal-call');

    // Both snippets, run as shown with the key in place of its placeholder, get an answer (the
    // Node one as a module from the project's directory, where it finds the openai package).
    const viaNode = await run(process.execPath, ['--input-type=module', '-e', node], { cwd: ROOT, env: { ...process.env, TOKENPOOL_API_KEY: appKey } });
    expect(viaNode.stdout.trim()).to.not.equal('');
    const viaCurl = await run('bash', ['-c', curl.replace('tp_key_…', appKey)]);
    expect(JSON.parse(viaCurl.stdout)).to.deep.include({ object: 'chat.completion', model: MODEL });
  });

  let served: string;
  let streamed: string;
  let refused: string;

  it("shows a tenant's calls through the gateway in its request log, filtered and paged", async () => {
    const client = new OpenAI({ apiKey: appKey, baseURL: `${p.baseUrl}/v1`, maxRetries: 0 });
    const one = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: '到机场怎么走' }], max_tokens: 9 }).withResponse();
    served = one.response.headers.get('x-request-id')!;
    const two = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'stream it' }], max_tokens: 5, stream: true })
      .withResponse();
    for await (const chunk of two.data) void chunk;
    streamed = two.response.headers.get('x-request-id')!;
    const no = await fetch(`${p.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${appKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: OTHER_MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(no.status).to.equal(403);
    refused = no.headers.get('x-request-id')!;
    const logged = await until(
      'the calls in the request log',
      async () => (await p.request('GET', `/api/v1/requests?apiKeyId=${appKeyId}`)).body.items as RequestRow[],
      (rows) => [served, streamed, refused].every((id) => rows.some((r) => r.requestId === id)),
    );
    const first = logged.find((r) => r.requestId === served)!;

    await admin.goto(`${p.baseUrl}/portal/#/requests`);
    await view(admin, 'requests');
    const row = (id: string) => admin.locator('main table tbody tr', { has: admin.locator(`[data-request="${id}"]`) });
    const cells = async (id: string) => row(id).locator('td').allTextContents();
    // Request id, time, key, model, cluster, status, prompt, completion, TTFT, duration, streamed.
    const a = await cells(served);
    expect(a[2]).to.equal('transit app');
    expect(a[3]).to.equal(MODEL);
    expect(a[5]).to.equal('200');
    expect(a[6]).to.equal(String(first.promptTokens));
    expect(a[7]).to.equal('9');
    expect(a[8]).to.match(/^\d+$/);
    expect(a[10]).to.equal('No');
    const b = await cells(streamed);
    expect([b[5], b[7], b[10]]).to.deep.equal(['200', '5', 'Yes']);
    const c = await cells(refused);
    expect(c[5]).to.equal('403 model_not_allowed');
    expect([c[4], c[7]]).to.deep.equal(['—', '—']);
    await shot(admin, 'portal-requests');

    // Filters: the key and the status go to the API, and the page shows what it answers.
    await admin.selectOption('form[data-form="request-filters"] select[name="apiKeyId"]', appKeyId);
    await admin.fill('form[data-form="request-filters"] input[name="status"]', '403');
    await admin.click('form[data-form="request-filters"] button[type="submit"]');
    await until(
      'the filtered log',
      () => admin.locator('main table tbody tr').count(),
      (n) => n === 1,
    );
    expect(await admin.locator(`[data-request="${refused}"]`).count()).to.equal(1);
    expect(await admin.inputValue('form[data-form="request-filters"] input[name="status"]')).to.equal('403');

    // Pages of two, by the API's cursor: every call is on one page and on no other.
    await admin.goto(`${p.baseUrl}/portal/#/requests?limit=2&apiKeyId=${appKeyId}`);
    await view(admin, 'requests');
    const seen: string[] = [];
    for (;;) {
      seen.push(...(await admin.locator('[data-request]').allTextContents()));
      const next = admin.locator('[data-page="next"]');
      if ((await next.count()) === 0) break;
      const before = admin.url();
      await next.click();
      await until(
        'the next page',
        async () => admin.url(),
        (u) => u !== before,
      );
      await view(admin, 'requests');
    }
    expect(seen)
      .to.have.length(logged.length)
      .and.have.members(logged.map((r) => r.requestId));
    expect(await admin.locator('[data-page="first"]').count()).to.equal(1);
  });

  it("shows the tenant's tokens per API key in its usage, once the API gives them", async () => {
    const usage = (await p.request('GET', '/api/v1/usage', { token: tenant.apiKey })).body;
    await admin.goto(`${p.baseUrl}/portal/#/usage`);
    await view(admin, 'usage');
    if (!Array.isArray(usage.byApiKey)) {
      // The API does not give usage per key (yet): the portal shows no such table.
      expect(await admin.locator('h2', { hasText: 'By API key' }).count()).to.equal(0);
      return;
    }
    const mine = usage.byApiKey.find((k: { apiKeyId: string | null }) => k.apiKeyId === appKeyId);
    expect(mine, 'the key that made the calls').to.not.equal(undefined);
    const cells = await admin
      .locator('main table tbody tr', { has: admin.locator(`[data-usage-key="${appKeyId}"]`) })
      .locator('td')
      .allTextContents();
    const en = new Intl.NumberFormat('en', { maximumFractionDigits: 2 });
    expect(cells).to.deep.equal(['transit app', en.format(mine.inputTokens), en.format(mine.outputTokens), en.format(mine.stdTokens)]);
    expect(Number(mine.outputTokens)).to.be.greaterThan(13);
    await shot(admin, 'portal-usage-keys');
  });

  it("shows the operator every tenant's request log, a tenant's keys, and workloads with their access; makes a shared workload", async () => {
    const op = await newPage(browser!);
    await signInWithToken(op, p.baseUrl, 'console', ADMIN_TOKEN);
    await view(op, 'dashboard');
    await op.goto(`${p.baseUrl}/console/#/requests`);
    await view(op, 'requests');
    await op.selectOption('form[data-form="request-filters"] select[name="tenantId"]', tenant.id);
    await op.click('form[data-form="request-filters"] button[type="submit"]');
    await op.waitForSelector('form[data-form="request-filters"] select[name="apiKeyId"]');
    const cells = await op
      .locator('main table tbody tr', { has: op.locator(`[data-request="${served}"]`) })
      .locator('td')
      .allTextContents();
    // The operator's log has the tenant's name, and the cluster's.
    expect([cells[2], cells[3], cells[5], cells[6]]).to.deep.equal(['Huadu Transit', 'transit app', 'huadu-1', '200']);
    await shot(op, 'console-requests');

    await op.goto(`${p.baseUrl}/console/#/tenants`);
    await view(op, 'tenants');
    await op.click('[data-tenant-keys="Huadu Transit"]');
    await view(op, 'keys');
    expect(await keyRow(op, 'transit app').textContent()).to.contain(MODEL);
    expect(await op.locator('form[data-form="new-key"]').count()).to.equal(1);

    await op.goto(`${p.baseUrl}/console/#/workloads`);
    await view(op, 'workloads');
    expect(await op.textContent('[data-workload-access="assistant"]')).to.equal('Gateway');
    const f = 'form[data-form="create-workload"]';
    await op.fill(`${f} input[name="name"]`, 'city-qwen');
    await op.selectOption(`${f} select[name="model"]`, MODEL);
    await op.fill(`${f} input[name="tokensPerMin"]`, '2000');
    await op.check(`${f} input[name="shared"]`);
    await op.click(`${f} button[type="submit"]`);
    await op.waitForSelector('[data-workload-shared="city-qwen"]');
    const shared = (await p.request('GET', '/api/v1/workloads')).body.items.find((x: { name: string }) => x.name === 'city-qwen');
    expect(shared).to.deep.include({ shared: true, access: 'gateway', model: MODEL });
    await shot(op, 'console-workloads');
  });

  it('shows the new views in Chinese, and makes a direct workload', async () => {
    const zh = await newPage(browser!, 'zh-CN');
    await signInWithToken(zh, p.baseUrl, 'portal', tenant.apiKey);
    await view(zh, 'workloads');
    expect(await zh.textContent('[data-workload-access="assistant"]')).to.equal('网关');
    // A tenant may make a direct workload (called on the cluster, billed from its agent's reports).
    const f = 'form[data-form="create-workload"]';
    await zh.fill(`${f} input[name="name"]`, 'meter-reader');
    await zh.fill(`${f} input[name="tokensPerMin"]`, '500');
    await zh.selectOption(`${f} select[name="access"]`, 'direct');
    await zh.click(`${f} button[type="submit"]`);
    await zh.waitForSelector('[data-workload-access="meter-reader"]');
    expect(await zh.textContent('[data-workload-access="meter-reader"]')).to.equal('直连');
    const made = (await p.request('GET', '/api/v1/workloads', { token: tenant.apiKey })).body.items.find((x: { name: string }) => x.name === 'meter-reader');
    expect(made).to.deep.include({ access: 'direct', shared: false });
    for (const [hash, title] of [
      ['call', '调用模型'],
      ['requests', '请求日志'],
    ]) {
      await zh.goto(`${p.baseUrl}/portal/#/${hash}`);
      await view(zh, hash!);
      expect(await zh.textContent('main h1')).to.equal(title);
    }
    expect(await zh.locator('main table th', { hasText: '首 token（毫秒）' }).count()).to.equal(1);
  });
});
