import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { createAuthenticator } from '../../../server/auth/authenticate.js';
import { allowedMethods, dispatcher } from '../../../server/http/dispatch.js';
import { createPipeline } from '../../../server/http/pipeline.js';
import { route } from '../../../server/http/route.js';
import { silentLogger } from '../../../server/log.js';
import { FakeClock } from '../../fake-clock.js';
import { rawRequest } from '../../raw-http.js';

describe('dispatcher: which requests it answers itself', () => {
  let server: Server;
  let base: string;
  const fellBack: string[] = [];
  const observed: string[] = [];
  const routes = [
    route({
      method: 'post',
      path: '/api/things',
      tag: 't',
      summary: 's',
      auth: 'public',
      body: z.strictObject({ n: z.number() }),
      responses: { 201: { description: 'made' } },
      handler: async ({ body }) => ({ status: 201, body: { twice: body.n * 2 }, headers: { 'x-made': 'yes' } }),
    }),
    route({
      method: 'get',
      path: '/api/things',
      tag: 't',
      summary: 's',
      auth: 'public',
      responses: { 200: { description: 'list' } },
      handler: async () => ({ status: 200, body: { items: [] } }),
    }),
    route({
      method: 'post',
      path: '/api/things/:id',
      tag: 't',
      summary: 's',
      auth: 'public',
      params: z.strictObject({ id: z.string() }),
      responses: { 204: { description: 'done' } },
      handler: async () => ({ status: 204 }),
    }),
  ];

  before(async () => {
    const auth = createAuthenticator({ adminTokenHashes: () => [], findApiKey: async () => undefined, findAgent: async () => undefined });
    const pipeline = createPipeline({
      auth,
      clock: new FakeClock(),
      log: silentLogger,
      httpDuration: { observe: (labels) => void observed.push(`${labels.method} ${labels.route} ${labels.status}`) },
    });
    server = createServer(
      dispatcher({
        routes,
        pipeline,
        fallback: (req, res) => {
          fellBack.push(`${req.method} ${req.url}`);
          req.resume();
          res.statusCode = 299;
          res.end();
        },
      }),
    ).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise((r) => server.close(r)));

  const json = { 'content-type': 'application/json' };

  it('answers every method a fixed path takes through the pipeline, and times it under the template', async () => {
    observed.length = 0;
    const made = await rawRequest(base, { method: 'POST', path: '/api/things', headers: json, body: '{"n":21}' });
    expect([made.status, made.text, made.headers['x-made']]).to.deep.equal([201, '{"twice":42}', 'yes']);
    expect(made.headers['x-request-id']).to.be.a('string');
    expect((await rawRequest(base, { path: '/api/things?x=1' })).status).to.equal(400);
    const head = await rawRequest(base, { method: 'HEAD', path: '/api/things' });
    expect([head.status, head.text]).to.deep.equal([200, '']);
    // Compressed bodies too: the pipeline reads them.
    expect((await rawRequest(base, { method: 'POST', path: '/api/things', headers: { ...json, 'content-encoding': 'br' }, body: 'xx' })).status).to.equal(400);
    expect(observed).to.deep.equal(['POST /api/things 201', 'GET /api/things 400', 'HEAD /api/things 200', 'POST /api/things 400']);
  });

  it('answers OPTIONS on a fixed path with the methods it takes', async () => {
    const a = await rawRequest(base, { method: 'OPTIONS', path: '/api/things' });
    expect([a.status, a.headers.allow, a.text]).to.deep.equal([204, 'GET, HEAD, OPTIONS, POST', '']);
    expect(allowedMethods(routes, '/api/things/:id')).to.deep.equal(['OPTIONS', 'POST']);
  });

  it('leaves everything else to the fallback: paths with parameters, other methods, unknown paths, other spellings', async () => {
    fellBack.length = 0;
    await rawRequest(base, { method: 'POST', path: '/api/things/7', headers: json, body: '{}' });
    await rawRequest(base, { method: 'DELETE', path: '/api/things' });
    await rawRequest(base, { method: 'OPTIONS', path: '/api/other' });
    await rawRequest(base, { method: 'POST', path: '/api/other', headers: json, body: '{}' });
    await rawRequest(base, { method: 'POST', path: '/API/things', headers: json, body: '{"n":1}' });
    await rawRequest(base, { method: 'POST', path: '/api/things/', headers: json, body: '{"n":1}' });
    expect(fellBack).to.deep.equal([
      'POST /api/things/7',
      'DELETE /api/things',
      'OPTIONS /api/other',
      'POST /api/other',
      'POST /API/things',
      'POST /api/things/',
    ]);
  });
});
