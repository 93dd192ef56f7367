import { validate, compileErrors } from '@readme/openapi-parser';
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describeOnDatabases, type Answer, type TestPlatform } from './harness.js';

const PROBLEM_KEYS = ['type', 'title', 'status', 'detail', 'errors'];

/** RFC 9457 problem+json as API.md "Conventions" describes it. */
function expectProblem(res: Answer, status: number, opts: { errors?: boolean } = {}): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers.get('content-type')).to.match(/^application\/problem\+json(;|$)/);
  const b = res.body;
  expect(b).to.be.an('object');
  expect(
    Object.keys(b).every((k) => PROBLEM_KEYS.includes(k)),
    `keys ${Object.keys(b).join(', ')}`,
  ).to.equal(true);
  expect(b.type).to.be.a('string').and.not.equal('');
  expect(b.title).to.be.a('string').and.not.equal('');
  expect(b.status).to.equal(status);
  expect(b.detail).to.be.a('string').and.not.equal('');
  if (opts.errors) {
    expect(b.errors).to.be.an('array').that.is.not.empty;
    for (const e of b.errors) {
      expect(e).to.have.keys('path', 'message');
      expect(e.path).to.be.a('string');
      expect(e.message).to.be.a('string').and.not.equal('');
    }
  } else if (b.errors !== undefined) {
    expect(b.errors).to.be.an('array');
  }
}

async function tenantKey(p: TestPlatform, name: string): Promise<string> {
  const res = await p.request('POST', '/api/v1/tenants', { body: { name, kind: 'enterprise', billingMode: 'postpaid' } });
  expect(res.status).to.equal(201);
  return res.body.apiKey;
}

describeOnDatabases('conventions', (platform) => {
  describe('problem+json', () => {
    it('400: invalid input, with errors[] naming each field by its dot-separated path', async () => {
      const res = await platform().request('POST', '/api/v1/clusters', { body: { name: 'Bad Name', region: 'nansha', labels: { ok: 5 }, colour: 'red' } });
      expectProblem(res, 400, { errors: true });
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.have.members(['name', 'labels.ok', 'colour']);
    });

    it('400: malformed JSON', async () => {
      const p = platform();
      for (const raw of ['{"name": "nansha-1",', '{name: "x"}', 'nansha-1', '']) {
        const res = await p.request('POST', '/api/v1/clusters', { raw, headers: { 'content-type': 'application/json' } });
        expectProblem(res, 400);
      }
      // Malformed JSON leaves nothing behind.
      expect((await p.request('GET', '/api/v1/clusters')).body.items).to.deep.equal([]);
      // Without credentials the body is never read: 401, whatever it holds.
      expectProblem(await p.request('POST', '/api/v1/clusters', { raw: '{"name": "nansha-1",', token: null }), 401);
    });

    it('400: a body that is not JSON, or JSON that is not an object', async () => {
      const p = platform();
      expectProblem(
        await p.request('POST', '/api/v1/clusters', { raw: 'name=nansha-1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
        400,
      );
      expectProblem(await p.request('POST', '/api/v1/clusters', { raw: '[1,2]' }), 400);
      expectProblem(await p.request('POST', '/api/v1/clusters', { raw: '"nansha-1"' }), 400);
      expectProblem(await p.request('POST', '/api/v1/clusters', { raw: 'null' }), 400);
    });

    it('400: an unknown query parameter', async () => {
      const p = platform();
      for (const path of ['/api/v1/clusters?colour=red', '/api/v1/pool?verbose=1', '/api/v1/models?limit=5&sort=name', '/api/v1/clusters/cl_x?expand=all']) {
        const res = await p.request('GET', path);
        expectProblem(res, 400, { errors: true });
        expect(res.body.errors[0].path).to.match(/^query\./);
      }
    });

    it('400: a path parameter that is not valid percent-encoding', async () => {
      expectProblem(await platform().request('GET', '/api/v1/clusters/%E0%A4%A'), 400);
    });

    it('400: unknown fields on an action that takes no body', async () => {
      const p = platform();
      const cluster = await p.request('POST', '/api/v1/clusters', { body: { name: 'liwan-1', region: 'liwan' } });
      expect(cluster.status).to.equal(201);
      const tenant = await p.request('POST', '/api/v1/tenants', { body: { name: 'Body Tester', kind: 'enterprise', billingMode: 'postpaid' } });
      let res = await p.request('POST', `/api/v1/clusters/${cluster.body.id}/cordon`, { body: { reason: 'maintenance' } });
      expectProblem(res, 400, { errors: true });
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['reason']);
      expect((await p.request('GET', `/api/v1/clusters/${cluster.body.id}`)).body.cordoned).to.equal(false);
      res = await p.request('POST', `/api/v1/tenants/${tenant.body.id}/api-keys`, { body: { label: 'ci' } });
      expectProblem(res, 400, { errors: true });
      expect((await p.request('GET', `/api/v1/tenants/${tenant.body.id}/api-keys`)).body.items).to.have.length(1);
      // An empty object, or no body at all, is fine.
      expect((await p.request('POST', `/api/v1/clusters/${cluster.body.id}/cordon`, { body: {} })).status).to.equal(200);
      expect((await p.request('POST', `/api/v1/clusters/${cluster.body.id}/uncordon`)).status).to.equal(200);
      expect((await p.request('DELETE', `/api/v1/clusters/${cluster.body.id}`)).status).to.equal(204);
    });

    it('401: no or bad credentials', async () => {
      const p = platform();
      expectProblem(await p.request('GET', '/api/v1/clusters', { token: null }), 401);
      expectProblem(await p.request('GET', '/api/v1/clusters', { token: 'tp_admin_wrong-token-0123456789' }), 401);
      expectProblem(await p.request('GET', '/api/v1/clusters', { headers: { authorization: 'Token abc' }, token: null }), 401);
      expectProblem(await p.request('POST', '/api/v1/clusters', { token: null, body: { name: 'x', region: 'y' } }), 401);
    });

    it('403: a principal of the wrong kind', async () => {
      const p = platform();
      const key = await tenantKey(p, 'Wrong Kind');
      expectProblem(await p.request('GET', '/api/v1/pool', { token: key }), 403);
      expectProblem(await p.request('POST', '/api/v1/agent/heartbeat', { body: { inventory: [] } }), 403);
    });

    it('404: an unknown resource, and an unknown route (with or without credentials)', async () => {
      const p = platform();
      expectProblem(await p.request('GET', '/api/v1/clusters/cl_missing'), 404);
      expectProblem(await p.request('GET', '/api/v1/no-such-thing'), 404);
      expectProblem(await p.request('GET', '/api/v1/no-such-thing', { token: null }), 404);
      expectProblem(await p.request('POST', '/api/v2/clusters', { body: {} }), 404);
      expectProblem(await p.request('GET', '/no-such-page'), 404);
      // The root is the console's address; the UI's old addresses under /ui/ lead to the same page, on this host.
      const root = await fetch(`${p.baseUrl}/`, { redirect: 'manual' });
      expect([root.status, root.headers.get('location')]).to.deep.equal([302, '/console']);
      for (const [old, now] of [
        ['/ui', '/'],
        ['/ui/portal/keys?x=1', '/portal/keys?x=1'],
        ['/ui//evil.example/a', '/evil.example/a'],
        ['/ui/%5C%5Cevil.example', '/%5C%5Cevil.example'],
      ]) {
        const moved = await fetch(`${p.baseUrl}${old}`, { redirect: 'manual' });
        expect([moved.status, moved.headers.get('location')], old).to.deep.equal([301, now]);
      }
    });

    it('409: a conflict', async () => {
      const p = platform();
      expect((await p.request('POST', '/api/v1/clusters', { body: { name: 'yuexiu-1', region: 'yuexiu' } })).status).to.equal(201);
      expectProblem(await p.request('POST', '/api/v1/clusters', { body: { name: 'yuexiu-1', region: 'yuexiu' } }), 409);
    });

    it('413: a body over 16 MiB', async function () {
      this.timeout(60_000);
      const p = platform();
      const raw = JSON.stringify({ inventory: [], padding: 'x'.repeat(17 * 1024 * 1024) });
      const res = await p.request('POST', '/api/v1/clusters', { raw });
      expectProblem(res, 413);
      // Refused by size before anything else: a caller without credentials learns nothing more.
      expectProblem(await p.request('POST', '/api/v1/clusters', { raw, token: null }), 413);
      // Under the limit the body is read, and judged by its content.
      const under = JSON.stringify({ name: 'big-1', region: 'nansha', labels: { note: 'y'.repeat(15 * 1024 * 1024) } });
      const ok = await p.request('POST', '/api/v1/clusters', { raw: under });
      expectProblem(ok, 400, { errors: true });
      expect(ok.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['labels.note']);
    });
  });

  describe('headers on every answer', () => {
    /** The path of the UI's script, from its built index.html (built first when its sources changed). */
    const uiScript = () => {
      execFileSync(process.execPath, ['ui/build.mjs'], { stdio: 'inherit' });
      return readFileSync('dist/ui/index.html', 'utf8').match(/src="(\/ui\/assets\/[^"]+\.js)"/)![1]!;
    };

    it('a request id (the client’s when sane, else a new one) and the security headers; API answers are not stored', async () => {
      const p = platform();
      const answers = {
        route: await p.request('GET', '/api/v1/clusters'),
        problem: await p.request('GET', '/api/v1/clusters', { token: null }),
        unknown: await p.request('GET', '/api/v1/no-such-thing'),
        health: await p.request('GET', '/healthz', { token: null }),
        openapi: await p.request('GET', '/api/v1/openapi.json', { token: null }),
        console: await p.request('GET', '/console/tenants', { token: null }),
        asset: await p.request('GET', uiScript(), { token: null }),
      };
      const ids = new Set<string>();
      for (const [name, res] of Object.entries(answers)) {
        expect(res.status, name).to.equal(name === 'problem' ? 401 : name === 'unknown' ? 404 : 200);
        for (const [header, value] of [
          ['x-content-type-options', 'nosniff'],
          ['referrer-policy', 'no-referrer'],
          ['x-frame-options', 'DENY'],
        ]) {
          expect(res.headers.get(header!), `${name} ${header}`).to.equal(value);
        }
        ids.add(res.headers.get('x-request-id')!);
        expect(res.headers.get('cache-control') === 'no-store', name).to.equal(['route', 'problem', 'unknown'].includes(name));
      }
      expect(ids.size).to.equal(Object.keys(answers).length);
      expect(answers.console.headers.get('content-security-policy')).to.equal(
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
      );
      const traced = await p.request('POST', '/api/v1/clusters', { body: { name: 'trace-1', region: 'liwan' }, headers: { 'x-request-id': 'lb-7f3a/1' } });
      expect([traced.status, traced.headers.get('x-request-id')]).to.deep.equal([201, 'lb-7f3a/1']);
      const unsafe = await p.request('GET', '/api/v1/clusters', { headers: { 'x-request-id': 'a b' } });
      expect(unsafe.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    });
  });

  describe('health, readiness and metrics', () => {
    it('answers /healthz and /readyz without credentials', async () => {
      const p = platform();
      const health = await p.request('GET', '/healthz', { token: null });
      expect(health.status).to.equal(200);
      const ready = await p.request('GET', '/readyz', { token: null });
      expect(ready.status).to.equal(200);
    });

    it('serves Prometheus metrics: defaults, HTTP by route template, heartbeats, clusters and the pool', async () => {
      const p = platform();
      const cluster = await p.request('POST', '/api/v1/clusters', { body: { name: 'haizhu-1', region: 'haizhu' } });
      expect(cluster.status).to.equal(201);
      const { id, agentToken } = cluster.body;
      for (let i = 0; i < 3; i++) {
        const hb = await p.request('POST', '/api/v1/agent/heartbeat', {
          token: agentToken,
          body: { inventory: [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 8 }] },
        });
        expect(hb.status).to.equal(200);
      }
      // A refused heartbeat is not counted.
      expect((await p.request('POST', '/api/v1/agent/heartbeat', { token: agentToken, body: { inventory: 'none' } })).status).to.equal(400);
      expect((await p.request('GET', `/api/v1/clusters/${id}`)).status).to.equal(200);
      expect((await p.request('GET', '/api/v1/clusters/cl_does_not_exist')).status).to.equal(404);

      const res = await fetch(`${p.baseUrl}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain/);
      const text = await res.text();
      expect(text).to.match(/^process_cpu_user_seconds_total \d/m);
      expect(text).to.match(/^nodejs_heap_size_total_bytes \d/m);
      expect(text).to.match(/^# TYPE tokenpool_http_request_duration_seconds histogram$/m);
      expect(text).to.match(/^tokenpool_http_request_duration_seconds_count\{[^}]*route="\/api\/v1\/clusters\/:id"[^}]*status="200"[^}]*\} [1-9]\d*$/m);
      expect(text).to.match(/^tokenpool_http_request_duration_seconds_count\{[^}]*route="\/api\/v1\/clusters\/:id"[^}]*status="404"[^}]*\} [1-9]\d*$/m);
      expect(text).to.match(/^tokenpool_http_request_duration_seconds_count\{[^}]*route="\/api\/v1\/agent\/heartbeat"[^}]*status="200"[^}]*\} 3$/m);
      expect(text).to.not.contain(id);
      expect(text).to.not.contain('cl_does_not_exist');
      expect(text).to.match(/^tokenpool_agent_heartbeats_total 3$/m);
      expect(text).to.match(/^tokenpool_clusters\{state="ready"\} 1$/m);
      const pool = (await p.request('GET', '/api/v1/pool')).body;
      expect(pool.clusters.ready).to.equal(1);
      expect(text).to.contain(`\ntokenpool_clusters{state="pending"} ${pool.clusters.pending}\n`);
      expect(text).to.contain(`\ntokenpool_clusters{state="not_ready"} ${pool.clusters.notReady}\n`);
      expect(text).to.match(/^tokenpool_pool_capacity_std_per_minute\{vendor="nvidia",kind="total"\} 1440000$/m);
      expect(text).to.match(/^tokenpool_pool_capacity_std_per_minute\{vendor="nvidia",kind="free"\} 1440000$/m);
    });

    it('labels requests to unknown paths without the raw path', async () => {
      const p = platform();
      expect((await p.request('GET', '/api/v1/secret-path-xyz-123')).status).to.equal(404);
      const text = await (await fetch(`${p.baseUrl}/metrics`)).text();
      expect(text).to.not.contain('secret-path-xyz-123');
    });
  });

  describe('the OpenAPI document', () => {
    let doc: any;

    it('is served without credentials', async () => {
      const res = await platform().request('GET', '/api/v1/openapi.json', { token: null });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/json/);
      doc = res.body;
      expect(doc.openapi).to.match(/^3\.1\.\d+$/);
      expect(doc.info).to.include.keys('title', 'version');
    });

    it('is a valid OpenAPI 3.1 document', async () => {
      const result = await validate(structuredClone(doc));
      expect(result.valid, result.valid ? '' : compileErrors(result)).to.equal(true);
      expect(result.specification).to.equal('OpenAPI');
      expect(result.warnings).to.deep.equal([]);
    });

    it('has every route the server serves, and only those', async () => {
      const routes = platform().app.routes;
      expect(routes.length).to.be.at.least(20);
      const served = routes.map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_]+)/g, '{$1}')}`).sort();
      const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
        .flatMap(([path, ops]) =>
          Object.keys(ops)
            .filter((k) => ['get', 'post', 'put', 'patch', 'delete'].includes(k))
            .map((m) => `${m} ${path}`),
        )
        .sort();
      expect(documented).to.deep.equal(served);
      for (const must of [
        'post /api/v1/device-profiles',
        'get /api/v1/models',
        'post /api/v1/clusters',
        'get /api/v1/clusters/{id}',
        'post /api/v1/agent/heartbeat',
        'get /api/v1/pool',
        'post /api/v1/tenants',
        'patch /api/v1/tenants/{id}',
        'post /api/v1/tenants/{id}/api-keys',
        'delete /api/v1/api-keys/{id}',
      ]) {
        expect(served).to.include(must);
      }
    });

    it("declares every operation's path parameters, responses and problems", () => {
      for (const r of platform().app.routes) {
        const path = r.path.replace(/:([A-Za-z_]+)/g, '{$1}');
        const op = doc.paths[path][r.method];
        const where = `${r.method} ${path}`;
        expect(op.summary, where).to.be.a('string').and.not.equal('');
        // A route that upgrades (the agents' tunnel) succeeds with 101 and no body.
        const success = Object.keys(op.responses).filter((s) => /^2\d\d$/.test(s) || (r.upgrade !== undefined && s === '101'));
        expect(success, where).to.have.length.at.least(1);
        for (const s of success) {
          expect(op.responses[s].description, where).to.be.a('string');
          // A download (the settlement CSV, an invoice's PDF) declares its own media type instead of JSON.
          const type = r.responses[Number(s)]?.text ?? r.responses[Number(s)]?.binary ?? 'application/json';
          if (s !== '204' && s !== '101') expect(op.responses[s].content?.[type]?.schema, `${where} ${s}`).to.be.an('object');
        }
        for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
          expect(
            op.parameters.find((x: any) => x.in === 'path' && x.name === name),
            `${where} {${name}}`,
          ).to.include({ required: true });
        }
        if (r.auth !== 'public') {
          // The token gateway answers errors in OpenAI's shape (API.md v2); the rest as problem+json.
          const errorType = r.errorFormat === 'openai' ? 'application/json' : 'application/problem+json';
          for (const s of ['400', '401', '403']) {
            expect(op.responses[s]?.content?.[errorType]?.schema, `${where} ${s}`).to.be.an('object');
            if (r.errorFormat === 'openai')
              expect(op.responses[s].content[errorType].schema, `${where} ${s}`).to.deep.equal({ $ref: '#/components/schemas/OpenAiError' });
          }
        }
        if (r.body) expect(op.responses['413'], `${where} 413`).to.be.an('object');
        for (const [s, res] of Object.entries(op.responses as Record<string, { headers?: object }>)) {
          // A 429 or 503 also says when to try again.
          const retry = s === '429' || s === '503' ? { 'Retry-After': { description: 'Whole seconds', schema: { type: 'integer', minimum: 1 } } } : {};
          expect(res.headers, `${where} ${s}`).to.deep.equal({ 'X-Request-Id': { $ref: '#/components/headers/RequestId' }, ...retry });
        }
      }
      expect(doc.components.headers.RequestId.schema).to.deep.equal({ type: 'string' });
      expect(doc.components.schemas.Problem.properties).to.include.keys('type', 'title', 'status', 'detail', 'errors');
      expect(doc.components.securitySchemes.bearer).to.include({ type: 'http', scheme: 'bearer' });
    });

    it('documents request bodies as strict schemas (additionalProperties: false)', () => {
      /** Every object schema inside `s` (through properties, items, unions) with its JSON pointer. */
      function objects(s: any, at: string, out: [string, any][]): [string, any][] {
        if (!s || typeof s !== 'object') return out;
        if (s.type === 'object' && s.properties) out.push([at, s]);
        for (const [k, v] of Object.entries(s.properties ?? {})) objects(v, `${at}.${k}`, out);
        if (s.items) objects(s.items, `${at}[]`, out);
        for (const key of ['anyOf', 'oneOf', 'allOf'] as const) (s[key] ?? []).forEach((v: any, i: number) => objects(v, `${at}<${key}${i}>`, out));
        return out;
      }
      let bodies = 0;
      for (const r of platform().app.routes) {
        const path = r.path.replace(/:([A-Za-z_]+)/g, '{$1}');
        const op = doc.paths[path][r.method];
        if (!r.body) {
          expect(op.requestBody, `${r.method} ${path}`).to.equal(undefined);
          continue;
        }
        bodies++;
        // A CSV body (a bank statement) is text, not an object.
        if (r.bodyType === 'csv') {
          expect(op.requestBody?.content?.['text/csv']?.schema?.type, `${r.method} ${path}`).to.equal('string');
          continue;
        }
        const schema = op.requestBody?.content?.['application/json']?.schema;
        // OpenAI's bodies (the token gateway) take fields this API does not name, passed on to the engine.
        if (r.errorFormat === 'openai') {
          expect(schema?.type, `${r.method} ${path}`).to.equal('object');
          continue;
        }
        expect(schema, `${r.method} ${path}`).to.be.an('object');
        // A body is an object, or a union of objects (a plan is `unit` or `periodic`).
        const members = schema.oneOf ?? schema.anyOf ?? [schema];
        for (const m of members) expect(m.type, `${r.method} ${path}`).to.equal('object');
        const found = objects(schema, `${r.method} ${path}`, []);
        expect(found.length).to.be.at.least(1);
        for (const [where, s] of found) expect(s.additionalProperties, where).to.equal(false);
      }
      expect(bodies).to.be.at.least(7);
      // The heartbeat's nested inventory items are strict too.
      const hb = doc.paths['/api/v1/agent/heartbeat'].post.requestBody.content['application/json'].schema;
      expect(hb.properties.inventory.items.additionalProperties).to.equal(false);
    });

    it('documents the catalog factors as decimals and list paging', () => {
      const body = doc.paths['/api/v1/models'].post.requestBody.content['application/json'].schema;
      expect(body.required).to.include.members(['name', 'minMemoryGiB', 'costFactor', 'inputFactor']);
      const list = doc.paths['/api/v1/models'].get;
      const names = list.parameters.map((x: any) => `${x.in}:${x.name}`);
      expect(names).to.include.members(['query:limit', 'query:cursor']);
      const page = list.responses['200'].content['application/json'].schema;
      expect(page.properties).to.include.keys('items', 'nextCursor');
    });
  });
});
