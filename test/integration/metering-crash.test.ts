/**
 * A crash in the middle of a metering batch (issue 13, README "Token gateway", "Metering and
 * crashes"): every answer a client received whole is billed, exactly once, after the next start.
 */
import { expect } from 'chai';
import OpenAI from 'openai';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { SimulatedEngine, type ServedRequest } from '../../adapters/simulated/engine.js';
import { MeterJournal } from '../../server/gateway/meter-journal.js';
import { Metering } from '../../server/gateway/metering.js';
import { silentLogger } from '../../server/log.js';
import type { MeteredCall } from '../../server/services/usage.service.js';
import { freshPostgresUrl } from '../databases.js';
import { killAll, ServerProcess } from '../server-process.js';
import { until } from '../until.js';
import { H100, MODEL, serveModel, type Desired } from './gateway-fixture.js';
import { describeOnDatabases } from './harness.js';

const ADMIN = 'tp_admin_metering_crash_test_token_0123456789';

/** Calls the model `n` times through `client` (every third streamed); answers the request ids and the tokens the client was told of. */
async function calls(client: OpenAI, n: number): Promise<{ ids: string[]; prompt: number; completion: number }> {
  const ids: string[] = [];
  let prompt = 0;
  let completion = 0;
  for (let i = 0; i < n; i++) {
    const messages = [{ role: 'user' as const, content: `call ${i}` }];
    if (i % 3 === 2) {
      const { data: stream, response } = await client.chat.completions
        .create({ model: MODEL, messages, max_tokens: 4 + i, stream: true, stream_options: { include_usage: true } })
        .withResponse();
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) usage = chunk.usage ?? usage;
      ids.push(response.headers.get('x-request-id')!);
      prompt += usage!.prompt_tokens;
      completion += usage!.completion_tokens;
    } else {
      const { data, response } = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 4 + i }).withResponse();
      ids.push(response.headers.get('x-request-id')!);
      prompt += data.usage!.prompt_tokens;
      completion += data.usage!.completion_tokens;
    }
  }
  return { ids, prompt, completion };
}

describe('metering through a crash', function () {
  this.timeout(120_000);

  describeOnDatabases(
    'answers whose usage was journaled but never committed',
    (platform) => {
      it('are billed exactly once by the next process on the journal', async () => {
        const p = platform();
        const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Crash Tenant', kind: 'government' } })).body;
        const { engine } = await serveModel(p, tenant.apiKey, { clusterName: 'crash-1' });
        try {
          const usage = p.app.context.services.usage;
          const meter = usage.meter.bind(usage);
          // The database refuses the metering batches: the answers end anyway, their events in the journal.
          usage.meter = () => Promise.reject(new Error('the database went away'));
          const client = new OpenAI({ apiKey: tenant.apiKey, baseURL: `${p.baseUrl}/v1`, maxRetries: 0 });
          const made = await calls(client, 6);
          // The process stops short of committing them: its journal keeps them, as a killed one's does.
          await p.app.metering.stop(50);
          usage.meter = meter;
          const dir = p.app.context.config.meteringJournal!;
          expect(readdirSync(dir)).to.have.length.greaterThan(0);

          const next = new Metering({ journal: new MeterJournal(dir), log: silentLogger, meter: (c: readonly MeteredCall[]) => usage.meter(c) });
          expect(await next.sweep()).to.equal(6);
          expect(await next.sweep(), 'each journal is metered once, then deleted').to.equal(0);
          await next.stop();
          const after = (await p.request('GET', '/api/v1/usage', { token: tenant.apiKey })).body;
          expect(BigInt(after.inputTokens)).to.equal(BigInt(made.prompt));
          expect(BigInt(after.outputTokens)).to.equal(BigInt(made.completion));
          const rows = await p.database.db.selectFrom('usage_events').select(['id']).where('tenant_id', '=', tenant.id).execute();
          expect(rows.map((r) => r.id).sort()).to.deep.equal([...made.ids].sort());
        } finally {
          await engine.close();
        }
      });
    },
    { TOKENPOOL_METERING_JOURNAL: mkdtempSync(join(tmpdir(), 'tp-crash-journal-')) },
  );

  const postgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;
  postgres('a gateway process killed (SIGKILL) while its metering batches cannot commit [postgres]', () => {
    let dataDir: string;
    let engine: SimulatedEngine | undefined;
    let lock: pg.Client | undefined;
    after(async () => {
      await killAll();
      await lock?.end().catch(() => undefined);
      await engine?.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('loses none of the answers its clients received whole, and bills none twice', async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'tp-crash-'));
      const env = {
        DATABASE_URL: await freshPostgresUrl(),
        TOKENPOOL_DATA_DIR: dataDir,
        TOKENPOOL_ADMIN_TOKEN: ADMIN,
        TOKENPOOL_DEMO: '0',
        PORT: '0',
        TOKENPOOL_TENANT_RPM: '0',
        TOKENPOOL_KEY_RPM: '0',
      };
      const first = new ServerProcess(env);
      const base = await first.listening();
      const api = async (token: string, method: string, path: string, body?: unknown) => {
        const res = await fetch(base + path, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return (await res.json()) as any;
      };
      const cluster = await api(ADMIN, 'POST', '/api/v1/clusters', { name: 'crash-cluster', region: 'nansha' });
      const heartbeat = (placements: unknown[] = []) => api(cluster.agentToken, 'POST', '/api/v1/agent/heartbeat', { inventory: H100, placements });
      await heartbeat();
      const tenant = await api(ADMIN, 'POST', '/api/v1/tenants', { name: 'Crash Tenant', kind: 'government' });
      const workload = await api(tenant.apiKey, 'POST', '/api/v1/workloads', { name: 'assistant', model: MODEL, tokensPerMin: 1000 });
      const desired = (await until(
        'the workload placed',
        async () => ((await heartbeat()).placements as Desired[]).find((x) => x.workloadId === workload.id),
        (d) => d !== undefined,
        30_000,
        100,
      ))!;
      const served: ServedRequest[] = [];
      engine = await SimulatedEngine.start({ model: MODEL, servingKey: desired.servingKey, tokensPerSecond: 100_000, onServed: (s) => served.push(s) });
      await heartbeat([{ id: desired.id, readyReplicas: desired.replicas, endpoints: [engine.url] }]);
      const client = new OpenAI({ apiKey: tenant.apiKey, baseURL: `${base}/v1`, maxRetries: 0 });
      lock = new pg.Client({ connectionString: env.DATABASE_URL });
      await lock.connect();
      const stored = async () => Number((await lock!.query('SELECT count(*) AS n FROM usage_events')).rows[0].n);
      await calls(client, 1); // the routing table is read, the first batch committed
      await until('the first call metered', stored, (n) => n === 1);

      // A lock the gateway's inserts wait behind: every batch from now on is in flight when the process dies.
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE usage_events IN SHARE MODE');
      const made = await calls(client, 9);
      expect(await stored(), 'nothing of the nine was committed').to.equal(1);
      first.kill();
      await first.exited;
      await lock.query('ROLLBACK');

      const second = new ServerProcess(env);
      await second.listening();
      await until('the journal metered', stored, (n) => n === 10, 30_000, 100);
      const rows = (await lock.query('SELECT id, input_tokens, output_tokens FROM usage_events')).rows as {
        id: string;
        input_tokens: string;
        output_tokens: string;
      }[];
      expect(rows).to.have.length(10);
      for (const id of made.ids) expect(rows.map((r) => r.id)).to.include(id);
      const sum = (k: 'input_tokens' | 'output_tokens') => rows.reduce((a, r) => a + Number(r[k]), 0);
      expect(sum('input_tokens')).to.equal(served.reduce((a, s) => a + s.promptTokens, 0));
      expect(sum('output_tokens')).to.equal(served.reduce((a, s) => a + s.completionTokens, 0));
      // The replay deletes the segment once its events are committed: just after, not with them.
      await until(
        'the dead process’s journal is gone',
        async () => readdirSync(join(dataDir, 'metering-journal')).filter((f) => !f.includes(`-${second.pid}-`)),
        (left) => left.length === 0,
        10_000,
        50,
      );
      await second.terminate();
    });
  });
});
