/**
 * The closed month the money views' browser suites open on: on the fake clock, a government tenant
 * on a monthly package and a prepaid enterprise on a unit plan (topped up), two providers — one
 * owning the Nansha cluster, with a flat rate card — usage of both tenants served there in
 * October 2026, and October closed. The clock is left at 2026-11-10 09:00 (+08:00).
 */
import { expect } from 'chai';
import type { TestPlatform } from '../integration/harness.js';

export const MODEL = 'qwen2.5-7b-instruct';

/** A provider's body with the usual bank and contact details. */
export const provider = (name: string, uscc: string) => ({
  name,
  uscc,
  bankName: 'Industrial and Commercial Bank of China, Nansha branch',
  bankAccount: '3602 0012 0910 0123 456',
  contactName: 'Chen Li',
  contactPhone: '+86 20 3999 0000',
  contactEmail: 'settlement@example.cn',
});

export interface ClosedMonth {
  readonly gov: { id: string; apiKey: string };
  readonly firm: { id: string; apiKey: string };
  /** The provider owning the Nansha cluster. */
  readonly pa: { id: string };
  readonly nansha: { id: string; agentToken: string };
}

export async function closeOctober(p: TestPlatform): Promise<ClosedMonth> {
  p.clock.set('2026-10-01T00:00:00+08:00');
  const gov = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Guangzhou Transport Bureau', kind: 'government' } })).body;
  const firm = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Pearl River Logistics', kind: 'enterprise', billingMode: 'prepaid' } })).body;
  const govPlan = (
    await p.request('POST', '/api/v1/plans', {
      body: { name: 'gov-small', type: 'periodic', period: 'month', fee: '1000.00', includedStd: 10_000_000, overagePricePerMillionStd: '8.00' },
    })
  ).body.id;
  const unitPlan = (await p.request('POST', '/api/v1/plans', { body: { name: 'metered', type: 'unit', pricePerMillionStd: '2.50' } })).body.id;
  for (const [t, plan] of [
    [gov, govPlan],
    [firm, unitPlan],
  ] as const)
    await p.request('POST', `/api/v1/tenants/${t.id}/subscriptions`, { body: { planId: plan, startsAt: '2026-10-01T00:00:00+08:00' } });
  expect((await p.request('POST', `/api/v1/tenants/${firm.id}/top-ups`, { body: { amount: '100.00', reference: 'TOPUP-1' } })).status).to.equal(201);

  const pa = (await p.request('POST', '/api/v1/providers', { body: provider('Nansha Compute Co.', '91440101MA59ABCD1D') })).body;
  await p.request('POST', '/api/v1/providers', { body: provider('Huangpu Telecom', '92440106L12345674R') });
  const card = await p.request('POST', `/api/v1/providers/${pa.id}/rate-cards`, {
    body: { terms: { kind: 'flat', pricePerMillionStd: '1.80' }, validFrom: '2026-10-01T00:00:00+08:00' },
  });
  expect(card.status).to.equal(201);
  const nansha = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-1', region: 'nansha' } })).body;
  await p.request('PUT', `/api/v1/clusters/${nansha.id}/provider`, { body: { providerId: pa.id } });
  await p.request('POST', '/api/v1/clusters', { body: { name: 'tianhe-1', region: 'tianhe' } });
  await p.request('POST', '/api/v1/agent/heartbeat', {
    token: nansha.agentToken,
    body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] },
  });
  const events = [];
  for (const [t, name, tokens] of [
    [gov, 'gov-svc', 12_000_000],
    [firm, 'firm-svc', 4_000_000],
  ] as const) {
    const w = (await p.request('POST', '/api/v1/workloads', { token: t.apiKey, body: { name, model: MODEL, tokensPerMin: 1000, access: 'direct' } })).body;
    await p.app.scheduler.runCycle();
    events.push({ id: `e-${name}`, workloadId: w.id, inputTokens: 0, outputTokens: tokens, occurredAt: '2026-10-20T10:00:00+08:00' });
  }
  p.clock.set('2026-10-20T12:00:00+08:00');
  expect((await p.request('POST', '/api/v1/agent/usage', { token: nansha.agentToken, body: { events } })).body.accepted).to.equal(2);
  p.clock.set('2026-11-01T00:30:00+08:00');
  expect((await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } })).status).to.equal(200);
  p.clock.set('2026-11-10T09:00:00+08:00');
  return { gov, firm, pa, nansha };
}
