import { inflateSync } from 'node:zlib';
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { organizationCheckCharacter, usccCheckCharacter } from '../../server/billing/uscc.js';
import { eFapiaoSchema } from '../../server/http/invoicing.routes.js';
import { ADMIN_TOKEN, describeOnDatabases, type TestPlatform } from './harness.js';

/** A valid unified social credit code built from an organization code body (check characters computed). */
function aUscc(division: string, body: string): string {
  const first17 = `91${division}${body}${organizationCheckCharacter(body)}`;
  return first17 + usccCheckCharacter(first17);
}

const SELLER = {
  name: '广州市算力调度运营有限公司',
  uscc: aUscc('440101', '12345678'),
  address: '广州市南沙区海滨路 1 号',
  phone: '020-12345678',
  bank: '中国工商银行广州南沙支行',
  bankAccount: '3602000000000000001',
};

const BUYER_USCC = aUscc('440104', '87654321');

async function placedWorkload(p: TestPlatform, tenantKey: string, clusterToken: string): Promise<string> {
  const w = (
    await p.request('POST', '/api/v1/workloads', {
      token: tenantKey,
      body: { name: 'svc', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000, access: 'direct' },
    })
  ).body;
  await p.app.scheduler.runCycle();
  await p.request('POST', '/api/v1/agent/heartbeat', { token: clusterToken, body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] } });
  return w.id as string;
}

/** GET as bytes. */
async function download(p: TestPlatform, path: string, token = ADMIN_TOKEN): Promise<{ status: number; type: string; bytes: Buffer; text: string }> {
  const res = await fetch(p.baseUrl + path, { headers: { authorization: `Bearer ${token}` } });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type') ?? '', bytes, text: bytes.toString('latin1') };
}

/** The decompressed content of every Flate stream of a PDF. */
function pdfStreams(pdf: Buffer): string[] {
  const out: string[] = [];
  const text = pdf.toString('latin1');
  for (const m of text.matchAll(/stream\r?\n/g)) {
    const start = m.index + m[0].length;
    const end = text.indexOf('endstream', start);
    try {
      out.push(inflateSync(pdf.subarray(start, end)).toString('latin1'));
    } catch {
      // Not Flate (or not a stream keyword at all): skipped.
    }
  }
  return out;
}

/** Checks a PDF's cross-reference table: every in-use entry points at its object, and the trailer names a root. */
function checkPdfStructure(pdf: Buffer): number {
  const text = pdf.toString('latin1');
  const startxref = Number(/startxref\s+(\d+)\s+%%EOF\s*$/.exec(text)?.[1]);
  expect(text.slice(startxref, startxref + 4)).to.equal('xref');
  const [, first, count] = /^xref\s+(\d+) (\d+)\s+/.exec(text.slice(startxref))!;
  const entries = text
    .slice(startxref)
    .split(/\r?\n/)
    .slice(2, 2 + Number(count));
  let objects = 0;
  entries.forEach((e, i) => {
    const [offset, , use] = e.trim().split(' ');
    if (use !== 'n') return;
    expect(text.slice(Number(offset)).startsWith(`${Number(first) + i} 0 obj`), `object ${i}`).to.equal(true);
    objects++;
  });
  expect(text.slice(startxref)).to.match(/trailer\s*<<[\s\S]*\/Root \d+ 0 R/);
  return objects;
}

describeOnDatabases('VAT and e-fapiao: from plans with VAT through the close to the exports', (platform) => {
  let gov: { id: string; apiKey: string };
  let firm: { id: string; apiKey: string };
  let govInvoice: { id: string; number: string; total: string; vat: string; totalInclusive: string; lines: Record<string, string>[] };
  let firmInvoice: { id: string; number: string };

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-01T00:00:00+08:00');
    gov = (await p.request('POST', '/api/v1/tenants', { body: { name: '广州市交通运输局', kind: 'government' } })).body;
    firm = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Pearl River Logistics', kind: 'enterprise' } })).body;
    const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-1', region: 'nansha' } })).body;
    await p.request('POST', '/api/v1/agent/heartbeat', {
      token: cluster.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] },
    });
    const govPlan = await p.request('POST', '/api/v1/plans', {
      body: { name: 'gov-standard', type: 'periodic', period: 'month', fee: '10000.00', includedStd: 1_000_000_000, overagePricePerMillionStd: '8.00' },
    });
    // Created without VAT terms: the defaults.
    expect(govPlan.body).to.include({ vatRate: '0.06', taxCode: '3040203000000000000' });
    const unitPlan = await p.request('POST', '/api/v1/plans', {
      body: { name: 'metered-13', type: 'unit', pricePerMillionStd: '2.50', vatRate: '0.13', taxCode: '3040205000000000000' },
    });
    expect(unitPlan.status).to.equal(201);
    expect(unitPlan.body).to.include({ vatRate: '0.13', taxCode: '3040205000000000000' });
    await p.request('POST', `/api/v1/tenants/${gov.id}/subscriptions`, { body: { planId: govPlan.body.id, startsAt: '2026-10-16T00:00:00+08:00' } });
    await p.request('POST', `/api/v1/tenants/${firm.id}/subscriptions`, { body: { planId: unitPlan.body.id, startsAt: '2026-10-01T00:00:00+08:00' } });
    const govWorkload = await placedWorkload(p, gov.apiKey, cluster.agentToken);
    const firmWorkload = await placedWorkload(p, firm.apiKey, cluster.agentToken);
    p.clock.set('2026-11-01T00:00:10+08:00');
    const usage = await p.request('POST', '/api/v1/agent/usage', {
      token: cluster.agentToken,
      body: {
        events: [
          { id: 'e-gov-1', workloadId: govWorkload, inputTokens: 4_000_000, outputTokens: 1_000_000, occurredAt: '2026-10-10T12:00:00+08:00' },
          { id: 'e-gov-2', workloadId: govWorkload, inputTokens: 400_000_000, outputTokens: 1_100_000_000, occurredAt: '2026-10-20T12:00:00+08:00' },
          { id: 'e-firm-1', workloadId: firmWorkload, inputTokens: 1_234_567, outputTokens: 765_433, occurredAt: '2026-10-31T23:59:59+08:00' },
        ],
      },
    });
    expect(usage.body).to.include({ accepted: 3 });
  });

  it('refuses bad VAT terms on a plan (400 with the field) and stores nothing', async () => {
    const p = platform();
    for (const [field, value] of [
      ['vatRate', '1'],
      ['vatRate', '6%'],
      ['vatRate', 0.06],
      ['vatRate', '0.00001'],
      ['taxCode', '30402030000'],
    ] as const) {
      const res = await p.request('POST', '/api/v1/plans', { body: { name: `bad-${field}`, type: 'unit', pricePerMillionStd: '1.00', [field]: value } });
      expect(res.status, `${field} ${value}`).to.equal(400);
      expect(res.headers.get('content-type')).to.match(/problem\+json/);
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.include(field);
    }
    expect((await p.request('GET', '/api/v1/plans?limit=100')).body.items.map((x: { name: string }) => x.name)).to.not.include('bad-vatRate');
  });

  it('issues invoices whose lines carry rate, tax code, VAT half-up per line and the inclusive amount', async () => {
    const p = platform();
    p.clock.set('2026-11-01T00:30:00+08:00');
    const close = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    expect(close.status).to.equal(200);
    govInvoice = close.body.items.find((i: { tenantId: string }) => i.tenantId === gov.id);
    firmInvoice = close.body.items.find((i: { tenantId: string }) => i.tenantId === firm.id);
    // fee 5161.29 × 6 % = 309.6774 → 309.68; overage 5470.97 × 6 % = 328.2582 → 328.26;
    // the default plan's usage 4.00 × 6 % = 0.24.
    const rows = govInvoice.lines.map((l) => [l.kind, l.amount, l.vatRate, l.vat, l.amountInclusive, l.taxCode]);
    expect(rows).to.have.deep.members([
      ['fee', '5161.29', '0.06', '309.68', '5470.97', '3040203000000000000'],
      ['overage', '5470.97', '0.06', '328.26', '5799.23', '3040203000000000000'],
      ['usage', '4.00', '0.06', '0.24', '4.24', '3040203000000000000'],
    ]);
    // total stays the sum of the exclusive lines (API.md); VAT is the sum of the rounded line taxes.
    expect(govInvoice).to.include({ total: '10636.26', vat: '638.18', totalInclusive: '11274.44' });
    // 2.685186875 → 2.69 at 13 %: 0.3497 → 0.35.
    expect(close.body.items.find((i: { tenantId: string }) => i.tenantId === firm.id)).to.deep.include({
      lines: [
        {
          kind: 'usage',
          description: 'metered-13: 1.07407475 million standard tokens at ¥2.50 per million',
          quantity: '1.07407475',
          unitPrice: '2.50',
          amount: '2.69',
          vatRate: '0.13',
          vat: '0.35',
          amountInclusive: '3.04',
          taxCode: '3040205000000000000',
        },
      ],
      total: '2.69',
      vat: '0.35',
      totalInclusive: '3.04',
    });
    expect((await p.request('GET', `/api/v1/invoices/${govInvoice.id}`)).body).to.deep.equal(govInvoice);
  });

  it("needs the seller's details before an export (409), and refuses a USCC with a wrong check character (400)", async () => {
    const p = platform();
    expect((await p.request('GET', '/api/v1/billing/seller')).status).to.equal(404);
    const early = await p.request('GET', `/api/v1/invoices/${govInvoice.id}/e-fapiao`);
    expect(early.status).to.equal(409);
    expect(early.body.detail).to.match(/seller/);
    const wrong = SELLER.uscc.slice(0, 17) + (SELLER.uscc[17] === '0' ? '1' : '0');
    const bad = await p.request('PUT', '/api/v1/billing/seller', { body: { ...SELLER, uscc: wrong } });
    expect(bad.status).to.equal(400);
    expect(bad.body.errors).to.deep.equal([{ path: 'uscc', message: 'has a wrong check character (character 18)' }]);
    expect((await p.request('PUT', '/api/v1/billing/seller', { body: { ...SELLER, extra: 1 } })).status).to.equal(400);
    expect((await p.request('PUT', '/api/v1/billing/seller', { body: { ...SELLER, name: ' ' } })).status).to.equal(400);
    expect((await p.request('PUT', '/api/v1/billing/seller', { token: gov.apiKey, body: SELLER })).status).to.equal(403);
    const ok = await p.request('PUT', '/api/v1/billing/seller', { body: SELLER });
    expect(ok.status).to.equal(200);
    expect(ok.body).to.deep.equal(SELLER);
    expect((await p.request('GET', '/api/v1/billing/seller')).body).to.deep.equal(SELLER);
  });

  it("keeps a tenant's invoicing details, which only it and the operator see", async () => {
    const p = platform();
    const details = { address: '广州市越秀区府前路 1 号', phone: '020-83123456', bank: '中国建设银行广州分行', bankAccount: '44050100000000000001' };
    // The buyer's USCC is the tenant's own (PATCH /api/v1/tenants/:id).
    expect((await p.request('PATCH', `/api/v1/tenants/${gov.id}`, { body: { uscc: BUYER_USCC } })).status).to.equal(200);
    const put = await p.request('PUT', `/api/v1/tenants/${gov.id}/invoicing`, { token: gov.apiKey, body: details });
    expect(put.status).to.equal(200);
    expect(put.body).to.deep.include({ tenantId: gov.id, name: '广州市交通运输局', uscc: BUYER_USCC, ...details });
    expect((await p.request('GET', `/api/v1/tenants/${gov.id}/invoicing`)).body).to.deep.equal(put.body);
    expect((await p.request('GET', `/api/v1/tenants/${gov.id}/invoicing`, { token: firm.apiKey })).status).to.equal(404);
    expect((await p.request('PUT', `/api/v1/tenants/${gov.id}/invoicing`, { token: firm.apiKey, body: details })).status).to.equal(404);
    expect((await p.request('PUT', '/api/v1/tenants/tn_missing/invoicing', { body: details })).status).to.equal(404);
    expect((await p.request('PUT', `/api/v1/tenants/${gov.id}/invoicing`, { body: { ...details, phone: 'x'.repeat(51) } })).status).to.equal(400);
  });

  it('exports the e-fapiao data as documented JSON: buyer, seller, lines with tax code and VAT, totals', async () => {
    const p = platform();
    const res = await p.request('GET', `/api/v1/invoices/${govInvoice.id}/e-fapiao`, { token: gov.apiKey });
    expect(res.status).to.equal(200);
    const doc = eFapiaoSchema.strict().parse(res.body);
    expect(doc).to.deep.include({
      format: 'tokenpool.e-fapiao.v1',
      invoiceId: govInvoice.id,
      invoiceNumber: govInvoice.number,
      period: '2026-10',
      currency: 'CNY',
    });
    expect(doc.pricesIncludeVat).to.equal(false);
    expect(doc.seller).to.deep.equal(SELLER);
    expect(doc.buyer).to.include({ name: '广州市交通运输局', uscc: BUYER_USCC, address: '广州市越秀区府前路 1 号', bankAccount: '44050100000000000001' });
    expect(doc.lines.map((l) => l.lineNo)).to.deep.equal([1, 2, 3]);
    for (const [i, l] of doc.lines.entries()) {
      const line = govInvoice.lines[i]!;
      expect(l).to.include({
        kind: line.kind,
        taxCode: line.taxCode,
        quantity: line.quantity,
        unitPrice: line.unitPrice,
        amount: line.amount,
        vatRate: line.vatRate,
        vat: line.vat,
        amountInclusive: line.amountInclusive,
      });
      expect(l.name).to.match(/[\u4e00-\u9fff]/);
    }
    expect(doc.totals).to.deep.equal({ amount: govInvoice.total, vat: govInvoice.vat, amountInclusive: govInvoice.totalInclusive });
    // The export adds up: Σ lines = totals.
    const fen = (s: string) => BigInt(s.replace('.', ''));
    expect(doc.lines.reduce((n, l) => n + fen(l.vat), 0n)).to.equal(fen(doc.totals.vat));
    expect(doc.lines.reduce((n, l) => n + fen(l.amountInclusive), 0n)).to.equal(fen(doc.totals.amountInclusive));
  });

  it('round-trips: the Excel file, read back with exceljs, says what the JSON export says', async () => {
    const p = platform();
    const json = (await p.request('GET', `/api/v1/invoices/${govInvoice.id}/e-fapiao`)).body;
    const xlsx = await download(p, `/api/v1/invoices/${govInvoice.id}/e-fapiao.xlsx`, gov.apiKey);
    expect(xlsx.status).to.equal(200);
    expect(xlsx.type).to.equal('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx.bytes as unknown as ArrayBuffer);
    const table = (name: string) => {
      const sheet = wb.getWorksheet(name)!;
      const rows: string[][] = [];
      // Every cell is text, so the decimals are exactly the JSON's (an absent cell reads as "").
      sheet.eachRow((row) =>
        rows.push(
          Array.from((row.values as unknown[]).slice(1), (v) => {
            if (v === undefined || v === null) return '';
            expect(v).to.be.a('string');
            return v as string;
          }),
        ),
      );
      return rows;
    };
    const [header, ...lines] = table('发票明细');
    expect(header).to.deep.equal([
      '序号',
      '项目名称',
      '商品和服务税收分类编码',
      '规格型号',
      '单位',
      '数量',
      '单价',
      '金额',
      '税率',
      '税额',
      '价税合计',
      '说明',
    ]);
    const back = lines.map(([lineNo, name, taxCode, kind, unit, quantity, unitPrice, amount, vatRate, vat, amountInclusive, description]) => ({
      lineNo: Number(lineNo),
      name,
      kind,
      description,
      taxCode,
      unit,
      quantity,
      unitPrice,
      amount,
      vatRate,
      vat,
      amountInclusive,
    }));
    expect(back).to.deep.equal(json.lines);
    const [head, values, ...more] = table('发票基本信息');
    expect(more).to.deep.equal([]);
    const info = Object.fromEntries(head!.map((h, i) => [h, values![i]]));
    expect(info).to.deep.include({
      账单号: json.invoiceNumber,
      计费期间: json.period,
      购买方名称: json.buyer.name,
      购买方统一社会信用代码: json.buyer.uscc ?? '',
      购买方开户银行: json.buyer.bank,
      销售方名称: json.seller.name,
      销售方统一社会信用代码: json.seller.uscc,
      销售方银行账号: json.seller.bankAccount,
      合计金额: json.totals.amount,
      合计税额: json.totals.vat,
      价税合计: json.totals.amountInclusive,
    });
  });

  it('renders a printable PDF with the invoice number and the CJK font embedded', async function () {
    this.timeout(20_000);
    const p = platform();
    const pdf = await download(p, `/api/v1/invoices/${govInvoice.id}/pdf`, gov.apiKey);
    expect(pdf.status).to.equal(200);
    expect(pdf.type).to.equal('application/pdf');
    expect(pdf.text.startsWith('%PDF-')).to.equal(true);
    expect(pdf.text).to.include(`(${govInvoice.number})`);
    expect(checkPdfStructure(pdf.bytes)).to.be.greaterThan(5);
    // Noto Sans CJK SC, embedded (a subset) as a CFF font program.
    expect(pdf.text).to.match(/\/BaseFont \/[A-Z]{6}\+NotoSansCJKsc-Regular/);
    expect(pdf.text).to.match(/\/FontFile3 \d+ 0 R/);
    // Its ToUnicode map makes the Chinese text extractable: 账 (U+8D26), 单 (U+5355), 税 (U+7A0E).
    const cmaps = pdfStreams(pdf.bytes)
      .filter((s) => s.includes('begincmap'))
      .join('\n')
      .toLowerCase();
    for (const cp of ['8d26', '5355', '7a0e']) expect(cmaps, cp).to.include(`<${cp}>`);
  });

  it('shows a tenant only its own invoices: 404 for another tenant’s and for a missing one, in every format', async () => {
    const p = platform();
    for (const suffix of ['e-fapiao', 'e-fapiao.xlsx', 'pdf']) {
      const others = await download(p, `/api/v1/invoices/${firmInvoice.id}/${suffix}`, gov.apiKey);
      expect(others.status, suffix).to.equal(404);
      expect(others.type).to.match(/problem\+json/);
      expect((await download(p, `/api/v1/invoices/inv_missing/${suffix}`)).status, suffix).to.equal(404);
      expect((await download(p, `/api/v1/invoices/${firmInvoice.id}/${suffix}`, firm.apiKey)).status, suffix).to.equal(200);
    }
  });

  it('documents the exports in the OpenAPI document with their media types', async () => {
    const p = platform();
    const doc = (await p.request('GET', '/api/v1/openapi.json')).body;
    expect(doc.paths['/api/v1/invoices/{id}/pdf'].get.responses['200'].content).to.have.key('application/pdf');
    expect(doc.paths['/api/v1/invoices/{id}/e-fapiao.xlsx'].get.responses['200'].content).to.have.key(
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    );
    expect(doc.paths['/api/v1/invoices/{id}/e-fapiao'].get.responses['200'].content['application/json'].schema.properties).to.include.keys(
      'buyer',
      'seller',
      'lines',
      'totals',
    );
    expect(doc.paths['/api/v1/billing/seller']).to.have.keys('get', 'put');
  });

  it('posts an invoice as receivable (inclusive) against revenue and output VAT; credit notes reverse the VAT in proportion, exactly at the end', async () => {
    const p = platform();
    const accounts = async () => {
      const items: { id: string; balance: string }[] = (await p.request('GET', '/api/v1/ledger/balances?limit=100')).body.items;
      const of = (id: string) => items.find((a) => a.id === id)?.balance ?? '0.00';
      return { receivable: of(`receivable:${gov.id}`), revenue: of('revenue'), vat: of('vat_output') };
    };
    // Both invoices: gov 10636.26 + 638.18 VAT, the firm 2.69 + 0.35.
    expect(await accounts()).to.deep.equal({ receivable: '11274.44', revenue: '-10638.95', vat: '-638.53' });
    expect((await p.request('GET', `/api/v1/invoices/${govInvoice.id}`)).body).to.include({ status: 'issued', outstanding: '11274.44' });
    // 1000.00 of 11274.44 owed: 1000.00 × 638.18 ÷ 11274.44 = 56.604… → 56.60 of VAT, 943.40 of revenue.
    const part = await p.request('POST', `/api/v1/invoices/${govInvoice.id}/credit-notes`, { body: { amount: '1000.00', reason: 'outage' } });
    expect(part.status).to.equal(201);
    expect(await accounts()).to.deep.equal({ receivable: '10274.44', revenue: '-9695.55', vat: '-581.93' });
    expect((await p.request('GET', `/api/v1/invoices/${govInvoice.id}`)).body).to.include({ status: 'partially_paid', outstanding: '10274.44' });
    // The rest voids it and reverses exactly the VAT left: only the firm's remains.
    expect((await p.request('POST', `/api/v1/invoices/${govInvoice.id}/credit-notes`, { body: { reason: 'void' } })).status).to.equal(201);
    expect(await accounts()).to.deep.equal({ receivable: '0.00', revenue: '-2.69', vat: '-0.35' });
    expect((await p.request('GET', `/api/v1/invoices/${govInvoice.id}`)).body).to.include({ status: 'void', credited: '11274.44', outstanding: '0.00' });
  });
});
