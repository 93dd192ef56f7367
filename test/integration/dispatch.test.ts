/**
 * Routes with fixed paths are found by server/http/dispatch.ts, the rest by Express, and both end
 * in one pipeline (server/http/pipeline.ts). Whatever a client sends, the answer must not depend
 * on the router: the same platform is served both ways (`app.handler`, and `app.express` with
 * every route through Express) and the answers are compared, status, headers and body.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { rawRequest, type RawAnswer, type RawRequest } from '../raw-http.js';
import { ADMIN_TOKEN, describeOnDatabases, type TestPlatform } from './harness.js';

/** Headers that differ between any two answers by nature. */
// The second of two requests has one request fewer left of its rate, and the rate's reset may move.
const VARYING = new Set(['date', 'ratelimit-remaining', 'ratelimit-reset']);
/** Fields of bodies that differ between two creates (ids, times, secrets made for each). */
const MADE_EACH_TIME = new Set(['id', 'createdAt', 'updatedAt', 'apiKey', 'agentToken', 'key', 'csrfToken', 'expiresAt']);

/** What must be equal between the two answers to one request. */
function comparable(a: RawAnswer, ignore: readonly string[] = []): unknown {
  let body: unknown = a.text;
  try {
    body = JSON.parse(a.text, (k, v) => (MADE_EACH_TIME.has(k) ? '…' : v));
  } catch {
    // not JSON: compared as text
  }
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(a.headers)) {
    if (VARYING.has(name) || ignore.includes(name)) continue;
    // A new session's token differs; its attributes and expiry (from the platform's clock) must not.
    headers[name] = name === 'set-cookie' ? (value as string[]).map((c) => c.replace(/^tp_session=[^;]+/, 'tp_session=…')) : value;
  }
  return { status: a.status, headers, body };
}

interface Case extends Omit<RawRequest, 'headers'> {
  readonly name: string;
  readonly headers?: () => Record<string, string>;
}

describeOnDatabases('answers are the same whichever router finds the route', (platform) => {
  let p: TestPlatform;
  let viaExpress: Server;
  let expressBase: string;
  let tenantKey: string;
  let tenantId: string;
  let agentToken: string;
  let clusterId: string;
  let workloadId: string;
  let n = 0;

  before(async () => {
    p = platform();
    viaExpress = createServer(p.app.express).listen(0, '127.0.0.1');
    await new Promise((r) => viaExpress.once('listening', r));
    expressBase = `http://127.0.0.1:${(viaExpress.address() as AddressInfo).port}`;
    const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'dispatch', kind: 'enterprise' } })).body;
    [tenantKey, tenantId] = [tenant.apiKey, tenant.id];
    const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: 'dispatch-1', region: 'nansha' } })).body;
    [agentToken, clusterId] = [cluster.agentToken, cluster.id];
    workloadId = (await p.request('POST', '/api/v1/workloads', { token: tenantKey, body: { name: 'seen', model: 'qwen2.5-7b-instruct', tokensPerMin: 1000 } }))
      .body.id;
  });

  after(async () => {
    viaExpress.closeAllConnections();
    await new Promise((r) => viaExpress.close(r));
  });

  /** Sends `r` to both servers (the direct one first) with the same request id. */
  async function both(r: RawRequest): Promise<[RawAnswer, RawAnswer]> {
    const id = `parity-${++n}`;
    const withId = { ...r, headers: { 'x-request-id': id, ...r.headers } };
    const direct = await rawRequest(p.baseUrl, withId);
    const express = await rawRequest(expressBase, withId);
    return [direct, express];
  }

  async function expectSame(r: RawRequest): Promise<RawAnswer> {
    const [direct, express] = await both(r);
    expect(comparable(direct)).to.deep.equal(comparable(express));
    return direct;
  }

  const json = { 'content-type': 'application/json' };
  const tenant = () => ({ ...json, authorization: `Bearer ${tenantKey}` });
  const operator = () => ({ ...json, authorization: `Bearer ${ADMIN_TOKEN}` });
  const create = '{"name":"w","model":"qwen2.5-7b-instruct","tokensPerMin":5000}';
  const cases: readonly Case[] = [
    // Every method, on fixed paths (dispatch.ts) and paths with parameters (Express either way).
    { name: 'GET a list', path: '/api/v1/workloads', headers: tenant },
    { name: 'GET a list with a query', path: '/api/v1/workloads?state=pending&limit=1', headers: tenant },
    { name: 'GET by id', path: '/api/v1/clusters/:cluster', headers: operator },
    { name: 'HEAD', method: 'HEAD', path: '/api/v1/workloads', headers: tenant },
    { name: 'HEAD by id', method: 'HEAD', path: '/api/v1/clusters/:cluster', headers: operator },
    { name: 'POST a create', method: 'POST', path: '/api/v1/workloads', headers: tenant, body: create },
    { name: 'POST a create sent in chunks', method: 'POST', path: '/api/v1/workloads', headers: tenant, body: create, chunked: true },
    { name: 'POST a dry run (query string)', method: 'POST', path: '/api/v1/workloads?dryRun=true', headers: tenant, body: create },
    {
      name: 'POST with an Idempotency-Key',
      method: 'POST',
      path: '/api/v1/workloads',
      headers: () => ({ ...tenant(), 'idempotency-key': 'k'.repeat(256) }),
      body: create,
    },
    { name: 'POST an action on a path with a parameter', method: 'POST', path: '/api/v1/clusters/:cluster/cordon', headers: operator },
    { name: 'PUT', method: 'PUT', path: '/api/v1/tenants/:tenant/budget', headers: operator, body: '{"monthlyLimit":"nope"}' },
    { name: 'PATCH', method: 'PATCH', path: '/api/v1/workloads/:workload', headers: tenant, body: '{"tokensPerMin":-1}' },
    { name: 'DELETE on a fixed path', method: 'DELETE', path: '/api/v1/session' },
    { name: 'DELETE by id', method: 'DELETE', path: '/api/v1/workloads/wl_missing', headers: tenant },
    { name: 'OPTIONS on a fixed path', method: 'OPTIONS', path: '/api/v1/workloads' },
    { name: 'OPTIONS on a path with a parameter', method: 'OPTIONS', path: '/api/v1/clusters/:cluster' },
    { name: 'OPTIONS on an unknown path', method: 'OPTIONS', path: '/api/v1/nothing' },
    { name: 'a method the path does not take', method: 'PUT', path: '/api/v1/workloads', headers: tenant, body: '{}' },
    { name: 'an unknown method', method: 'PROPFIND', path: '/api/v1/workloads', headers: tenant },
    { name: 'a method Node does not parse', method: 'FROB', path: '/api/v1/workloads', headers: tenant },
    { name: 'another spelling of a fixed path', method: 'POST', path: '/API/v1/workloads/', headers: tenant, body: create },
    // Bodies.
    { name: 'an unknown query parameter', method: 'POST', path: '/api/v1/workloads?dry=1', headers: tenant, body: create },
    {
      name: 'unknown fields',
      method: 'POST',
      path: '/api/v1/workloads',
      headers: tenant,
      body: '{"name":"w","model":"qwen2.5-7b-instruct","tokensPerMin":5000,"gpu":8}',
    },
    { name: 'an unknown model', method: 'POST', path: '/api/v1/workloads', headers: tenant, body: '{"name":"w","model":"gpt-9","tokensPerMin":5000}' },
    { name: 'malformed JSON', method: 'POST', path: '/api/v1/workloads', headers: tenant, body: '{"name":' },
    { name: 'malformed JSON on a path with a parameter', method: 'POST', path: '/api/v1/clusters/:cluster/uncordon', headers: operator, body: '{"' },
    { name: 'JSON that is not an object', method: 'POST', path: '/api/v1/workloads', headers: tenant, body: ' "text"' },
    { name: 'only white space', method: 'POST', path: '/api/v1/workloads', headers: tenant, body: '  \n' },
    { name: 'an empty JSON body', method: 'POST', path: '/api/v1/workloads', headers: tenant, body: '' },
    { name: 'no body at all', method: 'POST', path: '/api/v1/workloads', headers: () => ({ authorization: `Bearer ${tenantKey}` }) },
    {
      name: 'JSON with a charset',
      method: 'POST',
      path: '/api/v1/workloads',
      headers: () => ({ ...tenant(), 'content-type': 'application/json; charset=utf-8' }),
      body: create,
    },
    {
      name: 'another charset',
      method: 'POST',
      path: '/api/v1/workloads',
      headers: () => ({ ...tenant(), 'content-type': 'application/json; charset=latin1' }),
      body: '{}',
    },
    {
      name: 'a form instead of JSON',
      method: 'POST',
      path: '/api/v1/workloads',
      headers: () => ({ ...tenant(), 'content-type': 'application/x-www-form-urlencoded' }),
      body: 'name=w',
    },
    { name: 'a gzip body', method: 'POST', path: '/api/v1/workloads', headers: () => ({ ...tenant(), 'content-encoding': 'gzip' }), body: gzipSync(create) },
    { name: 'a corrupt gzip body', method: 'POST', path: '/api/v1/workloads', headers: () => ({ ...tenant(), 'content-encoding': 'gzip' }), body: create },
    {
      name: 'an unsupported Content-Encoding',
      method: 'POST',
      path: '/api/v1/workloads',
      headers: () => ({ ...tenant(), 'content-encoding': 'compress' }),
      body: create,
    },
    {
      name: 'an unsupported Content-Encoding on a path with a parameter',
      method: 'POST',
      path: '/api/v1/clusters/:cluster/cordon',
      headers: () => ({ ...operator(), 'content-encoding': 'zip' }),
      body: '{}',
    },
    { name: 'a body declared over 16 MiB (nothing sent)', method: 'POST', path: '/api/v1/workloads', headers: tenant, unfinished: 17 * 1024 * 1024 },
    {
      name: 'a body declared over 16 MiB on a path with a parameter',
      method: 'PATCH',
      path: '/api/v1/workloads/:workload',
      headers: tenant,
      unfinished: 17 * 1024 * 1024,
    },
    // Credentials, before any of the body is read.
    { name: 'no credentials', method: 'POST', path: '/api/v1/workloads', headers: () => json, body: '{}' },
    { name: 'no credentials, the body unfinished', method: 'POST', path: '/api/v1/workloads', headers: () => json, body: '{"name":', unfinished: 1000 },
    {
      name: 'no credentials on a path with a parameter, the body unfinished',
      method: 'PATCH',
      path: '/api/v1/workloads/:workload',
      headers: () => json,
      body: '{',
      unfinished: 1000,
    },
    {
      name: 'the wrong kind of credentials',
      method: 'POST',
      path: '/api/v1/workloads',
      headers: () => ({ ...json, authorization: `Bearer ${agentToken}` }),
      body: '{}',
    },
    {
      name: 'a heartbeat',
      method: 'POST',
      path: '/api/v1/agent/heartbeat',
      headers: () => ({ ...json, authorization: `Bearer ${agentToken}` }),
      body: '{"inventory":[{"deviceModel":"NVIDIA-H100-80GB","total":8,"healthy":8}]}',
    },
    { name: 'an action refused by its handler', method: 'POST', path: '/api/v1/billing/close', headers: operator, body: '{"period":"1999-13"}' },
    { name: 'a sign-in with a wrong token', method: 'POST', path: '/api/v1/session', headers: () => json, body: '{"token":"tp_key_nope"}' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const path = c.path.replace(':cluster', clusterId).replace(':tenant', tenantId).replace(':workload', workloadId);
      const direct = await expectSame({ ...c, path, headers: c.headers?.() ?? {} });
      if (c.unfinished !== undefined) expect(direct.status).to.be.oneOf([401, 413]);
    });
  }

  it('answers both ways with the security headers and the request id given, or a new one each', async () => {
    const [direct, express] = await both({ path: '/api/v1/workloads', headers: tenant() });
    for (const a of [direct, express]) {
      expect(a.headers).to.include({
        'x-request-id': `parity-${n}`,
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-store',
      });
    }
    const made = [
      await rawRequest(p.baseUrl, { path: '/api/v1/pool', headers: operator() }),
      await rawRequest(expressBase, { path: '/api/v1/pool', headers: operator() }),
    ];
    expect(made[0]!.headers['x-request-id']).to.be.a('string').and.not.equal(made[1]!.headers['x-request-id']);
  });

  it('answers a matching If-None-Match with 304 both ways', async () => {
    const first = await rawRequest(p.baseUrl, { path: '/api/v1/workloads', headers: tenant() });
    const etag = first.headers.etag!;
    const [direct] = await both({ path: '/api/v1/workloads', headers: { ...tenant(), 'if-none-match': etag } });
    expect(direct.status).to.equal(304);
  });

  it('signs in, reads the session and signs out the same way: the same Set-Cookie, from the platform’s clock', async () => {
    const [direct, express] = await both({
      method: 'POST',
      path: '/api/v1/session',
      headers: json,
      body: JSON.stringify({ token: ADMIN_TOKEN }),
    });
    expect(comparable(direct)).to.deep.equal(comparable(express));
    const expires = new Date(p.clock.now().getTime() + 12 * 3_600_000).toUTCString();
    expect(direct.headers['set-cookie']).to.have.length(1);
    expect(direct.headers['set-cookie']![0]).to.match(/^tp_session=tp_sess_[\w-]+; Max-Age=\d+; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Strict$/);
    expect(direct.headers['set-cookie']![0]).to.contain(`Expires=${expires}`);
    const cookies = [direct, express].map((a) => a.headers['set-cookie']![0]!.split(';')[0]!);
    const csrf = [direct, express].map((a) => JSON.parse(a.text).csrfToken as string);

    const [readDirect, readExpress] = await Promise.all(
      [0, 1].map((i) => rawRequest([p.baseUrl, expressBase][i]!, { path: '/api/v1/session', headers: { cookie: cookies[i]!, 'x-request-id': 'read' } })),
    );
    // Two sessions: their CSRF tokens, and so the ETags of the answers, differ.
    expect(comparable(readDirect!, ['etag'])).to.deep.equal(comparable(readExpress!, ['etag']));
    expect(readDirect!.status).to.equal(200);

    const [outDirect, outExpress] = await Promise.all(
      [0, 1].map((i) =>
        rawRequest([p.baseUrl, expressBase][i]!, {
          method: 'DELETE',
          path: '/api/v1/session',
          headers: { cookie: cookies[i]!, 'x-csrf-token': csrf[i]!, 'x-request-id': 'out' },
        }),
      ),
    );
    expect(comparable(outDirect!)).to.deep.equal(comparable(outExpress!));
    expect([outDirect!.status, outDirect!.headers['set-cookie']]).to.deep.equal([
      204,
      ['tp_session=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Strict'],
    ]);
  });

  it('refuses a chunked body past 16 MiB with 413 problem+json both ways, on a fixed path and a path with a parameter', async function () {
    this.timeout(60_000);
    const big = `{"name":"${'x'.repeat(16 * 1024 * 1024)}"}`;
    for (const path of ['/api/v1/workloads', `/api/v1/workloads/${workloadId}`]) {
      const [direct, express] = await both({ method: path.endsWith('workloads') ? 'POST' : 'PATCH', path, headers: tenant(), body: big, chunked: true });
      expect(comparable(direct)).to.deep.equal(comparable(express));
      expect([direct.status, direct.headers['content-type'], JSON.parse(direct.text).detail]).to.deep.equal([
        413,
        'application/problem+json; charset=utf-8',
        'The request body is larger than 16 MiB.',
      ]);
    }
  });

  it('counts what it answers in the HTTP metrics by route template', async () => {
    const metrics = await (await fetch(`${p.baseUrl}/metrics`)).text();
    expect(metrics).to.match(/tokenpool_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/agent\/heartbeat",status="200"\} [1-9]/);
    expect(metrics).to.match(/tokenpool_http_request_duration_seconds_count\{method="PATCH",route="\/api\/v1\/workloads\/:id",status="413"\} [1-9]/);
  });
});
