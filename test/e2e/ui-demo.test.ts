/**
 * The demo city as `npm start` serves it (bin/tokenpool.ts as a child process with the demo on),
 * in Chromium, in English and Chinese: the operator signs in with the printed admin token and opens
 * every page of the console's menu and the cockpit at 1920×1080 (its trend opening with the demo's
 * last day); a demo tenant signs in with its
 * printed API key, opens every page of the portal's menu and chats in the playground with a model
 * the city's simulated replicas serve. Meanwhile the demo tenants' applications call the gateway. Every page must show no page error, no failed request, no
 * answer ≥ 400 and no serious or critical axe-core violation; each is saved to
 * test/e2e/screenshots/ui-demo-*.png (not committed).
 */
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { killAll, ServerProcess } from '../server-process.js';
import { until } from '../until.js';
import { checkView, launchBrowser, newPage, watch } from './browser.js';

const ADMIN = 'tp_admin_ui-demo-operator-0123456789abcdef';
/** On the demo's monthly package (gov-standard: 50 billion standard tokens included). */
const TENANT = 'Guangzhou Transport Bureau';

describe('the demo city of `npm start` in Chromium', function () {
  this.timeout(180_000);
  let browser: Browser | undefined;
  let baseUrl: string;
  let tenantKey: string;

  before(async function () {
    browser = await launchBrowser();
    if (!browser) this.skip();
    execFileSync(process.execPath, ['ui/build.mjs'], { stdio: 'inherit' });
    const server = new ServerProcess({ DATABASE_URL: 'pglite://memory', PORT: '0', TOKENPOOL_DEMO: '1', TOKENPOOL_ADMIN_TOKEN: ADMIN });
    baseUrl = await server.listening();
    tenantKey = new RegExp(`demo tenant "${TENANT}": API key \\(shown once\\) (\\S+)`).exec(server.stdout)![1]!;
    await until(
      'the demo city: six ready clusters and a running workload of the tenant',
      async () => {
        const get = (path: string, token: string) => fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json());
        const pool = (await get('/api/v1/pool', ADMIN)) as { clusters: { ready: number } };
        const mine = (await get('/api/v1/workloads', tenantKey)) as { items: { state: string }[] };
        return pool.clusters.ready >= 6 && mine.items.some((w) => w.state === 'running');
      },
      (ok) => ok,
      60_000,
      500,
    );
    // The demo's last day (its agents' usage of every minute, then recorded in the history), so that
    // the charts open with a day behind them.
    await until(
      'the demo city: the last day in the history',
      async () => {
        const res = await fetch(`${baseUrl}/api/v1/history?step=1h`, { headers: { authorization: `Bearer ${ADMIN}` } });
        const points = ((await res.json()) as { points: { countedMinutes: number; stdTokens: string | null }[] }).points;
        return points.filter((x) => x.countedMinutes > 0 && Number(x.stdTokens) > 0).length;
      },
      (hours) => hours >= 24,
      60_000,
      500,
    );
    // The demo tenants' applications calling the gateway (bin/demo-traffic.ts).
    await until(
      'the demo city: calls through the gateway',
      async () => {
        const res = await fetch(`${baseUrl}/api/v1/requests?limit=50`, { headers: { authorization: `Bearer ${ADMIN}` } });
        return ((await res.json()) as { items: { status: number }[] }).items.filter((r) => r.status === 200).length;
      },
      (answered) => answered >= 3,
      60_000,
      500,
    );
  });

  after(async () => {
    await browser?.close();
    await killAll();
  });

  /** Opens every page of the signed-in area's menu in turn, checking each. */
  async function everyMenuPage(page: Page, problems: string[], area: 'console' | 'portal', lang: string): Promise<string[]> {
    const paths = await page.$$eval(`[data-nav^="/${area}/"]`, (items) => items.map((i) => i.getAttribute('data-nav')!));
    for (const path of paths) {
      await page.click(`[data-nav="${path}"]`);
      await page.waitForURL(`**${path}`);
      await page.waitForSelector('main[data-view] h1');
      // Every request the page made on opening has been answered (or failed, which `problems` holds).
      await page.waitForLoadState('networkidle');
      await checkView(page, problems, `ui-demo-${path.slice(1).replace(/\//g, '-')}-${lang}`);
    }
    return paths;
  }

  for (const [locale, lang] of [
    ['en-US', 'en'],
    ['zh-CN', 'zh'],
  ] as const) {
    describe(`in ${locale}`, () => {
      let page: Page;
      let problems: string[];

      it('signs the operator in with the admin token and opens every page of the console', async () => {
        page = await newPage(browser!, locale);
        problems = watch(page);
        await page.goto(baseUrl);
        await page.waitForSelector('[data-view="login"]');
        await page.click('#tab-token');
        await page.fill('input[name="token"]', ADMIN);
        await page.click('[data-submit]');
        await page.waitForSelector('[data-metric="total"]');
        const paths = await everyMenuPage(page, problems, 'console', lang);
        expect(paths).to.include.members(['/console/overview', '/console/clusters', '/console/energy', '/console/settlement', '/console/logs']);
        // The demo's clusters are listed.
        await page.click('[data-nav="/console/clusters"]');
        await page.waitForSelector('[data-table="clusters"] .el-table__row');
        expect(await page.$$('[data-table="clusters"] .el-table__row')).to.have.length.of.at.least(6);
      });

      it('shows the cockpit at 1920×1080 with the demo city on the district map', async () => {
        const wall = await newPage(browser!, locale, { viewport: { width: 1920, height: 1080 } });
        const seen = watch(wall);
        await wall.context().addCookies(await page.context().cookies());
        await wall.goto(`${baseUrl}/login`);
        await wall.evaluate("localStorage.setItem('tokenpool.signedIn', '1')");
        await wall.goto(`${baseUrl}/cockpit`);
        await wall.waitForSelector('[data-map="guangzhou"]');
        const points = Number(await wall.getAttribute('[data-map="guangzhou"]', 'data-points'));
        expect(points).to.be.at.least(6);
        await wall.waitForSelector('[data-metric="capacity"][data-value]:not([data-value=""]):not([data-value="0"])');
        // The demo's callers: requests per second over the last minute.
        expect(Number(await wall.getAttribute('[data-metric="rps"]', 'data-value'))).to.be.greaterThan(0);
        await wall.waitForTimeout(800); // the map's first frame
        await checkView(wall, seen, `ui-demo-cockpit-${lang}`);
        await wall.context().close();
      });

      it('signs a demo tenant in with its API key, opens every page of the portal and chats with a model the city serves', async () => {
        const pg = await newPage(browser!, locale);
        // A tenant without a budget: the budget page asks, and shows none.
        const seen = watch(pg, [/^GET \/api\/v1\/tenants\/[^/]+\/budget 404$/]);
        await pg.goto(`${baseUrl}/portal`);
        await pg.waitForSelector('[data-view="login"]');
        await pg.click('#tab-key');
        await pg.fill('input[name="key"]', tenantKey);
        await pg.click('[data-submit]');
        await pg.waitForSelector('main[data-view="playground"] h1');
        const paths = await everyMenuPage(pg, seen, 'portal', lang);
        expect(paths).to.include.members(['/portal/playground', '/portal/usage', '/portal/billing']);

        await pg.click('[data-nav="/portal/playground"]');
        await pg.waitForSelector('main[data-view="playground"] h1');
        // A model is chosen for the caller; its answer streams from a simulated replica through the gateway.
        await pg.fill('textarea[data-field="prompt"]', lang === 'en' ? 'How busy is the Huangpu Avenue corridor at 8 am?' : '早上八点黄埔大道通行情况如何？');
        await pg.click('[data-action="send"]:not([disabled])');
        await pg.waitForSelector('[data-answer-meta] [data-cost]', { timeout: 30_000 });
        expect((await pg.textContent('[data-turn="assistant"] [data-text]'))!.length).to.be.greaterThan(0);
        expect(Number(await pg.getAttribute('[data-completion-tokens]', 'data-value'))).to.be.greaterThan(0);
        // The price is the package's overage price, and says so.
        expect(await pg.textContent('[data-price]')).to.contain(lang === 'en' ? 'past the plan’s included tokens' : '超出套餐包含额度后');
        // Well within the package's included tokens: the answer costs nothing more, and says why.
        expect(await pg.getAttribute('[data-included]', 'data-value')).to.equal(await pg.getAttribute('[data-std]', 'data-value'));
        expect(await pg.getAttribute('[data-cost]', 'data-value')).to.equal('0.000000');
        // The stream's end as Chromium reports it, not a failure.
        const aborted = seen.findIndex((x) => /^failed: POST \S+\/v1\/chat\/completions net::ERR_ABORTED$/.test(x.trim()));
        if (aborted >= 0) seen.splice(aborted, 1);
        await checkView(pg, seen, `ui-demo-playground-chat-${lang}`);
        await pg.context().close();
      });
    });
  }
});
