/**
 * Sign-in for people: sessions from passwords or bearer tokens, the cookie's attributes, CSRF,
 * sign-out, users made by operators and tenant admins, and the slowdown after failed sign-ins.
 */
import { expect } from 'chai';
import { ADMIN_TOKEN, describeOnDatabases, type TestPlatform } from './harness.js';

interface Browser {
  readonly cookie: string;
  readonly csrf: string;
  readonly session: any;
}

async function signIn(p: TestPlatform, body: object, headers: Record<string, string> = {}): Promise<Browser> {
  const res = await p.request('POST', '/api/v1/session', { token: null, body, headers });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  const set = res.headers.get('set-cookie')!;
  return { cookie: set.split(';')[0]!, csrf: res.body.csrfToken, session: res.body };
}

/** A request as the browser sends it: the cookie, and the CSRF token when asked to. */
function as(p: TestPlatform, b: Browser, method: string, path: string, body?: unknown, csrf = true) {
  return p.request(method, path, { token: null, body, headers: { cookie: b.cookie, ...(csrf ? { 'x-csrf-token': b.csrf } : {}) } });
}

describeOnDatabases('sign-in, sessions and users', (platform) => {
  let tenant: { id: string; apiKey: string };

  before(async () => {
    tenant = (await platform().request('POST', '/api/v1/tenants', { body: { name: 'Liwan Clinic', kind: 'enterprise' } })).body;
  });

  it('signs the operator in with the admin token: an HttpOnly, SameSite=Strict cookie, Secure only behind TLS', async () => {
    const p = platform();
    const res = await p.request('POST', '/api/v1/session', { token: null, body: { token: ADMIN_TOKEN } });
    expect(res.status).to.equal(201);
    expect(res.body).to.include({ kind: 'operator', name: 'admin', tenantId: null, admin: true });
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).to.match(/^tp_session=tp_sess_[\w-]+;/);
    expect(cookie)
      .to.match(/HttpOnly/i)
      .and.match(/SameSite=Strict/i)
      .and.match(/Path=\//);
    expect(cookie).to.not.match(/Secure/i);
    // X-Forwarded-Proto from a client that is no trusted proxy is not believed (trusted-proxies.test.ts has one that is).
    const claimed = await p.request('POST', '/api/v1/session', { token: null, body: { token: ADMIN_TOKEN }, headers: { 'x-forwarded-proto': 'https' } });
    expect(claimed.headers.get('set-cookie')).to.not.match(/Secure/i);
  });

  it('serves the API on the session, and refuses changes without the session’s CSRF token', async () => {
    const p = platform();
    const b = await signIn(p, { token: ADMIN_TOKEN });
    expect((await as(p, b, 'GET', '/api/v1/session')).body).to.include({ kind: 'operator', csrfToken: b.csrf });
    expect((await as(p, b, 'GET', '/api/v1/pool', undefined, false)).status).to.equal(200);
    const without = await as(p, b, 'POST', '/api/v1/clusters', { name: 'csrf-1', region: 'csrf' }, false);
    expect(without.status).to.equal(403);
    expect(without.body.detail).to.match(/X-CSRF-Token/);
    const wrong = await p.request('POST', '/api/v1/clusters', {
      token: null,
      body: { name: 'csrf-1', region: 'csrf' },
      headers: { cookie: b.cookie, 'x-csrf-token': 'guess' },
    });
    expect(wrong.status).to.equal(403);
    expect((await as(p, b, 'POST', '/api/v1/clusters', { name: 'csrf-1', region: 'csrf' })).status).to.equal(201);
  });

  it('lets the operator make operator and tenant users, who sign in with passwords and see what their kind may', async () => {
    const p = platform();
    const op = await signIn(p, { token: ADMIN_TOKEN });
    expect((await as(p, op, 'POST', '/api/v1/users', { username: 'wang.li', password: 'correct horse 1', kind: 'operator' })).status).to.equal(201);
    const made = await as(p, op, 'POST', '/api/v1/users', {
      username: 'chen@liwan',
      password: 'battery staple 2',
      kind: 'tenant',
      tenantId: tenant.id,
      admin: true,
    });
    expect(made.status).to.equal(201);
    expect(made.body).to.include({ kind: 'tenant', tenantId: tenant.id, admin: true });
    expect(made.body).to.not.have.property('password');
    expect((await as(p, op, 'POST', '/api/v1/users', { username: 'wang.li', password: 'another one 3', kind: 'operator' })).status).to.equal(409);
    expect((await as(p, op, 'POST', '/api/v1/users', { username: 'x', password: 'short', kind: 'operator' })).status).to.equal(400);

    const wang = await signIn(p, { username: 'wang.li', password: 'correct horse 1' });
    expect(wang.session).to.include({ kind: 'operator', name: 'wang.li' });
    expect((await as(p, wang, 'GET', '/api/v1/tenants')).status).to.equal(200);

    const chen = await signIn(p, { username: 'chen@liwan', password: 'battery staple 2' });
    expect(chen.session).to.include({ kind: 'tenant', tenantId: tenant.id, admin: true });
    expect((await as(p, chen, 'GET', '/api/v1/tenants')).status).to.equal(403);
    expect((await as(p, chen, 'GET', '/api/v1/workloads')).status).to.equal(200);
    // A tenant admin makes users of its own tenant, and only those; they cannot make more.
    expect(
      (await as(p, chen, 'POST', '/api/v1/users', { username: 'zhao@liwan', password: 'plain member 4', kind: 'tenant', tenantId: tenant.id })).status,
    ).to.equal(201);
    expect((await as(p, chen, 'POST', '/api/v1/users', { username: 'evil', password: 'operator now 5', kind: 'operator' })).status).to.equal(403);
    const zhao = await signIn(p, { username: 'zhao@liwan', password: 'plain member 4' });
    expect(zhao.session.admin).to.equal(false);
    expect(
      (await as(p, zhao, 'POST', '/api/v1/users', { username: 'qian@liwan', password: 'not allowed 6', kind: 'tenant', tenantId: tenant.id })).status,
    ).to.equal(403);
    const listed = (await as(p, chen, 'GET', '/api/v1/users')).body.items.map((u: { username: string }) => u.username);
    expect(listed).to.deep.equal(['chen@liwan', 'zhao@liwan']);
  });

  it('says so plainly on a wrong password, and slows down after repeated failures', async () => {
    const p = platform();
    const op = await signIn(p, { token: ADMIN_TOKEN });
    await as(p, op, 'POST', '/api/v1/users', { username: 'sun.mei', password: 'right password 7', kind: 'operator' });
    for (let i = 0; i < 5; i++) {
      const res = await p.request('POST', '/api/v1/session', { token: null, body: { username: 'sun.mei', password: `wrong ${i}` } });
      expect(res.status).to.equal(401);
      expect(res.body.detail).to.equal('Wrong username or password.');
    }
    const slowed = await p.request('POST', '/api/v1/session', { token: null, body: { username: 'sun.mei', password: 'right password 7' } });
    expect(slowed.status).to.equal(429);
    expect(slowed.body.detail).to.match(/Too many failed sign-ins; try again in \d+ s\./);
    const unknown = await p.request('POST', '/api/v1/session', { token: null, body: { username: 'nobody', password: 'whatever' } });
    expect(unknown.body.detail).to.equal('Wrong username or password.');
  });

  it('signs a tenant in with an API key, and ends the session when the key is revoked or on sign-out', async () => {
    const p = platform();
    const key = (await p.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`)).body;
    const b = await signIn(p, { token: key.key });
    expect(b.session).to.include({ kind: 'tenant', tenantId: tenant.id });
    expect((await as(p, b, 'GET', '/api/v1/me')).status).to.equal(200);
    expect((await p.request('DELETE', `/api/v1/api-keys/${key.id}`)).status).to.equal(200);
    expect((await as(p, b, 'GET', '/api/v1/me')).status).to.equal(401);

    const again = await signIn(p, { token: tenant.apiKey });
    const out = await as(p, again, 'DELETE', '/api/v1/session');
    expect(out.status).to.equal(204);
    expect(out.headers.get('set-cookie')).to.match(/tp_session=;/);
    expect((await as(p, again, 'GET', '/api/v1/me')).status).to.equal(401);
    expect((await p.request('POST', '/api/v1/session', { token: null, body: { token: 'tp_key_nope' } })).status).to.equal(401);
    expect((await p.request('POST', '/api/v1/session', { token: null, body: { username: 'a', password: 'b', token: 'c' } })).status).to.equal(400);
  });
});
