/**
 * `npm run gateway` beside the API, as an operator runs them: two processes on one PostgreSQL (and
 * one Redis, when TEST_REDIS_URL is set). The gateway process serves /v1 and health, not the rest
 * of the API; hears revocations at once; never takes the scheduler's lock; and a key's limits hold
 * across both processes together. PostgreSQL only: the embedded database lives in one process.
 */
import { expect } from 'chai';
import pg from 'pg';
import { freshPostgresUrl } from '../databases.js';
import { killAll, ServerProcess } from '../server-process.js';
import { until } from '../until.js';

const ADMIN = 'tp_admin_gateway-process-token-0123456789';
const REDIS_URL = process.env.TEST_REDIS_URL;

interface Running {
  readonly process: ServerProcess;
  readonly base: string;
}

async function start(env: Record<string, string>, program?: string): Promise<Running> {
  const p = new ServerProcess({ PORT: '0', TOKENPOOL_DEMO: '0', TOKENPOOL_ADMIN_TOKEN: ADMIN, ...env }, program);
  return { process: p, base: await p.listening() };
}

/** One request; the body parsed when it is JSON. */
async function call(base: string, method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: /json/.test(res.headers.get('content-type') ?? '') && text ? JSON.parse(text) : undefined, text };
}

(process.env.TEST_DATABASE_URL ? describe : describe.skip)('a gateway process beside the API on PostgreSQL (npm run gateway)', function () {
  this.timeout(90_000);
  let db: pg.Client;
  let api: Running;
  let gateway: Running;
  let tenant: { id: string; apiKey: string };

  before(async () => {
    const url = await freshPostgresUrl();
    const redis: Record<string, string> = REDIS_URL ? { REDIS_URL, TOKENPOOL_REDIS_PREFIX: `test:${process.pid}:${Date.now().toString(36)}:gw:` } : {};
    api = await start({ DATABASE_URL: url, ...redis });
    gateway = await start({ DATABASE_URL: url, TOKENPOOL_GATEWAY_PORT: '0', ...redis }, 'bin/gateway.ts');
    db = new pg.Client({ connectionString: url });
    await db.connect();
    tenant = (await call(api.base, 'POST', '/api/v1/tenants', ADMIN, { name: 'gateway-process', kind: 'enterprise', billingMode: 'postpaid' })).body;
  });

  after(async () => {
    await killAll();
    await db?.end();
  });

  it('serves /v1, /healthz, /readyz and /metrics, and not the rest of the API', async () => {
    expect(api.base).to.not.equal(gateway.base);
    expect((await call(gateway.base, 'GET', '/healthz', null)).status).to.equal(200);
    expect((await call(gateway.base, 'GET', '/readyz', null)).status).to.equal(200);
    const metrics = await call(gateway.base, 'GET', '/metrics', null);
    expect(metrics.status).to.equal(200);
    expect(metrics.text).to.contain('tokenpool_http_request_duration_seconds');
    const models = await call(gateway.base, 'GET', '/v1/models', tenant.apiKey);
    expect(models.status).to.equal(200);
    expect(models.body).to.deep.equal({ object: 'list', data: [] });
    expect((await call(gateway.base, 'GET', '/api/v1/tenants', ADMIN)).status).to.equal(404);
    expect(
      (await call(gateway.base, 'POST', '/api/v1/workloads', tenant.apiKey, { name: 'w', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000 })).status,
    ).to.equal(404);
  });

  it('refuses a key the API revoked at once (it hears the notice)', async () => {
    const key = (await call(api.base, 'POST', `/api/v1/tenants/${tenant.id}/api-keys`, tenant.apiKey, {})).body as { id: string; key: string };
    expect((await call(gateway.base, 'GET', '/v1/models', key.key)).status).to.equal(200);
    expect((await call(api.base, 'DELETE', `/api/v1/api-keys/${key.id}`, tenant.apiKey)).status).to.equal(200);
    await until(
      'the gateway refusing the revoked key',
      () => call(gateway.base, 'GET', '/v1/models', key.key),
      (r) => r.status === 401,
      5000,
    );
  });

  (REDIS_URL ? it : it.skip)(
    `holds a key's rpm across the API process and the gateway process together${REDIS_URL ? '' : ' (skipped: TEST_REDIS_URL is unset)'}`,
    async () => {
      const key = (await call(api.base, 'POST', `/api/v1/tenants/${tenant.id}/api-keys`, tenant.apiKey, { rpm: 4 })).body.key as string;
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await call(i % 2 === 0 ? api.base : gateway.base, 'GET', '/v1/models', key)).status);
      // Per process, each would admit four (eight in all).
      expect(statuses.filter((s) => s === 200)).to.have.length(4);
      expect(statuses.filter((s) => s === 429)).to.have.length(6);
    },
  );

  it('never takes the scheduler lock, even with no API process to hold it', async () => {
    expect((await api.process.terminate()).code).to.equal(0);
    const stopped = new Date();
    // The gateway's elector connection checks itself every 2 s; a candidate would try the lock there.
    const conn = await until(
      "the gateway's elector checking after the API stopped",
      async () =>
        (
          await db.query<{ pid: number; query: string; state: string }>(
            `SELECT pid, query, state FROM pg_stat_activity WHERE application_name LIKE 'tokenpool:%' AND query_start > $1`,
            [stopped],
          )
        ).rows,
      (rows) => rows.length === 1 && rows[0]!.state === 'idle',
      10_000,
      50,
    );
    expect(conn[0]!.query).to.equal('SELECT 1');
    // On this database (other suites' servers may hold the lock on theirs).
    const locks = await db.query(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    expect(locks.rows).to.deep.equal([]);
    expect(gateway.process.stdout).to.match(/^tokenpool gateway listening on /m);
    expect(gateway.process.stderr).to.not.contain('scheduler leadership taken');
    expect((await call(gateway.base, 'GET', '/healthz', null)).status).to.equal(200);
  });
});
