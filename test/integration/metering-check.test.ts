import { expect } from 'chai';
import OpenAI from 'openai';
import { SimulatedEngine } from '../../adapters/simulated/engine.js';
import { meteringCheckJob } from '../../server/jobs/metering-check.js';
import type { Logger } from '../../server/log.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

const MODEL = 'qwen2.5-7b-instruct';
const H100 = [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 16, healthy: 16 }];
const MINUTE = 60_000;
const TOLERANCE = { fraction: 0.05, minTokens: 100 };

interface Desired {
  id: string;
  workloadId: string;
  replicas: number;
  servingKey: string;
}

interface Warning {
  msg: string;
  fields: Record<string, unknown>;
}

/** The `tokenpool_metering_*` lines of a scrape. */
async function meteringMetrics(p: TestPlatform): Promise<string[]> {
  const text = (await p.request('GET', '/metrics', { token: null })).body as string;
  return text.split('\n').filter((l) => l.startsWith('tokenpool_metering_'));
}

describeOnDatabases("metering: gateway workloads' engine counts are a cross-check, not billed (API.md v2)", (platform) => {
  let agent: { id: string; agentToken: string };
  let tenant: { id: string; apiKey: string };
  let gatewayWl: string;
  let directWl: string;
  let engine: SimulatedEngine;
  let client: OpenAI;
  const warnings: Warning[] = [];
  const log: Logger = { info: () => {}, warn: (msg, fields) => warnings.push({ msg, fields: { ...fields } }), error: () => {} };

  const heartbeat = (p: TestPlatform, placements: unknown[] = []) =>
    p.request('POST', '/api/v1/agent/heartbeat', { token: agent.agentToken, body: { inventory: H100, placements } });
  const report = (p: TestPlatform, events: object[]) => p.request('POST', '/api/v1/agent/usage', { token: agent.agentToken, body: { events } });
  const usage = async (p: TestPlatform) => {
    const u = (await p.request('GET', '/api/v1/usage', { token: tenant.apiKey })).body as { inputTokens: unknown; outputTokens: unknown };
    return { inputTokens: Number(u.inputTokens), outputTokens: Number(u.outputTokens) };
  };
  /** The engine's counters since start, as one agent event at the clock's time. */
  const countersEvent = (id: string, extraOutput = 0) => ({
    id,
    workloadId: gatewayWl,
    inputTokens: engine.counters.promptTokensTotal,
    outputTokens: engine.counters.generationTokensTotal + extraOutput,
    occurredAt: platform().clock.now().toISOString(),
  });
  /** One check by a job like the app's, with the app's metrics and a logger that keeps its warnings. */
  const check = () =>
    meteringCheckJob(platform().app.context.services.usage, TOLERANCE, platform().app.context.metrics.metering, platform().app.leader, log).run();

  before(async () => {
    const p = platform();
    agent = (await p.request('POST', '/api/v1/clusters', { body: { name: 'meter-1', region: 'nansha' } })).body;
    await heartbeat(p);
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Metered Tenant', kind: 'government' } })).body;
    const g = await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { name: 'through-gateway', model: MODEL, tokensPerMin: 1000 } });
    const d = await p.request('POST', '/api/v1/workloads', {
      token: tenant.apiKey,
      body: { name: 'called-directly', model: MODEL, tokensPerMin: 1000, access: 'direct' },
    });
    expect([g.status, g.body.access, d.status, d.body.access]).to.deep.equal([202, 'gateway', 202, 'direct']);
    gatewayWl = g.body.id;
    directWl = d.body.id;
    await p.app.scheduler.runCycle();
    const desired = ((await heartbeat(p)).body.placements as Desired[]).find((x) => x.workloadId === gatewayWl)!;
    engine = await SimulatedEngine.start({ model: MODEL, servingKey: desired.servingKey, tokensPerSecond: 100_000 });
    expect((await heartbeat(p, [{ id: desired.id, readyReplicas: desired.replicas, endpoints: [engine.url] }])).status).to.equal(200);
    client = new OpenAI({ apiKey: tenant.apiKey, baseURL: `${p.baseUrl}/v1`, maxRetries: 0 });
  });

  after(async () => {
    await engine?.close();
  });

  it("accepts an agent's report of a gateway workload as before, but does not bill it; duplicates stay duplicates", async () => {
    const p = platform();
    const before = await usage(p);
    const first = await report(p, [countersEvent('ec-1', 500), countersEvent('ec-1', 500)]);
    expect(first.status).to.equal(200);
    expect(first.body).to.deep.equal({ accepted: 1, duplicates: 1, rejected: [] });
    expect((await report(p, [countersEvent('ec-1', 500)])).body).to.deep.equal({ accepted: 0, duplicates: 1, rejected: [] });
    // The same checks as for any event: a time out of the window is rejected, and leaves no row.
    const late = { ...countersEvent('ec-old'), occurredAt: new Date(p.clock.now().getTime() - 91 * 86_400_000).toISOString() };
    expect((await report(p, [late])).body).to.deep.equal({ accepted: 0, duplicates: 0, rejected: [{ id: 'ec-old', reason: 'out_of_window' }] });
    expect(await usage(p)).to.deep.equal(before);
    const rows = await p.database.db.selectFrom('engine_counts').select(['id', 'cluster_id', 'workload_id', 'output_tokens']).execute();
    expect(rows).to.deep.equal([{ id: 'ec-1', cluster_id: agent.id, workload_id: gatewayWl, output_tokens: 500 }]);
    expect(await p.database.db.selectFrom('usage_events').select('id').where('id', '=', 'ec-1').execute()).to.deep.equal([]);
    // Append-only: a count once written is never changed.
    const change = await p.database.db
      .updateTable('engine_counts')
      .set({ output_tokens: 0 })
      .execute()
      .catch((e: unknown) => e);
    expect(String(change)).to.match(/engine_counts is append-only: UPDATE is not allowed/);
  });

  it("bills an agent's report of a direct workload as before", async () => {
    const p = platform();
    const before = await usage(p);
    const sent = await report(p, [{ id: 'd-1', workloadId: directWl, inputTokens: 1000, outputTokens: 100, occurredAt: p.clock.now().toISOString() }]);
    expect(sent.body).to.deep.equal({ accepted: 1, duplicates: 0, rejected: [] });
    expect(await usage(p)).to.deep.equal({ inputTokens: before.inputTokens + 1000, outputTokens: before.outputTokens + 100 });
    expect(
      (await report(p, [{ id: 'd-1', workloadId: directWl, inputTokens: 1000, outputTokens: 100, occurredAt: p.clock.now().toISOString() }])).body,
    ).to.include({
      duplicates: 1,
    });
  });

  it('finds no discrepancy when the engine counted what the gateway metered; engine counts past the tolerance raise the gauge and a warning', async () => {
    const p = platform();
    // An hour on: the events above have left the checked hour.
    p.clock.advance(70 * MINUTE);
    const baseline = engine.counters;
    const before = await usage(p);
    const answer = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'count me' }], max_tokens: 300 });
    const metered = answer.usage!.prompt_tokens + answer.usage!.completion_tokens;
    const billed = await usage(p);
    expect(billed.inputTokens + billed.outputTokens - before.inputTokens - before.outputTokens).to.equal(metered);
    // The agent reports what the engine counted since its last report: exactly that call.
    const served = engine.counters.promptTokensTotal + engine.counters.generationTokensTotal - baseline.promptTokensTotal - baseline.generationTokensTotal;
    expect(served).to.equal(metered);
    const at = p.clock.now().toISOString();
    const matching = {
      id: 'ec-2',
      workloadId: gatewayWl,
      inputTokens: answer.usage!.prompt_tokens,
      outputTokens: answer.usage!.completion_tokens,
      occurredAt: at,
    };
    expect((await report(p, [matching])).body).to.include({ accepted: 1 });
    expect(await usage(p)).to.deep.equal(billed);

    // Past the settling delay, the hour holds the call on both sides: nothing to raise.
    p.clock.advance(3 * MINUTE);
    await check();
    expect(warnings).to.deep.equal([]);
    expect(await meteringMetrics(p)).to.satisfy((lines: string[]) => !lines.some((l) => l.startsWith('tokenpool_metering_discrepancy_ratio{')));
    expect(await meteringMetrics(p)).to.include('tokenpool_metering_checks_total 1');

    // Callers reached the replica around the gateway: its engine counted ten times what was metered.
    expect((await report(p, [{ ...matching, id: 'ec-3', inputTokens: 0, outputTokens: 9 * metered }])).body).to.include({ accepted: 1 });
    expect(await usage(p)).to.deep.equal(billed);
    await check();
    expect(warnings).to.have.length(1);
    expect(warnings[0]!.msg).to.equal('metering discrepancy');
    expect(warnings[0]!.fields).to.include({ workloadId: gatewayWl, clusterId: agent.id, meteredTokens: metered, engineTokens: 10 * metered, ratio: 0.9 });
    const lines = await meteringMetrics(p);
    expect(lines).to.include(`tokenpool_metering_discrepancy_ratio{workload_id="${gatewayWl}",cluster_id="${agent.id}"} 0.9`);
    expect(lines).to.include('tokenpool_metering_checks_total 2');

    // An hour later the bypassing traffic left the checked span: the gauge is cleared.
    p.clock.advance(61 * MINUTE);
    warnings.length = 0;
    await check();
    expect(warnings).to.deep.equal([]);
    expect(await meteringMetrics(p)).to.satisfy((l: string[]) => !l.some((x) => x.startsWith('tokenpool_metering_discrepancy_ratio{')));
  });

  it('raises no difference under the token floor nor within the relative tolerance, and one the engines did not count', async () => {
    const p = platform();
    p.clock.advance(70 * MINUTE);
    warnings.length = 0;
    const at = p.clock.now().toISOString();
    // No gateway traffic at all, engine counts under the floor of 100 tokens.
    expect((await report(p, [{ id: 'ec-4', workloadId: gatewayWl, inputTokens: 40, outputTokens: 59, occurredAt: at }])).body).to.include({ accepted: 1 });
    p.clock.advance(3 * MINUTE);
    await check();
    expect(warnings).to.deep.equal([]);

    // 10,000 tokens metered and 10,400 counted: 400 is past the floor, but within 5% of 10,400.
    p.clock.advance(70 * MINUTE);
    const call = {
      tenantId: tenant.id,
      apiKeyId: null,
      workloadId: gatewayWl,
      placementId: 'pl_metered',
      clusterId: agent.id,
      inputTokens: 9000,
      outputTokens: 1000,
      occurredAt: p.clock.now(),
    };
    expect(await p.app.context.services.usage.meter([{ ...call, requestId: 'req-1' }])).to.equal(1);
    const counted = { id: 'ec-5', workloadId: gatewayWl, inputTokens: 9000, outputTokens: 1400, occurredAt: p.clock.now().toISOString() };
    expect((await report(p, [counted])).body).to.include({ accepted: 1 });
    p.clock.advance(3 * MINUTE);
    await check();
    expect(warnings).to.deep.equal([]);

    // An engine that stops counting (or an agent that stops reporting) while the gateway meters: −1.
    p.clock.advance(70 * MINUTE);
    expect(await p.app.context.services.usage.meter([{ ...call, requestId: 'req-2', occurredAt: p.clock.now() }])).to.equal(1);
    p.clock.advance(3 * MINUTE);
    await check();
    expect(warnings.map((w) => w.fields)).to.deep.equal([
      {
        workloadId: gatewayWl,
        clusterId: agent.id,
        meteredTokens: 10_000,
        engineTokens: 0,
        ratio: -1,
        from: new Date(p.clock.now().getTime() - 62 * MINUTE).toISOString(),
        to: new Date(p.clock.now().getTime() - 2 * MINUTE).toISOString(),
      },
    ]);
    expect(await meteringMetrics(p)).to.include(`tokenpool_metering_discrepancy_ratio{workload_id="${gatewayWl}",cluster_id="${agent.id}"} -1`);
  });
});
