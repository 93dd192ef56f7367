import { expect } from 'chai';
import { describeOnDatabases, type Answer, type TestPlatform } from './harness.js';

const MODEL = 'qwen2.5-72b-instruct';

function expectProblem(res: Answer, status: number, type?: string): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
  if (type) expect(res.body.type).to.equal(`https://tokenpool.dev/problems/${type}`);
}

async function newTenant(p: TestPlatform, name: string): Promise<{ id: string; apiKey: string; apiKeyId: string }> {
  const res = await p.request('POST', '/api/v1/tenants', { body: { name, kind: 'enterprise' } });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body;
}

async function refusedCount(p: TestPlatform): Promise<number> {
  const text = await (await fetch(`${p.baseUrl}/metrics`)).text();
  const m = /tokenpool_requests_refused_total\{reason="rate_limited"\} (\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

describeOnDatabases('API keys: fields and expiry', (platform) => {
  let t: { id: string; apiKey: string; apiKeyId: string };

  before(async () => {
    t = await newTenant(platform(), 'Shenzhen Metro');
  });

  it('a key is made with a name, models, an expiry and rates, and listed with them (never the secret)', async () => {
    const p = platform();
    const expiresAt = new Date(p.clock.now().getTime() + 86_400_000).toISOString();
    const body = { name: 'ci', role: 'member', allowedModels: [MODEL], expiresAt, rpm: 120, tpm: 50_000, maxConcurrent: 4 };
    const made = await p.request('POST', `/api/v1/tenants/${t.id}/api-keys`, { token: t.apiKey, body });
    expect(made.status, JSON.stringify(made.body)).to.equal(201);
    expect(made.body).to.include({ name: 'ci', role: 'member', expiresAt, rpm: 120, tpm: 50_000, maxConcurrent: 4 });
    expect(made.body.allowedModels).to.deep.equal([MODEL]);

    const list = await p.request('GET', `/api/v1/tenants/${t.id}/api-keys`, { token: t.apiKey });
    expect(list.status).to.equal(200);
    const listed = list.body.items.find((k: { id: string }) => k.id === made.body.id);
    expect(listed).to.deep.equal(Object.fromEntries(Object.entries(made.body).filter(([field]) => field !== 'key')));
    expect(JSON.stringify(list.body)).to.not.contain(made.body.key);
    // The first key carries nothing of the kind.
    const first = list.body.items.find((k: { id: string }) => k.id === t.apiKeyId);
    expect(first).to.include({ name: null, allowedModels: null, expiresAt: null, rpm: null, tpm: null, maxConcurrent: null });
  });

  it('an empty body, or none, still makes a key', async () => {
    const p = platform();
    const empty = await p.request('POST', `/api/v1/tenants/${t.id}/api-keys`, { token: t.apiKey, body: {} });
    expect(empty.status, JSON.stringify(empty.body)).to.equal(201);
    expect(empty.body).to.include({ role: 'member', name: null, rpm: null });
    const none = await p.request('POST', `/api/v1/tenants/${t.id}/api-keys`, { token: t.apiKey });
    expect(none.status).to.equal(201);
  });

  it('refuses an unknown model (422), a past expiry (422) and rates out of bounds (400), naming the field', async () => {
    const p = platform();
    const make = (body: unknown) => p.request('POST', `/api/v1/tenants/${t.id}/api-keys`, { token: t.apiKey, body });
    const unknown = await make({ allowedModels: [MODEL, 'no-such-model'] });
    expectProblem(unknown, 422);
    expect(unknown.body.errors).to.deep.equal([{ path: 'allowedModels.1', message: 'no model is named "no-such-model"' }]);
    const past = await make({ expiresAt: new Date(p.clock.now().getTime() - 1000).toISOString() });
    expectProblem(past, 422);
    expect(past.body.errors[0].path).to.equal('expiresAt');
    for (const bad of [
      { rpm: 0 },
      { rpm: 1.5 },
      { rpm: 10_000_000 },
      { tpm: -1 },
      { maxConcurrent: 1e9 },
      { expiresAt: 'tomorrow' },
      { expiresAt: '9999-12-31T23:59:59-14:00' },
      { allowedModels: [] },
      { name: '' },
    ]) {
      const res = await make(bad);
      expectProblem(res, 400);
      expect([...new Set(res.body.errors.map((e: { path: string }) => e.path))]).to.deep.equal([Object.keys(bad)[0]]);
    }
  });

  it('an expired key stops authenticating at its expiry, even if it was just used (401)', async () => {
    const p = platform();
    const expiresAt = new Date(p.clock.now().getTime() + 2000).toISOString();
    const made = await p.request('POST', `/api/v1/tenants/${t.id}/api-keys`, { token: t.apiKey, body: { expiresAt } });
    expect(made.status).to.equal(201);
    expect((await p.request('GET', '/api/v1/me', { token: made.body.key })).status).to.equal(200);
    p.clock.advance(1999);
    expect((await p.request('GET', '/api/v1/me', { token: made.body.key })).status).to.equal(200);
    p.clock.advance(1);
    expectProblem(await p.request('GET', '/api/v1/me', { token: made.body.key }), 401);
    // Nor can it sign in.
    expectProblem(await p.request('POST', '/api/v1/session', { token: null, body: { token: made.body.key } }), 401);
  });

  it('a session made from a key ends when the key expires', async () => {
    const p = platform();
    const expiresAt = new Date(p.clock.now().getTime() + 60_000).toISOString();
    const made = await p.request('POST', `/api/v1/tenants/${t.id}/api-keys`, { token: t.apiKey, body: { expiresAt } });
    const signIn = await p.request('POST', '/api/v1/session', { token: null, body: { token: made.body.key } });
    expect(signIn.status, JSON.stringify(signIn.body)).to.equal(201);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    expect((await p.request('GET', '/api/v1/me', { token: null, headers: { cookie } })).status).to.equal(200);
    p.clock.advance(60_000);
    expectProblem(await p.request('GET', '/api/v1/me', { token: null, headers: { cookie } }), 401);
  });
});

describeOnDatabases('tenant rates', (platform) => {
  it('the operator sets and clears rpm and tpm; out of bounds is 400', async () => {
    const p = platform();
    const t = await newTenant(p, 'Foshan Water');
    const set = await p.request('PATCH', `/api/v1/tenants/${t.id}`, { body: { rpm: 600, tpm: 2_000_000 } });
    expect(set.status, JSON.stringify(set.body)).to.equal(200);
    expect(set.body).to.include({ rpm: 600, tpm: 2_000_000 });
    expect((await p.request('GET', `/api/v1/tenants/${t.id}`, { token: t.apiKey })).body).to.include({ rpm: 600, tpm: 2_000_000 });
    const cleared = await p.request('PATCH', `/api/v1/tenants/${t.id}`, { body: { rpm: null } });
    expect(cleared.body).to.include({ rpm: null, tpm: 2_000_000 });
    for (const bad of [{ rpm: 0 }, { tpm: 2.5 }, { rpm: 'many' }]) expectProblem(await p.request('PATCH', `/api/v1/tenants/${t.id}`, { body: bad }), 400);
    // Only the operator sets them.
    expectProblem(await p.request('PATCH', `/api/v1/tenants/${t.id}`, { token: t.apiKey, body: { rpm: 1_000_000 } }), 403);
  });
});

describeOnDatabases(
  'request rates',
  (platform) => {
    it('a key over its rpm gets 429 problem+json with Retry-After, before its body is read; it frees as time passes', async () => {
      const p = platform();
      const t = await newTenant(p, 'Guangzhou Ports');
      const made = await p.request('POST', `/api/v1/tenants/${t.id}/api-keys`, { token: t.apiKey, body: { rpm: 3 } });
      const key = made.body.key as string;
      const before = await refusedCount(p);
      for (let i = 0; i < 3; i++) {
        const ok = await p.request('GET', '/api/v1/me', { token: key });
        expect(ok.status).to.equal(200);
        expect(ok.headers.get('ratelimit-remaining')).to.equal(String(2 - i));
        expect(ok.headers.get('ratelimit-limit')).to.equal('3');
      }
      const refused = await p.request('GET', '/api/v1/me', { token: key });
      expectProblem(refused, 429, 'rate-limited');
      expect(refused.headers.get('retry-after')).to.equal('20');
      expect(refused.body.detail).to.contain("the key's rate (rpm) of 3 a minute");
      // Refused before the body: an invalid body is not even looked at.
      expectProblem(await p.request('POST', '/api/v1/workloads', { token: key, body: { nonsense: true } }), 429);
      expect(await refusedCount(p)).to.equal(before + 2);

      p.clock.advance(19_000);
      expectProblem(await p.request('GET', '/api/v1/me', { token: key }), 429);
      p.clock.advance(1000);
      expect((await p.request('GET', '/api/v1/me', { token: key })).status).to.equal(200);
      // The tenant's other key is not held back by this one's rate.
      expect((await p.request('GET', '/api/v1/me', { token: t.apiKey })).status).to.equal(200);
    });

    it("a tenant's rpm binds all its keys together; other tenants and the operator are not held back", async () => {
      const p = platform();
      const t = await newTenant(p, 'Dongguan Power');
      const other = await newTenant(p, 'Zhuhai Airport');
      expect((await p.request('PATCH', `/api/v1/tenants/${t.id}`, { body: { rpm: 4 } })).status).to.equal(200);
      const second = (await p.request('POST', `/api/v1/tenants/${t.id}/api-keys`, { token: t.apiKey, body: {} })).body.key as string;
      // The create above was the first request; three more from either key.
      for (const key of [second, t.apiKey, second]) expect((await p.request('GET', '/api/v1/me', { token: key })).status).to.equal(200);
      const refused = await p.request('GET', '/api/v1/me', { token: t.apiKey });
      expectProblem(refused, 429, 'rate-limited');
      expect(refused.body.detail).to.contain("the tenant's rate (rpm) of 4 a minute");
      expect(Number(refused.headers.get('retry-after'))).to.equal(15);
      expect((await p.request('GET', '/api/v1/me', { token: other.apiKey })).status).to.equal(200);
      for (let i = 0; i < 10; i++) expect((await p.request('GET', `/api/v1/tenants/${t.id}`)).status).to.equal(200);
      // Clearing it falls back to the platform default (TOKENPOOL_TENANT_RPM=40 here).
      expect((await p.request('PATCH', `/api/v1/tenants/${t.id}`, { body: { rpm: null } })).status).to.equal(200);
      expect((await p.request('GET', '/api/v1/me', { token: t.apiKey })).status).to.equal(200);
    });

    it('the OpenAPI document declares the 429 and its Retry-After where rates apply, and not on operator-only routes', async () => {
      const doc = (await platform().request('GET', '/api/v1/openapi.json', { token: null })).body;
      const me = doc.paths['/api/v1/me'].get.responses['429'];
      expect(me.content).to.have.property('application/problem+json');
      expect(me.headers).to.have.property('Retry-After');
      expect(doc.paths['/api/v1/agent/heartbeat'].post.responses).to.have.property('429');
      expect(doc.paths['/api/v1/tenants'].get.responses).to.not.have.property('429');
    });

    it("the platform's default per key holds a key without an rpm of its own", async () => {
      const p = platform();
      const t = await newTenant(p, 'Huizhou Rail');
      let allowed = 0;
      let last: Answer | undefined;
      for (let i = 0; i < 12; i++) {
        last = await p.request('GET', '/api/v1/me', { token: t.apiKey });
        if (last.status !== 200) break;
        allowed += 1;
      }
      // TOKENPOOL_KEY_RPM=10: the tenant was made by the operator, so all ten are the key's.
      expect(allowed).to.equal(10);
      expectProblem(last!, 429, 'rate-limited');
      expect(last!.body.detail).to.contain("the platform's rate per key");
    });
  },
  { TOKENPOOL_KEY_RPM: '10', TOKENPOOL_TENANT_RPM: '40' },
);
