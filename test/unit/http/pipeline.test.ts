import { expect } from 'chai';
import { createServer, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { createAuthenticator } from '../../../server/auth/authenticate.js';
import { hashToken } from '../../../server/auth/tokens.js';
import { AppError } from '../../../server/errors.js';
import { trustedProxies } from '../../../server/http/client-address.js';
import { BODY_LIMIT, createPipeline } from '../../../server/http/pipeline.js';
import { route, type AnyRoute } from '../../../server/http/route.js';
import { FakeClock } from '../../fake-clock.js';
import { rawRequest, type RawAnswer } from '../../raw-http.js';

const TOKEN = 'tp_admin_pipeline-test-token';

describe('the request pipeline', () => {
  const clock = new FakeClock('2026-10-20T02:00:00Z');
  const observed: string[] = [];
  const logged: object[] = [];
  const seen: unknown[] = [];
  let server: Server;
  let base: string;

  const routes: Record<string, AnyRoute> = {
    '/echo': route({
      method: 'post',
      path: '/echo',
      tag: 't',
      summary: 's',
      auth: ['operator'],
      body: z.strictObject({ n: z.number() }).or(z.array(z.number())),
      responses: { 201: { description: 'made' } },
      handler: async ({ body, header }) => {
        seen.push(body);
        return { status: 201, body: { body, idem: header('idempotency-key') ?? null }, headers: { 'x-made': 'yes' } };
      },
    }),
    '/action': route({
      method: 'post',
      path: '/action',
      tag: 't',
      summary: 's',
      auth: ['operator'],
      responses: { 204: { description: 'done' } },
      handler: async () => ({ status: 204 }),
    }),
    '/read': route({
      method: 'get',
      path: '/read',
      tag: 't',
      summary: 's',
      auth: 'public',
      query: z.strictObject({ n: z.string().optional() }),
      responses: { 200: { description: 'read' } },
      handler: async ({ query }) => ({ status: 200, body: { n: query.n ?? null, text: 'héllo' } }),
    }),
    '/cookie': route({
      method: 'post',
      path: '/cookie',
      tag: 't',
      summary: 's',
      auth: 'public',
      responses: { 200: { description: 'set' } },
      handler: async () => ({
        status: 200,
        body: {},
        cookies: [
          { name: 'c', value: 'a b', maxAgeMs: 3_600_500 },
          { name: 'gone', value: '', maxAgeMs: 0 },
        ],
      }),
    }),
    '/broken': route({
      method: 'post',
      path: '/broken',
      tag: 't',
      summary: 's',
      auth: 'public',
      responses: { 200: { description: 'never' } },
      handler: async () => {
        throw new Error('the database fell over');
      },
    }),
  };

  before(async () => {
    const auth = createAuthenticator({ adminTokenHashes: () => [hashToken(TOKEN)], findApiKey: async () => undefined, findAgent: async () => undefined });
    const pipeline = createPipeline({
      auth,
      clock,
      log: { info: () => {}, warn: () => {}, error: (msg, fields) => logged.push({ msg, ...fields }) },
      httpDuration: { observe: (labels) => void observed.push(`${labels.method} ${labels.route} ${labels.status}`) },
      // The tests' client stands for a TLS-terminating proxy on loopback.
      trustedProxies: trustedProxies(['127.0.0.1']),
    });
    server = createServer((req, res) => {
      const spec = routes[(req.url ?? '').split('?')[0]!];
      pipeline.begin(req, res, () => spec?.path ?? 'unmatched');
      if (spec) void pipeline.run(spec, req, res, {});
      else pipeline.fail(req, res, new AppError('not_found', 'No route.'));
    }).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });

  const auth = { authorization: `Bearer ${TOKEN}` };
  const json = { 'content-type': 'application/json' };
  const post = (path: string, headers: Record<string, string>, body?: string | Buffer, more: { chunked?: boolean; unfinished?: number } = {}) =>
    rawRequest(base, { method: 'POST', path, headers, ...(body === undefined ? {} : { body }), ...more });
  const problem = (a: RawAnswer) => ({ status: a.status, type: a.headers['content-type'], detail: JSON.parse(a.text).detail as string });

  describe('on every answer', () => {
    it('echoes a sane request id, and replaces a missing or unsafe one with a new UUID', async () => {
      expect((await rawRequest(base, { path: '/read', headers: { 'x-request-id': 'req-42.a:b' } })).headers['x-request-id']).to.equal('req-42.a:b');
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
      const ids = new Set<string>();
      for (const given of [undefined, 'has space', 'x'.repeat(129), 'quote"d', '']) {
        const a = await rawRequest(base, { path: '/read', headers: given === undefined ? {} : { 'x-request-id': given } });
        expect(a.headers['x-request-id']).to.match(uuid);
        ids.add(a.headers['x-request-id'] as string);
      }
      expect(ids.size).to.equal(5);
    });

    it('sends the security headers on answers and on problems; no-store on both', async () => {
      for (const a of [await rawRequest(base, { path: '/read' }), await post('/echo', json, '{}'), await rawRequest(base, { path: '/nowhere' })]) {
        expect(a.headers, String(a.status)).to.include({
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
          'x-frame-options': 'DENY',
        });
      }
      expect((await rawRequest(base, { path: '/read' })).headers['cache-control']).to.equal('no-store');
      expect((await post('/echo', json, '{}')).headers['cache-control']).to.equal('no-store');
    });

    it('asks for HTTPS only on answers that came over TLS (or through a proxy saying https)', async () => {
      expect((await rawRequest(base, { path: '/read' })).headers['strict-transport-security']).to.equal(undefined);
      const behindTls = await rawRequest(base, { path: '/read', headers: { 'x-forwarded-proto': 'https' } });
      expect(behindTls.headers['strict-transport-security']).to.equal('max-age=31536000; includeSubDomains');
      const problem = await rawRequest(base, { path: '/nowhere', headers: { 'x-forwarded-proto': 'https' } });
      expect(problem.headers['strict-transport-security']).to.equal('max-age=31536000; includeSubDomains');
    });

    it('times each request under its route template and status', async () => {
      observed.length = 0;
      await rawRequest(base, { path: '/read?n=1' });
      await post('/echo', json, '{"n":1}');
      expect(observed).to.deep.equal(['GET /read 200', 'POST /echo 401']);
    });
  });

  describe('replies', () => {
    it('writes status, JSON, the route’s headers, and what the handler read of the request', async () => {
      const a = await post('/echo', { ...json, ...auth, 'idempotency-key': 'k-1' }, '{"n":21}');
      expect([a.status, a.headers['content-type'], a.headers['x-made'], a.text]).to.deep.equal([
        201,
        'application/json; charset=utf-8',
        'yes',
        '{"body":{"n":21},"idem":"k-1"}',
      ]);
      expect(a.headers['content-length']).to.equal(String(a.text.length));
      const none = await post('/action', auth);
      expect([none.status, none.text, none.headers['content-type']]).to.deep.equal([204, '', undefined]);
    });

    it('sets cookies with the session attributes, Expires from the clock, Secure only over TLS', async () => {
      const plain = await post('/cookie', {});
      expect(plain.headers['set-cookie']).to.deep.equal([
        'c=a%20b; Max-Age=3600; Path=/; Expires=Tue, 20 Oct 2026 03:00:00 GMT; HttpOnly; SameSite=Strict',
        'gone=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Strict',
      ]);
      clock.advance(86_400_000);
      const proxied = await post('/cookie', { 'x-forwarded-proto': 'https' });
      expect(proxied.headers['set-cookie']![0]).to.equal(
        'c=a%20b; Max-Age=3600; Path=/; Expires=Wed, 21 Oct 2026 03:00:00 GMT; HttpOnly; Secure; SameSite=Strict',
      );
    });

    it('gives reads a weak ETag, and 304 with no body to a matching If-None-Match (unless no-cache)', async () => {
      const first = await rawRequest(base, { path: '/read' });
      const etag = first.headers.etag!;
      expect(etag).to.match(/^W\/"[0-9a-f]+-[\w+/]{27}"$/);
      for (const inm of [etag, `"x", ${etag}`, etag.slice(2), '*']) {
        const again = await rawRequest(base, { path: '/read', headers: { 'if-none-match': inm } });
        expect([again.status, again.text, again.headers['content-type']], inm).to.deep.equal([304, '', undefined]);
        expect(again.headers.etag).to.equal(etag);
      }
      expect((await rawRequest(base, { path: '/read', headers: { 'if-none-match': etag, 'cache-control': 'no-cache' } })).status).to.equal(200);
      expect((await rawRequest(base, { path: '/read', headers: { 'if-none-match': 'W/"other"' } })).status).to.equal(200);
      expect((await rawRequest(base, { path: '/read?n=2', headers: { 'if-none-match': etag } })).status).to.equal(200);
      const head = await rawRequest(base, { method: 'HEAD', path: '/read' });
      expect([head.status, head.text, head.headers.etag, head.headers['content-length']]).to.deep.equal([200, '', etag, first.headers['content-length']]);
    });

    it('answers an unexpected error 500 without its text, and logs it with the request id', async () => {
      logged.length = 0;
      const a = await post('/broken', { 'x-request-id': 'trace-7' });
      expect(problem(a)).to.deep.equal({ status: 500, type: 'application/problem+json; charset=utf-8', detail: 'An unexpected error occurred.' });
      expect(a.text).to.not.contain('database');
      expect(logged).to.have.length(1);
      expect(logged[0]).to.include({ msg: 'unexpected error', requestId: 'trace-7', method: 'POST', path: '/broken' });
    });
  });

  describe('bodies', () => {
    it('authenticates before reading the body: 401 while the client is still sending', async () => {
      const a = await post('/echo', json, '{"n":', { unfinished: 1000 });
      expect(problem(a)).to.deep.include({ status: 401 });
    });

    it('refuses a body declared over 16 MiB before anything else (413, nothing read)', async () => {
      const a = await post('/echo', json, '{', { unfinished: BODY_LIMIT + 1 });
      expect(problem(a)).to.deep.equal({ status: 413, type: 'application/problem+json; charset=utf-8', detail: 'The request body is larger than 16 MiB.' });
    });

    it('refuses a chunked body once it passes 16 MiB with 413, and keeps the connection for the next request', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const big = `{"n":1,"pad":"${'x'.repeat(BODY_LIMIT)}"}`;
        const a = await rawRequest(base, { method: 'POST', path: '/echo', headers: { ...json, ...auth }, body: big, chunked: true, agent });
        expect(problem(a).status).to.equal(413);
        const next = await rawRequest(base, { method: 'POST', path: '/echo', headers: { ...json, ...auth }, body: '{"n":2}', agent });
        expect(next.status).to.equal(201);
      } finally {
        agent.destroy();
      }
    });

    it('reads gzip, deflate and br, refuses other encodings and corrupt data with 400', async () => {
      const body = Buffer.from('{"n":7}');
      for (const [encoding, bytes] of [
        ['gzip', gzipSync(body)],
        ['deflate', deflateSync(body)],
        ['br', brotliCompressSync(body)],
        ['identity', body],
        ['GZip', gzipSync(body)],
      ] as const) {
        const a = await post('/echo', { ...json, ...auth, 'content-encoding': encoding }, bytes);
        expect([a.status, a.text], encoding).to.deep.equal([201, '{"body":{"n":7},"idem":null}']);
      }
      expect(problem(await post('/echo', { ...json, ...auth, 'content-encoding': 'compress' }, body))).to.deep.include({ status: 400 });
      expect(problem(await post('/echo', { ...json, ...auth, 'content-encoding': 'gzip, br' }, body))).to.deep.include({ status: 400 });
      const corrupt = problem(await post('/echo', { ...json, ...auth, 'content-encoding': 'gzip' }, Buffer.from('not gzip at all')));
      expect(corrupt).to.deep.equal({ status: 400, type: 'application/problem+json; charset=utf-8', detail: 'The request body could not be decompressed.' });
      const truncated = gzipSync(body).subarray(0, 12);
      expect(problem(await post('/echo', { ...json, ...auth, 'content-encoding': 'gzip' }, truncated)).status).to.equal(400);
    });

    it('counts the 16 MiB after decompression', async () => {
      const bomb = gzipSync(`{"n":1,"pad":"${'x'.repeat(BODY_LIMIT)}"}`);
      expect(bomb.length).to.be.below(100_000);
      expect(problem(await post('/echo', { ...json, ...auth, 'content-encoding': 'gzip' }, bomb)).status).to.equal(413);
    });

    it('reads JSON in UTF-8 only: objects and arrays, an empty body as {}, other types as no body', async () => {
      seen.length = 0;
      expect((await post('/echo', { 'content-type': 'application/vnd.x+json; charset="UTF-8"', ...auth }, '\ufeff[1,2]')).status).to.equal(201);
      expect(seen).to.deep.equal([[1, 2]]);
      expect(problem(await post('/echo', { 'content-type': 'application/json; charset=latin1', ...auth }, '{"n":1}'))).to.deep.include({
        status: 400,
        detail: 'The request body must be UTF-8 JSON.',
      });
      for (const text of ['"n"', '{"n":', 'null', ' 1']) {
        expect(problem(await post('/echo', { ...json, ...auth }, text)), text).to.deep.include({ status: 400, detail: 'The request body is not valid JSON.' });
      }
      expect((await post('/action', { ...json, ...auth }, '')).status).to.equal(204);
      expect((await post('/action', { ...json, ...auth }, '{"x":1}')).status).to.equal(400);
      expect((await post('/action', { 'content-type': 'text/plain', ...auth }, '{"x":1}')).status).to.equal(204);
    });
  });
});
