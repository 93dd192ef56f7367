import { expect } from 'chai';
import { PassThrough, Writable } from 'node:stream';
import type { Candidate } from '../../server/gateway/balancer.js';
import { Upstream, UpstreamError, type UpstreamAnswer } from '../../server/gateway/upstream.js';
import type { TunnelRequest, TunnelResponse, TunnelTimeouts } from '../../server/tunnel/tunnels.js';
import { tunnelOrigin } from '../../server/tunnel/tunnels.js';

const completion = { id: 'c', object: 'chat.completion', choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } };

const candidate = (endpoint: string, clusterId: string, own = false): Candidate => ({
  endpoint,
  placementId: `p-${clusterId}`,
  workloadId: 'w1',
  clusterId,
  servingKey: `sk-${clusterId}`,
  own,
  weight: 1,
});

function client() {
  const chunks: Buffer[] = [];
  const answers: UpstreamAnswer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { stream, answers, onHeaders: (a: UpstreamAnswer) => answers.push(a), text: () => Buffer.concat(chunks).toString('utf8') };
}

/** The tunnels as upstream.ts sees them: each cluster answers as `answer` says, and every request is recorded. */
function fakeTunnels(answer: (req: TunnelRequest) => Promise<TunnelResponse>) {
  const seen: { req: TunnelRequest; timeouts: TunnelTimeouts }[] = [];
  return {
    seen,
    request(req: TunnelRequest, timeouts: TunnelTimeouts) {
      seen.push({ req, timeouts });
      return answer(req);
    },
  };
}

const coded = (code: string) => Promise.reject(Object.assign(new Error(code), { code }));
const whole = (value: unknown): Promise<TunnelResponse> => {
  const body = new PassThrough();
  body.end(JSON.stringify(value));
  return Promise.resolve({ statusCode: 200, headers: { 'content-type': 'application/json' }, body });
};

describe('gateway upstream: tunnel:// endpoints go through the tunnels, with the same retries and breakers', () => {
  const down = tunnelOrigin('tunnel://tp-pl-1.ns.svc:80', 'cl-down');
  const up = tunnelOrigin('tunnel://tp-pl-1.ns.svc:80', 'cl-up');
  const call = (upstream: Upstream, c: ReturnType<typeof client>, candidates: Candidate[]) =>
    upstream.call({
      candidates,
      path: '/v1/chat/completions',
      body: { model: 'm', messages: [] },
      stream: false,
      client: c.stream,
      onHeaders: c.onHeaders,
      requestId: 'r-1',
    });

  it('sends the call to the cluster the endpoint names, with the key, path, request id and timeouts of any call', async () => {
    const tunnels = fakeTunnels(() => whole(completion));
    const upstream = new Upstream({ now: () => 0, tunnels, headersTimeoutMs: 1234, bodyTimeoutMs: 567 });
    const c = client();
    const result = await call(upstream, c, [candidate(up, 'cl-up')]);
    expect(JSON.parse(c.text())).to.deep.equal(completion);
    expect(result.usage).to.deep.equal({ estimated: false, promptTokens: 5, completionTokens: 2, totalTokens: 7 });
    const { req, timeouts } = tunnels.seen[0]!;
    expect(req.origin).to.equal('tunnel://cl-up@tp-pl-1.ns.svc:80');
    expect(req.path).to.equal('/v1/chat/completions');
    expect(req.headers).to.include({ authorization: 'Bearer sk-cl-up', 'x-request-id': 'r-1' });
    expect(timeouts).to.deep.equal({ headersTimeoutMs: 1234, bodyTimeoutMs: 567 });
    await upstream.close();
  });

  it('counts a cluster whose tunnel is down, or whose agent refused, as a failure to connect and goes on to the next', async () => {
    const tunnels = fakeTunnels((req) => (req.origin.includes('cl-down') ? coded('TUNNEL_DOWN') : whole(completion)));
    const upstream = new Upstream({ now: () => 0, tunnels });
    const result = await call(upstream, client(), [candidate(up, 'cl-up'), candidate(down, 'cl-down', true)]);
    expect(result.candidate.clusterId).to.equal('cl-up');
    expect(result.failures.map((f) => [f.candidate.clusterId, f.reason, f.detail])).to.deep.equal([['cl-down', 'connect', 'TUNNEL_DOWN']]);
    await upstream.close();
  });

  it("a tunnel's headers timeout is a timeout, as undici's is", async () => {
    const upstream = new Upstream({ now: () => 0, tunnels: fakeTunnels(() => coded('UND_ERR_HEADERS_TIMEOUT')) });
    const err = await call(upstream, client(), [candidate(up, 'cl-up')]).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UpstreamError);
    expect((err as UpstreamError).failures.map((f) => f.reason)).to.deep.equal(['timeout']);
    await upstream.close();
  });

  it('without tunnels, a tunnel:// endpoint is a failed attempt, never a crash', async () => {
    const upstream = new Upstream({ now: () => 0 });
    const err = await call(upstream, client(), [candidate(up, 'cl-up')]).catch((e: unknown) => e);
    expect((err as UpstreamError).kind).to.equal('all_failed');
    expect((err as UpstreamError).failures.map((f) => f.detail)).to.deep.equal(['UNSUPPORTED_ENDPOINT']);
    await upstream.close();
  });
});
