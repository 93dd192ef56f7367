/**
 * Measured tokens per joule and throughput at load through the HTTP API (README "Measured tokens
 * per watt"): agents report each placement's energy counter in heartbeats (one reset, as after an
 * agent restart); the tokens metered for the placements — an agent's usage report of a `direct`
 * workload and the gateway's metered calls — are joined with the minutes whose energy was
 * measured; the figures are exact for this constructed case. Throughput at load comes from the
 * request log's requests in flight, as a proposed correction of the catalog.
 *
 * Numbers: qwen2.5-7b-instruct takes one NVIDIA-H100-80GB per replica (180,000 tokens/min).
 */
import { expect } from 'chai';
import { microFromNumber, usageStdTokens } from '../../scheduler/capacity.js';
import { sumDecimals } from '../../server/domain/energy.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const MODEL = 'qwen2.5-7b-instruct';
const inventory = (n: number) => [{ deviceModel: H100, total: n, healthy: n }];
const at = (hhmmss: string) => `2026-10-20T${hhmmss}Z`;

interface Agent {
  readonly id: string;
  readonly token: string;
}

async function cluster(p: TestPlatform, name: string, region: string, devices: number): Promise<Agent> {
  const res = await p.request('POST', '/api/v1/clusters', { body: { name, region } });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  const agent = { id: res.body.id as string, token: res.body.agentToken as string };
  expect((await heartbeat(p, agent, [], devices)).status).to.equal(200);
  return agent;
}

function heartbeat(p: TestPlatform, agent: Agent, placements: object[], devices = 2) {
  return p.request('POST', '/api/v1/agent/heartbeat', { token: agent.token, body: { inventory: inventory(devices), placements } });
}

describeOnDatabases('measured tokens per joule and throughput at load', (platform) => {
  let a: Agent;
  let b: Agent;
  let tenant: { id: string; apiKey: string };
  let direct: { workload: string; placement: string };
  let gateway: { workload: string; placement: string };
  let std: (input: number, output: number) => string;

  before(async () => {
    const p = platform();
    p.clock.set(at('01:59:00'));
    a = await cluster(p, 'energy-a', 'energy-1', 2);
    b = await cluster(p, 'energy-b', 'energy-2', 1);
    tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Energy Tenant', kind: 'enterprise' } })).body;
    const model = (await p.request('GET', '/api/v1/models')).body.items.find((m: { name: string }) => m.name === MODEL);
    std = (input, output) => usageStdTokens(input, output, microFromNumber(model.costFactor), microFromNumber(model.inputFactor));
    const submit = async (access: 'direct' | 'gateway') => {
      const res = await p.request('POST', '/api/v1/workloads', {
        token: tenant.apiKey,
        body: { name: `w-${access}`, model: MODEL, tokensPerMin: 180_000, regions: ['energy-1'], access },
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      return res.body.id as string;
    };
    const directId = await submit('direct');
    const gatewayId = await submit('gateway');
    await p.app.scheduler.runCycle();
    const desired = (await heartbeat(p, a, [])).body.placements as { id: string; workloadId: string }[];
    expect(desired).to.have.length(2);
    direct = { workload: directId, placement: desired.find((d) => d.workloadId === directId)!.id };
    gateway = { workload: gatewayId, placement: desired.find((d) => d.workloadId === gatewayId)!.id };

    // Heartbeats on the minute: the direct placement's counter resets at 02:03 (its agent restarted).
    const readings: [string, number, number][] = [
      ['02:00:00', 1_000, 500],
      ['02:01:00', 43_000, 24_500], // +42,000 J and +24,000 J in 02:00
      ['02:02:00', 73_000, 48_500], // +30,000 J and +24,000 J in 02:01
      ['02:03:00', 6_000, 72_500], // reset: +6,000 J; +24,000 J in 02:02
    ];
    for (const [time, d, g] of readings) {
      p.clock.set(at(time));
      const res = await heartbeat(p, a, [
        { id: direct.placement, readyReplicas: 1, energyJoules: d, powerWatts: 700 },
        { id: gateway.placement, readyReplicas: 1, energyJoules: g, powerWatts: 400 },
      ]);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      // Another cluster's agent naming a placement it does not run changes nothing.
      expect((await heartbeat(p, b, [{ id: direct.placement, readyReplicas: 1, energyJoules: 1e12 }], 1)).status).to.equal(200);
    }

    // The direct workload's tokens come from its agent; one event lies outside the measured minutes.
    p.clock.set(at('02:06:00'));
    const usage = await p.request('POST', '/api/v1/agent/usage', {
      token: a.token,
      body: {
        events: [
          { id: 'e1', workloadId: direct.workload, inputTokens: 1200, outputTokens: 3000, occurredAt: at('02:00:30') },
          { id: 'e2', workloadId: direct.workload, inputTokens: 600, outputTokens: 1500, occurredAt: at('02:01:30') },
          { id: 'e3', workloadId: direct.workload, inputTokens: 0, outputTokens: 600, occurredAt: at('02:02:59') },
          { id: 'e4', workloadId: direct.workload, inputTokens: 999, outputTokens: 999, occurredAt: at('02:05:30') },
        ],
      },
    });
    expect(usage.body, JSON.stringify(usage.body)).to.deep.include({ accepted: 4, rejected: [] });
    // The gateway's calls, metered as the gateway meters them, name their placement.
    const call = (requestId: string, input: number, output: number, occurredAt: string) => ({
      requestId,
      tenantId: tenant.id,
      apiKeyId: null,
      workloadId: gateway.workload,
      placementId: gateway.placement,
      clusterId: a.id,
      inputTokens: input,
      outputTokens: output,
      occurredAt: new Date(at(occurredAt)),
    });
    expect(
      await p.app.context.services.usage.meter([call('r1', 100, 400, '02:00:10'), call('r2', 50, 200, '02:02:50'), call('r3', 7, 7, '02:04:00')]),
    ).to.equal(3);
  });

  it('per placement: joules from counter increases (a reset counts its new reading), tokens of the measured minutes, beside the TDP estimate', async () => {
    const res = await platform().request('GET', `/api/v1/energy?from=${at('02:00:00')}&to=${at('03:00:00')}&groupBy=placement`);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const byId = new Map<string, any>(res.body.items.map((i: { placementId: string }) => [i.placementId, i]));
    const directStd = sumDecimals([std(1200, 3000), std(600, 1500), std(0, 600)]);
    expect(byId.get(direct.placement)).to.deep.equal({
      placementId: direct.placement,
      clusterId: a.id,
      clusterName: 'energy-a',
      vendor: 'nvidia',
      model: MODEL,
      profile: 'NVIDIA-H100-80GB',
      placements: 1,
      joules: 78_000,
      measuredSeconds: 180,
      stdTokens: directStd,
      stdTokensPerJoule: Number(directStd) / 78_000,
      tdpStdTokensPerJoule: 3000 / 700,
      // The last reading is three minutes old.
      powerWatts: null,
    });
    const gatewayStd = sumDecimals([std(100, 400), std(50, 200)]);
    expect(byId.get(gateway.placement)).to.include({
      joules: 72_000,
      measuredSeconds: 180,
      stdTokens: gatewayStd,
      stdTokensPerJoule: Number(gatewayStd) / 72_000,
    });
    expect(res.body.items).to.have.length(2);
  });

  it('per cluster, vendor and model: the placements summed', async () => {
    const both = sumDecimals([std(1200, 3000), std(600, 1500), std(0, 600), std(100, 400), std(50, 200)]);
    for (const groupBy of ['cluster', 'vendor', 'model', 'profile']) {
      const res = await platform().request('GET', `/api/v1/energy?from=${at('02:00:00')}&to=${at('03:00:00')}&groupBy=${groupBy}`);
      expect(res.status).to.equal(200);
      expect(res.body.items, groupBy).to.have.length(1);
      expect(res.body.items[0], groupBy).to.include({ placementId: null, clusterId: a.id, vendor: 'nvidia', placements: 2, joules: 150_000, stdTokens: both });
      expect(res.body.items[0].stdTokensPerJoule).to.equal(Number(both) / 150_000);
    }
  });

  it('a window holds only its own minutes; power drawn now shows while the readings are fresh', async () => {
    const p = platform();
    const res = await p.request('GET', `/api/v1/energy?from=${at('02:01:00')}&to=${at('02:02:00')}&groupBy=placement`);
    const d = res.body.items.find((i: { placementId: string }) => i.placementId === direct.placement);
    expect(d).to.include({ joules: 30_000, measuredSeconds: 60, stdTokens: std(600, 1500) });
    p.clock.set(at('02:04:00'));
    const now = await p.request('GET', `/api/v1/energy?from=${at('02:00:00')}&to=${at('03:00:00')}&groupBy=cluster`);
    expect(now.body.items[0].powerWatts).to.equal(1100);
    p.clock.set(at('02:06:00'));
  });

  it('throughput at load: minutes with enough requests in flight per replica, against the catalog, as a proposal', async () => {
    const p = platform();
    const logged = (minute: string, durationMs: number, n: number) => {
      p.app.requests.record({
        requestId: `req-${minute}-${n}`,
        startedAt: new Date(at(minute)),
        tenantId: tenant.id,
        apiKeyId: null,
        userId: null,
        model: MODEL,
        workloadId: gateway.workload,
        placementId: gateway.placement,
        clusterId: a.id,
        endpoint: 'chat.completions',
        status: 200,
        errorCode: null,
        promptTokens: 10,
        completionTokens: 10,
        ttftMs: 5,
        durationMs,
        streamed: false,
        attempts: 1,
      });
    };
    // 02:00 and 02:01: 480 s of requests on one replica, 8 in flight on average (at load); 02:02: 4.
    logged('02:00:01', 240_000, 1);
    logged('02:00:02', 240_000, 2);
    logged('02:01:01', 480_000, 1);
    logged('02:02:01', 240_000, 1);
    await p.app.requests.settled();
    const res = await p.request('GET', `/api/v1/energy/throughput?from=${at('02:00:00')}&to=${at('03:00:00')}&minMinutes=2`);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.criteria).to.deep.equal({ minConcurrency: 8, minMinutes: 2 });
    const measured = Number(std(100, 400)) / 120; // the tokens of 02:00 and 02:01 over 2 device-minutes
    expect(res.body.items).to.deep.equal([
      {
        profile: 'NVIDIA-H100-80GB',
        vendor: 'nvidia',
        catalogStdTokensPerSec: 3000,
        loadMinutes: 2,
        clusters: 1,
        measuredStdTokensPerSec: measured,
        proposedStdTokensPerSec: Math.round(measured * 1000) / 1000,
      },
    ]);
    const strict = await p.request('GET', `/api/v1/energy/throughput?from=${at('02:00:00')}&to=${at('03:00:00')}&minMinutes=3`);
    expect(strict.body.items[0].proposedStdTokensPerSec).to.equal(null);
    // The catalog is not changed by a proposal.
    const profiles = (await p.request('GET', '/api/v1/device-profiles')).body.items;
    expect(profiles.find((x: { name: string }) => x.name === 'NVIDIA-H100-80GB').stdTokensPerSec).to.equal(3000);
  });

  it('without energy, heartbeats still record the fewest ready replicas of each minute (throughput is per replica)', async () => {
    const p = platform();
    for (const [time, ready] of [
      ['02:10:00', 2],
      ['02:10:20', 1],
      ['02:10:40', 2],
    ] as const) {
      p.clock.set(at(time));
      expect((await heartbeat(p, a, [{ id: gateway.placement, readyReplicas: ready }])).status).to.equal(200);
    }
    p.app.requests.record({
      requestId: 'req-02:10',
      startedAt: new Date(at('02:10:05')),
      tenantId: tenant.id,
      apiKeyId: null,
      userId: null,
      model: MODEL,
      workloadId: gateway.workload,
      placementId: gateway.placement,
      clusterId: a.id,
      endpoint: 'chat.completions',
      status: 200,
      errorCode: null,
      promptTokens: 1,
      completionTokens: 1,
      ttftMs: 1,
      durationMs: 960_000,
      streamed: false,
      attempts: 1,
    });
    await p.app.requests.settled();
    // 960 s of requests: 16 in flight for one replica (at load at 12), 8 for two (not).
    const res = await p.request('GET', `/api/v1/energy/throughput?from=${at('02:10:00')}&to=${at('02:11:00')}&minConcurrency=12&minMinutes=1`);
    expect(res.body.items[0]).to.include({ loadMinutes: 1, measuredStdTokensPerSec: 0, proposedStdTokensPerSec: 0 });
  });

  it('bad input is a 4xx: a negative energy reading, a window that ends before it starts, a tenant asking', async () => {
    const p = platform();
    const bad = await heartbeat(p, a, [{ id: direct.placement, readyReplicas: 1, energyJoules: -1 }]);
    expect(bad.status).to.equal(400);
    expect(bad.body.errors[0].path).to.equal('placements.0.energyJoules');
    expect((await p.request('GET', `/api/v1/energy?from=${at('03:00:00')}&to=${at('02:00:00')}`)).status).to.equal(400);
    expect((await p.request('GET', '/api/v1/energy?groupBy=tenant')).status).to.equal(400);
    expect((await p.request('GET', '/api/v1/energy', { token: tenant.apiKey })).status).to.equal(403);
    expect((await p.request('GET', '/api/v1/energy/throughput?minConcurrency=0', {})).status).to.equal(400);
    // A placement named twice in one heartbeat is no server error.
    const twice = { id: gateway.placement, readyReplicas: 1, energyJoules: 72_500, powerWatts: 400 };
    expect((await heartbeat(p, a, [twice, { ...twice, energyJoules: 72_600 }])).status).to.be.below(500);
  });
  it('measured energy past its retention (92 days) is deleted by the hourly job', async () => {
    const p = platform();
    const window = `from=${at('02:00:00')}&to=${at('03:00:00')}&groupBy=placement`;
    p.clock.set(new Date(Date.parse(at('02:30:00')) + 92 * 86_400_000));
    await p.app.jobs.energyRetention.run();
    // The minutes up to 02:29 are gone; nothing was measured after 02:11.
    expect((await p.request('GET', `/api/v1/energy?${window}`)).body.items).to.deep.equal([]);
    const left = await p.database.db.selectFrom('placement_energy_state').select('placement_id').execute();
    expect(left).to.deep.equal([]);
  });
});
