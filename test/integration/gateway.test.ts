import { expect } from 'chai';
import OpenAI from 'openai';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SimulatedEngine, type ServedRequest } from '../../adapters/simulated/engine.js';
import { MODEL, serveModel, type Desired, type ServedModel } from './gateway-fixture.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

const OTHER_MODEL = 'qwen2.5-32b-instruct';

/** A port nothing listens on (a replica that died): opened, noted, closed. */
async function deadEndpoint(): Promise<string> {
  const s: Server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

describeOnDatabases(
  'token gateway: OpenAI-compatible calls routed to the pool and metered (API.md v2)',
  (platform) => {
    let tenant: { id: string; apiKey: string };
    let other: { id: string; apiKey: string };
    let desired: Desired;
    let engine: SimulatedEngine;
    const served: ServedRequest[] = [];
    let client: OpenAI;

    let heartbeat: ServedModel['heartbeat'];
    const usageOf = async (p: TestPlatform, key: string) =>
      (await p.request('GET', '/api/v1/usage', { token: key })).body as { inputTokens: string; outputTokens: string };

    before(async () => {
      const p = platform();
      tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Gateway Tenant', kind: 'government' } })).body;
      other = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Other Tenant', kind: 'enterprise', billingMode: 'postpaid' } })).body;
      ({ desired, engine, heartbeat } = await serveModel(p, tenant.apiKey, { clusterName: 'gw-1', onServed: (s) => served.push(s) }));
      client = new OpenAI({ apiKey: tenant.apiKey, baseURL: `${p.baseUrl}/v1`, maxRetries: 0 });
    });

    after(async () => {
      await engine?.close();
    });

    it('answers a chat completion through the official client, and meters exactly what the engine reported', async () => {
      const p = platform();
      const before = await usageOf(p, tenant.apiKey);
      const answer = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: '你好, city' }], max_tokens: 12 });
      expect(answer.object).to.equal('chat.completion');
      expect(answer.choices[0]!.message.content).to.be.a('string').and.not.empty;
      expect(answer.usage!.completion_tokens).to.equal(12);
      // The answer ended once its usage event was written: it is in the usage view already.
      const after = await usageOf(p, tenant.apiKey);
      expect(BigInt(after.inputTokens) - BigInt(before.inputTokens)).to.equal(BigInt(answer.usage!.prompt_tokens));
      expect(BigInt(after.outputTokens) - BigInt(before.outputTokens)).to.equal(12n);
    });

    it('reads the body as JSON whatever its Content-Type, as `curl -d` sends it', async () => {
      const p = platform();
      const res = await fetch(`${p.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: '你好' }], max_tokens: 3 }),
      });
      expect(res.status).to.equal(200);
      expect(((await res.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).to.equal(3);
    });

    it('streams a chat completion chunk by chunk, with usage last when asked, metered exactly', async () => {
      const p = platform();
      const whole = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'stream me' }], max_tokens: 20 });
      const before = await usageOf(p, tenant.apiKey);
      const stream = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'stream me' }],
        max_tokens: 20,
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let usage: OpenAI.CompletionUsage | undefined | null;
      let chunks = 0;
      for await (const chunk of stream) {
        chunks++;
        text += chunk.choices[0]?.delta?.content ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      expect(chunks).to.be.greaterThan(2);
      expect(text).to.equal(whole.choices[0]!.message.content);
      expect(usage).to.deep.include({ completion_tokens: 20, prompt_tokens: whole.usage!.prompt_tokens });
      const after = await usageOf(p, tenant.apiKey);
      expect(BigInt(after.outputTokens) - BigInt(before.outputTokens)).to.equal(20n);
      expect(BigInt(after.inputTokens) - BigInt(before.inputTokens)).to.equal(BigInt(whole.usage!.prompt_tokens));
    });

    it('gives a stream no usage chunk the client did not ask for, and still meters it exactly', async () => {
      const p = platform();
      const before = await usageOf(p, tenant.apiKey);
      const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'quiet stream' }], max_tokens: 7, stream: true });
      let sawUsage = false;
      for await (const chunk of stream) if (chunk.usage) sawUsage = true;
      expect(sawUsage).to.equal(false);
      const after = await usageOf(p, tenant.apiKey);
      expect(BigInt(after.outputTokens) - BigInt(before.outputTokens)).to.equal(7n);
      expect(served.at(-1)).to.deep.include({ stream: true, completionTokens: 7 });
    });

    it('serves completions and embeddings', async () => {
      const c = await client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 5 });
      expect(c.usage!.completion_tokens).to.equal(5);
      const e = await client.embeddings.create({ model: MODEL, input: ['a', 'b'] });
      expect(e.data).to.have.length(2);
      expect(e.usage.prompt_tokens).to.be.greaterThan(0);
    });

    it('lists the models the key can call now', async () => {
      const list = await client.models.list();
      expect(list.data.map((m) => m.id)).to.deep.equal([MODEL]);
      const otherClient = new OpenAI({ apiKey: other.apiKey, baseURL: `${platform().baseUrl}/v1`, maxRetries: 0 });
      expect((await otherClient.models.list()).data).to.deep.equal([]);
    });

    it("answers OpenAI-shaped errors: a bad key 401, an unknown model 404, a model with no running placement 503, another tenant's workload unreachable", async () => {
      const p = platform();
      const bad = await p.request('POST', '/v1/chat/completions', { token: 'tp_key_nope', body: { model: MODEL, messages: [{ role: 'user', content: 'x' }] } });
      expect(bad.status).to.equal(401);
      expect(bad.body.error).to.include({ type: 'authentication_error' });
      expect(bad.headers.get('x-request-id')).to.be.a('string');

      const unknown = await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(unknown).to.be.instanceOf(OpenAI.NotFoundError);
      expect((unknown as InstanceType<typeof OpenAI.NotFoundError>).code).to.equal('model_not_found');

      const idle = await client.chat.completions.create({ model: OTHER_MODEL, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(idle).to.be.instanceOf(OpenAI.APIError);
      expect((idle as InstanceType<typeof OpenAI.APIError>).status).to.equal(503);
      expect((idle as InstanceType<typeof OpenAI.APIError>).code).to.equal('model_not_available');

      const otherClient = new OpenAI({ apiKey: other.apiKey, baseURL: `${p.baseUrl}/v1`, maxRetries: 0 });
      const foreign = await otherClient.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect((foreign as InstanceType<typeof OpenAI.APIError>).status).to.equal(503);

      const invalid = await p.request('POST', '/v1/chat/completions', { token: tenant.apiKey, body: { model: MODEL, messages: [] } });
      expect(invalid.status).to.equal(400);
      expect(invalid.body.error).to.include({ type: 'invalid_request_error', param: 'messages' });
    });

    it("refuses a model outside the key's allowedModels (403) and calls past its maxConcurrent (429)", async () => {
      const p = platform();
      const limited = await p.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`, { token: tenant.apiKey, body: { allowedModels: [OTHER_MODEL] } });
      expect(limited.status).to.equal(201);
      const limitedClient = new OpenAI({ apiKey: limited.body.key, baseURL: `${p.baseUrl}/v1`, maxRetries: 0 });
      const refused = await limitedClient.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(refused).to.be.instanceOf(OpenAI.PermissionDeniedError);
      expect((refused as InstanceType<typeof OpenAI.APIError>).code).to.equal('model_not_allowed');

      const one = await p.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`, { token: tenant.apiKey, body: { maxConcurrent: 1 } });
      const oneClient = new OpenAI({ apiKey: one.body.key, baseURL: `${p.baseUrl}/v1`, maxRetries: 0 });
      // A replica slow enough that a stream outlasts the test holds the key's one slot while a second call is refused.
      const slowEngine = await SimulatedEngine.start({ model: MODEL, servingKey: desired.servingKey, tokensPerSecond: 20 });
      await heartbeat(p, [{ id: desired.id, readyReplicas: desired.replicas, endpoints: [slowEngine.url] }]);
      p.clock.advance(5000); // past the gateway's routing-table cache
      try {
        const slow = await oneClient.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'long' }], max_tokens: 1000, stream: true });
        await slow[Symbol.asyncIterator]().next();
        const second = await oneClient.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
        expect(second).to.be.instanceOf(OpenAI.RateLimitError);
        expect((second as InstanceType<typeof OpenAI.APIError>).code).to.equal('rate_limit_exceeded');
        // The client leaving aborts the replica's generation; the call is logged as cut (and then its slot is free).
        slow.controller.abort();
        const cut = async () => {
          await p.app.requests.settled();
          const rows = (await p.request('GET', `/api/v1/requests?apiKeyId=${one.body.id}&limit=200`)).body.items as { errorCode: string | null }[];
          return rows.some((r) => r.errorCode === 'client_closed');
        };
        while (!(await cut())) await new Promise((r) => setImmediate(r));
      } finally {
        await heartbeat(p, [{ id: desired.id, readyReplicas: desired.replicas, endpoints: [engine.url] }]);
        p.clock.advance(5000);
        await slowEngine.close();
      }
      const again = await oneClient.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
      expect(again.usage!.completion_tokens).to.equal(2);
    });

    it('retries a replica that refuses connections on another before the first byte', async () => {
      const p = platform();
      const dead = await deadEndpoint();
      await heartbeat(p, [{ id: desired.id, readyReplicas: desired.replicas, endpoints: [dead, engine.url] }]);
      p.clock.advance(5000); // past the gateway's routing-table cache
      // The dead endpoint is chosen first half the time: every call is served, and some were retried.
      const retried = async () => /^tokenpool_gateway_retries_total\{cluster_id="[^"]+"\} [1-9]/m.test(await (await fetch(`${p.baseUrl}/metrics`)).text());
      let calls = 0;
      while (calls < 6 || (!(await retried()) && calls < 60)) {
        const answer = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `try ${calls++}` }], max_tokens: 3 });
        expect(answer.usage!.completion_tokens).to.equal(3);
      }
      expect(await retried()).to.equal(true);
      await heartbeat(p, [{ id: desired.id, readyReplicas: desired.replicas, endpoints: [engine.url] }]);
      p.clock.advance(5000);
    });

    it('leaves a request-log row per call, with where it was served and its tokens', async () => {
      const p = platform();
      const answer = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'logged' }], max_tokens: 4 });
      await p.app.requests.settled();
      const rows = (await p.request('GET', `/api/v1/requests?tenantId=${tenant.id}&limit=200`)).body.items as Record<string, unknown>[];
      const row = rows.find((r) => r.completionTokens === 4 && r.promptTokens === answer.usage!.prompt_tokens);
      expect(row).to.deep.include({
        model: MODEL,
        status: 200,
        streamed: false,
        placementId: desired.id,
        workloadId: desired.workloadId,
        endpoint: 'chat.completions',
      });
      expect(rows.some((r) => r.status === 404)).to.equal(true);
    });
    it("refuses a call past the key's tpm (by its estimate) with 429 and Retry-After, and settles to what the engine counted", async () => {
      const p = platform();
      const key = await p.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`, { token: tenant.apiKey, body: { tpm: 100 } });
      const limited = new OpenAI({ apiKey: key.body.key, baseURL: `${p.baseUrl}/v1`, maxRetries: 0 });
      // Estimated at its prompt and max_tokens (60): room for one such call a minute, not two.
      const first = await limited.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'a' }], max_tokens: 60 });
      expect(first.usage!.completion_tokens).to.equal(60);
      const second = await p.request('POST', '/v1/chat/completions', {
        token: key.body.key,
        body: { model: MODEL, messages: [{ role: 'user', content: 'b' }], max_tokens: 60 },
      });
      expect(second.status).to.equal(429);
      expect(second.body.error).to.include({ code: 'rate_limit_exceeded', type: 'rate_limit_error' });
      expect(Number(second.headers.get('retry-after'))).to.be.greaterThan(0);
      p.clock.advance(60_000);
      const third = await limited.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'c' }], max_tokens: 60 });
      expect(third.usage!.completion_tokens).to.equal(60);
    });

    it('counts calls, tokens and refusals in its metrics', async () => {
      const p = platform();
      const text = await (await fetch(`${p.baseUrl}/metrics`)).text();
      const completion = Number(/^tokenpool_gateway_tokens_total\{model="qwen2.5-7b-instruct",kind="completion"\} (\d+)/m.exec(text)?.[1]);
      expect(completion).to.be.greaterThan(0);
      expect(text).to.match(/^tokenpool_gateway_time_to_first_token_seconds_count\{model="qwen2.5-7b-instruct"\} [1-9]/m);
      expect(text).to.match(/^tokenpool_gateway_refusals_total\{code="model_not_found"\} [1-9]/m);
      expect(text).to.match(/^tokenpool_gateway_upstream_errors_total\{cluster_id="[^"]+",reason="connect"\} [1-9]/m);
      expect(text).to.match(/^tokenpool_gateway_circuits\{state="closed"\} [1-9]/m);
    });

    it("routes every tenant to the operator's shared workloads, and a tenant with its own workload to its own first", async () => {
      const p = platform();
      // Only the operator runs shared workloads, naming no tenant, always through the gateway.
      const refused = [
        await p.request('POST', '/api/v1/workloads', { token: other.apiKey, body: { name: 's', model: MODEL, tokensPerMin: 1000, shared: true } }),
        await p.request('POST', '/api/v1/workloads', { body: { name: 's', model: MODEL, tokensPerMin: 1000, shared: true, tenantId: other.id } }),
        await p.request('POST', '/api/v1/workloads', { body: { name: 's', model: MODEL, tokensPerMin: 1000, shared: true, access: 'direct' } }),
      ];
      expect(refused.map((r) => r.status)).to.deep.equal([403, 400, 400]);
      const shared = await p.request('POST', '/api/v1/workloads', { body: { name: 'city-qwen', model: MODEL, tokensPerMin: 1000, shared: true } });
      expect(shared.status).to.equal(202);
      expect(shared.body).to.include({ shared: true, access: 'gateway' });
      // The clock has moved on in the tests before: the cluster reports in again to be ready.
      await heartbeat(p, [{ id: desired.id, readyReplicas: desired.replicas, endpoints: [engine.url] }]);
      await p.app.scheduler.runCycle();
      const sharedPlacement = ((await heartbeat(p)).body.placements as Desired[]).find((x) => x.workloadId === shared.body.id)!;
      const sharedServed: ServedRequest[] = [];
      const sharedEngine = await SimulatedEngine.start({
        model: MODEL,
        servingKey: sharedPlacement.servingKey,
        tokensPerSecond: 100_000,
        onServed: (r) => sharedServed.push(r),
      });
      try {
        await heartbeat(p, [
          { id: desired.id, readyReplicas: desired.replicas, endpoints: [engine.url] },
          { id: sharedPlacement.id, readyReplicas: sharedPlacement.replicas, endpoints: [sharedEngine.url] },
        ]);
        p.clock.advance(5000); // past the gateway's routing-table cache
        // Another tenant, with no workload of its own, is served by the shared one and billed for it.
        const otherClient = new OpenAI({ apiKey: other.apiKey, baseURL: `${p.baseUrl}/v1`, maxRetries: 0 });
        expect((await otherClient.models.list()).data.map((m) => m.id)).to.deep.equal([MODEL]);
        const before = await usageOf(p, other.apiKey);
        const answer = await otherClient.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'shared' }], max_tokens: 9 });
        expect(answer.usage!.completion_tokens).to.equal(9);
        expect(sharedServed).to.have.length(1);
        const after = await usageOf(p, other.apiKey);
        expect(BigInt(after.outputTokens) - BigInt(before.outputTokens)).to.equal(9n);
        // The tenant with its own workload of the model is served by its own.
        const ownServed = served.length;
        for (let i = 0; i < 5; i++) await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `own ${i}` }], max_tokens: 2 });
        expect(served.length - ownServed).to.equal(5);
        expect(sharedServed).to.have.length(1);
      } finally {
        await heartbeat(p, [
          { id: desired.id, readyReplicas: desired.replicas, endpoints: [engine.url] },
          { id: sharedPlacement.id, readyReplicas: sharedPlacement.replicas, endpoints: [] },
        ]);
        p.clock.advance(5000);
        await sharedEngine.close();
      }
    });

    it("refuses calls of a tenant whose hard-capped plan is used up with OpenAI's insufficient_quota (429)", async () => {
      const p = platform();
      const plan = (
        await p.request('POST', '/api/v1/plans', {
          body: { name: 'tiny cap', type: 'periodic', period: 'month', fee: '1.00', includedStd: 1, overagePricePerMillionStd: null },
        })
      ).body;
      const start = p.clock.now().toISOString().slice(0, 8) + '01T00:00:00+08:00';
      expect((await p.request('POST', `/api/v1/tenants/${tenant.id}/subscriptions`, { body: { planId: plan.id, startsAt: start } })).status).to.equal(201);
      p.clock.advance(10_000); // past the gateway's cache of used-up plans
      const refused = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(refused).to.be.instanceOf(OpenAI.RateLimitError);
      expect((refused as InstanceType<typeof OpenAI.APIError>).code).to.equal('insufficient_quota');
      expect((refused as InstanceType<typeof OpenAI.APIError>).type).to.equal('insufficient_quota');
    });
  },
  // The default of a server on a durable database: answers end once their usage is journaled, committed after.
  { TOKENPOOL_METERING_JOURNAL: mkdtempSync(join(tmpdir(), 'tp-gateway-journal-')) },
);
