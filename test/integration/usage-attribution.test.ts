import { PGlite } from '@electric-sql/pglite';
import { expect } from 'chai';
import { Migrator, sql } from 'kysely';
import OpenAI from 'openai';
import { parseInt8, wrapPGlite } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrate.js';
import { MIGRATIONS } from '../../db/migrations/index.js';
import { microFromNumber, usageStdTokens } from '../../scheduler/capacity.js';
import { UsageRepository } from '../../server/repositories/usage.repository.js';
import { MODEL, serveModel, type ServedModel } from './gateway-fixture.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

interface KeySums {
  apiKeyId: string | null;
  name: string | null;
  inputTokens: number;
  outputTokens: number;
  stdTokens: string;
}

interface Report {
  inputTokens: number;
  outputTokens: number;
  stdTokens: string;
  apiKeyId?: string;
  byApiKey: KeySums[];
  byModel: unknown[];
  byTenant: { tenantId: string; name: string | null; inputTokens: number; outputTokens: number; stdTokens: string }[];
}

/** A decimal text scaled by 10^12, exactly (standard tokens carry at most 12 decimal places). */
function pico(text: string): bigint {
  const [whole, frac = ''] = text.split('.');
  return BigInt(whole!) * 10n ** 12n + BigInt(frac.padEnd(12, '0'));
}

const DAY = 86_400_000;

describeOnDatabases('usage attributed to API key and placement: through the gateway, in the usage report, on the invoice', (platform) => {
  let tenant: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  let served: ServedModel;
  let keyA: { id: string; key: string };
  let keyB: { id: string; key: string };
  let factors: { costFactor: number; inputFactor: number };
  // What each call was served, as the engine reported it to the client.
  const calls: { key: 'A' | 'B'; requestId: string; prompt: number; completion: number }[] = [];
  let agentEvent: { input: number; output: number };
  let sessionCall: { input: number; output: number };

  const report = async (p: TestPlatform, query: string, token?: string) => {
    const res = await p.request<Report>('GET', `/api/v1/usage${query}`, token === undefined ? {} : { token });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  };
  const std = (input: number, output: number) => usageStdTokens(input, output, microFromNumber(factors.costFactor), microFromNumber(factors.inputFactor));
  const callWith = async (p: TestPlatform, key: { key: string }, maxTokens: number) => {
    const client = new OpenAI({ apiKey: key.key, baseURL: `${p.baseUrl}/v1`, maxRetries: 0 });
    const { data, request_id } = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: `metered at ${maxTokens}` }], max_tokens: maxTokens })
      .withResponse();
    return { requestId: request_id!, prompt: data.usage!.prompt_tokens, completion: data.usage!.completion_tokens };
  };

  before(async () => {
    const p = platform();
    p.clock.set('2026-10-10T10:00:00+08:00');
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Attributed Tenant', kind: 'government' } })).body;
    other = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Another Tenant', kind: 'enterprise', billingMode: 'postpaid' } })).body;
    // A unit plan at 10,000.00 a million standard tokens: a few tokens make fen on the invoice.
    const plan = (await p.request('POST', '/api/v1/plans', { body: { name: 'per-token', type: 'unit', pricePerMillionStd: '10000.00' } })).body.id;
    expect(
      (await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: plan, startsAt: '2026-10-01T00:00:00+08:00' } })).status,
    ).to.equal(201);
    const newKey = async (name: string) => {
      const res = await p.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`, { token: tenant.apiKey, body: { name } });
      expect(res.status).to.equal(201);
      return { id: res.body.id as string, key: res.body.key as string };
    };
    keyA = await newKey('app-a');
    keyB = await newKey('app-b');
    served = await serveModel(p, tenant.apiKey, { clusterName: 'attrib-1' });
    const model = ((await p.request('GET', '/api/v1/models')).body.items as { name: string; costFactor: number; inputFactor: number }[]).find(
      (m) => m.name === MODEL,
    )!;
    factors = { costFactor: model.costFactor, inputFactor: model.inputFactor };

    calls.push({ key: 'A', ...(await callWith(p, keyA, 12)) });
    calls.push({ key: 'A', ...(await callWith(p, keyA, 7)) });
    calls.push({ key: 'B', ...(await callWith(p, keyB, 31)) });

    // A signed-in user's call: made through no key.
    const user = { username: 'li.na', password: 'a long password 1' };
    expect((await p.request('POST', '/api/v1/users', { body: { ...user, kind: 'tenant', tenantId: tenant.id } })).status).to.equal(201);
    const signedIn = await p.request('POST', '/api/v1/session', { token: null, body: user });
    expect(signedIn.status).to.equal(201);
    const bySession = await p.request('POST', '/v1/chat/completions', {
      token: null,
      body: { model: MODEL, messages: [{ role: 'user', content: 'signed in' }], max_tokens: 9 },
      headers: { cookie: signedIn.headers.get('set-cookie')!.split(';')[0]!, 'x-csrf-token': signedIn.body.csrfToken },
    });
    expect(bySession.status, JSON.stringify(bySession.body)).to.equal(200);
    sessionCall = { input: bySession.body.usage.prompt_tokens, output: bySession.body.usage.completion_tokens };
    expect(sessionCall.output).to.equal(9);

    // Usage an agent reports for a direct workload: made through no key.
    const direct = await p.request('POST', '/api/v1/workloads', {
      token: tenant.apiKey,
      body: { name: 'called-directly', model: MODEL, tokensPerMin: 1000, access: 'direct' },
    });
    expect(direct.status).to.equal(202);
    await p.app.scheduler.runCycle();
    await served.heartbeat(p, [{ id: served.desired.id, readyReplicas: served.desired.replicas, endpoints: [served.engine.url] }]);
    agentEvent = { input: 1000, output: 300 };
    const reported = await p.request('POST', '/api/v1/agent/usage', {
      token: served.agent,
      body: {
        events: [
          {
            id: 'agent-1',
            workloadId: direct.body.id,
            inputTokens: agentEvent.input,
            outputTokens: agentEvent.output,
            occurredAt: p.clock.now().toISOString(),
          },
        ],
      },
    });
    expect(reported.body).to.include({ accepted: 1 });
  });

  after(async () => {
    await served?.engine.close();
  });

  const sumsOf = (key: 'A' | 'B') => {
    const mine = calls.filter((c) => c.key === key);
    const input = mine.reduce((s, c) => s + c.prompt, 0);
    const output = mine.reduce((s, c) => s + c.completion, 0);
    // Each event's standard tokens are exact; their sum is too.
    const stdSum = mine.reduce((s, c) => s + pico(std(c.prompt, c.completion)), 0n);
    return { input, output, stdSum };
  };

  it("lists each key's exact tokens under byApiKey, the usage made through no key as null, and they add up to the total", async () => {
    const p = platform();
    const r = await report(p, '');
    const a = sumsOf('A');
    const b = sumsOf('B');
    expect(a.output).to.equal(19);
    expect(b.output).to.equal(31);
    const byId = new Map(r.byApiKey.map((k) => [k.apiKeyId, k]));
    expect(r.byApiKey).to.have.length(3);
    expect(byId.get(keyA.id)).to.include({ name: 'app-a', inputTokens: a.input, outputTokens: a.output });
    expect(pico(byId.get(keyA.id)!.stdTokens)).to.equal(a.stdSum);
    expect(byId.get(keyB.id)).to.include({ name: 'app-b', inputTokens: b.input, outputTokens: b.output });
    expect(pico(byId.get(keyB.id)!.stdTokens)).to.equal(b.stdSum);
    // An agent's report and a signed-in user's call.
    expect(byId.get(null)).to.include({ name: null, inputTokens: agentEvent.input + sessionCall.input, outputTokens: agentEvent.output + sessionCall.output });
    expect(pico(byId.get(null)!.stdTokens)).to.equal(pico(std(agentEvent.input, agentEvent.output)) + pico(std(sessionCall.input, sessionCall.output)));
    // The usage made through no key comes last.
    expect(r.byApiKey.at(-1)!.apiKeyId).to.equal(null);
    expect(r.inputTokens).to.equal(a.input + b.input + agentEvent.input + sessionCall.input);
    expect(r.outputTokens).to.equal(a.output + b.output + agentEvent.output + sessionCall.output);
    expect(pico(r.stdTokens)).to.equal(r.byApiKey.reduce((s, k) => s + pico(k.stdTokens), 0n));
    // The operator's view of the tenant is the same.
    expect((await report(p, `?tenantId=${tenant.id}`)).byApiKey).to.deep.equal(r.byApiKey);
  });

  it('narrows the report to one key with apiKeyId; a key not the caller tenant’s has no usage there', async () => {
    const p = platform();
    const a = sumsOf('A');
    const onlyA = await report(p, `?apiKeyId=${keyA.id}`, tenant.apiKey);
    expect(onlyA).to.include({ apiKeyId: keyA.id, inputTokens: a.input, outputTokens: a.output });
    expect(pico(onlyA.stdTokens)).to.equal(a.stdSum);
    expect(onlyA.byApiKey.map((k) => k.apiKeyId)).to.deep.equal([keyA.id]);
    expect(onlyA.byModel).to.have.length(1);
    // The operator, across all tenants.
    expect(await report(p, `?apiKeyId=${keyA.id}`)).to.deep.include({ inputTokens: a.input, outputTokens: a.output });
    // Another tenant naming this tenant's key, or anyone naming a key that does not exist: nothing.
    for (const [token, key] of [
      [other.apiKey, keyA.id],
      [tenant.apiKey, 'ak_does-not-exist'],
    ] as const) {
      const none = await report(p, `?apiKeyId=${key}`, token);
      expect(none).to.include({ inputTokens: 0, outputTokens: 0, stdTokens: '0' });
      expect(none.byApiKey).to.deep.equal([]);
    }
    for (const bad of ['', 'k'.repeat(201), '%00']) {
      expect((await p.request('GET', `/api/v1/usage?apiKeyId=${bad}`, { token: tenant.apiKey })).status, bad).to.equal(400);
    }
  });

  it("gives each call's usage event the request log row's id, key, placement and tokens", async () => {
    const p = platform();
    await p.app.requests.settled();
    const logged = (await p.request('GET', `/api/v1/requests?tenantId=${tenant.id}&limit=200`)).body.items as Record<string, unknown>[];
    const events = await p.database.db
      .selectFrom('usage_events')
      .select(['id', 'api_key_id', 'placement_id', 'workload_id', 'cluster_id', 'input_tokens', 'output_tokens'])
      .where('tenant_id', '=', tenant.id)
      .where(
        'id',
        'in',
        calls.map((c) => c.requestId),
      )
      .execute();
    expect(events).to.have.length(calls.length);
    for (const c of calls) {
      const event = events.find((e) => e.id === c.requestId)!;
      const row = logged.find((r) => r.requestId === c.requestId)!;
      expect(row, c.requestId).to.not.equal(undefined);
      const keyId = c.key === 'A' ? keyA.id : keyB.id;
      expect(event).to.deep.equal({
        id: c.requestId,
        api_key_id: keyId,
        placement_id: served.desired.id,
        workload_id: served.desired.workloadId,
        cluster_id: served.clusterId,
        input_tokens: c.prompt,
        output_tokens: c.completion,
      });
      expect(row).to.deep.include({
        apiKeyId: event.api_key_id,
        placementId: event.placement_id,
        workloadId: event.workload_id,
        clusterId: event.cluster_id,
        promptTokens: event.input_tokens,
        completionTokens: event.output_tokens,
      });
    }
  });

  it('stores key and placement ids as given, whatever characters they hold (the batch goes as array literals)', async () => {
    const p = platform();
    const odd = ['NULL', 'a "quoted" \\ key', 'a,b{c}', '键'];
    const metered = await p.app.context.services.usage.meter(
      odd.map((id, i) => ({
        requestId: `odd-${i}`,
        tenantId: other.id,
        apiKeyId: id,
        workloadId: served.desired.workloadId,
        placementId: odd[odd.length - 1 - i]!,
        clusterId: served.clusterId,
        inputTokens: 1,
        outputTokens: 1,
        occurredAt: p.clock.now(),
      })),
    );
    expect(metered).to.equal(odd.length);
    const rows = await p.database.db
      .selectFrom('usage_events')
      .select(['id', 'api_key_id', 'placement_id'])
      .where('tenant_id', '=', other.id)
      .orderBy('id')
      .execute();
    expect(rows).to.deep.equal(odd.map((id, i) => ({ id: `odd-${i}`, api_key_id: id, placement_id: odd[odd.length - 1 - i] })));
    expect((await report(p, '', other.apiKey)).byApiKey.map((k) => k.apiKeyId).sort()).to.deep.equal([...odd].sort());
  });

  it("lists each tenant's usage under byTenant for the operator, equal to the tenant's own report, adding up to the total; a tenant sees only itself", async () => {
    const p = platform();
    const all = await report(p, '');
    const own = await Promise.all([tenant, other].map((t) => report(p, '', t.apiKey)));
    expect(all.byTenant.map((t) => t.tenantId)).to.deep.equal([tenant.id, other.id].sort());
    for (const [i, t] of [tenant, other].entries()) {
      const row = all.byTenant.find((x) => x.tenantId === t.id)!;
      expect(row).to.deep.equal({
        tenantId: t.id,
        name: i === 0 ? 'Attributed Tenant' : 'Another Tenant',
        inputTokens: own[i]!.inputTokens,
        outputTokens: own[i]!.outputTokens,
        stdTokens: own[i]!.stdTokens,
      });
      expect(own[i]!.byTenant.map((x) => x.tenantId)).to.deep.equal([t.id]);
    }
    expect(all.byTenant.reduce((s, t) => s + pico(t.stdTokens), 0n)).to.equal(pico(all.stdTokens));
    expect(all.byTenant.reduce((s, t) => s + t.outputTokens, 0)).to.equal(all.outputTokens);
  });

  it("keeps a revoked key's usage listed under its id and name", async () => {
    const p = platform();
    expect((await p.request('DELETE', `/api/v1/api-keys/${keyB.id}`, { token: tenant.apiKey })).status).to.equal(200);
    const r = await report(p, '', tenant.apiKey);
    expect(r.byApiKey.find((k) => k.apiKeyId === keyB.id)).to.include({ name: 'app-b', outputTokens: sumsOf('B').output });
  });

  it("bills every key's tokens on the tenant's invoice after the month is closed", async () => {
    const p = platform();
    const r = await report(p, `?tenantId=${tenant.id}`);
    p.clock.set('2026-11-01T00:30:00+08:00');
    const close = await p.request('POST', '/api/v1/billing/close', { body: { period: '2026-10' } });
    expect(close.status).to.equal(200);
    const invoice = close.body.items.find((i: { tenantId: string }) => i.tenantId === tenant.id) as {
      lines: { kind: string; quantity: string; amount: string }[];
      total: string;
    };
    const usage = invoice.lines.find((l) => l.kind === 'usage')!;
    const total = sumsOf('A').stdSum + sumsOf('B').stdSum + pico(std(agentEvent.input, agentEvent.output)) + pico(std(sessionCall.input, sessionCall.output));
    expect(pico(r.stdTokens)).to.equal(total);
    // quantity: millions of standard tokens, exact; amount: at 10,000.00 a million, std ÷ 100, rounded half-up to the fen.
    expect(pico(usage.quantity) * 10n ** 6n).to.equal(total);
    const fen = (total + 10n ** 12n / 2n) / 10n ** 12n;
    expect(usage.amount).to.equal(`${fen / 100n}.${String(fen % 100n).padStart(2, '0')}`);
    expect(invoice.total).to.equal(usage.amount);
  });
});

describeOnDatabases("engine counts' retention: the request log's retention job deletes them past TOKENPOOL_ENGINE_COUNTS_RETENTION_DAYS", (platform) => {
  it('deletes the counts past the retention, keeps younger ones, and an agent cannot count a deleted id again', async () => {
    const p = platform();
    p.clock.set('2026-06-01T00:00:00Z');
    const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Counted Tenant', kind: 'government' } })).body;
    const served = await serveModel(p, tenant.apiKey, { clusterName: 'counts-1' });
    try {
      const count = (id: string) =>
        p.request('POST', '/api/v1/agent/usage', {
          token: served.agent,
          body: { events: [{ id, workloadId: served.desired.workloadId, inputTokens: 10, outputTokens: 5, occurredAt: p.clock.now().toISOString() }] },
        });
      const stored = async () => (await p.database.db.selectFrom('engine_counts').select('id').orderBy('id').execute()).map((r) => r.id);
      expect((await count('ec-old')).body).to.include({ accepted: 1 });
      p.clock.advance(30 * DAY);
      expect((await count('ec-young')).body).to.include({ accepted: 1 });

      // 90 days after the first: inside the default 91 days, nothing goes.
      p.clock.advance(60 * DAY);
      await p.app.jobs.requestLogRetention.run();
      expect(await stored()).to.deep.equal(['ec-old', 'ec-young']);

      p.clock.advance(DAY + 60_000);
      await p.app.jobs.requestLogRetention.run();
      expect(await stored()).to.deep.equal(['ec-young']);
      // Sent again with its old time, the deleted count is out of the window, never counted twice.
      const again = await p.request('POST', '/api/v1/agent/usage', {
        token: served.agent,
        body: { events: [{ id: 'ec-old', workloadId: served.desired.workloadId, inputTokens: 10, outputTokens: 5, occurredAt: '2026-06-01T00:00:00Z' }] },
      });
      expect(again.body).to.deep.equal({ accepted: 0, duplicates: 0, rejected: [{ id: 'ec-old', reason: 'out_of_window' }] });
      expect(await stored()).to.deep.equal(['ec-young']);
    } finally {
      await served.engine.close();
    }
  });
});

describe('migration 0022: usage events name their API key and placement', () => {
  it('reads events stored before it back with neither, reported as usage made through no key', async () => {
    const database = wrapPGlite(await PGlite.create({ parsers: { 20: parseInt8, 1700: (t: string) => t } }));
    const { db } = database;
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
      expect((await migrator.migrateTo('0021_shared_workloads')).error).to.equal(undefined);
      await sql`
        INSERT INTO usage_events (id, tenant_id, workload_id, cluster_id, model_id, input_tokens, output_tokens, std_tokens, occurred_at, received_at)
        VALUES ('e1', 't', 'w', 'c1', 'm', 1, 2, 3, '2026-10-10T00:00:00Z', now()), ('e2', 't', 'w', 'c2', 'm', 4, 5, 6.5, '2026-10-11T00:00:00Z', now())`.execute(
        db,
      );
      await migrateToLatest(db);
      const rows = await sql<{ id: string; api_key_id: string | null; placement_id: string | null }>`
        SELECT id, api_key_id, placement_id FROM usage_events ORDER BY id`.execute(db);
      expect(rows.rows).to.deep.equal([
        { id: 'e1', api_key_id: null, placement_id: null },
        { id: 'e2', api_key_id: null, placement_id: null },
      ]);
      const usage = await new UsageRepository(db).breakdown({ tenantId: 't' }, new Date('2026-10-01T00:00:00Z'), new Date('2026-11-01T00:00:00Z'), 'UTC');
      expect(usage.byApiKey).to.deep.equal([{ apiKeyId: null, name: null, inputTokens: 5n, outputTokens: 7n, stdTokens: '9.500000000000' }]);
    } finally {
      await database.close();
    }
  });
});
