import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { describeOnDatabases, type Answer } from './harness.js';

const KEY = /^tp_key_([A-Za-z0-9_-]+)$/;

function expectProblem(res: Answer, status: number): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
  expect(res.body).to.include({ status });
}

function paths(res: Answer): string[] {
  return (res.body.errors ?? []).map((e: { path: string }) => e.path);
}

/** The random part of a key decodes to at least 32 bytes. */
function expectKey(key: unknown): void {
  expect(key).to.be.a('string').and.match(KEY);
  const random = KEY.exec(key as string)![1]!;
  expect(Buffer.from(random, 'base64url').length).to.be.at.least(32);
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

describeOnDatabases('tenants and API keys', (platform) => {
  // Guangzhou Transport Bureau, with its first key; and a second tenant.
  let gz: { id: string; apiKey: string; apiKeyId?: string };
  let acme: { id: string; apiKey: string };
  const everyKey: string[] = [];

  describe('creating tenants', () => {
    it('creates a tenant (201) and shows its API key once', async () => {
      const p = platform();
      const res = await p.request('POST', '/api/v1/tenants', { body: { name: 'Guangzhou Transport Bureau', kind: 'government' } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body).to.include({ name: 'Guangzhou Transport Bureau', kind: 'government', maxStdPerMin: null });
      expect(res.body.id).to.be.a('string').and.not.equal('');
      expectKey(res.body.apiKey);
      gz = res.body;
      everyKey.push(gz.apiKey);

      const got = await p.request('GET', `/api/v1/tenants/${gz.id}`);
      expect(got.status).to.equal(200);
      expect(got.body).to.deep.equal({
        id: gz.id,
        name: 'Guangzhou Transport Bureau',
        kind: 'government',
        maxStdPerMin: null,
        weight: 1,
        maxPriority: 'normal',
        rpm: null,
        tpm: null,
        billingMode: 'postpaid',
        uscc: null,
        createdAt: p.clock.now().toISOString(),
      });
      expect(JSON.stringify(got.body)).to.not.contain(gz.apiKey);

      const second = await p.request('POST', '/api/v1/tenants', { body: { name: 'Acme Logistics', kind: 'enterprise' } });
      expect(second.status).to.equal(201);
      expectKey(second.body.apiKey);
      expect(second.body.apiKey).to.not.equal(gz.apiKey);
      acme = second.body;
      everyKey.push(acme.apiKey);
    });

    it('accepts the key as that tenant', async () => {
      const p = platform();
      const self = await p.request('GET', `/api/v1/tenants/${gz.id}`, { token: gz.apiKey });
      expect(self.status).to.equal(200);
      expect(self.body).to.include({ id: gz.id, name: 'Guangzhou Transport Bureau' });
      expect((await p.request('GET', '/api/v1/models', { token: gz.apiKey })).status).to.equal(200);
      expect((await p.request('GET', '/api/v1/device-profiles', { token: gz.apiKey })).status).to.equal(200);
    });

    it('refuses a duplicate name (409) and creates nothing', async () => {
      const p = platform();
      expectProblem(await p.request('POST', '/api/v1/tenants', { body: { name: 'Guangzhou Transport Bureau', kind: 'enterprise' } }), 409);
      const list = await p.request('GET', '/api/v1/tenants');
      expect(list.body.items.map((t: { name: string }) => t.name)).to.deep.equal(['Guangzhou Transport Bureau', 'Acme Logistics']);
    });

    it('refuses a unified social credit code another tenant has (409), at create and in a patch, and changes nothing', async () => {
      const p = platform();
      const code = '91440101MA5TKPL03U';
      const items = (await p.request('GET', '/api/v1/tenants')).body.items as { id: string; name: string; uscc: string | null; weight: number }[];
      const holder = items.find((t) => t.name === 'Guangzhou Transport Bureau')!;
      const other = items.find((t) => t.name === 'Acme Logistics')!;
      expect((await p.request('PATCH', `/api/v1/tenants/${holder.id}`, { body: { uscc: code } })).status).to.equal(200);
      expectProblem(await p.request('POST', '/api/v1/tenants', { body: { name: 'Liwan Water', kind: 'enterprise', uscc: code } }), 409);
      const patched = await p.request('PATCH', `/api/v1/tenants/${other.id}`, { body: { uscc: code, weight: 3 } });
      expectProblem(patched, 409);
      expect(patched.body.detail).to.equal('Another tenant has this unified social credit code.');
      expect((await p.request('GET', `/api/v1/tenants/${other.id}`)).body).to.deep.include({ uscc: other.uscc, weight: other.weight });
      expect((await p.request('GET', '/api/v1/tenants')).body.items.map((t: { name: string }) => t.name)).to.not.include('Liwan Water');
      // Documented as the contract says (the fuzzing checks every answer against it).
      const doc = (await p.request('GET', '/api/v1/openapi.json', { token: null })).body;
      expect(Object.keys(doc.paths['/api/v1/tenants/{id}'].patch.responses)).to.include('409');
      expect(Object.keys(doc.paths['/api/v1/tenants'].post.responses)).to.include('409');
      expect((await p.request('PATCH', `/api/v1/tenants/${holder.id}`, { body: { uscc: null } })).status).to.equal(200);
    });

    const bad: [string, unknown, string][] = [
      ['a bad kind', { name: 'Foshan Water', kind: 'ngo' }, 'kind'],
      ['a missing kind', { name: 'Foshan Water' }, 'kind'],
      ['an empty name', { name: '', kind: 'enterprise' }, 'name'],
      ['a blank name', { name: '   ', kind: 'enterprise' }, 'name'],
      ['a name that is not a string', { name: 42, kind: 'enterprise' }, 'name'],
      ['an unknown field', { name: 'Foshan Water', kind: 'enterprise', maxStdPerMin: 5 }, 'maxStdPerMin'],
    ];
    for (const [what, body, path] of bad) {
      it(`refuses ${what} (400, ${path})`, async () => {
        const res = await platform().request('POST', '/api/v1/tenants', { body });
        expectProblem(res, 400);
        expect(paths(res)).to.deep.equal([path]);
      });
    }

    it('lists and gets tenants, never with a key', async () => {
      const p = platform();
      const list = await p.request('GET', '/api/v1/tenants');
      expect(list.status).to.equal(200);
      expect(list.body.nextCursor).to.equal(null);
      expect(list.body.items.map((t: { id: string }) => t.id)).to.deep.equal([gz.id, acme.id]);
      for (const t of list.body.items)
        expect(t).to.have.keys('id', 'name', 'kind', 'maxStdPerMin', 'weight', 'maxPriority', 'rpm', 'tpm', 'billingMode', 'uscc', 'createdAt');
      const page = await p.request('GET', '/api/v1/tenants?limit=1');
      expect(page.body.items.map((t: { id: string }) => t.id)).to.deep.equal([gz.id]);
      const rest = await p.request('GET', `/api/v1/tenants?limit=1&cursor=${page.body.nextCursor}`);
      expect(rest.body.items.map((t: { id: string }) => t.id)).to.deep.equal([acme.id]);
      expect(rest.body.nextCursor).to.equal(null);
      expectProblem(await p.request('GET', '/api/v1/tenants/tn_missing'), 404);
    });
  });

  describe('quota override', () => {
    it('sets and clears maxStdPerMin', async () => {
      const p = platform();
      const set = await p.request('PATCH', `/api/v1/tenants/${gz.id}`, { body: { maxStdPerMin: 500000 } });
      expect(set.status, JSON.stringify(set.body)).to.equal(200);
      expect(set.body).to.include({ id: gz.id, maxStdPerMin: 500000 });
      expect((await p.request('GET', `/api/v1/tenants/${gz.id}`)).body.maxStdPerMin).to.equal(500000);
      expect((await p.request('GET', `/api/v1/tenants/${gz.id}`, { token: gz.apiKey })).body.maxStdPerMin).to.equal(500000);
      expect((await p.request('GET', `/api/v1/tenants/${acme.id}`)).body.maxStdPerMin).to.equal(null);

      const cleared = await p.request('PATCH', `/api/v1/tenants/${gz.id}`, { body: { maxStdPerMin: null } });
      expect(cleared.status).to.equal(200);
      expect(cleared.body.maxStdPerMin).to.equal(null);
      expect((await p.request('GET', `/api/v1/tenants/${gz.id}`)).body.maxStdPerMin).to.equal(null);

      const zero = await p.request('PATCH', `/api/v1/tenants/${acme.id}`, { body: { maxStdPerMin: 0 } });
      expect(zero.status).to.equal(200);
      expect(zero.body.maxStdPerMin).to.equal(0);
      expect((await p.request('PATCH', `/api/v1/tenants/${acme.id}`, { body: { maxStdPerMin: null } })).body.maxStdPerMin).to.equal(null);
    });

    const bad: [string, unknown][] = [
      ['a fraction', { maxStdPerMin: 1.5 }],
      ['a negative number', { maxStdPerMin: -1 }],
      ['a string', { maxStdPerMin: '500000' }],
      ['nothing', {}],
    ];
    for (const [what, body] of bad) {
      it(`refuses ${what} as a quota (400) and keeps the old one`, async () => {
        const p = platform();
        await p.request('PATCH', `/api/v1/tenants/${gz.id}`, { body: { maxStdPerMin: 700000 } });
        const res = await p.request('PATCH', `/api/v1/tenants/${gz.id}`, { body });
        expectProblem(res, 400);
        expect(paths(res)).to.deep.equal(['maxStdPerMin']);
        expect((await p.request('GET', `/api/v1/tenants/${gz.id}`)).body.maxStdPerMin).to.equal(700000);
        await p.request('PATCH', `/api/v1/tenants/${gz.id}`, { body: { maxStdPerMin: null } });
      });
    }

    it('refuses an unknown field in the patch (400)', async () => {
      const res = await platform().request('PATCH', `/api/v1/tenants/${gz.id}`, { body: { maxStdPerMin: 5, name: 'Renamed' } });
      expectProblem(res, 400);
      expect(paths(res)).to.deep.equal(['name']);
    });

    it('answers 404 for an unknown tenant', async () => {
      expectProblem(await platform().request('PATCH', '/api/v1/tenants/tn_missing', { body: { maxStdPerMin: 5 } }), 404);
    });
  });

  describe('fair-share weight', () => {
    it('is 1 unless the operator sets it at create, shown in every tenant answer', async () => {
      const p = platform();
      const created = await p.request('POST', '/api/v1/tenants', { body: { name: 'Nansha Port', kind: 'enterprise', weight: 2.5 } });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      expect(created.body).to.include({ name: 'Nansha Port', weight: 2.5 });
      const port = created.body as { id: string; apiKey: string };
      everyKey.push(port.apiKey);
      expect((await p.request('GET', `/api/v1/tenants/${port.id}`)).body.weight).to.equal(2.5);
      expect((await p.request('GET', `/api/v1/tenants/${port.id}`, { token: port.apiKey })).body.weight).to.equal(2.5);
      expect((await p.request('GET', '/api/v1/me', { token: port.apiKey })).body.tenant.weight).to.equal(2.5);
      const listed = (await p.request('GET', '/api/v1/tenants')).body.items as { id: string; weight: number }[];
      expect(listed.find((t) => t.id === port.id)?.weight).to.equal(2.5);
      expect(listed.find((t) => t.id === acme.id)?.weight).to.equal(1);
    });

    it('is changed by a PATCH, alone or with the quota, leaving what is not named', async () => {
      const p = platform();
      const weighted = await p.request('PATCH', `/api/v1/tenants/${acme.id}`, { body: { weight: 3 } });
      expect(weighted.status, JSON.stringify(weighted.body)).to.equal(200);
      expect(weighted.body).to.include({ id: acme.id, weight: 3, maxStdPerMin: null });
      const both = await p.request('PATCH', `/api/v1/tenants/${acme.id}`, { body: { maxStdPerMin: 400000, weight: 0.5 } });
      expect(both.body).to.include({ weight: 0.5, maxStdPerMin: 400000 });
      const quotaOnly = await p.request('PATCH', `/api/v1/tenants/${acme.id}`, { body: { maxStdPerMin: null } });
      expect(quotaOnly.body).to.include({ weight: 0.5, maxStdPerMin: null });
      expect((await p.request('GET', `/api/v1/tenants/${acme.id}`)).body).to.include({ weight: 0.5, maxStdPerMin: null });
      await p.request('PATCH', `/api/v1/tenants/${acme.id}`, { body: { weight: 1 } });
    });

    const bad: [string, unknown][] = [
      ['zero', 0],
      ['a negative number', -1],
      ['too small', 0.001],
      ['too large', 1001],
      ['a string', '2'],
      ['null', null],
    ];
    for (const [what, weight] of bad) {
      it(`refuses ${what} as a weight (400) at create and in a PATCH, changing nothing`, async () => {
        const p = platform();
        const create = await p.request('POST', '/api/v1/tenants', { body: { name: `Weighted ${what}`, kind: 'enterprise', weight } });
        expectProblem(create, 400);
        expect(paths(create)).to.deep.equal(['weight']);
        const patch = await p.request('PATCH', `/api/v1/tenants/${acme.id}`, { body: { weight, maxStdPerMin: 5 } });
        expectProblem(patch, 400);
        expect(paths(patch)).to.deep.equal(['weight']);
        expect((await p.request('GET', `/api/v1/tenants/${acme.id}`)).body).to.include({ weight: 1, maxStdPerMin: null });
        const names = (await p.request('GET', '/api/v1/tenants')).body.items.map((t: { name: string }) => t.name);
        expect(names).to.not.include(`Weighted ${what}`);
      });
    }

    it('a tenant cannot set its own (403)', async () => {
      const p = platform();
      expectProblem(await p.request('PATCH', `/api/v1/tenants/${gz.id}`, { token: gz.apiKey, body: { weight: 100 } }), 403);
      expect((await p.request('GET', `/api/v1/tenants/${gz.id}`)).body.weight).to.equal(1);
    });
  });

  describe('what a tenant may do', () => {
    it('refuses operator-only endpoints (403)', async () => {
      const p = platform();
      const token = gz.apiKey;
      expectProblem(await p.request('POST', '/api/v1/tenants', { token, body: { name: 'Sneaky', kind: 'enterprise' } }), 403);
      expectProblem(await p.request('GET', '/api/v1/tenants', { token }), 403);
      expectProblem(await p.request('GET', '/api/v1/pool', { token }), 403);
      expectProblem(await p.request('PATCH', `/api/v1/tenants/${gz.id}`, { token, body: { maxStdPerMin: null } }), 403);
      expectProblem(await p.request('GET', '/api/v1/clusters', { token }), 403);
      expectProblem(await p.request('POST', '/api/v1/clusters', { token, body: { name: 'sneaky', region: 'nansha' } }), 403);
      expectProblem(await p.request('POST', '/api/v1/agent/heartbeat', { token, body: { inventory: [] } }), 403);
      const names = (await p.request('GET', '/api/v1/tenants')).body.items.map((t: { name: string }) => t.name);
      expect(names).to.not.include('Sneaky');
    });

    it("answers 404 for another tenant's resources, exactly as for ones that do not exist", async () => {
      const p = platform();
      const token = gz.apiKey;
      const acmeKeys = (await p.request('GET', `/api/v1/tenants/${acme.id}/api-keys`)).body.items;
      expect(acmeKeys).to.have.length(1);
      const pairs: [Answer, Answer][] = [
        [await p.request('GET', `/api/v1/tenants/${acme.id}`, { token }), await p.request('GET', '/api/v1/tenants/tn_missing', { token })],
        [await p.request('POST', `/api/v1/tenants/${acme.id}/api-keys`, { token }), await p.request('POST', '/api/v1/tenants/tn_missing/api-keys', { token })],
        [await p.request('GET', `/api/v1/tenants/${acme.id}/api-keys`, { token }), await p.request('GET', '/api/v1/tenants/tn_missing/api-keys', { token })],
        [await p.request('DELETE', `/api/v1/api-keys/${acmeKeys[0].id}`, { token }), await p.request('DELETE', '/api/v1/api-keys/key_missing', { token })],
      ];
      for (const [other, missing] of pairs) {
        expectProblem(other, 404);
        expectProblem(missing, 404);
        expect(JSON.stringify(other.body)).to.not.contain(acme.id).and.not.contain('Acme');
        expect({ ...other.body, detail: '' }).to.deep.equal({ ...missing.body, detail: '' });
      }
      // Nothing happened to Acme: one key, still working.
      const keys = (await p.request('GET', `/api/v1/tenants/${acme.id}/api-keys`)).body.items;
      expect(keys).to.have.length(1);
      expect(keys[0].revokedAt).to.equal(null);
      expect((await p.request('GET', `/api/v1/tenants/${acme.id}`, { token: acme.apiKey })).status).to.equal(200);
    });
  });

  describe('API keys', () => {
    let byOperator: { id: string; key: string };
    let byTenant: { id: string; key: string };

    it('creates keys for the operator (201) and for the tenant itself (201)', async () => {
      const p = platform();
      const op = await p.request('POST', `/api/v1/tenants/${gz.id}/api-keys`);
      expect(op.status, JSON.stringify(op.body)).to.equal(201);
      expect(op.body.id).to.be.a('string');
      expectKey(op.body.key);
      expect(op.body).to.include({ tenantId: gz.id, revokedAt: null });
      byOperator = op.body;
      const own = await p.request('POST', `/api/v1/tenants/${gz.id}/api-keys`, { token: gz.apiKey });
      expect(own.status).to.equal(201);
      expectKey(own.body.key);
      byTenant = own.body;
      everyKey.push(byOperator.key, byTenant.key);
      expect(new Set(everyKey).size).to.equal(everyKey.length);

      for (const key of [byOperator.key, byTenant.key]) {
        const self = await p.request('GET', `/api/v1/tenants/${gz.id}`, { token: key });
        expect(self.status).to.equal(200);
        expectProblem(await p.request('GET', `/api/v1/tenants/${acme.id}`, { token: key }), 404);
      }
    });

    it('lists keys without the keys or their hashes', async () => {
      const p = platform();
      for (const token of [undefined, gz.apiKey]) {
        const res = await p.request('GET', `/api/v1/tenants/${gz.id}/api-keys`, token ? { token } : {});
        expect(res.status).to.equal(200);
        expect(res.body.items.map((k: { id: string }) => k.id)).to.have.members([gz.apiKeyId, byOperator.id, byTenant.id].filter(Boolean));
        expect(res.body.items).to.have.length(3);
        const text = JSON.stringify(res.body);
        for (const key of everyKey) {
          expect(text).to.not.contain(key);
          expect(text).to.not.contain(sha256(key));
        }
        for (const k of res.body.items) {
          expect(k).to.not.have.any.keys('key', 'hash', 'keyHash', 'key_hash');
          expect(k.tenantId).to.equal(gz.id);
          expect(k.revokedAt).to.equal(null);
          // A short prefix to tell keys apart is fine; the key is not.
          if (k.prefix !== undefined) expect(k.prefix.length).to.be.below(20);
        }
      }
    });

    it('revokes a key: it gets 401 from then on, and revoking again is fine', async () => {
      const p = platform();
      const res = await p.request('DELETE', `/api/v1/api-keys/${byOperator.id}`);
      expect(res.status).to.be.oneOf([200, 204]);
      expectProblem(await p.request('GET', `/api/v1/tenants/${gz.id}`, { token: byOperator.key }), 401);
      expectProblem(await p.request('GET', '/api/v1/models', { token: byOperator.key }), 401);
      const again = await p.request('DELETE', `/api/v1/api-keys/${byOperator.id}`);
      expect(again.status).to.equal(res.status);
      if (res.status === 200) {
        expect(res.body.revokedAt).to.equal(p.clock.now().toISOString());
        p.clock.advance(1000);
        expect((await p.request('DELETE', `/api/v1/api-keys/${byOperator.id}`)).body.revokedAt).to.equal(res.body.revokedAt);
      }
      expectProblem(await p.request('GET', '/api/v1/models', { token: byOperator.key }), 401);
      // The other keys still work, and the list shows the revocation.
      expect((await p.request('GET', `/api/v1/tenants/${gz.id}`, { token: byTenant.key })).status).to.equal(200);
      expect((await p.request('GET', `/api/v1/tenants/${gz.id}`, { token: gz.apiKey })).status).to.equal(200);
      const keys = (await p.request('GET', `/api/v1/tenants/${gz.id}/api-keys`)).body.items;
      expect(keys.find((k: { id: string }) => k.id === byOperator.id).revokedAt).to.be.a('string');
    });

    it('lets a tenant revoke its own key, even the one it calls with', async () => {
      const p = platform();
      const res = await p.request('DELETE', `/api/v1/api-keys/${byTenant.id}`, { token: byTenant.key });
      expect(res.status).to.be.oneOf([200, 204]);
      expectProblem(await p.request('GET', `/api/v1/tenants/${gz.id}`, { token: byTenant.key }), 401);
      expect((await p.request('GET', `/api/v1/tenants/${gz.id}`, { token: gz.apiKey })).status).to.equal(200);
    });

    it("answers 404 for an unknown key, and to another tenant revoking this tenant's key", async () => {
      const p = platform();
      expectProblem(await p.request('DELETE', '/api/v1/api-keys/key_missing'), 404);
      expectProblem(await p.request('DELETE', `/api/v1/api-keys/${byOperator.id}`, { token: acme.apiKey }), 404);
    });

    it('needs credentials (401)', async () => {
      const p = platform();
      expectProblem(await p.request('POST', `/api/v1/tenants/${gz.id}/api-keys`, { token: null }), 401);
      expectProblem(await p.request('GET', `/api/v1/tenants/${gz.id}/api-keys`, { token: null }), 401);
      expectProblem(await p.request('DELETE', `/api/v1/api-keys/${gz.apiKeyId ?? 'key_x'}`, { token: null }), 401);
      expectProblem(await p.request('POST', '/api/v1/tenants', { token: null, body: { name: 'Anon', kind: 'enterprise' } }), 401);
    });

    it('keeps an agent out of tenant endpoints (403)', async () => {
      const p = platform();
      const cluster = await p.request('POST', '/api/v1/clusters', { body: { name: 'tianhe-1', region: 'tianhe' } });
      const token = cluster.body.agentToken;
      expectProblem(await p.request('GET', `/api/v1/tenants/${gz.id}`, { token }), 403);
      expectProblem(await p.request('POST', `/api/v1/tenants/${gz.id}/api-keys`, { token }), 403);
      expectProblem(await p.request('DELETE', `/api/v1/api-keys/${gz.apiKeyId ?? 'key_x'}`, { token }), 403);
    });
  });

  describe('secrets at rest', () => {
    it('keeps only hashes of API keys in the database', async () => {
      const p = platform();
      const db = p.app.context.database.db;
      const rows = await db.selectFrom('api_keys').selectAll().execute();
      expect(rows.length).to.equal(everyKey.length);
      const text = JSON.stringify(rows);
      for (const key of everyKey) {
        expect(text).to.not.contain(key);
        expect(text).to.not.contain(KEY.exec(key)![1]!);
      }
      // One distinct hash a key, none of them the key or readable as it.
      const hashes = rows.map((r) => r.key_hash);
      expect(new Set(hashes).size).to.equal(hashes.length);
      for (const h of hashes) expect(h).to.not.match(/^tp_/);
      expect(rows.map((r) => r.key_prefix).every((prefix) => prefix.length < 20)).to.equal(true);
    });

    it('keeps only a hash of the agent token in the database', async () => {
      const p = platform();
      const cluster = await p.request('POST', '/api/v1/clusters', { body: { name: 'panyu-1', region: 'panyu' } });
      expect(cluster.status).to.equal(201);
      const token: string = cluster.body.agentToken;
      const rows = await p.app.context.database.db.selectFrom('clusters').selectAll().execute();
      const row = rows.find((r) => r.id === cluster.body.id)!;
      expect(row.agent_token_hash).to.not.contain(token).and.not.contain(token.slice('tp_agent_'.length));
      expect(JSON.stringify(rows)).to.not.contain(token).and.not.contain(token.slice('tp_agent_'.length));
      // And the answers never show it again.
      const got = await p.request('GET', `/api/v1/clusters/${cluster.body.id}`);
      expect(JSON.stringify(got.body)).to.not.contain(token);
      const settings = await p.app.context.database.db.selectFrom('settings').selectAll().execute();
      expect(JSON.stringify(settings)).to.not.contain(token);
    });
  });
});
