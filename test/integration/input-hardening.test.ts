/**
 * Input a database cannot store, malformed paths and cookies, bounded body parsing, and
 * `Cache-Control: no-store` on answers that carry a secret: over real HTTP, on routes found by
 * dispatch.ts and by Express. Nothing a client sends may be answered 5xx (but the 503 of a full
 * body queue, which says when to retry).
 */
import { expect } from 'chai';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { rawRequest, type RawAnswer } from '../raw-http.js';
import { until } from '../until.js';
import { ADMIN_TOKEN, describeOnDatabases, type TestPlatform } from './harness.js';

const JSON_HEADERS = { 'content-type': 'application/json' };

function operator(extra: Record<string, string> = {}): Record<string, string> {
  return { ...JSON_HEADERS, authorization: `Bearer ${ADMIN_TOKEN}`, ...extra };
}

/** The answer's problem, after checking it is a 400 problem+json naming `path`. */
function expectFieldError(a: RawAnswer, path: string): void {
  expect(a.status, a.text).to.equal(400);
  expect(a.headers['content-type']).to.match(/^application\/problem\+json/);
  const problem = JSON.parse(a.text) as { errors?: Array<{ path: string }> };
  expect(problem.errors?.map((e) => e.path)).to.deep.equal([path]);
}

describeOnDatabases('strings the database cannot store, malformed paths and cookies', (platform) => {
  let p: TestPlatform;
  let tenantKey: string;
  let tenantId: string;
  let agentToken: string;

  before(async () => {
    p = platform();
    const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'hardening', kind: 'enterprise' } })).body;
    [tenantKey, tenantId] = [tenant.apiKey, tenant.id];
    agentToken = (await p.request('POST', '/api/v1/clusters', { body: { name: 'hardening-1', region: 'nansha' } })).body.agentToken;
  });

  const post = (path: string, body: string, headers = operator()) => rawRequest(p.baseUrl, { method: 'POST', path, headers, body });

  it('a NUL in a body field is a 400 naming the field (dispatch.ts and Express)', async () => {
    expectFieldError(await post('/api/v1/tenants', '{"name":"a\\u0000b","kind":"enterprise"}'), 'name');
    expectFieldError(await post(`/api/v1/tenants/${tenantId}/api-keys`, '{"name":"k\\u0000"}'), 'name');
  });

  it('an unpaired surrogate, high or low, is a 400 naming the field', async () => {
    expectFieldError(await post('/api/v1/tenants', '{"name":"a\\ud800","kind":"enterprise"}'), 'name');
    expectFieldError(await post('/api/v1/tenants', '{"name":"\\udc00b","kind":"enterprise"}'), 'name');
    // A pair is a character like any other.
    const paired = await post('/api/v1/tenants', '{"name":"emoji \\ud83d\\ude00","kind":"enterprise"}');
    expect(paired.status, paired.text).to.equal(201);
  });

  it('deep in an array of objects: events.3.id', async () => {
    const events = Array.from({ length: 5 }, (_, i) => ({
      id: i === 3 ? 'e\ud800' : `e${i}`,
      workloadId: 'wl_x',
      inputTokens: 1,
      outputTokens: 1,
      occurredAt: new Date().toISOString(),
    }));
    const answer = await post('/api/v1/agent/usage', JSON.stringify({ events }), { ...JSON_HEADERS, authorization: `Bearer ${agentToken}` });
    expectFieldError(answer, 'events.3.id');
  });

  it('in an object key, at any depth (the key shown with U+FFFD)', async () => {
    expectFieldError(await post('/api/v1/tenants', '{"name":"k","kind":"enterprise","x\\u0000":1}'), 'x\ufffd');
    const body = '{"name":"w","model":"qwen2.5-7b-instruct","tokensPerMin":1000,"labels":{"a":{"b\\ud800":"c"}}}';
    expectFieldError(await post('/api/v1/workloads', body, { ...JSON_HEADERS, authorization: `Bearer ${tenantKey}` }), 'labels.a.b\ufffd');
  });

  it('a body nested far deeper than the call stack is walked without failing', async () => {
    const depth = 200_000;
    const answer = await post('/api/v1/tenants', `${'['.repeat(depth)}"\\u0000"${']'.repeat(depth)}`);
    expect(answer.status, answer.text.slice(0, 200)).to.equal(400);
  });

  it('a path parameter, on a GET and a DELETE: params.id', async () => {
    expectFieldError(await rawRequest(p.baseUrl, { path: '/api/v1/tenants/ten%00ant', headers: operator() }), 'params.id');
    expectFieldError(await rawRequest(p.baseUrl, { method: 'DELETE', path: '/api/v1/workloads/wl%00', headers: operator() }), 'params.id');
  });

  it('a query value: query.tenantId', async () => {
    expectFieldError(await rawRequest(p.baseUrl, { path: '/api/v1/workloads?tenantId=t%00', headers: operator() }), 'query.tenantId');
    expectFieldError(await rawRequest(p.baseUrl, { path: '/api/v1/invoices?limit=5&tenantId=%00', headers: operator() }), 'query.tenantId');
  });

  it('malformed percent-encoding in a path is a 400 or 404, never a 500 (either router)', async () => {
    for (const path of ['/api/v1/tenants/%E0%A4%A', '/api/v1/tenants/%zz', '/api/v1/tenants/%ED%A0%80', '/api/v1/tenants%zz', '/api/v1/work%loads']) {
      const answer = await rawRequest(p.baseUrl, { path, headers: operator() });
      expect([400, 404], `${path}: ${answer.text}`).to.include(answer.status);
      expect(answer.headers['content-type']).to.match(/^application\/problem\+json/);
    }
  });

  it('ids of the wrong shape are a 4xx', async () => {
    for (const id of ['x'.repeat(65), '%20', '..', '%F0%9F%98%80', 'a%C3%A9b']) {
      for (const base of ['/api/v1/tenants/', '/api/v1/workloads/', '/api/v1/clusters/', '/api/v1/invoices/', '/api/v1/api-keys/']) {
        const method = base === '/api/v1/api-keys/' ? 'DELETE' : 'GET';
        const answer = await rawRequest(p.baseUrl, { method, path: base + id, headers: operator() });
        expect(answer.status, `${method} ${base}${id}: ${answer.text}`).to.be.within(400, 499);
      }
    }
  });

  it('a malformed session cookie is a 400 naming it; one holding a NUL too', async () => {
    const bad = await rawRequest(p.baseUrl, { path: '/api/v1/me', headers: { cookie: 'other=1; tp_session=%E0%A4%A' } });
    expectFieldError(bad, 'cookie.tp_session');
    expectFieldError(await rawRequest(p.baseUrl, { path: '/api/v1/session', headers: { cookie: 'tp_session=a%00' } }), 'cookie.tp_session');
    expectFieldError(await rawRequest(p.baseUrl, { method: 'DELETE', path: '/api/v1/session', headers: { cookie: 'tp_session=%' } }), 'cookie.tp_session');
    // Other cookies of the same site are not the platform's to judge.
    const others = await rawRequest(p.baseUrl, { path: '/api/v1/me', headers: { cookie: 'theirs=%E0%A4%A' } });
    expect(others.status).to.equal(401);
  });

  it('a header value with a control character never reaches a handler: 400', async () => {
    const answer = await new Promise<number>((resolve, reject) => {
      const url = new URL(p.baseUrl);
      // Written by hand: node:http refuses to send such a header.
      void import('node:net').then(({ connect }) => {
        const socket = connect(Number(url.port), url.hostname, () => {
          socket.write(
            `POST /api/v1/workloads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tenantKey}\r\nIdempotency-Key: a\u0000b\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
            'latin1',
          );
        });
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
        socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
        socket.on('error', reject);
      });
    });
    expect(answer).to.equal(400);
  });
});

describeOnDatabases('Cache-Control: no-store on every answer that carries a secret, and on its errors', (platform) => {
  let p: TestPlatform;
  let tenantId: string;
  let clusterId: string;

  before(async () => {
    p = platform();
    tenantId = (await p.request('POST', '/api/v1/tenants', { body: { name: 'secrets', kind: 'enterprise' } })).body.id;
    clusterId = (await p.request('POST', '/api/v1/clusters', { body: { name: 'secrets-1', region: 'nansha' } })).body.id;
  });

  const cases: ReadonlyArray<readonly [string, string, () => string, string, number]> = [
    ['a tenant with its apiKey (dispatch.ts)', 'POST', () => '/api/v1/tenants', '{"name":"s2","kind":"enterprise"}', 201],
    ['a refused tenant create (dispatch.ts)', 'POST', () => '/api/v1/tenants', '{"name":""}', 400],
    ['an API key (Express)', 'POST', () => `/api/v1/tenants/${tenantId}/api-keys`, '{"role":"member"}', 201],
    ['a refused API key (Express)', 'POST', () => '/api/v1/tenants/ten_missing/api-keys', '{"role":"member"}', 404],
    ['a cluster with its agentToken (dispatch.ts)', 'POST', () => '/api/v1/clusters', '{"name":"secrets-2","region":"nansha"}', 201],
    ['a new agent token (Express)', 'POST', () => `/api/v1/clusters/${clusterId}/agent-token`, '', 200],
    ['a refused agent token (Express)', 'POST', () => '/api/v1/clusters/cl_missing/agent-token', '', 404],
    ['a session (dispatch.ts)', 'POST', () => '/api/v1/session', JSON.stringify({ token: ADMIN_TOKEN }), 201],
    ['a refused sign-in (dispatch.ts)', 'POST', () => '/api/v1/session', '{"username":"nobody","password":"wrong password"}', 401],
  ];
  for (const [title, method, path, body, status] of cases) {
    it(title, async () => {
      const headers = path().endsWith('/session') ? JSON_HEADERS : operator();
      const sent = method === 'GET' ? { ...headers, authorization: `Bearer ${ADMIN_TOKEN}` } : headers;
      const answer = await rawRequest(p.baseUrl, { method, path: path(), headers: sent, ...(body ? { body } : {}) });
      expect(answer.status, answer.text).to.equal(status);
      expect(answer.headers['cache-control']).to.equal('no-store');
      expect(answer.headers['x-content-type-options']).to.equal('nosniff');
    });
  }

  it('the session read back, with its CSRF token (dispatch.ts)', async () => {
    const signedIn = await rawRequest(p.baseUrl, {
      method: 'POST',
      path: '/api/v1/session',
      headers: JSON_HEADERS,
      body: JSON.stringify({ token: ADMIN_TOKEN }),
    });
    const cookie = signedIn.headers['set-cookie']![0]!.split(';')[0]!;
    const answer = await rawRequest(p.baseUrl, { path: '/api/v1/session', headers: { cookie } });
    expect(answer.status, answer.text).to.equal(200);
    expect(JSON.parse(answer.text)).to.have.property('csrfToken');
    expect(answer.headers['cache-control']).to.equal('no-store');
  });
});

/** A POST whose body is left unfinished until `finish` is called; `answer` settles when the server answers. */
function unfinishedPost(base: string, path: string, headers: Record<string, string>, body: string) {
  let req!: ClientRequest;
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req = request(
      base + path,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: false },
      (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
  });
  req.flushHeaders();
  req.write(body.slice(0, 1));
  return { answer, finish: () => req.end(body.slice(1)), abort: () => req.destroy() };
}

describeOnDatabases(
  'bodies parsed at once are bounded (TOKENPOOL_BODY_CONCURRENCY=1, TOKENPOOL_BODY_QUEUE=0)',
  (platform) => {
    const tenantBody = (name: string) => JSON.stringify({ name, kind: 'enterprise' });
    const complete = (name: string) => rawRequest(platform().baseUrl, { method: 'POST', path: '/api/v1/tenants', headers: operator(), body: tenantBody(name) });

    it('past the slots and the queue: 503 problem+json with Retry-After, and the next one is served once the slot is free', async () => {
      const p = platform();
      const slow = unfinishedPost(p.baseUrl, '/api/v1/tenants', operator(), tenantBody('slow'));
      let n = 0;
      // Until the slow body holds the one slot, a complete request takes it and is answered 201.
      const refused = await until(
        'a request refused while the slow body holds the slot',
        () => complete(`fast-${++n}`),
        (a) => a.status === 503,
      );
      expect(refused.headers['retry-after']).to.equal('1');
      expect(refused.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(JSON.parse(refused.text)).to.include({ status: 503, type: 'https://tokenpool.dev/problems/unavailable' });
      // Requests without a body are not held up.
      expect((await p.request('GET', '/api/v1/tenants')).status).to.equal(200);
      slow.finish();
      expect((await slow.answer).status).to.equal(201);
      expect((await complete('after')).status).to.equal(201);
    });

    it('the OpenAPI document says so on routes that take a body, and only there', async () => {
      const doc = (await platform().request('GET', '/api/v1/openapi.json')).body;
      expect(doc.paths['/api/v1/tenants'].post.responses['503'].headers).to.have.property('Retry-After');
      expect(doc.paths['/api/v1/agent/usage'].post.responses).to.have.property('503');
      expect(doc.paths['/api/v1/tenants'].get.responses).to.not.have.property('503');
    });

    it('a client that leaves while its body is read frees the slot', async () => {
      const p = platform();
      const slow = unfinishedPost(p.baseUrl, '/api/v1/tenants', operator(), tenantBody('left'));
      slow.answer.catch(() => undefined);
      let n = 0;
      await until(
        'the slot held',
        () => complete(`held-${++n}`),
        (a) => a.status === 503,
      );
      slow.abort();
      await until(
        'the slot free again',
        () => complete(`freed-${++n}`),
        (a) => a.status === 201,
      );
    });
  },
  { TOKENPOOL_BODY_CONCURRENCY: '1', TOKENPOOL_BODY_QUEUE: '0' },
);
