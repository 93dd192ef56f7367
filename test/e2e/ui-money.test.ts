/**
 * The new console's money views (ui/src/views/money) in Chromium, in English and Chinese:
 * providers (a wrong USCC refused beside its field, a new provider with a rate card and a cluster),
 * statements with their VAT and a payout, invoices with their lines and downloads and a credit note,
 * payments (one recorded, a bank statement refused whole then imported), balances with the trial
 * balance, ageing and a top-up, the settlement report and the month close and seller details.
 * October 2026 is closed on the fake clock before the pages open. Every view must show no page
 * error, no failed request, no unexpected 4xx/5xx and no serious or critical axe-core violation;
 * each is saved to test/e2e/screenshots/ui-money-*.png (not committed).
 */
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_TOKEN, startPlatform, type TestPlatform } from '../integration/harness.js';
import { closeOctober, MODEL, provider } from './closed-month.js';
import { axeViolations, launchBrowser, newPage, shot, watch } from './browser.js';

describe('the new console’s money views in Chromium', function () {
  this.timeout(180_000);
  let browser: Browser | undefined;
  let p: TestPlatform;
  let gov: { id: string; apiKey: string };
  let firm: { id: string; apiKey: string };
  let pa: { id: string };

  before(async function () {
    browser = await launchBrowser();
    if (!browser) this.skip();
    execFileSync(process.execPath, ['ui/build.mjs'], { stdio: 'inherit' });
    p = await startPlatform('pglite');
    ({ gov, firm, pa } = await closeOctober(p));
  });

  after(async () => {
    await browser?.close();
    await p?.close();
  });

  for (const [locale, lang] of [
    ['en-US', 'en'],
    ['zh-CN', 'zh'],
  ] as const) {
    const zh = lang === 'zh';
    describe(`in ${locale}`, () => {
      let page: Page;
      let problems: string[];
      const expected: RegExp[] = [/^GET \/api\/v1\/session 401$/];

      const check = async (name: string) => {
        expect(problems, `${name}: problems`).to.deep.equal([]);
        await page.waitForSelector('.el-loading-mask', { state: 'detached' });
        // A picker or select closing fades out: look once no popper shows.
        for (let i = 0; i < 50; i++) {
          const open: boolean = await page.evaluate(`[...document.querySelectorAll('.el-popper')].some((e) => getComputedStyle(e).display !== 'none')`);
          if (!open) break;
          await page.waitForTimeout(100);
        }
        expect(await axeViolations(page), `${name}: axe`).to.deep.equal([]);
        await shot(page, `ui-money-${name}-${lang}`);
      };
      const open = async (name: string) => {
        await page.click(`[data-nav="/console/${name}"]`);
        await page.waitForSelector(`main[data-view="${name}"] h1`);
        await page.waitForSelector('.el-loading-mask', { state: 'detached' });
      };

      before(async () => {
        page = await newPage(browser!, locale);
        problems = watch(page, expected);
        await page.goto(`${p.baseUrl}/console/overview`);
        await page.waitForSelector('[data-view="login"]');
        await page.click('#tab-token');
        await page.fill('input[name="token"]', ADMIN_TOKEN);
        await page.click('[data-submit]');
        await page.waitForSelector('[data-metric="total"]');
      });

      it('providers: a wrong USCC beside its field, a new provider with a rate card and a cluster', async () => {
        await open('providers');
        await page.waitForSelector('[data-clusters="Nansha Compute Co."]');
        expect(await page.textContent('[data-clusters="Nansha Compute Co."]')).to.equal('nansha-1');
        await check('providers');

        expected.push(/^POST \/api\/v1\/providers 400$/, /^POST \/api\/v1\/providers\/pv_\w+\/rate-cards 400$/);
        const name = zh ? '天河大学' : 'Tianhe University';
        await page.click('[data-action="new-provider"]');
        const form = 'form[data-form="provider"]';
        await page.waitForSelector(form);
        for (const [k, v] of Object.entries(provider(name, '12440000455858EF5X'))) await page.fill(`${form} input[name="${k}"]`, v);
        await page.click(`${form} [data-submit]`);
        const error = await page.waitForSelector(`${form} [data-error-for="uscc"]`);
        expect(await error.textContent()).to.equal(zh ? '校验码（第 18 位）错误' : 'has a wrong check character (character 18)');
        await check('provider-form');
        await page.fill(`${form} input[name="uscc"]`, zh ? '91440101MA59ABCEX5' : '12440000455858EF5E');
        await page.click(`${form} [data-submit]`);
        await page.waitForSelector(`[data-clusters="${name}"]`, { state: 'attached' });
        const created = (await p.request('GET', '/api/v1/providers')).body.items.find((x: { name: string }) => x.name === name);
        expect(created.uscc).to.equal(zh ? '91440101MA59ABCEX5' : '12440000455858EF5E');

        await page.click(`[data-open="${name}"]`);
        const panel = `[data-provider-panel="${name}"]`;
        await page.waitForSelector(panel);
        await page.click(`${panel} [data-select="cluster"]`);
        await page.click(`.el-select-dropdown__item:visible:has-text("tianhe-1")`);
        await page.click(`${panel} [data-action="assign"]`);
        await page.waitForSelector(`${panel} [data-release="tianhe-1"]`);
        expect((await p.request('GET', `/api/v1/providers/${created.id}`)).body.clusterIds).to.have.length(1);

        const card = `${panel} form[data-form="rate-card"]`;
        await page.fill(`${card} input[name="pricePerMillionStd"]`, '1.234567890');
        await page.click(`${card} [data-submit]`);
        await page.waitForSelector(`${card} [data-error-for="terms.pricePerMillionStd"]`);
        await page.fill(`${card} input[name="pricePerMillionStd"]`, '2.10');
        await page.fill(`${card} input[name="vatRate"]`, '0.13');
        await page.click(`${card} [data-submit]`);
        await page.waitForSelector(`${panel} [data-table="rate-cards"] .el-table__row`);
        const cards = (await p.request('GET', `/api/v1/providers/${created.id}/rate-cards`)).body.items;
        expect(cards.map((c: { vatRate: string; terms: unknown }) => [c.vatRate, c.terms])).to.deep.equal([
          ['0.13', { kind: 'flat', pricePerMillionStd: '2.10' }],
        ]);
        expect(await page.textContent(`${panel} [data-table="rate-cards"]`)).to.contain('¥2.10');
        await check('provider-panel');
        await page.click(`${panel} [data-release="tianhe-1"]`);
        await page.waitForSelector(`${panel} [data-release="tianhe-1"]`, { state: 'detached' });
        expect((await p.request('GET', `/api/v1/providers/${created.id}`)).body.clusterIds).to.deep.equal([]);
        await page.keyboard.press('Escape');
        await page.waitForSelector(panel, { state: 'hidden' });

        // Its contact changed; a provider that owns a cluster cannot be deleted, and the page says why.
        await page.click(`[data-edit="${name}"]`);
        await page.fill(`${form} input[name="contactName"]`, 'Wang Fang');
        await page.click(`${form} [data-submit]`);
        await page.waitForSelector(form, { state: 'hidden' });
        expect((await p.request('GET', `/api/v1/providers/${created.id}`)).body.contactName).to.equal('Wang Fang');
        expected.push(/^DELETE \/api\/v1\/providers\/pv_\w+ 409$/);
        await page.click('[data-delete="Nansha Compute Co."]');
        await page.click('.el-message-box__btns .el-button--primary');
        await page.waitForSelector('[data-problem-detail]');
        expect(await page.textContent('[data-problem-detail]')).to.contain(zh ? '请先解除其集群' : 'release its clusters first');
        expect(problems).to.deep.equal([]);
      });

      it('statements: October with its VAT lines, a payout too large refused, then one recorded', async () => {
        await open('statements');
        const st = (await p.request('GET', `/api/v1/statements?providerId=${pa.id}&period=2026-10`)).body.items[0];
        await page.waitForSelector(`[data-statement-total="${st.number}"]`);
        expect(await page.getAttribute(`[data-statement-total="${st.number}"] [data-amount]`, 'data-amount')).to.equal(st.totalInclusive);
        await page.click(`[data-table="statements"] .el-table__expand-icon`);
        await page.waitForSelector(`[data-lines="${st.number}"] .el-table__row`);
        expect(await page.textContent(`[data-lines="${st.number}"]`)).to.contain(MODEL);
        expect(await page.textContent(`[data-lines="${st.number}"]`)).to.contain(zh ? '统一价' : 'Flat rate');
        await check('statements');

        expected.push(/^POST \/api\/v1\/providers\/pv_\w+\/payouts 422$/);
        const form = 'form[data-form="payout"]';
        await page.click(`${form} [data-select="payout-provider"]`);
        await page.click('.el-select-dropdown__item:visible:has-text("Nansha Compute Co.")');
        await page.fill(`${form} input[name="amount"]`, '999999.00');
        await page.fill(`${form} input[name="reference"]`, `PAYOUT-${lang}`);
        await page.click(`${form} [data-submit]`);
        await page.waitForSelector(`${form} [data-problem-detail]`);
        expect(await page.textContent(`${form} [data-problem-detail]`)).to.contain(zh ? '不能多付' : 'cannot be paid more');
        await page.fill(`${form} input[name="amount"]`, '1.00');
        await page.click(`${form} [data-submit]`);
        await page.waitForSelector(`${form} [data-payout-done]`);
        expect(await page.textContent(`${form} [data-payout-done]`)).to.contain('¥1.00');
        await check('payout');
      });

      it('invoices: October with status, lines with VAT, a credit note', async () => {
        await open('invoices');
        const inv = (await p.request('GET', `/api/v1/invoices?tenantId=${gov.id}&period=2026-10`)).body.items[0];
        await page.waitForSelector(`[data-credit="${inv.number}"]`);
        expect(await page.textContent('[data-table="invoices"]')).to.contain('Guangzhou Transport Bureau');
        await page.click(`[data-table="invoices"] .el-table__row:has-text("${inv.number}") .el-table__expand-icon`);
        await page.waitForSelector(`[data-lines="${inv.number}"] .el-table__row`);
        expect(await page.getAttribute(`[data-pdf="${inv.number}"]`, 'href')).to.equal(`/api/v1/invoices/${inv.id}/pdf`);
        await check('invoices');
        await page.click(`[data-credit="${inv.number}"]`);
        const form = 'form[data-form="credit-note"]';
        await page.waitForSelector(form);
        await page.fill(`${form} input[name="amount"]`, '10.00');
        await page.fill(`${form} textarea[name="reason"]`, zh ? '服务中断补偿' : 'Outage compensation');
        await page.click(`${form} [data-submit]`);
        await page.waitForSelector(form, { state: 'hidden' });
        const after = (await p.request('GET', `/api/v1/invoices/${inv.id}`)).body;
        expect(Number(after.credited)).to.be.greaterThan(Number(inv.credited));
        await page.waitForSelector(`[data-outstanding="${inv.number}"] [data-amount="${after.outstanding}"]`);
        expect(problems).to.deep.equal([]);
      });

      it('payments: a bank statement refused whole with its line errors, then imported', async () => {
        await open('payments');
        await page.waitForSelector('[data-reference="TOPUP-1"]');
        await check('payments');
        expected.push(/^POST \/api\/v1\/payments\/import 422$/);
        const form = 'form[data-form="import"]';
        await page.fill(`${form} textarea[name="csv"]`, `2026-11-05,abc,BANK-${lang}-1,${gov.id}`);
        await page.click(`${form} [data-submit]`);
        await page.waitForSelector(`${form} [data-field^="lines.1"]`);
        expect(await page.textContent(`${form} [data-problem-detail]`)).to.contain(zh ? '未登记任何一行' : 'nothing was recorded');
        await page.fill(`${form} textarea[name="csv"]`, `2026-11-05,12.00,BANK-${lang}-1,${gov.id}`);
        await page.click(`${form} [data-submit]`);
        await page.waitForSelector('[data-import-status="recorded"]');
        await page.waitForSelector(`[data-reference="BANK-${lang}-1"]`);
        await check('payments-import');

        const pay = 'form[data-form="payment"]';
        await page.click(`${pay} [data-select="payment-tenant"]`);
        await page.click('.el-select-dropdown__item:visible:has-text("Guangzhou Transport Bureau")');
        await page.fill(`${pay} input[name="amount"]`, '20.00');
        await page.fill(`${pay} input[name="reference"]`, `PAY-${lang}`);
        await page.click(`${pay} [data-submit]`);
        await page.waitForSelector(`${pay} [data-recorded]`);
        await page.waitForSelector(`[data-reference="PAY-${lang}"]`);
        const recorded = (await p.request('GET', `/api/v1/payments?tenantId=${gov.id}`)).body.items.find(
          (x: { reference: string }) => x.reference === `PAY-${lang}`,
        );
        expect(recorded.amount).to.equal('20.00');
        expect(problems).to.deep.equal([]);
      });

      it('balances: the trial balance, ageing, a top-up', async () => {
        await open('balances');
        await page.waitForSelector('[data-trial="0.00"]');
        await page.waitForSelector('[data-table="ageing"] .el-table__row');
        expect(await page.textContent('[data-table="ageing"] .el-table__footer')).to.contain(zh ? '合计' : 'Total');
        await check('balances');
        const form = 'form[data-form="top-up"]';
        await page.click(`${form} [data-select="move-tenant"]`);
        await page.click('.el-select-dropdown__item:visible:has-text("Pearl River Logistics")');
        await page.waitForSelector(`${form} [data-tenant-balance]`);
        await page.fill(`${form} input[name="amount"]`, '50.00');
        await page.fill(`${form} input[name="reference"]`, `TOPUP-${lang}`);
        await page.click(`${form} [data-submit]`);
        await page.waitForSelector(`${form} [data-moved]`);
        const before = (await p.request('GET', `/api/v1/tenants/${firm.id}/balance`)).body.prepaid;
        await page.click(`${form} [data-what="refund"]`);
        await page.fill(`${form} input[name="amount"]`, '5.00');
        await page.fill(`${form} input[name="reference"]`, `REFUND-${lang}`);
        await page.click(`${form} [data-submit]`);
        await page.waitForSelector(`${form} [data-moved]:has-text("${zh ? '已登记退款' : 'Refund recorded'}")`);
        expect((await p.request('GET', `/api/v1/tenants/${firm.id}/balance`)).body.prepaid).to.equal((Number(before) - 5).toFixed(2));
        expect(problems).to.deep.equal([]);
      });

      it('settlement: the report of October with its charts and the seller form', async () => {
        // The page opens on last month by the browser's clock, which the fake clock has not closed; the seller is not set yet.
        expected.push(/^GET \/api\/v1\/billing\/seller 404$/, /^GET \/api\/v1\/settlement\/report 409$/);
        await open('settlement');
        await page.waitForSelector('[data-problem-detail]');
        expect(await page.textContent('[data-problem-detail]')).to.match(zh ? /尚未结账/ : /has not been closed/);
        const r = (await p.request('GET', '/api/v1/settlement/report?period=2026-10')).body;
        await page.fill('input[name="period"]', '2026-10');
        await page.keyboard.press('Enter');
        await page.click('main h1'); // closes the month picker
        await page.click('[data-action="show"]');
        await page.waitForSelector('[data-report="2026-10"]');
        expect(await page.getAttribute('[data-metric="receivables"]', 'data-value')).to.equal(r.receivables);
        await page.waitForSelector('[data-chart="provider"] canvas');
        expect(await page.getAttribute('[data-csv="settlement"]', 'href')).to.equal('/api/v1/settlement/report.csv?period=2026-10');
        await check('settlement');
      });

      it('the month close asks first and says why a month cannot close; the seller with a wrong USCC, then saved', async () => {
        expected.push(/^POST \/api\/v1\/billing\/close 409$/, /^PUT \/api\/v1\/billing\/seller 400$/);
        const close = 'form[data-form="close"]';
        await page.fill(`${close} input[name="closePeriod"]`, '2026-11');
        await page.keyboard.press('Enter');
        await page.click('main h1'); // closes the month picker
        await page.click(`${close} [data-submit]`);
        await page.click('.el-message-box__btns .el-button--primary');
        await page.waitForSelector(`${close} [data-problem-detail]`);
        expect(await page.textContent(`${close} [data-problem-detail]`)).to.equal(zh ? '账期 2026-11 尚未结束。' : 'The period 2026-11 has not ended yet.');

        const seller = 'form[data-form="seller"]';
        const details = {
          name: zh ? '广州市算力运营有限公司' : 'Guangzhou Compute Operations Ltd',
          uscc: '91440101MA59ABCD1X',
          address: 'Tianhe Road 1, Guangzhou',
          phone: '+86 20 8888 0000',
          bank: 'Bank of China, Tianhe branch',
          bankAccount: '6217 0000 1111 2222',
        };
        for (const [k, v] of Object.entries(details)) await page.fill(`${seller} input[name="${k}"]`, v);
        await page.click(`${seller} [data-submit]`);
        await page.waitForSelector(`${seller} [data-error-for="uscc"]`);
        await check('close-seller');
        await page.fill(`${seller} input[name="uscc"]`, '91440101MA59ABCD1D');
        await page.click(`${seller} [data-submit]`);
        await page.waitForSelector(`${seller} [data-saved]`);
        expect((await p.request('GET', '/api/v1/billing/seller')).body.name).to.equal(details.name);
        expect(problems).to.deep.equal([]);
      });
    });
  }
});
