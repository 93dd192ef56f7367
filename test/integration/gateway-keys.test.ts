/**
 * The token gateway and a key's life (API.md v2 "Token gateway"), through the official `openai`
 * client: an expired key and a revoked one are refused at once, and a stream the client leaves is
 * billed what passed to it (README "Token gateway", "Metering").
 */
import { expect } from 'chai';
import OpenAI from 'openai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedEngine, type ServedRequest } from '../../adapters/simulated/engine.js';
import { until } from '../until.js';
import { MODEL, serveModel, type ServedModel } from './gateway-fixture.js';
import { describeOnDatabases } from './harness.js';

describeOnDatabases(
  'token gateway: keys that end, and streams the client leaves',
  (platform) => {
    let tenant: { id: string; apiKey: string };
    let served: ServedModel;

    before(async () => {
      const p = platform();
      tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Keys Tenant', kind: 'enterprise', billingMode: 'postpaid' } })).body;
      served = await serveModel(p, tenant.apiKey, { clusterName: 'keys-1' });
    });
    after(async () => {
      await served?.engine.close();
    });

    const clientOf = (key: string) => new OpenAI({ apiKey: key, baseURL: `${platform().baseUrl}/v1`, maxRetries: 0 });
    const ask = (c: OpenAI) => c.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 2 });

    it('refuses a key past its expiresAt with 401, having served it before', async () => {
      const p = platform();
      const expiresAt = new Date(p.clock.now().getTime() + 60_000).toISOString();
      const key = await p.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`, { token: tenant.apiKey, body: { expiresAt } });
      expect(key.status).to.equal(201);
      const c = clientOf(key.body.key);
      expect((await ask(c)).usage!.completion_tokens).to.equal(2);
      p.clock.advance(61_000);
      const refused = await ask(c).catch((e: unknown) => e);
      expect(refused).to.be.instanceOf(OpenAI.AuthenticationError);
      // The routing table is read again after the clock's jump: the cluster reports in.
      await served.heartbeat(p, [{ id: served.desired.id, readyReplicas: served.desired.replicas, endpoints: [served.engine.url] }]);
    });

    it('refuses a revoked key at once with 401', async () => {
      const p = platform();
      const key = await p.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`, { token: tenant.apiKey, body: { name: 'soon revoked' } });
      const c = clientOf(key.body.key);
      expect((await ask(c)).usage!.completion_tokens).to.equal(2);
      expect((await p.request('DELETE', `/api/v1/api-keys/${key.body.id}`, { token: tenant.apiKey })).status).to.be.oneOf([200, 204]);
      const refused = await ask(c).catch((e: unknown) => e);
      expect(refused).to.be.instanceOf(OpenAI.AuthenticationError);
      expect((refused as InstanceType<typeof OpenAI.APIError>).status).to.equal(401);
    });

    it('bills a stream the client leaves the content chunks that passed, as its request-log row says, and no more than the engine made', async () => {
      const p = platform();
      const produced: ServedRequest[] = [];
      // Slow enough that the client leaves long before the end.
      const slow = await SimulatedEngine.start({ model: MODEL, servingKey: served.desired.servingKey, tokensPerSecond: 40, onServed: (s) => produced.push(s) });
      await served.heartbeat(p, [{ id: served.desired.id, readyReplicas: served.desired.replicas, endpoints: [slow.url] }]);
      p.clock.advance(5000); // past the gateway's routing-table cache
      try {
        const { data: stream, response } = await clientOf(tenant.apiKey)
          .chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'a long story' }], max_tokens: 400, stream: true })
          .withResponse();
        const requestId = response.headers.get('x-request-id')!;
        let received = 0;
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta?.content) received++;
          if (received === 5) break; // leaves: the SDK aborts the request
        }
        await until(
          'the engine saw the client leave',
          () => Promise.resolve(produced.length),
          (n) => n === 1,
          10_000,
        );
        expect(produced[0]).to.include({ aborted: true, stream: true });
        await p.app.requests.settled();
        const rows = (await p.request('GET', `/api/v1/requests?tenantId=${tenant.id}&limit=200`)).body.items as Record<string, any>[];
        const row = rows.find((r) => r.requestId === requestId)!;
        expect(row).to.include({ errorCode: 'client_closed', streamed: true, status: 200 });
        expect(row.completionTokens).to.be.at.least(received).and.at.most(produced[0]!.completionTokens);
        expect(row.promptTokens).to.be.greaterThan(0);
        // The usage event is exactly what the log says passed.
        await p.app.metering.settled();
        const event = await p.database.db
          .selectFrom('usage_events')
          .select(['input_tokens', 'output_tokens'])
          .where('id', '=', requestId)
          .executeTakeFirstOrThrow();
        expect(Number(event.output_tokens)).to.equal(row.completionTokens);
        expect(Number(event.input_tokens)).to.equal(row.promptTokens);
      } finally {
        await served.heartbeat(p, [{ id: served.desired.id, readyReplicas: served.desired.replicas, endpoints: [served.engine.url] }]);
        p.clock.advance(5000);
        await slow.close();
      }
    });
  },
  { TOKENPOOL_METERING_JOURNAL: mkdtempSync(join(tmpdir(), 'tp-gateway-keys-journal-')) },
);
