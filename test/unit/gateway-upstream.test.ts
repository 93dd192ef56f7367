import { expect } from 'chai';
import { Abort } from '../../server/abort.js';
import { until } from '../until.js';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Candidate } from '../../server/gateway/balancer.js';
import { SseUsageTap } from '../../server/gateway/sse-usage.js';
import { requestUsage, Upstream, UpstreamError, type UpstreamAnswer, type UpstreamCall } from '../../server/gateway/upstream.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: any;
}

/** A real replica on loopback: counts connections, records requests, answers with `handler`. */
async function replica(handler: (req: IncomingMessage, res: ServerResponse, body: any) => void) {
  const seen: Seen[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (p: Buffer) => parts.push(p));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  server.on('connection', () => (connections += 1));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    connections: () => connections,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
type Replica = Awaited<ReturnType<typeof replica>>;

/** A base URL where nothing listens: connecting is refused. */
async function refusing(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.close();
  await once(server, 'close');
  return url;
}

/** The client's side: what the gateway's response would receive. */
function client() {
  const chunks: Buffer[] = [];
  const answers: UpstreamAnswer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      stream.emit('chunk', chunk);
      cb();
    },
  });
  return {
    stream,
    answers,
    onHeaders: (a: UpstreamAnswer) => answers.push(a),
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

const candidate = (endpoint: string, own = false, weight = 1): Candidate => ({
  endpoint,
  placementId: `p-${endpoint.slice(-5)}`,
  workloadId: 'w1',
  clusterId: 'c1',
  servingKey: 'sk-serving',
  own,
  weight,
});

const completion = {
  id: 'cmpl-1',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', content: '你好' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 },
};

const chunk = (choices: unknown[], usage?: unknown) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices, ...(usage ? { usage } : {}) })}\n\n`;
const role = chunk([{ index: 0, delta: { role: 'assistant', content: '' } }]);
const token = (t: string) => chunk([{ index: 0, delta: { content: t } }]);
const finish = chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
const usageChunk = chunk([], { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
const DONE = 'data: [DONE]\n\n';

/** Streams like vLLM: a role chunk, tokens, a finish chunk, the usage chunk when asked, [DONE]. */
const streaming = (_req: IncomingMessage, res: ServerResponse, body: any) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const part of [role, token('你'), token('好'), token('!'), finish]) res.write(part);
  if (body.stream_options?.include_usage === true) res.write(usageChunk);
  res.end(DONE);
};

const json = (status: number, value: unknown) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
};

describe('gateway upstream', () => {
  let replicas: Replica[] = [];
  let upstream: Upstream;
  let t = 0;
  const start = async (handler: Parameters<typeof replica>[0]) => {
    const r = await replica(handler);
    replicas.push(r);
    return r;
  };

  beforeEach(() => {
    upstream = new Upstream({ now: () => t, maxAttempts: 3 });
  });
  afterEach(async () => {
    await upstream.close();
    await Promise.all(replicas.map((r) => r.close()));
    replicas = [];
  });

  const call = (c: ReturnType<typeof client>, over: Partial<UpstreamCall> & Pick<UpstreamCall, 'candidates'>) =>
    upstream.call({
      path: '/v1/chat/completions',
      body: { model: 'qwen', messages: [{ role: 'user', content: 'hi' }] },
      stream: false,
      client: c.stream,
      onHeaders: c.onHeaders,
      ...over,
    });

  it('passes a non-streamed answer whole, with the serving key, and meters its usage', async () => {
    const r = await start(json(200, completion));
    const c = client();
    const result = await call(c, { candidates: [candidate(r.url)], requestId: 'req-1' });
    expect(JSON.parse(c.text())).to.deep.equal(completion);
    expect(c.stream.writableEnded).to.equal(true);
    expect(c.answers).to.have.length(1);
    expect(c.answers[0]).to.include({ status: 200, contentType: 'application/json', streamed: false, contentLength: Buffer.byteLength(c.text()) });
    expect(result).to.include({ status: 200, attempts: 1, cut: undefined });
    expect(result.usage).to.deep.equal({ estimated: false, promptTokens: 12, completionTokens: 2, totalTokens: 14 });
    expect(r.seen[0]).to.deep.include({ method: 'POST', url: '/v1/chat/completions' });
    expect(r.seen[0]!.headers).to.include({ authorization: 'Bearer sk-serving', 'x-request-id': 'req-1', 'content-type': 'application/json' });
    expect(r.seen[0]!.body.model).to.equal('qwen');
  });

  it('goes to another endpoint when the first refuses connections', async () => {
    const good = await start(json(200, completion));
    const dead = await refusing();
    // Own first: the refusing endpoint is always tried first.
    const result = await call(client(), { candidates: [candidate(good.url), candidate(dead, true)] });
    expect(result.candidate.endpoint).to.equal(good.url);
    expect(result.attempts).to.equal(2);
    expect(result.failures.map((f) => [f.candidate.endpoint, f.reason])).to.deep.equal([[dead, 'connect']]);
  });

  it('goes to another endpoint when the first answers 503 before any byte; the client sees only the good answer', async () => {
    const busy = await start(json(503, { error: { message: 'overloaded' } }));
    const good = await start(json(200, completion));
    const c = client();
    const result = await call(c, { candidates: [candidate(good.url), candidate(busy.url, true)] });
    expect(result.attempts).to.equal(2);
    expect(result.failures[0]).to.deep.include({ reason: 'status', status: 503 });
    expect(c.answers.map((a) => a.status)).to.deep.equal([200]);
    expect(JSON.parse(c.text())).to.deep.equal(completion);
    expect(busy.seen).to.have.length(1);
  });

  it('counts an endpoint that is no URL as a failed attempt and goes on', async () => {
    const good = await start(json(200, completion));
    const result = await call(client(), { candidates: [candidate(good.url), candidate('not a url', true)] });
    expect(result.candidate.endpoint).to.equal(good.url);
    expect(result.failures.map((f) => [f.candidate.endpoint, f.reason])).to.deep.equal([['not a url', 'connect']]);
  });

  it('goes to another endpoint when the first sends no headers in time', async () => {
    upstream = new Upstream({ now: () => t, headersTimeoutMs: 50 });
    const silent = await start(() => undefined);
    const good = await start(json(200, completion));
    const result = await call(client(), { candidates: [candidate(good.url), candidate(silent.url, true)] });
    expect(result.candidate.endpoint).to.equal(good.url);
    expect(result.failures.map((f) => f.reason)).to.deep.equal(['timeout']);
  });

  it('tries another endpoint on 429 without counting it against the busy replica’s breaker', async () => {
    const busy = await start(json(429, { error: { message: 'busy' } }));
    const good = await start(json(200, completion));
    for (let i = 0; i < 8; i++) {
      const result = await call(client(), { candidates: [candidate(good.url), candidate(busy.url, true)] });
      expect(result.failures.map((f) => [f.reason, f.status])).to.deep.equal([['busy', 429]]);
    }
    expect(upstream.breakers.state(busy.url)).to.equal('closed');
  });

  it('does not wait for a failing replica’s error body before trying the next', async () => {
    const stalling = await start((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.write('{"error":');
    });
    const good = await start(json(200, completion));
    const result = await call(client(), { candidates: [candidate(good.url), candidate(stalling.url, true)] });
    expect(result.candidate.endpoint).to.equal(good.url);
    expect(result.failures[0]).to.deep.include({ reason: 'status', status: 503 });
  });

  it('refuses a non-streamed answer past maxAnswerBytes, writing nothing and trying no other endpoint', async () => {
    upstream = new Upstream({ now: () => t, maxAnswerBytes: 100 });
    const big = await start(json(200, completion));
    const other = await start(json(200, completion));
    const c = client();
    let thrown: unknown;
    await call(c, { candidates: [candidate(big.url, true), candidate(other.url)] }).catch((err: unknown) => (thrown = err));
    expect(thrown).to.include({ kind: 'all_failed' });
    expect((thrown as UpstreamError).failures.map((f) => f.reason)).to.deep.equal(['too_large']);
    expect(other.seen).to.have.length(0);
    expect(c.answers).to.have.length(0);
  });

  it('passes a request error (400) on as the replica said it, without retrying', async () => {
    const error = { error: { message: 'context too long', type: 'invalid_request_error', code: null } };
    const bad = await start(json(400, error));
    const other = await start(json(200, completion));
    const c = client();
    const result = await call(c, { candidates: [candidate(bad.url, true), candidate(other.url)] });
    expect(result).to.include({ status: 400, attempts: 1, usage: undefined });
    expect(JSON.parse(c.text())).to.deep.equal(error);
    expect(other.seen).to.have.length(0);
  });

  it('throws all_failed with the last status, writing nothing, when every endpoint fails; no_endpoint when none can take it', async () => {
    const a = await start(json(503, {}));
    const b = await start(json(502, {}));
    const c = client();
    let thrown: unknown;
    await call(c, { candidates: [candidate(a.url, true), candidate(b.url)] }).catch((err: unknown) => (thrown = err));
    expect(thrown).to.be.instanceOf(UpstreamError);
    expect(thrown).to.include({ kind: 'all_failed', lastStatus: 502 });
    expect((thrown as UpstreamError).failures).to.have.length(2);
    expect(c.answers).to.have.length(0);
    expect(c.text()).to.equal('');
    await call(c, { candidates: [] }).catch((err: unknown) => (thrown = err));
    expect(thrown).to.include({ kind: 'no_endpoint' });
  });

  it('skips an endpoint whose breaker opened, and probes it again after the cooldown', async () => {
    upstream = new Upstream({ now: () => t, maxAttempts: 3 });
    const breakers = upstream.breakers;
    const dead = await refusing();
    const good = await start(json(200, completion));
    const candidates = [candidate(dead, true), candidate(good.url)];
    for (let i = 0; i < 5; i++) await call(client(), { candidates });
    expect(breakers.state(dead)).to.equal('open');
    const skipped = await call(client(), { candidates });
    expect(skipped).to.include({ attempts: 1 });
    expect(skipped.failures).to.deep.equal([]);
    t += 5_000;
    expect(breakers.state(dead)).to.equal('half_open');
    const probed = await call(client(), { candidates });
    expect(probed.failures.map((f) => f.candidate.endpoint)).to.deep.equal([dead]);
    expect(breakers.state(dead)).to.equal('open');
  });

  it('streams as bytes arrive: the client has the first chunk before the replica sends the second', async () => {
    let sendRest!: () => void;
    const rest = new Promise<void>((resolve) => (sendRest = resolve));
    const r = await start((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(role);
      void rest.then(() => res.end(token('x') + DONE));
    });
    const c = client();
    // Were the answer buffered, the replica would wait for ever and the test would time out.
    c.stream.once('chunk', () => sendRest());
    const result = await call(c, { candidates: [candidate(r.url)], stream: true, body: { model: 'qwen', stream: true } });
    expect(c.text()).to.equal(role + token('x') + DONE);
    expect(c.answers[0]).to.include({ status: 200, streamed: true, contentType: 'text/event-stream' });
    expect(result.cut).to.equal(undefined);
    expect(c.stream.writableEnded).to.equal(true);
  });

  it('takes a stream’s usage from its last chunk and withholds that chunk from a client that did not ask', async () => {
    const r = await start(streaming);
    const asked = { model: 'qwen', stream: true, messages: [] };
    const prepared = requestUsage(asked);
    expect(prepared.clientAsked).to.equal(false);
    expect(asked).to.not.have.property('stream_options');
    const c = client();
    const result = await call(c, { candidates: [candidate(r.url)], stream: true, body: prepared.body, withholdUsage: !prepared.clientAsked });
    expect(r.seen[0]!.body.stream_options).to.deep.equal({ include_usage: true });
    expect(c.text()).to.equal(role + token('你') + token('好') + token('!') + finish + DONE);
    expect(result.usage).to.deep.equal({ estimated: false, promptTokens: 7, completionTokens: 3, totalTokens: 10 });

    const wants = requestUsage({ model: 'qwen', stream: true, stream_options: { include_usage: true } });
    expect(wants.clientAsked).to.equal(true);
    const c2 = client();
    await call(c2, { candidates: [candidate(r.url)], stream: true, body: wants.body, withholdUsage: !wants.clientAsked });
    expect(c2.text()).to.equal(role + token('你') + token('好') + token('!') + finish + usageChunk + DONE);
  });

  it('ends an answer only once beforeEnd, given its usage, has resolved: nothing of a whole answer, nor a stream’s [DONE], is written before', async () => {
    const whole = await start(json(200, completion));
    const stream = await start(streaming);
    for (const [r, streamed] of [
      [whole, false],
      [stream, true],
    ] as const) {
      const c = client();
      let release: (() => void) | undefined;
      const told: unknown[] = [];
      const done = call(c, {
        candidates: [candidate(r.url)],
        stream: streamed,
        body: { model: 'qwen', stream: streamed, stream_options: { include_usage: true }, messages: [] },
        beforeEnd: (a) => {
          told.push(a.usage);
          return new Promise<void>((resolve) => (release = resolve));
        },
      });
      await until(
        'beforeEnd called',
        () => Promise.resolve(release),
        (f) => f !== undefined,
      );
      expect(c.stream.writableEnded, 'not ended before beforeEnd resolved').to.equal(false);
      if (streamed) expect(c.text()).to.not.include(DONE);
      else expect(c.text()).to.equal('');
      release!();
      const result = await done;
      expect(c.stream.writableEnded).to.equal(true);
      expect(told).to.deep.equal([result.usage]);
    }
  });

  it('never retries after the first byte: a replica that dies mid-stream cuts the client’s stream, counted by chunks', async () => {
    const dying = await start((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(role + token('a') + token('b'));
      res.write(token('c'), () => setImmediate(() => req.socket.destroy()));
    });
    const other = await start(streaming);
    const c = client();
    const body = requestUsage({ model: 'qwen', stream: true }).body;
    const result = await call(c, { candidates: [candidate(dying.url, true), candidate(other.url)], stream: true, body, withholdUsage: true });
    expect(result).to.include({ attempts: 1, cut: 'upstream_error', status: 200 });
    expect(result.usage).to.deep.equal({ estimated: true, promptTokens: null, completionTokens: 3, totalTokens: null });
    expect(other.seen).to.have.length(0);
    expect(c.text()).to.equal(role + token('a') + token('b') + token('c'));
    // Destroyed, not ended cleanly: the client can tell the answer is incomplete.
    expect(c.stream.destroyed).to.equal(true);
    expect(c.stream.writableEnded).to.equal(false);
  });

  it('ends the client’s stream cleanly when the replica fails after its [DONE], the answer being whole', async () => {
    const r = await start((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(role + token('a') + usageChunk + DONE, () => setImmediate(() => req.socket.destroy()));
    });
    const c = client();
    const body = requestUsage({ model: 'qwen', stream: true, stream_options: { include_usage: true } }).body;
    const result = await call(c, { candidates: [candidate(r.url)], stream: true, body });
    expect(result).to.include({ attempts: 1, cut: undefined, status: 200 });
    expect(result.usage).to.deep.equal({ estimated: false, promptTokens: 7, completionTokens: 3, totalTokens: 10 });
    expect(c.text()).to.equal(role + token('a') + usageChunk + DONE);
    expect(c.stream.writableEnded).to.equal(true);
  });

  it('a client that leaves aborts the upstream request', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const r = await start((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(role + token('a'));
      res.on('close', () => upstreamClosed());
    });
    const leaving = new Abort();
    const c = client();
    c.stream.once('chunk', () => leaving.abort());
    const result = await call(c, { candidates: [candidate(r.url)], stream: true, body: { model: 'qwen', stream: true }, signal: leaving });
    await closed;
    expect(result.cut).to.equal('client_closed');
    expect(result.usage).to.deep.include({ estimated: true, completionTokens: 1 });
  });

  it('waits for a slow client, and stops the upstream when that client goes away while waited for', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const r = await start((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(role + token('a'));
      res.on('close', () => upstreamClosed());
    });
    // A client that takes the first write and never finishes it: its buffer stays full.
    const stuck = new Writable({ highWaterMark: 1, write: (_chunk, _enc, _cb) => setImmediate(() => stuck.destroy()) });
    const result = await upstream.call({
      candidates: [candidate(r.url)],
      path: '/v1/chat/completions',
      body: { model: 'qwen', stream: true },
      stream: true,
      client: stuck,
      onHeaders: () => undefined,
    });
    await closed;
    expect(result.cut).to.equal('client_closed');
  });

  it('a client that leaves before the answer gets client_closed, and the replica sees its request closed', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const leaving = new Abort();
    const r = await start((_req, res) => {
      res.on('close', () => upstreamClosed());
      leaving.abort();
    });
    let thrown: unknown;
    await call(client(), { candidates: [candidate(r.url)], signal: leaving }).catch((err: unknown) => (thrown = err));
    await closed;
    expect(thrown).to.include({ kind: 'client_closed' });
    // The client leaving says nothing about the replica.
    expect(upstream.breakers.state(r.url)).to.equal('closed');
  });

  it('aborts the upstream request when the call’s overall timeout passes', async () => {
    upstream = new Upstream({ now: () => t, timeoutMs: 50 });
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const r = await start((_req, res) => res.on('close', () => upstreamClosed()));
    let thrown: unknown;
    await call(client(), { candidates: [candidate(r.url)] }).catch((err: unknown) => (thrown = err));
    await closed;
    expect(thrown).to.include({ kind: 'timeout' });
  });

  it('keeps connections alive: fifty calls one after the other, at most two connections', async () => {
    const r = await start(json(200, completion));
    for (let i = 0; i < 50; i++) await call(client(), { candidates: [candidate(r.url)] });
    expect(r.seen).to.have.length(50);
    // undici's pool hears that the first connection is free a tick after its first answer ends, so
    // the second call opens one more; from then on the two are reused.
    expect(r.connections()).to.be.at.most(2);
  });
});

describe('SseUsageTap', () => {
  const stream = role + token('你') + token('好') + finish + usageChunk + DONE;
  const bytes = Buffer.from(stream, 'utf8');

  it('reads usage and counts content chunks wherever the network splits the stream, withholding the usage chunk', () => {
    for (let at = 0; at <= bytes.length; at++) {
      const tap = new SseUsageTap({ withholdUsage: true });
      const out = Buffer.concat([tap.push(bytes.subarray(0, at)), tap.push(bytes.subarray(at)), tap.end()]);
      expect(out.toString('utf8'), `split at ${at}`).to.equal(role + token('你') + token('好') + finish + DONE);
      expect(tap.usage).to.deep.equal({ promptTokens: 7, completionTokens: 3, totalTokens: 10 });
      expect(tap.contentChunks).to.equal(2);
      expect(tap.done).to.equal(true);
    }
  });

  it('forwards every byte as it came when nothing is withheld, also with CRLF line ends', () => {
    const crlf = Buffer.from(stream.replaceAll('\n', '\r\n'), 'utf8');
    for (let at = 0; at <= crlf.length; at += 7) {
      const tap = new SseUsageTap({ withholdUsage: false });
      const out = Buffer.concat([tap.push(crlf.subarray(0, at)), tap.push(crlf.subarray(at)), tap.end()]);
      expect(out.equals(crlf)).to.equal(true);
      expect(tap.usage).to.deep.equal({ promptTokens: 7, completionTokens: 3, totalTokens: 10 });
      expect(tap.contentChunks).to.equal(2);
    }
  });

  it('passes on an event too long to hold instead of holding it', () => {
    const tap = new SseUsageTap({ withholdUsage: true });
    const long = Buffer.alloc(1024 * 1024 + 1, 'x');
    expect(tap.push(long).length).to.equal(long.length);
    expect(tap.push(Buffer.from('\n\n' + token('a'))).toString()).to.equal('\n\n' + token('a'));
    expect(tap.contentChunks).to.equal(1);
  });

  it('ignores malformed usage and text that only mentions usage', () => {
    const tap = new SseUsageTap({ withholdUsage: true });
    const quoted = token('"usage": {"prompt_tokens": 1}');
    const bad = chunk([], { prompt_tokens: -1, completion_tokens: 2 });
    const out = tap.push(Buffer.from(quoted + bad + 'data: {not json "usage": {\n\n' + DONE));
    expect(tap.usage).to.equal(undefined);
    expect(tap.contentChunks).to.equal(1);
    expect(out.toString()).to.equal(quoted + bad + 'data: {not json "usage": {\n\n' + DONE);
  });
});

describe('gateway upstream behind a real HTTP front', () => {
  let closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(closers.map((c) => c()));
    closers = [];
  });

  /** A front server that passes every call through `upstream` to `target`, as the /v1 routes will. */
  async function front(upstream: Upstream, target: string) {
    const results: Array<Promise<unknown>> = [];
    const server = createServer((req, res) => {
      const left = new Abort();
      res.on('close', () => left.abort());
      req.resume();
      req.on('end', () => {
        results.push(
          upstream
            .call({
              candidates: [candidate(target)],
              path: '/v1/chat/completions',
              body: { model: 'qwen', stream: true },
              stream: true,
              signal: left,
              client: res,
              onHeaders: (a) => res.writeHead(a.status, { 'content-type': a.contentType }),
            })
            .catch((err: unknown) => err),
        );
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(async () => {
      server.closeAllConnections();
      server.close();
      await upstream.close();
    });
    return { port: (server.address() as AddressInfo).port, results };
  }

  /** A raw HTTP client: resolves with what it read and how its response ended. */
  function get(port: number, onFirst?: (req: ReturnType<typeof request>) => void) {
    return new Promise<{ text: string; ended: 'complete' | 'aborted' }>((resolve) => {
      const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/v1/chat/completions' }, (res) => {
        let text = '';
        res.on('data', (p: Buffer) => {
          if (text === '') onFirst?.(req);
          text += p.toString('utf8');
        });
        res.on('end', () => resolve({ text, ended: 'complete' }));
        res.on('aborted', () => resolve({ text, ended: 'aborted' }));
        res.on('error', () => resolve({ text, ended: 'aborted' }));
      });
      req.on('error', () => resolve({ text: '', ended: 'aborted' }));
      req.end('{}');
    });
  }

  it('a client whose connection closes mid-stream aborts the replica’s request', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const r = await replica((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(role + token('a'));
      res.on('close', () => upstreamClosed());
    });
    closers.push(r.close);
    const f = await front(new Upstream({ now: () => 0 }), r.url);
    const seen = await get(f.port, (req) => req.destroy());
    await closed;
    expect(seen.text).to.equal(role + token('a'));
    expect(await f.results[0]).to.include({ cut: 'client_closed' });
  });

  it('a replica that dies mid-stream leaves the client with an aborted, not a complete, response', async () => {
    const r = await replica((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(role + token('a'), () => setImmediate(() => req.socket.destroy()));
    });
    closers.push(r.close);
    const f = await front(new Upstream({ now: () => 0 }), r.url);
    const seen = await get(f.port);
    expect(seen).to.deep.equal({ text: role + token('a'), ended: 'aborted' });
    expect(await f.results[0]).to.include({ cut: 'upstream_error', attempts: 1 });
  });

  it('a whole stream reaches the client complete', async () => {
    const r = await replica(streaming);
    closers.push(r.close);
    const f = await front(new Upstream({ now: () => 0 }), r.url);
    const seen = await get(f.port);
    expect(seen).to.deep.equal({ text: role + token('你') + token('好') + token('!') + finish + DONE, ended: 'complete' });
  });
});
