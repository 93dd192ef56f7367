import { expect } from 'chai';
import { sql } from 'kysely';
import { RequestsRepository, type RequestLogEntry } from '../../server/repositories/requests.repository.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

interface Tenant {
  readonly id: string;
  readonly apiKey: string;
  readonly apiKeyId: string;
}

function entry(over: Partial<RequestLogEntry> & Pick<RequestLogEntry, 'requestId' | 'tenantId'>): RequestLogEntry {
  return {
    startedAt: new Date('2026-10-20T02:00:00Z'),
    apiKeyId: null,
    userId: null,
    model: 'qwen2.5-7b-instruct',
    workloadId: 'wl_1',
    placementId: 'pl_1',
    clusterId: 'cl_1',
    endpoint: 'chat.completions',
    status: 200,
    errorCode: null,
    promptTokens: 12,
    completionTokens: 34,
    ttftMs: 45,
    durationMs: 310,
    streamed: false,
    attempts: 1,
    ...over,
  };
}

async function list(p: TestPlatform, query: string, token?: string): Promise<{ status: number; ids: string[]; body: any }> {
  const res = await p.request('GET', `/api/v1/requests${query}`, token === undefined ? {} : { token });
  const ids = res.status === 200 ? (res.body.items as { requestId: string }[]).map((i) => i.requestId) : [];
  return { status: res.status, ids, body: res.body };
}

async function partitions(p: TestPlatform): Promise<string[]> {
  const r = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'request_log'::regclass ORDER BY 1`.execute(p.database.db);
  return r.rows.map((row) => row.name);
}

async function failures(p: TestPlatform): Promise<number> {
  const text = await (await fetch(`${p.baseUrl}/metrics`)).text();
  return Number(/^tokenpool_request_log_write_failures_total (\d+)$/m.exec(text)?.[1]);
}

async function partitionOf(p: TestPlatform, requestId: string): Promise<string | undefined> {
  const r = await sql<{ part: string }>`SELECT tableoid::regclass::text AS part FROM request_log WHERE request_id = ${requestId}`.execute(p.database.db);
  return r.rows[0]?.part;
}

describeOnDatabases('request log', (platform) => {
  let a: Tenant;
  let b: Tenant;
  let member: { id: string; key: string };

  before(async () => {
    const p = platform();
    a = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Nansha Water Bureau', kind: 'government' } })).body;
    b = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Panyu Transit', kind: 'enterprise' } })).body;
    const made = await p.request('POST', `/api/v1/tenants/${a.id}/api-keys`, { token: a.apiKey });
    expect(made.status).to.equal(201);
    member = made.body;
  });

  it('makes the partitions of this month and the next two at start-up, and a default one', async () => {
    expect(await partitions(platform())).to.deep.equal(['request_log_default', 'request_log_y2026m10', 'request_log_y2026m11', 'request_log_y2026m12']);
  });

  it('shows what the gateway recorded, in the order written, camelCase, filtered and paged', async () => {
    const p = platform();
    const svc = p.app.requests;
    svc.record(entry({ requestId: 'req_1', tenantId: a.id, apiKeyId: a.apiKeyId, startedAt: new Date('2026-10-20T01:00:00Z') }));
    svc.record(
      entry({
        requestId: 'req_2',
        tenantId: a.id,
        apiKeyId: member.id,
        model: 'deepseek-r1',
        status: 429,
        errorCode: 'rate_limit_exceeded',
        workloadId: null,
        placementId: null,
        clusterId: null,
        promptTokens: null,
        completionTokens: null,
        ttftMs: null,
        durationMs: 2.4,
        attempts: 0,
        startedAt: new Date('2026-10-20T01:05:00Z'),
      }),
    );
    svc.record(entry({ requestId: 'req_3', tenantId: b.id, apiKeyId: b.apiKeyId, streamed: true, startedAt: new Date('2026-11-02T08:00:00Z') }));
    svc.record(entry({ requestId: 'req_4', tenantId: a.id, apiKeyId: member.id, endpoint: 'embeddings', startedAt: new Date('2026-11-03T09:00:00Z') }));
    svc.record(entry({ requestId: 'req_5', tenantId: a.id, userId: 'usr_1', startedAt: new Date('2026-12-31T23:59:59.999Z') }));

    // The list waits for what this process has recorded: no sleep needed.
    const all = await list(p, '');
    expect(all.status).to.equal(200);
    expect(all.ids).to.deep.equal(['req_1', 'req_2', 'req_3', 'req_4', 'req_5']);
    expect(all.body.nextCursor).to.equal(null);
    expect(all.body.items[1]).to.deep.equal({
      requestId: 'req_2',
      startedAt: '2026-10-20T01:05:00.000Z',
      tenantId: a.id,
      apiKeyId: member.id,
      userId: null,
      model: 'deepseek-r1',
      endpoint: 'chat.completions',
      workloadId: null,
      placementId: null,
      clusterId: null,
      status: 429,
      errorCode: 'rate_limit_exceeded',
      promptTokens: null,
      completionTokens: null,
      ttftMs: null,
      durationMs: 2,
      streamed: false,
      attempts: 0,
    });
    expect(all.body.items[0]).to.deep.include({ promptTokens: 12, completionTokens: 34, ttftMs: 45, durationMs: 310, attempts: 1, workloadId: 'wl_1' });
    expect(await partitionOf(p, 'req_1')).to.equal('request_log_y2026m10');
    expect(await partitionOf(p, 'req_5')).to.equal('request_log_y2026m12');

    expect((await list(p, `?tenantId=${b.id}`)).ids).to.deep.equal(['req_3']);
    expect((await list(p, `?apiKeyId=${member.id}`)).ids).to.deep.equal(['req_2', 'req_4']);
    expect((await list(p, '?model=deepseek-r1')).ids).to.deep.equal(['req_2']);
    expect((await list(p, '?status=200')).ids).to.deep.equal(['req_1', 'req_3', 'req_4', 'req_5']);
    expect((await list(p, '?status=429')).ids).to.deep.equal(['req_2']);
    expect((await list(p, '?from=2026-10-20T01:05:00Z&to=2026-11-03T09:00:00Z')).ids).to.deep.equal(['req_2', 'req_3']);
    expect((await list(p, '?from=2026-11-03T17:00:00%2B08:00')).ids).to.deep.equal(['req_4', 'req_5']);
    expect((await list(p, `?tenantId=${a.id}&status=200&from=2026-11-01T00:00:00Z`)).ids).to.deep.equal(['req_4', 'req_5']);

    const first = await list(p, '?limit=2');
    expect(first.ids).to.deep.equal(['req_1', 'req_2']);
    const second = await list(p, `?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.ids).to.deep.equal(['req_3', 'req_4']);
    const third = await list(p, `?limit=2&cursor=${second.body.nextCursor}`);
    expect(third.ids).to.deep.equal(['req_5']);
    expect(third.body.nextCursor).to.equal(null);
  });

  it("never shows a tenant another tenant's requests; a member sees only its own key's", async () => {
    const p = platform();
    expect((await list(p, '', a.apiKey)).ids).to.deep.equal(['req_1', 'req_2', 'req_4', 'req_5']);
    expect((await list(p, `?tenantId=${b.id}`, a.apiKey)).ids).to.deep.equal(['req_1', 'req_2', 'req_4', 'req_5']);
    expect((await list(p, '', b.apiKey)).ids).to.deep.equal(['req_3']);
    expect((await list(p, `?apiKeyId=${a.apiKeyId}`, b.apiKey)).ids).to.deep.equal([]);
    expect((await list(p, '', member.key)).ids).to.deep.equal(['req_2', 'req_4']);
    expect((await list(p, `?apiKeyId=${a.apiKeyId}`, member.key)).ids).to.deep.equal([]);
    expect((await list(p, '?model=deepseek-r1', member.key)).ids).to.deep.equal(['req_2']);
  });

  it('writes a request recorded again (a retried batch) once', async () => {
    const p = platform();
    const again = entry({ requestId: 'req_1', tenantId: a.id, apiKeyId: a.apiKeyId, startedAt: new Date('2026-10-20T01:00:00Z') });
    p.app.requests.record(again);
    p.app.requests.record(entry({ requestId: 'req_6', tenantId: a.id, startedAt: new Date('2026-10-21T00:00:00Z') }));
    p.app.requests.record(again);
    await p.app.requests.settled();
    expect((await list(p, '')).ids).to.deep.equal(['req_1', 'req_2', 'req_3', 'req_4', 'req_5', 'req_6']);
    // Skipped, not refused: nothing was counted as lost.
    expect(await failures(p)).to.equal(0);
  });

  it('loses only an entry the database refuses, counts it, and never throws to the caller', async () => {
    const p = platform();
    const svc = p.app.requests;
    expect(() => svc.record(entry({ requestId: 'req_bad', tenantId: a.id, attempts: 2 ** 40 }))).not.to.throw();
    svc.record(entry({ requestId: 'req_7', tenantId: a.id, startedAt: new Date('2026-10-22T00:00:00Z') }));
    await svc.settled();
    expect((await list(p, '?from=2026-10-20T02:00:00Z&to=2026-10-23T00:00:00Z')).ids).to.deep.equal(['req_6', 'req_7']);
    expect(await failures(p)).to.equal(1);
  });

  it('refuses bad filters with 400 and agents with 403', async () => {
    const p = platform();
    for (const q of [
      '?status=abc',
      '?status=700',
      '?status=20',
      '?from=yesterday',
      '?to=2026-10-20T01:00:00',
      '?from=0001-01-01T00:00:00Z',
      '?limit=0',
      '?limit=1001',
      '?cursor=nonsense',
      '?sort=desc',
      '?model=%20qwen',
      `?apiKeyId=${'k'.repeat(65)}`,
    ]) {
      const res = await list(p, q);
      expect(res.status, q).to.equal(400);
      expect(res.body.type, q).to.be.a('string');
    }
    const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-1', region: 'nansha' } })).body;
    const agent = (await p.request('POST', `/api/v1/clusters/${cluster.id}/agent-token`)).body.agentToken;
    expect((await list(p, '', agent)).status).to.equal(403);
    expect((await list(p, '', 'tp_key_not-a-key')).status).to.equal(401);
  });

  it('drops a month past the retention whole, keeps younger ones, and moves early rows out of the default partition', async () => {
    const p = platform();
    const svc = p.app.requests;
    // Before any partition, and after the last one made: both land in the default partition.
    svc.record(entry({ requestId: 'req_old', tenantId: a.id, startedAt: new Date('2025-06-01T00:00:00Z') }));
    svc.record(entry({ requestId: 'req_future', tenantId: b.id, startedAt: new Date('2027-02-10T00:00:00Z') }));
    await svc.settled();
    expect(await partitionOf(p, 'req_old')).to.equal('request_log_default');
    expect(await partitionOf(p, 'req_future')).to.equal('request_log_default');

    // 90 days back from 2027-02-15 is 2026-11-17: October ended before it, November did not.
    p.clock.set('2027-02-15T00:00:00Z');
    await p.app.jobs.requestLogRetention.run();

    expect((await list(p, '')).ids).to.deep.equal(['req_3', 'req_4', 'req_5', 'req_future']);
    expect(await partitions(p)).to.deep.equal([
      'request_log_default',
      'request_log_y2026m11',
      'request_log_y2026m12',
      'request_log_y2027m02',
      'request_log_y2027m03',
      'request_log_y2027m04',
    ]);
    expect(await partitionOf(p, 'req_future')).to.equal('request_log_y2027m02');

    // A second run finds nothing more to do.
    await p.app.jobs.requestLogRetention.run();
    expect((await list(p, '')).ids).to.deep.equal(['req_3', 'req_4', 'req_5', 'req_future']);
  });

  it('makes each partition once when several processes ask at the same time', async () => {
    const p = platform();
    const at = new Date('2028-01-15T00:00:00Z');
    const made = await Promise.all([0, 1, 2].map(() => new RequestsRepository(p.database.db).ensurePartitions(at, 2)));
    expect(made.flat().sort()).to.deep.equal(['request_log_y2028m01', 'request_log_y2028m02', 'request_log_y2028m03']);
    expect((await partitions(p)).filter((n) => n.startsWith('request_log_y2028'))).to.have.length(3);
  });
});
