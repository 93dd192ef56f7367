/**
 * Tenant roles that hold everywhere: admin and member API keys, sessions with the key's role, and
 * users that the operator or their tenant's admins list, disable, delete and reset.
 */
import { PGlite } from '@electric-sql/pglite';
import { expect } from 'chai';
import { Migrator, sql } from 'kysely';
import { parseInt8, wrapPGlite } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrate.js';
import { MIGRATIONS } from '../../db/migrations/index.js';
import { ADMIN_TOKEN, describeOnDatabases, type Answer, type TestPlatform } from './harness.js';

function expectStatus(res: Answer, status: number): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  if (status >= 400) expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
}

interface Browser {
  readonly cookie: string;
  readonly csrf: string;
  readonly session: { kind: string; tenantId: string | null; admin: boolean };
}

async function signIn(p: TestPlatform, body: object): Promise<Browser> {
  const res = await p.request('POST', '/api/v1/session', { token: null, body });
  expectStatus(res, 201);
  return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf: res.body.csrfToken, session: res.body };
}

/** A request on a browser session, with its CSRF token. */
function as(p: TestPlatform, b: Browser, method: string, path: string, body?: unknown): Promise<Answer> {
  return p.request(method, path, { token: null, body, headers: { cookie: b.cookie, 'x-csrf-token': b.csrf } });
}

describeOnDatabases('tenant roles: admin and member keys, users', (platform) => {
  let tenant: { id: string; apiKey: string; apiKeyId: string };
  let other: { id: string; apiKey: string; apiKeyId: string };
  let member: { id: string; key: string; role: string };
  let admin: { id: string; key: string; role: string };

  before(async () => {
    const p = platform();
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Panyu Water', kind: 'government' } })).body;
    other = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Haizhu Parks', kind: 'government' } })).body;
  });

  describe('API keys', () => {
    it("makes a tenant's first key an admin, and later keys members unless asked", async () => {
      const p = platform();
      const keys = (await p.request('GET', `/api/v1/tenants/${tenant.id}/api-keys`)).body.items;
      expect(keys.map((k: { id: string; role: string }) => [k.id, k.role])).to.deep.equal([[tenant.apiKeyId, 'admin']]);
      const made = await p.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`, { token: tenant.apiKey });
      expectStatus(made, 201);
      expect(made.body.role).to.equal('member');
      member = made.body;
      const asAdmin = await p.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`, { token: tenant.apiKey, body: { role: 'admin' } });
      expectStatus(asAdmin, 201);
      expect(asAdmin.body.role).to.equal('admin');
      admin = asAdmin.body;
      expectStatus(await p.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`, { body: { role: 'owner' } }), 400);
    });

    it('lets a member key work, but not make or revoke keys, make or list users, or set the budget (403)', async () => {
      const p = platform();
      const token = member.key;
      expectStatus(await p.request('GET', '/api/v1/me', { token }), 200);
      expectStatus(await p.request('GET', `/api/v1/tenants/${tenant.id}/api-keys`, { token }), 200);
      expectStatus(await p.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`, { token }), 403);
      expectStatus(await p.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`, { token, body: { role: 'admin' } }), 403);
      expectStatus(await p.request('DELETE', `/api/v1/api-keys/${admin.id}`, { token }), 403);
      const user = { username: 'member-made', password: 'not allowed 123', kind: 'tenant', tenantId: tenant.id };
      expectStatus(await p.request('POST', '/api/v1/users', { token, body: user }), 403);
      expectStatus(await p.request('GET', '/api/v1/users', { token }), 403);
      expectStatus(await p.request('PUT', `/api/v1/tenants/${tenant.id}/budget`, { token, body: { monthlyCny: '100.00' } }), 403);
      expectStatus(await p.request('DELETE', `/api/v1/tenants/${tenant.id}/budget`, { token }), 403);
      // Nothing changed: the admin key still works, the keys are as they were, no user, no budget.
      expectStatus(await p.request('GET', '/api/v1/me', { token: admin.key }), 200);
      expect((await p.request('GET', `/api/v1/tenants/${tenant.id}/api-keys`)).body.items).to.have.length(3);
      expect((await p.request('GET', `/api/v1/users?tenantId=${tenant.id}`)).body.items).to.have.length(0);
      expectStatus(await p.request('GET', `/api/v1/tenants/${tenant.id}/budget`, { token }), 404);
    });

    it("answers a member 404, not 403, for another tenant's keys", async () => {
      const p = platform();
      expectStatus(await p.request('POST', `/api/v1/tenants/${other.id}/api-keys`, { token: member.key }), 404);
      expectStatus(await p.request('DELETE', `/api/v1/api-keys/${other.apiKeyId}`, { token: member.key }), 404);
    });

    it('lets an admin key make users, set the budget and make and revoke keys', async () => {
      const p = platform();
      const token = admin.key;
      const user = await p.request('POST', '/api/v1/users', {
        token,
        body: { username: 'lin@panyu', password: 'made by a key 1', kind: 'tenant', tenantId: tenant.id },
      });
      expectStatus(user, 201);
      expectStatus(await p.request('PUT', `/api/v1/tenants/${tenant.id}/budget`, { token, body: { monthlyCny: '100.00' } }), 200);
      expectStatus(await p.request('DELETE', `/api/v1/tenants/${tenant.id}/budget`, { token }), 204);
      const spare = (await p.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`, { token })).body;
      expectStatus(await p.request('DELETE', `/api/v1/api-keys/${spare.id}`, { token }), 200);
      expectStatus(await p.request('GET', '/api/v1/me', { token: spare.key }), 401);
      expect((await p.request('GET', '/api/v1/users', { token })).body.items.map((u: { username: string }) => u.username)).to.deep.equal(['lin@panyu']);
    });

    it('gives a session made from a key the key’s role', async () => {
      const p = platform();
      const m = await signIn(p, { token: member.key });
      expect(m.session).to.include({ kind: 'tenant', tenantId: tenant.id, admin: false });
      expectStatus(await as(p, m, 'GET', '/api/v1/me'), 200);
      expectStatus(await as(p, m, 'POST', `/api/v1/tenants/${tenant.id}/api-keys`, {}), 403);
      expectStatus(await as(p, m, 'PUT', `/api/v1/tenants/${tenant.id}/budget`, { monthlyCny: '5.00' }), 403);
      expectStatus(await as(p, m, 'GET', '/api/v1/users'), 403);
      const a = await signIn(p, { token: admin.key });
      expect(a.session).to.include({ kind: 'tenant', tenantId: tenant.id, admin: true });
      expectStatus(await as(p, a, 'PUT', `/api/v1/tenants/${tenant.id}/budget`, { monthlyCny: '5.00' }), 200);
    });

    it('lets a member key revoke itself', async () => {
      const p = platform();
      expectStatus(await p.request('DELETE', `/api/v1/api-keys/${member.id}`, { token: member.key }), 200);
      expectStatus(await p.request('GET', '/api/v1/me', { token: member.key }), 401);
    });
  });

  describe('users', () => {
    let chen: { id: string };
    let zhao: { id: string };
    let op: { id: string };
    let adminSession: Browser;

    before(async () => {
      const p = platform();
      const make = async (body: object) => {
        const res = await p.request('POST', '/api/v1/users', { body });
        expectStatus(res, 201);
        return res.body as { id: string };
      };
      chen = await make({ username: 'chen@panyu', password: 'tenant admin 1', kind: 'tenant', tenantId: tenant.id, admin: true });
      zhao = await make({ username: 'zhao@panyu', password: 'plain member 2', kind: 'tenant', tenantId: tenant.id });
      op = await make({ username: 'ops.wu', password: 'an operator 3', kind: 'operator' });
      adminSession = await signIn(p, { username: 'chen@panyu', password: 'tenant admin 1' });
    });

    it("lists users with whether they are disabled: the tenant admin its tenant's, the operator all", async () => {
      const p = platform();
      const mine = (await as(p, adminSession, 'GET', '/api/v1/users')).body.items;
      expect(mine.map((u: { username: string; disabled: boolean }) => [u.username, u.disabled])).to.deep.equal([
        ['lin@panyu', false],
        ['chen@panyu', false],
        ['zhao@panyu', false],
      ]);
      const all = (await p.request('GET', '/api/v1/users')).body.items.map((u: { username: string }) => u.username);
      expect(all).to.include.members(['ops.wu', 'chen@panyu']);
    });

    it('disables a user: its session answers 401 at once, it cannot sign in; enabled, it can again', async () => {
      const p = platform();
      const z = await signIn(p, { username: 'zhao@panyu', password: 'plain member 2' });
      expectStatus(await as(p, z, 'GET', '/api/v1/me'), 200);
      // A member user manages no one, not even to disable the admin.
      expectStatus(await as(p, z, 'PATCH', `/api/v1/users/${chen.id}`, { disabled: true }), 403);
      const res = await as(p, adminSession, 'PATCH', `/api/v1/users/${zhao.id}`, { disabled: true });
      expectStatus(res, 200);
      expect(res.body).to.include({ id: zhao.id, disabled: true });
      expectStatus(await as(p, z, 'GET', '/api/v1/me'), 401);
      expectStatus(await as(p, z, 'GET', '/api/v1/session'), 401);
      const refused = await p.request('POST', '/api/v1/session', { token: null, body: { username: 'zhao@panyu', password: 'plain member 2' } });
      expectStatus(refused, 401);
      expect(refused.headers.get('set-cookie')).to.equal(null);
      expectStatus(await p.request('PATCH', `/api/v1/users/${zhao.id}`, { body: { disabled: false } }), 200);
      const back = await signIn(p, { username: 'zhao@panyu', password: 'plain member 2' });
      expectStatus(await as(p, back, 'GET', '/api/v1/me'), 200);
      // The session from before the disabling stays ended.
      expectStatus(await as(p, z, 'GET', '/api/v1/me'), 401);
    });

    it('resets a password: the new one signs in, the old one and the old sessions do not', async () => {
      const p = platform();
      const z = await signIn(p, { username: 'zhao@panyu', password: 'plain member 2' });
      const res = await as(p, adminSession, 'PATCH', `/api/v1/users/${zhao.id}`, { password: 'a new secret 22' });
      expectStatus(res, 200);
      expect(JSON.stringify(res.body)).to.not.contain('secret');
      expectStatus(await as(p, z, 'GET', '/api/v1/me'), 401);
      expectStatus(await p.request('POST', '/api/v1/session', { token: null, body: { username: 'zhao@panyu', password: 'plain member 2' } }), 401);
      await signIn(p, { username: 'zhao@panyu', password: 'a new secret 22' });
      expectStatus(await as(p, adminSession, 'PATCH', `/api/v1/users/${zhao.id}`, { password: 'short' }), 400);
      expectStatus(await as(p, adminSession, 'PATCH', `/api/v1/users/${zhao.id}`, {}), 400);
      expectStatus(await as(p, adminSession, 'PATCH', `/api/v1/users/${zhao.id}`, { admin: true }), 400);
    });

    it("keeps a tenant admin away from another tenant's users and from operators (404)", async () => {
      const p = platform();
      const otherAdmin = await p.request('POST', '/api/v1/users', {
        body: { username: 'he@haizhu', password: 'other tenant 4', kind: 'tenant', tenantId: other.id, admin: true },
      });
      const he = await signIn(p, { username: 'he@haizhu', password: 'other tenant 4' });
      for (const id of [zhao.id, chen.id, op.id, 'usr_missing']) {
        expectStatus(await as(p, he, 'PATCH', `/api/v1/users/${id}`, { disabled: true }), 404);
        expectStatus(await as(p, he, 'DELETE', `/api/v1/users/${id}`), 404);
      }
      expectStatus(await p.request('PATCH', `/api/v1/users/${zhao.id}`, { token: other.apiKey, body: { password: 'taken over 55' } }), 404);
      expect((await as(p, he, 'GET', '/api/v1/users')).body.items.map((u: { id: string }) => u.id)).to.deep.equal([otherAdmin.body.id]);
      // Nothing happened to them.
      await signIn(p, { username: 'zhao@panyu', password: 'a new secret 22' });
      await signIn(p, { username: 'ops.wu', password: 'an operator 3' });
      expectStatus(await as(p, adminSession, 'PATCH', `/api/v1/users/${op.id}`, { disabled: true }), 404);
    });

    it('deletes a user: its sessions end, it cannot sign in, and it is gone', async () => {
      const p = platform();
      const z = await signIn(p, { username: 'zhao@panyu', password: 'a new secret 22' });
      expectStatus(await as(p, adminSession, 'DELETE', `/api/v1/users/${zhao.id}`), 204);
      expectStatus(await as(p, z, 'GET', '/api/v1/me'), 401);
      expectStatus(await p.request('POST', '/api/v1/session', { token: null, body: { username: 'zhao@panyu', password: 'a new secret 22' } }), 401);
      expectStatus(await as(p, adminSession, 'DELETE', `/api/v1/users/${zhao.id}`), 404);
      expect((await as(p, adminSession, 'GET', '/api/v1/users')).body.items.map((u: { id: string }) => u.id)).to.not.include(zhao.id);
    });

    it('lets the operator disable and delete any user, operators too', async () => {
      const p = platform();
      const wu = await signIn(p, { username: 'ops.wu', password: 'an operator 3' });
      expectStatus(await as(p, wu, 'GET', '/api/v1/pool'), 200);
      expectStatus(await p.request('PATCH', `/api/v1/users/${op.id}`, { body: { disabled: true } }), 200);
      expectStatus(await as(p, wu, 'GET', '/api/v1/pool'), 401);
      expectStatus(await p.request('DELETE', `/api/v1/users/${chen.id}`, { token: ADMIN_TOKEN }), 204);
      expectStatus(await as(p, adminSession, 'GET', '/api/v1/me'), 401);
    });
  });
});

describe('migration 0013: API key roles', () => {
  it('makes the keys that exist before it admins, and refuses an unknown role', async () => {
    const database = wrapPGlite(await PGlite.create({ parsers: { 20: parseInt8, 1700: (t: string) => t } }));
    const { db } = database;
    try {
      const names = Object.keys(MIGRATIONS).sort();
      const before = names[names.indexOf('0013_key_roles') - 1]!;
      const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) } });
      expect((await migrator.migrateTo(before)).error).to.equal(undefined);
      await sql`INSERT INTO tenants (id, name, kind, created_at) VALUES ('tn_1', 'Old Tenant', 'government', now())`.execute(db);
      await sql`INSERT INTO api_keys (id, tenant_id, key_hash, key_prefix, created_at) VALUES ('key_old', 'tn_1', 'h', 'tp_key_', now())`.execute(db);
      await migrateToLatest(db);
      const rows = await sql<{ id: string; role: string }>`SELECT id, role FROM api_keys`.execute(db);
      expect(rows.rows).to.deep.equal([{ id: 'key_old', role: 'admin' }]);
      let refused = false;
      await sql`INSERT INTO api_keys (id, tenant_id, key_hash, key_prefix, role, created_at) VALUES ('key_x', 'tn_1', 'h2', 'tp_key_', 'owner', now())`
        .execute(db)
        .catch(() => (refused = true));
      expect(refused).to.equal(true);
    } finally {
      await database.close();
    }
  });
});
