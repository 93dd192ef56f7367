/**
 * Limits across processes (README "Limits across processes"): two platform instances, each with
 * its own memory, on one database and one Redis, as two gateway processes of a city are. A key's
 * rpm, tpm and maxConcurrent hold across both together; with Redis gone, each instance falls back
 * to its own limits and no call fails for it. Redis is reached through a TCP relay the test can cut.
 */
import { expect } from 'chai';
import OpenAI from 'openai';
import { SimulatedEngine } from '../../adapters/simulated/engine.js';
import type { Database } from '../../db/connect.js';
import { DATABASE_KINDS, freshDatabase } from '../databases.js';
import { FakeClock } from '../fake-clock.js';
import { tcpRelay, type TcpRelay } from '../tcp-relay.js';
import { startPlatform, type TestPlatform } from './harness.js';

const REDIS_URL = process.env.TEST_REDIS_URL;
const MODEL = 'qwen2.5-7b-instruct';
const H100 = [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 16, healthy: 16 }];

/** A chat call's status, whoever answers; the body's error code when refused. */
async function chat(p: TestPlatform, key: string, body: Record<string, unknown>): Promise<{ status: number; code?: string }> {
  const res = await p.request('POST', '/v1/chat/completions', { token: key, body: { model: MODEL, messages: [{ role: 'user', content: 'x' }], ...body } });
  return { status: res.status, code: (res.body as { error?: { code?: string } }).error?.code };
}

(REDIS_URL ? describe : describe.skip)(
  `limits across processes through Redis${REDIS_URL ? '' : ' (skipped: TEST_REDIS_URL is unset; .ci/run sets it)'}`,
  () => {
    for (const kind of DATABASE_KINDS) {
      describe(`two platform instances on one database and one Redis [${kind}]`, function () {
        let database: Database;
        let a: TestPlatform;
        let b: TestPlatform;
        let relay: TcpRelay;
        let engine: SimulatedEngine;
        let tenant: { id: string; apiKey: string };

        /** A new key of the tenant with these limits. */
        const keyWith = async (limits: Record<string, number>): Promise<string> => {
          const res = await a.request('POST', `/api/v1/tenants/${tenant.id}/api-keys`, { token: tenant.apiKey, body: limits });
          expect(res.status).to.equal(201);
          return res.body.key as string;
        };

        before(async function () {
          this.timeout(60_000);
          database = await freshDatabase(kind);
          const clock = new FakeClock();
          relay = await tcpRelay(new URL(REDIS_URL!));
          // A generous timeout: on a busy machine a slow answer must not look like an outage (tested apart).
          const env = {
            REDIS_URL: relay.url,
            TOKENPOOL_REDIS_TIMEOUT_MS: '5000',
            TOKENPOOL_REDIS_PREFIX: `test:${process.pid}:${Date.now().toString(36)}:${kind}:`,
          };
          a = await startPlatform(kind, env, { database, clock });
          b = await startPlatform(kind, env, { database, clock });

          const agent = (await a.request('POST', '/api/v1/clusters', { body: { name: 'redis-1', region: 'nansha' } })).body.agentToken as string;
          const heartbeat = (placements: unknown[] = []) =>
            a.request('POST', '/api/v1/agent/heartbeat', { token: agent, body: { inventory: H100, placements } });
          await heartbeat();
          tenant = (await a.request('POST', '/api/v1/tenants', { body: { name: 'Two Processes', kind: 'government' } })).body;
          const w = await a.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { name: 'assistant', model: MODEL, tokensPerMin: 1000 } });
          expect(w.status).to.equal(202);
          await a.app.scheduler.runCycle();
          const desired = ((await heartbeat()).body.placements as { id: string; workloadId: string; replicas: number; servingKey: string }[]).find(
            (x) => x.workloadId === w.body.id,
          )!;
          // 5,000 tokens a second: a short answer takes milliseconds, a long stream holds its call for seconds.
          engine = await SimulatedEngine.start({ model: MODEL, servingKey: desired.servingKey, tokensPerSecond: 5000 });
          expect((await heartbeat([{ id: desired.id, readyReplicas: desired.replicas, endpoints: [engine.url] }])).status).to.equal(200);
        });

        after(async () => {
          await b?.close();
          await a?.close();
          await engine?.close();
          await relay?.cut();
          await database?.close();
        });

        it("holds a key's rpm across both: the calls admitted by the two together never pass it", async () => {
          const key = await keyWith({ rpm: 4 });
          const statuses: number[] = [];
          for (let i = 0; i < 10; i++) statuses.push((await chat(i % 2 === 0 ? a : b, key, { max_tokens: 1 })).status);
          // Per process, each would admit 4 (8 in all).
          expect(statuses.filter((s) => s === 200)).to.have.length(4);
          expect(statuses.filter((s) => s === 429)).to.have.length(6);
        });

        it("holds a key's tpm across both: reserved by estimate, settled to the engine's count, shared", async () => {
          const key = await keyWith({ tpm: 1000 });
          // Each call is estimated at 400 completion tokens and a prompt's few, and served at that
          // (vLLM's ignore_eos): two fit a minute, a third does not.
          const answers = [];
          for (const p of [a, b, a, b]) answers.push(await chat(p, key, { max_tokens: 400, ignore_eos: true }));
          // Per process, each would admit two (four in all).
          expect(answers.map((x) => x.status)).to.deep.equal([200, 200, 429, 429]);
          expect(answers[2]!.code).to.equal('rate_limit_exceeded');
        });

        it("holds a key's maxConcurrent across both: a call in flight on one takes the slot from the other until it ends", async () => {
          const key = await keyWith({ maxConcurrent: 1 });
          const client = new OpenAI({ apiKey: key, baseURL: `${a.baseUrl}/v1`, maxRetries: 0 });
          const long = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'long' }], max_tokens: 30_000, stream: true });
          await long[Symbol.asyncIterator]().next();
          const refused = await chat(b, key, { max_tokens: 1 });
          expect(refused).to.deep.equal({ status: 429, code: 'rate_limit_exceeded' });
          // The client leaving ends the call on `a` and frees its slot for `b`.
          long.controller.abort();
          let answer = await chat(b, key, { max_tokens: 1 });
          while (answer.status === 429) {
            await new Promise((r) => setImmediate(r));
            answer = await chat(b, key, { max_tokens: 1 });
          }
          expect(answer.status).to.equal(200);
        });

        it('with Redis gone, falls back to each process its own limits: no 5xx, and the failures counted', async () => {
          const key = await keyWith({ rpm: 2, tpm: 100_000, maxConcurrent: 3 });
          await relay.cut();
          const statuses: number[] = [];
          for (let i = 0; i < 8; i++) statuses.push((await chat(i % 2 === 0 ? a : b, key, { max_tokens: 1 })).status);
          // Two a minute in each of the two processes.
          expect(statuses.filter((s) => s === 200)).to.have.length(4);
          expect(statuses.filter((s) => s >= 500)).to.deep.equal([]);
          const metrics = (await a.request('GET', '/metrics')).body as string;
          const count = (limit: string) => Number(new RegExp(`tokenpool_limits_store_errors_total\\{limit="${limit}"\\} (\\d+)`).exec(metrics)?.[1]);
          expect(count('rpm')).to.be.at.least(4);
          expect(count('tpm')).to.be.at.least(2);
          expect(count('concurrency')).to.be.at.least(2);
        });
      });
    }
  },
);
