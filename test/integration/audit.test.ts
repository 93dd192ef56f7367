import { expect } from 'chai';
import { sql } from 'kysely';
import { describeOnDatabases, type TestPlatform } from './harness.js';

interface Browser {
  readonly cookie: string;
  readonly csrf: string;
}

async function signIn(p: TestPlatform, username: string, password: string): Promise<Browser> {
  const res = await p.request('POST', '/api/v1/session', { token: null, body: { username, password } });
  expect(res.status).to.equal(201);
  return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf: res.body.csrfToken };
}

function as(p: TestPlatform, b: Browser, method: string, path: string, body?: unknown) {
  return p.request(method, path, { token: null, body, headers: { cookie: b.cookie, 'x-csrf-token': b.csrf } });
}

async function refusals(p: TestPlatform, reason: string): Promise<number> {
  const text = await (await fetch(`${p.baseUrl}/metrics`)).text();
  const m = new RegExp(`^tokenpool_requests_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describeOnDatabases('audit log', (platform) => {
  const PASSWORD = 'correct horse battery staple';
  let tenantA: { id: string; apiKey: string; apiKeyId: string };
  let tenantB: { id: string; apiKey: string; apiKeyId: string };
  let admin: Browser;
  let adminUserId: string;

  it("records an operator's changes: who, what, when, from where, and never a secret", async () => {
    const p = platform();
    p.clock.set('2026-10-20T02:00:00Z');
    const created = await p.request('POST', '/api/v1/tenants', { body: { name: 'Nansha Water Bureau', kind: 'government' } });
    expect(created.status).to.equal(201);
    tenantA = created.body;
    p.clock.set('2026-10-20T02:05:00Z');
    tenantB = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Panyu Transit', kind: 'enterprise' } })).body;
    const user = await p.request('POST', '/api/v1/users', {
      body: { username: 'nansha-admin', password: PASSWORD, kind: 'tenant', tenantId: tenantA.id, admin: true },
    });
    expect(user.status).to.equal(201);
    adminUserId = user.body.id;
    const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-1', region: 'nansha' } })).body;
    const rotated = await p.request('POST', `/api/v1/clusters/${cluster.id}/agent-token`);
    expect(rotated.status).to.equal(200);
    // Agents' heartbeats are not changes by people; reads are not changes.
    const beat = await p.request('POST', '/api/v1/agent/heartbeat', {
      token: rotated.body.agentToken,
      body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] },
    });
    expect(beat.status).to.equal(200);
    await p.request('GET', '/api/v1/tenants');

    const res = await p.request('GET', '/api/v1/audit');
    expect(res.status).to.equal(200);
    const items = res.body.items as any[];
    expect(items.map((e) => `${e.method} ${e.route}`)).to.deep.equal([
      'POST /api/v1/tenants',
      'POST /api/v1/tenants',
      'POST /api/v1/users',
      'POST /api/v1/clusters',
      'POST /api/v1/clusters/:id/agent-token',
    ]);
    expect(items[0]).to.deep.include({
      at: '2026-10-20T02:00:00.000Z',
      actor: { kind: 'operator', name: 'admin', userId: null, apiKeyId: null, tenantId: null },
      resourceId: null,
      createdId: tenantA.id,
      status: 201,
      changes: { name: 'Nansha Water Bureau', kind: 'government' },
      requestId: created.headers.get('x-request-id'),
    });
    expect(items[0].address).to.match(/127\.0\.0\.1$/);
    expect(items[1].at).to.equal('2026-10-20T02:05:00.000Z');
    expect(items[2].changes).to.deep.include({ username: 'nansha-admin', password: '[redacted]' });
    expect(items[4]).to.deep.include({ resourceId: cluster.id, createdId: null, status: 200, changes: null });
    const text = JSON.stringify(res.body);
    for (const secret of [tenantA.apiKey, tenantB.apiKey, PASSWORD, cluster.agentToken, rotated.body.agentToken]) expect(text).to.not.include(secret);
  });

  it("shows a tenant admin its own tenant's entries only, and refuses members and agents", async () => {
    const p = platform();
    admin = await signIn(p, 'nansha-admin', PASSWORD);
    expect((await as(p, admin, 'POST', `/api/v1/tenants/${tenantA.id}/api-keys`)).status).to.equal(201);
    const workload = await p.request('POST', '/api/v1/workloads', {
      token: tenantB.apiKey,
      body: { name: 'w', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000 },
    });
    expect(workload.status).to.equal(202);

    for (const path of ['/api/v1/audit', `/api/v1/audit?tenantId=${tenantB.id}`]) {
      const mine = await as(p, admin, 'GET', path);
      expect(mine.status).to.equal(200);
      expect(mine.body.items).to.have.length(2);
      // The sign-in, with who signed in and never the password.
      expect(mine.body.items[0]).to.deep.include({
        actor: { kind: 'tenant', name: 'nansha-admin', userId: null, apiKeyId: null, tenantId: tenantA.id },
        route: '/api/v1/session',
        changes: { username: 'nansha-admin', password: '[redacted]' },
      });
      expect(mine.body.items[1]).to.deep.include({
        actor: { kind: 'tenant', name: 'nansha-admin', userId: adminUserId, apiKeyId: null, tenantId: tenantA.id },
        route: '/api/v1/tenants/:id/api-keys',
        resourceId: tenantA.id,
      });
    }
    const forB = (await p.request('GET', `/api/v1/audit?tenantId=${tenantB.id}`)).body.items;
    expect(forB).to.have.length(1);
    expect(forB[0]).to.deep.include({
      route: '/api/v1/workloads',
      createdId: workload.body.id,
      actor: { kind: 'tenant', name: null, userId: null, apiKeyId: tenantB.apiKeyId, tenantId: tenantB.id },
    });

    await p.request('POST', '/api/v1/users', { body: { username: 'nansha-clerk', password: PASSWORD, kind: 'tenant', tenantId: tenantA.id } });
    const member = await signIn(p, 'nansha-clerk', PASSWORD);
    const forbiddenBefore = await refusals(p, 'forbidden');
    expect((await as(p, member, 'GET', '/api/v1/audit')).status).to.equal(403);
    const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'nansha-2', region: 'nansha' } })).body;
    expect((await p.request('GET', '/api/v1/audit', { token: cluster.agentToken })).status).to.equal(403);
    expect((await p.request('GET', '/api/v1/audit', { token: null })).status).to.equal(401);
    expect(await refusals(p, 'forbidden')).to.equal(forbiddenBefore + 2);
  });

  it('pages with a cursor and filters by actor, tenant, route and time', async () => {
    const p = platform();
    const all = (await p.request('GET', '/api/v1/audit?limit=1000')).body.items as any[];
    expect(all.length).to.be.greaterThan(4);
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const page: any = (await p.request('GET', `/api/v1/audit?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).body;
      expect(page.items.length).to.be.at.most(2);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).to.deep.equal(all);

    const byRoute = (await p.request('GET', '/api/v1/audit?route=/api/v1/tenants')).body.items;
    expect(byRoute.map((e: any) => e.createdId)).to.deep.equal([tenantA.id, tenantB.id]);
    const byActor = (await p.request('GET', '/api/v1/audit?actor=nansha-admin')).body.items;
    expect(byActor.map((e: any) => e.route)).to.deep.equal(['/api/v1/session', '/api/v1/tenants/:id/api-keys']);
    expect((await p.request('GET', `/api/v1/audit?actor=${adminUserId}`)).body.items).to.deep.equal(byActor.slice(1));
    const window = (await p.request('GET', `/api/v1/audit?from=${encodeURIComponent('2026-10-20T02:00:00Z')}&to=${encodeURIComponent('2026-10-20T02:05:00Z')}`))
      .body.items;
    expect(window.map((e: any) => e.createdId)).to.deep.equal([tenantA.id]);
    expect((await p.request('GET', '/api/v1/audit?from=yesterday')).status).to.equal(400);
    expect((await p.request('GET', '/api/v1/audit?cursor=nope')).status).to.equal(400);
    expect((await p.request('GET', '/api/v1/audit?sort=at')).status).to.equal(400);
  });

  it('is append-only in the database: no update, no delete of a young row, no truncate', async () => {
    const db = platform().app.context.database.db;
    const before = await db
      .selectFrom('audit_log')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const refused = async (statement: Promise<unknown>) => {
      try {
        await statement;
      } catch (err) {
        return String(err);
      }
      return 'done';
    };
    expect(await refused(db.updateTable('audit_log').set({ status: 500 }).execute())).to.match(/append-only/);
    expect(await refused(db.deleteFrom('audit_log').execute())).to.match(/append-only/);
    expect(await refused(sql`TRUNCATE audit_log`.execute(db))).to.match(/append-only/);
    const after = await db
      .selectFrom('audit_log')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(after.n)).to.equal(Number(before.n));
  });

  it('counts failed sign-ins and refused credentials, without the request failing otherwise', async () => {
    const p = platform();
    const failed = await refusals(p, 'sign_in_failed');
    const unauthenticated = await refusals(p, 'unauthenticated');
    expect((await p.request('POST', '/api/v1/session', { token: null, body: { username: 'nansha-admin', password: 'wrong password' } })).status).to.equal(401);
    expect((await p.request('GET', '/api/v1/tenants', { token: 'tp_key_not-a-key' })).status).to.equal(401);
    expect(await refusals(p, 'sign_in_failed')).to.equal(failed + 1);
    const signIns = (await p.request('GET', '/api/v1/audit?route=/api/v1/session')).body.items;
    expect(signIns.map((e: any) => e.actor.name)).to.deep.equal(['nansha-admin', 'nansha-clerk']);
    expect(await refusals(p, 'unauthenticated')).to.equal(unauthenticated + 1);
  });

  it('retention deletes only the entries older than TOKENPOOL_AUDIT_RETENTION_DAYS', async () => {
    const p = platform();
    p.clock.set('2025-01-01T00:00:00Z');
    await p.request('POST', '/api/v1/plans', { body: { name: 'old-plan', type: 'unit', pricePerMillionStd: '1.00' } });
    p.clock.set('2025-06-01T00:00:00Z');
    await p.request('POST', '/api/v1/plans', { body: { name: 'newer-plan', type: 'unit', pricePerMillionStd: '1.00' } });
    const plans = async () => ((await p.request('GET', '/api/v1/audit?route=/api/v1/plans')).body.items as any[]).map((e) => e.changes.name);
    expect(await plans()).to.deep.equal(['old-plan', 'newer-plan']);
    const total = (await p.request('GET', '/api/v1/audit?limit=1000')).body.items.length;

    // 365 days (the default) before 2026-01-10 is 2025-01-10: only the first entry is older.
    p.clock.set('2026-01-10T00:00:00Z');
    await p.app.jobs.auditRetention.run();
    expect(await plans()).to.deep.equal(['newer-plan']);
    expect((await p.request('GET', '/api/v1/audit?limit=1000')).body.items.length).to.equal(total - 1);
  });
});
