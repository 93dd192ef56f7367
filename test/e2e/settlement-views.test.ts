/**
 * Money both ways in a real browser, in English and Chinese: the console's providers (with the
 * API's USCC error beside its field), statements with their VAT, payments (one recorded, a bank
 * statement imported with its per-line results, a credit note), the credit notes list, ledger
 * balances with a tenant's balance and a refund from it, and the settlement report;
 * the portal's balance and invoices with their PDF links. October 2026 is closed on the fake clock
 * before the pages open. A page error, a failed request or an unexpected 4xx/5xx fails the test.
 * Skipped, saying why, when Chromium is missing.
 */
import { expect } from 'chai';
import { Decimal } from 'decimal.js';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_TOKEN, startPlatform, type TestPlatform } from '../integration/harness.js';
import { closeOctober, MODEL, provider } from './closed-month.js';
import { launchBrowser, newPage, shot, signInWithToken, view } from './browser.js';

const money = (s: string) => `¥${new Intl.NumberFormat('en').format(BigInt(s.split('.')[0]!))}.${s.split('.')[1]}`;

/** Problems a page shows while a test drives it: page errors, failed requests, error answers not `expected`. */
function watch(pg: Page, expectedHere: readonly RegExp[] = []): string[] {
  // Before signing in, the page asks whether it has a session.
  const expected = [/^GET \/api\/v1\/session 401$/, ...expectedHere];
  const problems: string[] = [];
  pg.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  pg.on('requestfailed', (req) => {
    // A download the test does not follow (the PDF link, a data: CSV) is not a failed request.
    if (!req.url().startsWith('data:')) problems.push(`failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`);
  });
  pg.on('response', (res) => {
    const what = `${res.request().method()} ${new URL(res.url()).pathname} ${res.status()}`;
    if (res.status() >= 400 && !expected.some((e) => e.test(what))) problems.push(`answered: ${what}`);
  });
  return problems;
}

describe('console and portal: providers, statements, payments, balances, settlement in Chromium', function () {
  this.timeout(90_000);
  let browser: Browser | undefined;
  let p: TestPlatform;
  let gov: { id: string; apiKey: string };
  let firm: { id: string; apiKey: string };
  let pa: { id: string };

  before(async function () {
    browser = await launchBrowser();
    if (!browser) this.skip();
    p = await startPlatform('pglite');
    ({ gov, firm, pa } = await closeOctober(p));
  });

  after(async () => {
    await browser?.close();
    await p?.close();
  });

  async function consolePage(locale: string, name: string, expected: readonly RegExp[] = []) {
    const pg = await newPage(browser!, locale);
    const problems = watch(pg, expected);
    await signInWithToken(pg, p.baseUrl, 'console', ADMIN_TOKEN);
    await view(pg, 'dashboard');
    await pg.click(`nav a[href="#/${name}"]`);
    await view(pg, name);
    return { pg, problems };
  }
  const cells = (pg: Page, selector = 'main table') =>
    pg.$eval(selector, (t) => [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));

  for (const [locale, text] of [
    ['en-US', { partially: 'Partially paid', paid: 'Paid', void: 'Void', recorded: 'Recorded', duplicate: 'Already recorded', notClosed: 'not been closed' }],
    ['zh-CN', { partially: '部分支付', paid: '已付', void: '已作废', recorded: '已登记', duplicate: '已登记过', notClosed: '尚未结账' }],
  ] as const) {
    const zh = locale === 'zh-CN';

    it(`providers: the list, a wrong USCC refused beside its field, a new one with a rate card and a cluster (${locale})`, async () => {
      const { pg, problems } = await consolePage(locale, 'providers', [
        /^POST \/api\/v1\/providers 400$/,
        /^POST \/api\/v1\/providers\/pv_\w+\/rate-cards 400$/,
      ]);
      const rows = await cells(pg);
      expect(rows.map((r) => r[0])).to.include.members(['Nansha Compute Co.', 'Huangpu Telecom']);
      expect(rows.find((r) => r[0] === 'Nansha Compute Co.')![4]).to.equal('nansha-1');

      const name = zh ? '天河大学' : 'Tianhe University';
      const form = 'form[data-form="create-provider"]';
      for (const [k, v] of Object.entries(provider(name, '12440000455858EF5X'))) await pg.fill(`${form} [name="${k}"]`, v);
      await pg.click(`${form} button[type="submit"]`);
      const error = await pg.waitForSelector(`${form} [data-error-for="uscc"]`);
      const api = await p.request('POST', '/api/v1/providers', { body: provider(name, '12440000455858EF5X') });
      expect(await error.textContent()).to.equal(api.body.errors[0].message);
      expect(await pg.getAttribute(`${form} [name="uscc"]`, 'aria-invalid')).to.equal('true');
      await shot(pg, `console-provider-error-${locale}`);

      await pg.fill(`${form} [name="uscc"]`, zh ? '91440101MA59ABCEX5' : '12440000455858EF5E');
      await pg.click(`${form} button[type="submit"]`);
      await pg.waitForSelector(`h2[data-provider-detail="${name}"]`);
      expect(await pg.$(`${form} [data-error-for]`)).to.equal(null);

      // A rate card: a wrong price is shown beside the price, then a right one is listed.
      const card = 'form[data-form="add-rate-card"]';
      await pg.fill(`${card} [name="terms.pricePerMillionStd"]`, '1.2.5');
      await pg.click(`${card} button[type="submit"]`);
      await pg.waitForSelector(`${card} [data-error-for="terms.pricePerMillionStd"]`);
      await pg.fill(`${card} [name="terms.pricePerMillionStd"]`, '1.25');
      await pg.fill(`${card} [name="validFrom"]`, '2026-11-01T00:00');
      await pg.click(`${card} button[type="submit"]`);
      await pg.waitForSelector('[data-rate-card="flat"]');
      expect(await pg.textContent('[data-rate-card="flat"]')).to.contain('¥1.25');

      // The free cluster is assigned to it; the list says so.
      await pg.selectOption('form[data-form="assign-cluster"] select', { label: 'tianhe-1' });
      await pg.click('form[data-form="assign-cluster"] button[type="submit"]');
      await pg.waitForSelector('[data-owned-cluster="tianhe-1"]');
      const made = ((await p.request('GET', '/api/v1/providers')).body.items as { name: string; clusterIds: string[] }[]).find((x) => x.name === name)!;
      expect(made.clusterIds).to.have.length(1);
      await pg.click('[data-release="tianhe-1"]');
      await pg.waitForSelector('[data-owned-cluster="tianhe-1"]', { state: 'detached' });
      await shot(pg, `console-provider-${locale}`);
      expect(problems).to.deep.equal([]);
      await pg.close();
    });

    it(`statements: October by provider, a statement's lines and total as the API gives them, a payout (${locale})`, async () => {
      const { pg, problems } = await consolePage(locale, 'statements');
      const statements = (await p.request('GET', '/api/v1/statements?period=2026-10')).body.items as {
        id: string;
        number: string;
        total: string;
        providerId: string;
      }[];
      await pg.fill('form[data-form="statement-filters"] [name="period"]', '2026-10');
      await pg.selectOption('form[data-form="statement-filters"] select', pa.id);
      await pg.click('form[data-form="statement-filters"] button[type="submit"]');
      await pg.waitForFunction('location.hash.includes("providerId=")');
      await view(pg, 'statements');
      const mine = statements.find((s) => s.providerId === pa.id)!;
      // 16M std served on Nansha at 1.80 a million.
      expect(mine.total).to.equal('28.80');
      expect((await cells(pg)).map((r) => r[0])).to.deep.equal([mine.number]);
      await pg.click(`[data-open-statement="${mine.number}"]`);
      await pg.waitForSelector(`section[data-statement="${mine.number}"]`);
      expect(await pg.textContent('[data-open-total]')).to.equal(money('28.80'));
      // The provider's input VAT at its card's default 6 %: 28.80 × 0.06 = 1.728 → 1.73.
      expect(await pg.textContent('[data-open-vat]')).to.equal(money('1.73'));
      expect(await pg.textContent('[data-open-inclusive]')).to.equal(money('30.53'));
      expect(await pg.textContent(`[data-statement-inclusive="${mine.number}"]`)).to.equal(money('30.53'));
      const csv = decodeURIComponent((await pg.getAttribute('a[data-csv="statements"]', 'href'))!.split(',').slice(1).join(','));
      expect(csv).to.contain(`"${mine.number}"`).and.contain('"28.80","0.06","1.73","30.53"');

      // A payout lowers what the city owes the provider, from the ledger.
      const owedBefore = (await pg.textContent('[data-owed="Nansha Compute Co."]'))!;
      const pay = 'form[data-form="payout"]';
      await pg.selectOption(`${pay} [name="providerId"]`, pa.id);
      await pg.fill(`${pay} [name="amount"]`, '10.00');
      await pg.fill(`${pay} [name="reference"]`, `PAYOUT-${locale}`);
      await pg.click(`${pay} button[type="submit"]`);
      await pg.waitForSelector(`${pay} .ok`);
      const payable = (await p.request('GET', '/api/v1/ledger/balances?kind=payable')).body.items.find((a: { providerId: string }) => a.providerId === pa.id);
      const owed = money(payable.balance.slice(1));
      expect(owed).to.not.equal(owedBefore);
      expect(await pg.textContent(`${pay} .ok`)).to.contain(owed);
      await pg.waitForSelector(`[data-owed="Nansha Compute Co."]:text-is("${owed}")`);
      await shot(pg, `console-statements-${locale}`);
      expect(problems).to.deep.equal([]);
      await pg.close();
    });

    it(`payments: one recorded, a bank statement imported line by line, a credit note; the invoices' states follow (${locale})`, async () => {
      const { pg, problems } = await consolePage(locale, 'payments', [/^POST \/api\/v1\/payments\/import 422$/]);
      const invoiceOf = async (tenantId: string) =>
        (
          (await p.request('GET', '/api/v1/invoices')).body.items as { id: string; number: string; tenantId: string; status: string; outstanding: string }[]
        ).find((i) => i.tenantId === tenantId)!;
      const govInvoice = await invoiceOf(gov.id);
      // The prepaid firm's invoice was paid from its balance at the close.
      expect(await pg.textContent(`[data-invoice-status="${(await invoiceOf(firm.id)).number}"]`)).to.equal(text.paid);

      const rec = 'form[data-form="record-payment"]';
      await pg.selectOption(`${rec} [name="tenantId"]`, gov.id);
      await pg.fill(`${rec} [name="amount"]`, '100.00');
      await pg.fill(`${rec} [name="receivedAt"]`, '2026-11-05T10:00');
      await pg.fill(`${rec} [name="reference"]`, `BANK-${locale}-1`);
      await pg.click(`${rec} button[type="submit"]`);
      await pg.waitForSelector(`${rec} .ok`);
      const after = await invoiceOf(gov.id);
      expect(after.status).to.equal('partially_paid');
      // The list is shown again with the invoice's new state.
      await pg.waitForSelector(`[data-invoice-outstanding="${govInvoice.number}"]:text-is("${money(after.outstanding)}")`);
      expect(await pg.textContent(`[data-invoice-status="${govInvoice.number}"]`)).to.equal(text.partially);

      // A statement with a bad line records nothing and says which line and column.
      const imp = 'form[data-form="import-statement"]';
      const good = `2026-11-06,10.00,BANK-${locale}-2,${gov.id}`;
      await pg.fill(`${imp} [name="csv"]`, `date,amount,reference,payer\n${good}\n2026-11-06,ten,BANK-${locale}-3,${gov.id}\n`);
      await pg.click(`${imp} button[type="submit"]`);
      // Lines are counted in the file as sent, the header being line 1.
      await pg.waitForSelector('[data-line-error="3"]');
      expect(await pg.textContent(`${imp} .error`)).to.not.equal('');
      await shot(pg, `console-import-errors-${locale}`);
      await pg.fill(`${imp} [name="csv"]`, `${good}\n2026-11-05,100.00,BANK-${locale}-1,${gov.id}\n`);
      await pg.click(`${imp} button[type="submit"]`);
      await pg.waitForSelector('[data-line-result="2"]');
      expect(await pg.textContent('[data-line-result="1"]')).to.equal(text.recorded);
      expect(await pg.textContent('[data-line-result="2"]')).to.equal(text.duplicate);
      await shot(pg, `console-import-${locale}`);
      await view(pg, 'payments');
      await pg.waitForSelector(`[data-invoice-status="${govInvoice.number}"] [data-badge]`);

      // A credit note for what is left voids nothing (it was partly paid) but clears what is owed.
      const cn = 'form[data-form="credit-note"]';
      await pg.selectOption(`${cn} [name="invoiceId"]`, govInvoice.id);
      await pg.fill(`${cn} [name="amount"]`, '1.00');
      await pg.fill(`${cn} [name="reason"]`, zh ? '服务中断补偿' : 'Outage compensation');
      await pg.click(`${cn} button[type="submit"]`);
      await pg.waitForSelector(`${cn} .ok`);
      expect(await pg.textContent(`${cn} .ok`)).to.match(/^CN-2026-\d{6}: -¥1\.00$/);
      const listed = (await p.request('GET', '/api/v1/payments')).body.items as { reference: string }[];
      for (const x of listed) await pg.waitForSelector(`[data-payment="${x.reference}"]`);
      expect(problems).to.deep.equal([]);
      await pg.close();
    });

    it(`credit notes: every one as the API lists it, with the VAT it took back, and one tenant's (${locale})`, async () => {
      const { pg, problems } = await consolePage(locale, 'creditNotes');
      const notes = (await p.request('GET', '/api/v1/credit-notes')).body.items as { number: string; total: string; vat: string; tenantId: string }[];
      // One per locale so far, each of 1.00 against the government's invoice (6 % VAT: 0.06 of it).
      expect(notes.length).to.be.at.least(1);
      for (const n of notes) {
        expect(await pg.textContent(`[data-credit-note-total="${n.number}"]`), n.number).to.equal(`-${money(n.total.slice(1))}`);
        expect(await pg.textContent(`[data-credit-note-vat="${n.number}"]`), n.number).to.equal(`-${money(n.vat.slice(1))}`);
      }
      expect(notes.map((n) => [n.total, n.vat])).to.deep.include(['-1.00', '-0.06']);
      // The firm has none: picking it empties the list.
      await pg.selectOption('form[data-form="pick-tenant"] select', firm.id);
      await pg.click('form[data-form="pick-tenant"] button[type="submit"]');
      await pg.waitForFunction('location.hash.includes("tenant=")');
      await view(pg, 'creditNotes');
      expect(await pg.$('[data-credit-note]')).to.equal(null);
      await pg.selectOption('form[data-form="pick-tenant"] select', gov.id);
      await pg.click('form[data-form="pick-tenant"] button[type="submit"]');
      await pg.waitForSelector(`[data-credit-note="${notes[0]!.number}"]`);
      await shot(pg, `console-credit-notes-${locale}`);
      expect(problems).to.deep.equal([]);
      await pg.close();
    });

    it(`balances: accounts from the ledger, a trial balance of zero, receivables by age (${locale})`, async () => {
      const { pg, problems } = await consolePage(locale, 'balances');
      const api = (await p.request('GET', '/api/v1/ledger/balances?limit=1000')).body;
      expect(await pg.getAttribute('[data-metric="trialBalance"]', 'data-value')).to.equal(api.trialBalance.total);
      expect(await pg.textContent('[data-metric="trialBalance"] .value')).to.equal('¥0.00');
      for (const a of api.items as { id: string; balance: string }[]) {
        const shown = (await pg.textContent(`[data-balance="${a.id}"]`))!;
        expect(shown, a.id).to.equal(a.balance.startsWith('-') ? `-${money(a.balance.slice(1))}` : money(a.balance));
      }
      const ageing = (await p.request('GET', '/api/v1/ledger/ageing')).body;
      expect(await pg.textContent('[data-ageing="total:0-30"]')).to.equal(money(ageing.total['0-30']));
      await shot(pg, `console-balances-${locale}`);
      expect(problems).to.deep.equal([]);
      await pg.close();
    });

    it(`balances: a tenant's balance, a refund more than it holds refused beside the amount, then one from its prepaid balance (${locale})`, async () => {
      const { pg, problems } = await consolePage(locale, 'balances', [/^POST \/api\/v1\/tenants\/tn_\w+\/refunds 422$/]);
      await pg.selectOption('form[data-form="pick-tenant"] select', firm.id);
      await pg.click('form[data-form="pick-tenant"] button[type="submit"]');
      await pg.waitForSelector(`[data-tenant-balance="${firm.id}"]`);
      const before = (await p.request('GET', `/api/v1/tenants/${firm.id}/balance`)).body;
      expect(await pg.textContent(`[data-tenant-balance] [data-metric="prepaid"] .value`)).to.equal(money(before.prepaid));
      const form = 'form[data-form="refund"]';
      await pg.selectOption(`${form} [name="from"]`, 'prepaid');
      await pg.fill(`${form} [name="amount"]`, '100000.00');
      await pg.fill(`${form} [name="reference"]`, `REFUND-${locale}-TOO-MUCH`);
      await pg.click(`${form} button[type="submit"]`);
      await pg.waitForSelector(`${form} [data-error-for="amount"]`);
      expect((await p.request('GET', `/api/v1/tenants/${firm.id}/balance`)).body.prepaid).to.equal(before.prepaid);
      await pg.fill(`${form} [name="amount"]`, '1.00');
      await pg.fill(`${form} [name="reference"]`, `REFUND-${locale}`);
      await pg.click(`${form} button[type="submit"]`);
      await pg.waitForSelector(`${form} .ok`);
      const after = (await p.request('GET', `/api/v1/tenants/${firm.id}/balance`)).body;
      expect(after.prepaid).to.equal(new Decimal(before.prepaid).minus('1.00').toFixed(2));
      // Shown again with the balance the ledger now holds.
      await pg.waitForSelector(`[data-tenant-balance] [data-metric="prepaid"][data-value="${after.prepaid}"]`);
      const refunds = (await p.request('GET', `/api/v1/payments?tenantId=${firm.id}`)).body.items as { kind: string; reference: string }[];
      expect(refunds.filter((x) => x.kind === 'refund').map((x) => x.reference)).to.include(`REFUND-${locale}`);
      await shot(pg, `console-refund-${locale}`);
      expect(problems).to.deep.equal([]);
      await pg.close();
    });

    it(`settlement: October's totals and breakdowns, its CSV; a period not closed says so (${locale})`, async () => {
      const { pg, problems } = await consolePage(locale, 'settlement', [/^GET \/api\/v1\/settlement\/report 409$/]);
      const form = 'form[data-form="report-period"]';
      await pg.fill(`${form} [name="period"]`, '2026-09');
      await pg.click(`${form} button[type="submit"]`);
      await pg.waitForSelector('[data-not-closed="2026-09"]');
      expect(await pg.textContent('[data-not-closed]')).to.contain(text.notClosed);
      await pg.fill(`${form} [name="period"]`, '2026-10');
      await pg.click(`${form} button[type="submit"]`);
      await pg.waitForSelector('[data-metric="margin"]');
      const r = (await p.request('GET', '/api/v1/settlement/report?period=2026-10')).body;
      for (const k of ['receivables', 'payables', 'margin', 'receivablesVat', 'payablesVat'])
        expect(await pg.textContent(`[data-metric="${k}"] .value`), k).to.equal(money(r[k]));
      expect(await pg.textContent(`[data-payables="provider:${pa.id}"]`)).to.equal(money('28.80'));
      expect(await pg.textContent(`[data-payables-vat="provider:${pa.id}"]`)).to.equal(money('1.73'));
      expect(await pg.textContent(`[data-receivables="model:${MODEL}"]`)).to.equal(
        money(r.byModel.find((m: { model: string }) => m.model === MODEL).receivables),
      );
      const csv = await pg.evaluate<string>(`fetch(document.querySelector('a[data-csv="settlement"]').href).then((r) => r.text())`);
      expect(csv).to.equal((await p.request('GET', '/api/v1/settlement/report.csv?period=2026-10')).body);
      await shot(pg, `console-settlement-${locale}`);
      expect(problems).to.deep.equal([]);
      await pg.close();
    });

    it(`portal: the tenant's balance, its payments and what they settled, invoices with state, CSV and PDF link (${locale})`, async () => {
      for (const [tenant, mode] of [
        [gov, 'postpaid'],
        [firm, 'prepaid'],
      ] as const) {
        const pg = await newPage(browser!, locale);
        const problems = watch(pg);
        await signInWithToken(pg, p.baseUrl, 'portal', tenant.apiKey);
        await view(pg, 'workloads');
        await pg.click('nav a[href="#/balance"]');
        await view(pg, 'balance');
        const b = (await p.request('GET', `/api/v1/tenants/${tenant.id}/balance`)).body;
        expect(b.billingMode).to.equal(mode);
        expect(await pg.getAttribute('[data-metric="billingMode"]', 'data-value')).to.equal(mode);
        if (mode === 'prepaid') expect(await pg.textContent('[data-metric="prepaid"] .value')).to.equal(money(b.prepaid));
        else expect(await pg.textContent('[data-metric="receivable"] .value')).to.equal(money(b.receivable));
        const invoices = (await p.request('GET', '/api/v1/invoices', { token: tenant.apiKey })).body.items as {
          id: string;
          number: string;
          paid: string;
          status: string;
        }[];
        for (const i of invoices.filter((x) => x.paid !== '0.00')) expect(await pg.textContent(`[data-invoice-paid="${i.number}"]`)).to.equal(money(i.paid));
        const paid = (await p.request('GET', '/api/v1/payments', { token: tenant.apiKey })).body.items as { reference: string; amount: string; kind: string }[];
        expect(paid).to.not.have.length(0);
        // Refunds (money paid back from the console's balances view) show as negative.
        for (const x of paid)
          expect(await pg.textContent(`[data-payment-amount="${x.reference}"]`), x.reference).to.equal(`${x.kind === 'refund' ? '-' : ''}${money(x.amount)}`);
        // Its own credit notes, and only those.
        const notes = (await p.request('GET', '/api/v1/credit-notes', { token: tenant.apiKey })).body.items as { number: string; total: string }[];
        // One per locale run so far against the government's invoice; none for the firm.
        expect(notes.length > 0).to.equal(mode === 'postpaid');
        expect(await pg.$$eval('[data-credit-note]', (els) => els.length)).to.equal(notes.length);
        for (const n of notes) expect(await pg.textContent(`[data-credit-note-total="${n.number}"]`)).to.equal(`-${money(n.total.slice(1))}`);
        await shot(pg, `portal-balance-${mode}-${locale}`);

        await pg.click('nav a[href="#/invoices"]');
        await view(pg, 'invoices');
        for (const i of invoices) {
          expect(await pg.getAttribute(`a[data-pdf="${i.number}"]`, 'href')).to.equal(`/api/v1/invoices/${i.id}/pdf`);
          expect(await pg.getAttribute(`[data-invoice-status="${i.number}"] [data-badge]`, 'data-badge')).to.equal(i.status);
          expect(await pg.getAttribute(`a[data-csv="${i.number}"]`, 'download')).to.equal(`${i.number}.csv`);
        }
        expect(invoices).to.have.length(1);
        await shot(pg, `portal-invoices-${mode}-${locale}`);
        expect(problems).to.deep.equal([]);
        await pg.close();
      }
    });
  }
});
