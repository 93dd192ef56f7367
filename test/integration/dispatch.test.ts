/**
 * The API's hot changes are answered without Express (server/http/dispatch.ts). Whatever a client
 * sends, the answer must be the one Express gives: the same platform is served both ways and the
 * answers are compared, request by request.
 */
import { expect } from 'chai';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADMIN_TOKEN, startPlatform, type TestPlatform } from './harness.js';

interface Raw {
  readonly status: number;
  readonly type: string | undefined;
  readonly body: string;
  readonly connection: string | undefined;
}

/** One request with exactly these headers and body bytes (chunked when `chunked`). */
function send(base: string, method: string, path: string, headers: Record<string, string>, body?: string | Buffer, chunked = false): Promise<Raw> {
  return new Promise((done, fail) => {
    const req = request(base + path, { method, headers: chunked ? headers : { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () =>
        done({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks).toString(), connection: res.headers.connection }));
    });
    req.on('error', fail);
    if (body !== undefined && chunked) {
      const b = Buffer.from(body);
      req.write(b.subarray(0, b.length >> 1));
      req.end(b.subarray(b.length >> 1));
    } else {
      req.end(body);
    }
  });
}

/** Ids and times differ between two creates; the rest must not. */
function comparable(raw: Raw): unknown {
  let body: unknown = raw.body;
  try {
    body = JSON.parse(raw.body, (k, v) => (['id', 'createdAt', 'updatedAt', 'name'].includes(k) ? '…' : v));
  } catch {
    // not JSON: compared as text
  }
  return { status: raw.status, type: raw.type, body };
}

describe('answers without Express are the answers Express gives', function () {
  this.timeout(60_000);
  let p: TestPlatform;
  let viaExpress: Server;
  let expressBase: string;
  let tenantKey: string;
  let agentToken: string;

  before(async () => {
    p = await startPlatform('pglite');
    viaExpress = createServer(p.app.express).listen(0, '127.0.0.1');
    await new Promise((r) => viaExpress.once('listening', r));
    expressBase = `http://127.0.0.1:${(viaExpress.address() as AddressInfo).port}`;
    tenantKey = (await p.request('POST', '/api/v1/tenants', { body: { name: 'dispatch', kind: 'enterprise' } })).body.apiKey;
    agentToken = (await p.request('POST', '/api/v1/clusters', { body: { name: 'dispatch-1', region: 'nansha' } })).body.agentToken;
  });

  after(async () => {
    viaExpress.closeAllConnections();
    await new Promise((r) => viaExpress.close(r));
    await p.close();
  });

  const json = { 'content-type': 'application/json' };
  const cases: ReadonlyArray<{ name: string; method?: string; path: string; headers?: () => Record<string, string>; body?: string; chunked?: boolean }> = [
    { name: 'a create', path: '/api/v1/workloads', headers: () => ({ ...json, authorization: `Bearer ${tenantKey}` }), body: '{"name":"w","model":"qwen2.5-7b-instruct","tokensPerMin":5000}' },
    { name: 'a create sent in chunks', path: '/api/v1/workloads', headers: () => ({ ...json, authorization: `Bearer ${tenantKey}` }), body: '{"name":"w","model":"qwen2.5-7b-instruct","tokensPerMin":6000}', chunked: true },
    { name: 'a dry run (query string)', path: '/api/v1/workloads?dryRun=true', headers: () => ({ ...json, authorization: `Bearer ${tenantKey}` }), body: '{"name":"w","model":"qwen2.5-7b-instruct","tokensPerMin":5000}' },
    { name: 'an unknown query parameter', path: '/api/v1/workloads?dry=1', headers: () => ({ ...json, authorization: `Bearer ${tenantKey}` }), body: '{"name":"w","model":"qwen2.5-7b-instruct","tokensPerMin":5000}' },
    { name: 'unknown fields', path: '/api/v1/workloads', headers: () => ({ ...json, authorization: `Bearer ${tenantKey}` }), body: '{"name":"w","model":"qwen2.5-7b-instruct","tokensPerMin":5000,"gpu":8}' },
    { name: 'an unknown model', path: '/api/v1/workloads', headers: () => ({ ...json, authorization: `Bearer ${tenantKey}` }), body: '{"name":"w","model":"gpt-9","tokensPerMin":5000}' },
    { name: 'malformed JSON', path: '/api/v1/workloads', headers: () => ({ ...json, authorization: `Bearer ${tenantKey}` }), body: '{"name":' },
    { name: 'JSON that is not an object', path: '/api/v1/workloads', headers: () => ({ ...json, authorization: `Bearer ${tenantKey}` }), body: ' "text"' },
    { name: 'only white space', path: '/api/v1/workloads', headers: () => ({ ...json, authorization: `Bearer ${tenantKey}` }), body: '  \n' },
    { name: 'an empty JSON body', path: '/api/v1/workloads', headers: () => ({ ...json, authorization: `Bearer ${tenantKey}` }), body: '' },
    { name: 'no body at all', path: '/api/v1/workloads', headers: () => ({ authorization: `Bearer ${tenantKey}` }) },
    { name: 'JSON with a charset', path: '/api/v1/workloads', headers: () => ({ 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${tenantKey}` }), body: '{"name":"w","model":"qwen2.5-7b-instruct","tokensPerMin":7000}' },
    { name: 'another charset', path: '/api/v1/workloads', headers: () => ({ 'content-type': 'application/json; charset=latin1', authorization: `Bearer ${tenantKey}` }), body: '{}' },
    { name: 'a form instead of JSON', path: '/api/v1/workloads', headers: () => ({ 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${tenantKey}` }), body: 'name=w' },
    { name: 'no credentials', path: '/api/v1/workloads', headers: () => json, body: '{}' },
    { name: 'the wrong kind of credentials', path: '/api/v1/workloads', headers: () => ({ ...json, authorization: `Bearer ${agentToken}` }), body: '{}' },
    { name: 'a heartbeat', path: '/api/v1/agent/heartbeat', headers: () => ({ ...json, authorization: `Bearer ${agentToken}` }), body: '{"inventory":[{"deviceModel":"NVIDIA-H100-80GB","total":8,"healthy":8}]}' },
    { name: 'an action without a body', path: '/api/v1/billing/close', headers: () => ({ ...json, authorization: `Bearer ${ADMIN_TOKEN}` }), body: '{"period":"1999-13"}' },
    { name: 'a method the path does not take', method: 'PUT', path: '/api/v1/workloads', headers: () => ({ ...json, authorization: `Bearer ${tenantKey}` }), body: '{}' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const headers = c.headers?.() ?? {};
      const direct = await send(p.baseUrl, c.method ?? 'POST', c.path, headers, c.body, c.chunked);
      const express = await send(expressBase, c.method ?? 'POST', c.path, headers, c.body, c.chunked);
      expect(comparable(direct)).to.deep.equal(comparable(express));
    });
  }

  it('refuses a body over 16 MiB with 413, and closes the connection rather than read the rest', async () => {
    const big = `{"name":"${'x'.repeat(16 * 1024 * 1024)}"}`;
    const declared = await send(p.baseUrl, 'POST', '/api/v1/workloads', { ...json, authorization: `Bearer ${tenantKey}` }, big);
    expect(declared.status).to.equal(413);
    expect(JSON.parse(declared.body).detail).to.equal('The request body is larger than 16 MiB.');
    const chunked = await send(p.baseUrl, 'POST', '/api/v1/workloads', { ...json, authorization: `Bearer ${tenantKey}` }, big, true).catch(() => undefined);
    // A chunked upload is cut off once it passes the limit: a 413, or the connection closed under it.
    if (chunked) expect(chunked.status).to.equal(413);
  });

  it('counts what it answers in the HTTP metrics by route template', async () => {
    const metrics = await (await fetch(`${p.baseUrl}/metrics`)).text();
    expect(metrics).to.match(/tokenpool_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/agent\/heartbeat",status="200"\} [1-9]/);
  });
});
