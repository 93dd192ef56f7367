import { expect } from 'chai';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PlatformClient, PlatformError } from '../../../adapters/platform-client.js';
import type { HeartbeatRequest, HeartbeatResponse } from '../../../adapters/platform-client.js';

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** A platform stand-in whose answer each test sets. */
let handler: (req: IncomingMessage, res: ServerResponse, body: unknown) => void;
let seen: Seen[];
let server: Server;
let baseUrl: string;

function json(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type });
  res.end(JSON.stringify(body));
}

const request: HeartbeatRequest = {
  inventory: [{ deviceModel: 'huawei-Ascend910B', total: 16, healthy: 15 }],
  placements: [{ id: 'pl-1', readyReplicas: 1 }],
};

const answer: HeartbeatResponse = {
  clusterId: 'c-1',
  placements: [
    {
      id: 'pl-1',
      workloadId: 'wl-1',
      model: 'deepseek-r1-distill-qwen-32b',
      deviceModel: 'huawei-Ascend910B',
      profile: 'Ascend-910B',
      resourceName: 'huawei.com/Ascend910',
      replicas: 2,
      devicesPerReplica: 2,
    },
  ],
};

async function failure(p: Promise<unknown>): Promise<PlatformError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(PlatformError);
    return err as PlatformError;
  }
  throw new Error('expected a PlatformError');
}

describe('PlatformClient', () => {
  before(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        const body: unknown = text ? JSON.parse(text) : undefined;
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        handler(req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    seen = [];
    handler = (_req, res) => json(res, 200, answer);
  });

  it('posts the heartbeat as JSON with the agent token and returns the desired set', async () => {
    const client = new PlatformClient({ baseUrl, token: 'agent-secret' });
    expect(await client.heartbeat(request)).to.deep.equal(answer);
    expect(seen).to.have.length(1);
    expect(seen[0]).to.include({ method: 'POST', url: '/api/v1/agent/heartbeat' });
    expect(seen[0]!.headers).to.include({ authorization: 'Bearer agent-secret', 'content-type': 'application/json' });
    expect(seen[0]!.body).to.deep.equal(request);
  });

  it('keeps a path prefix of the base URL and ignores fields it does not know', async () => {
    handler = (_req, res) => json(res, 200, { ...answer, serverTime: '2026-10-20T10:00:00+08:00' });
    const client = new PlatformClient({ baseUrl: `${baseUrl}/tokenpool/`, token: 't' });
    expect(await client.heartbeat(request)).to.deep.equal(answer);
    expect(seen[0]!.url).to.equal('/tokenpool/api/v1/agent/heartbeat');
  });

  it('surfaces a problem+json error with its status, not retryable for a refused token', async () => {
    const problem = { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'unknown agent token' };
    handler = (_req, res) => json(res, 401, problem, 'application/problem+json');
    const err = await failure(new PlatformClient({ baseUrl, token: 'wrong' }).heartbeat(request));
    expect(err).to.include({ kind: 'http', status: 401, retryable: false });
    expect(err.problem).to.deep.equal(problem);
    expect(err.message).to.contain('unknown agent token');
  });

  it('carries validation errors of a 400, and says a 403 is not retryable', async () => {
    const problem = {
      title: 'Bad Request',
      status: 400,
      errors: [{ path: 'inventory.0.healthy', message: 'must not exceed total' }],
    };
    handler = (_req, res) => json(res, 400, problem, 'application/problem+json');
    const bad = await failure(new PlatformClient({ baseUrl, token: 't' }).heartbeat(request));
    expect(bad).to.include({ status: 400, retryable: false });
    expect(bad.problem?.errors).to.deep.equal(problem.errors);

    handler = (_req, res) => json(res, 403, { title: 'Forbidden', status: 403 }, 'application/problem+json');
    expect(await failure(new PlatformClient({ baseUrl, token: 't' }).heartbeat(request))).to.include({
      status: 403,
      retryable: false,
    });
  });

  it('marks 5xx and 429 retryable and reads Retry-After', async () => {
    handler = (_req, res) => {
      res.writeHead(503, { 'content-type': 'text/html', 'retry-after': '7' });
      res.end('<html>maintenance</html>');
    };
    const down = await failure(new PlatformClient({ baseUrl, token: 't' }).heartbeat(request));
    expect(down).to.include({ kind: 'http', status: 503, retryable: true, retryAfterMs: 7_000 });
    expect(down.problem).to.equal(undefined);

    handler = (_req, res) => json(res, 429, { title: 'Too Many Requests', status: 429 }, 'application/problem+json');
    expect(await failure(new PlatformClient({ baseUrl, token: 't' }).heartbeat(request))).to.include({
      status: 429,
      retryable: true,
    });
  });

  it('times out, retryably, when the platform does not answer in time', async () => {
    handler = (_req, res) => {
      const timer = setTimeout(() => json(res, 200, answer), 500);
      res.on('close', () => clearTimeout(timer));
    };
    const started = performance.now();
    const err = await failure(new PlatformClient({ baseUrl, token: 't', timeoutMs: 50 }).heartbeat(request));
    expect(err).to.include({ kind: 'timeout', retryable: true });
    expect(performance.now() - started).to.be.below(400);
  });

  it('fails retryably when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await failure(new PlatformClient({ baseUrl: `http://127.0.0.1:${port}`, token: 't' }).heartbeat(request));
    expect(err).to.include({ kind: 'network', retryable: true, status: undefined });
  });

  it('rejects an answer that is not what the API promises', async () => {
    handler = (_req, res) => json(res, 200, { clusterId: 'c-1', placements: [{ id: 'pl-1' }] });
    const err = await failure(new PlatformClient({ baseUrl, token: 't' }).heartbeat(request));
    expect(err).to.include({ kind: 'protocol', status: 200, retryable: false });
  });

  it('reports usage to the usage endpoint', async () => {
    handler = (_req, res) => json(res, 200, { accepted: 1, duplicates: 0, rejected: [] });
    const events = [{ id: 'evt-1', workloadId: 'wl-1', inputTokens: 1200, outputTokens: 300, occurredAt: '2026-10-20T10:00:00+08:00' }];
    const result = await new PlatformClient({ baseUrl, token: 't' }).usage({ events });
    expect(result).to.deep.equal({ accepted: 1, duplicates: 0, rejected: [] });
    expect(seen[0]).to.deep.include({ url: '/api/v1/agent/usage', body: { events } });
  });
});
