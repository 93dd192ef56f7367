import { expect } from 'chai';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { createAuthenticator } from '../../../server/auth/authenticate.js';
import { dispatcher } from '../../../server/http/dispatch.js';
import { route } from '../../../server/http/route.js';

describe('dispatcher: which requests it answers itself', () => {
  let server: Server;
  let base: string;
  const fellBack: string[] = [];
  const observed: string[] = [];

  before(async () => {
    const routes = [
      route({
        method: 'post', path: '/api/things', tag: 't', summary: 's', auth: 'public', body: z.strictObject({ n: z.number() }),
        responses: { 201: { description: 'made' } },
        handler: async ({ body }) => ({ status: 201, body: { twice: body.n * 2 }, headers: { 'x-made': 'yes' } }),
      }),
      route({
        method: 'post', path: '/api/things/:id', tag: 't', summary: 's', auth: 'public', params: z.strictObject({ id: z.string() }),
        responses: { 204: { description: 'done' } }, handler: async () => ({ status: 204 }),
      }),
    ];
    const auth = createAuthenticator({ adminTokenHashes: () => [], findApiKey: async () => undefined, findAgent: async () => undefined });
    server = createServer(dispatcher({
      routes, auth, log: () => {},
      fallback: (req, res) => {
        fellBack.push(`${req.method} ${req.url}`);
        req.resume();
        res.statusCode = 299;
        res.end();
      },
      observe: (req, res, path) => res.once('finish', () => observed.push(`${req.method} ${path} ${res.statusCode}`)),
    })).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise((r) => server.close(r)));

  function call(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string; made?: string }> {
    return new Promise((done, fail) => {
      const req = request(base + path, { method, agent: false, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => done({ status: res.statusCode ?? 0, body: text, made: res.headers['x-made'] as string | undefined }));
      });
      req.on('error', fail);
      req.end(body);
    });
  }

  it('answers a change to a fixed path carrying JSON, with the route\'s headers, and observes it', async () => {
    const r = await call('POST', '/api/things', { 'content-type': 'application/json' }, '{"n":21}');
    expect(r).to.deep.equal({ status: 201, body: '{"twice":42}', made: 'yes' });
    expect(observed).to.include('POST /api/things 201');
  });

  it('validates as the route says (query, body) and answers problems', async () => {
    expect((await call('POST', '/api/things?x=1', { 'content-type': 'application/json' }, '{"n":1}')).status).to.equal(400);
    expect((await call('POST', '/api/things', { 'content-type': 'application/json' }, '{"n":"one"}')).status).to.equal(400);
  });

  it('leaves everything else to the fallback: reads, paths with parameters, other bodies, compression, unknown paths', async () => {
    fellBack.length = 0;
    await call('GET', '/api/things');
    await call('POST', '/api/things/7', { 'content-type': 'application/json' }, '{}');
    await call('POST', '/api/things', { 'content-type': 'text/plain' }, 'n=1');
    await call('POST', '/api/things', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 'xx');
    await call('POST', '/api/other', { 'content-type': 'application/json' }, '{}');
    await call('POST', '/API/things', { 'content-type': 'application/json' }, '{"n":1}');
    expect(fellBack).to.deep.equal(['GET /api/things', 'POST /api/things/7', 'POST /api/things', 'POST /api/things', 'POST /api/other', 'POST /API/things']);
  });
});
