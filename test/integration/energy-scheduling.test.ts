/**
 * The energy scorer with measured figures, end to end (README "Measured tokens per watt"): two
 * clusters of the same H100s, where best fit alone prefers the smaller one; once an hour of
 * measurement shows the larger one's devices serving a standard token for far fewer joules than
 * the TDP estimate, the scheduler prefers it. Weights: energy 2, best fit 1, consolidation 0.
 */
import { expect } from 'chai';
import { until } from '../until.js';
import { describeOnDatabases, type TestPlatform } from './harness.js';

const H100 = 'NVIDIA-H100-80GB-HBM3';
const MODEL = 'qwen2.5-7b-instruct';
const MIN = 60_000;

describeOnDatabases(
  'the energy scorer prefers measured figures',
  (platform) => {
    it('a cluster measured as efficient wins over one that best fit alone would choose', async () => {
      const p: TestPlatform = platform();
      const t0 = Date.parse('2026-10-20T02:00:00Z');
      p.clock.set(new Date(t0));
      const cluster = async (name: string, devices: number) => {
        const c = (await p.request('POST', '/api/v1/clusters', { body: { name, region: 'huadu' } })).body;
        const beat = (placements: object[] = []) =>
          p.request('POST', '/api/v1/agent/heartbeat', {
            token: c.agentToken,
            body: { inventory: [{ deviceModel: H100, total: devices, healthy: devices }], placements },
          });
        expect((await beat()).status).to.equal(200);
        return { id: c.id as string, beat };
      };
      const big = await cluster('huadu-big', 4);
      const small = await cluster('huadu-small', 2);
      const tenant = (await p.request('POST', '/api/v1/tenants', { body: { name: 'Huadu Water', kind: 'government' } })).body;
      const dryRun = async () => {
        const res = await p.request('POST', '/api/v1/workloads?dryRun=true', {
          token: tenant.apiKey,
          body: { name: 'probe', model: MODEL, tokensPerMin: 100_000 },
        });
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        return res.body.placements.map((x: { clusterId: string }) => x.clusterId) as string[];
      };
      // No measurement: equal estimates, so best fit sends it to the smaller cluster.
      expect(await dryRun()).to.deep.equal([small.id]);

      // A workload on the big cluster, measured for an hour: 100,000 J for 1,200,000 standard tokens
      // (0.083 J each, against the TDP estimate's 700 ÷ 3000 = 0.233 J).
      const w = (
        await p.request('POST', '/api/v1/workloads', { token: tenant.apiKey, body: { name: 'pumps', model: MODEL, tokensPerMin: 100_000, ha: false } })
      ).body;
      // Only the big cluster takes it: the small one is cordoned while it is placed.
      await p.request('POST', `/api/v1/clusters/${small.id}/cordon`);
      await p.app.scheduler.runCycle();
      await p.request('POST', `/api/v1/clusters/${small.id}/uncordon`);
      const placement = (await big.beat()).body.placements[0].id as string;
      for (let i = 0; i <= 4; i++) {
        p.clock.set(new Date(t0 + i * 15 * MIN));
        expect((await big.beat([{ id: placement, readyReplicas: 1, energyJoules: i * 25_000, powerWatts: 28 }])).status).to.equal(200);
        await small.beat();
      }
      await p.app.context.services.usage.meter([
        {
          requestId: 'r-pumps',
          tenantId: tenant.id,
          apiKeyId: null,
          workloadId: w.id,
          placementId: placement,
          clusterId: big.id,
          inputTokens: 0,
          outputTokens: 1_200_000,
          occurredAt: new Date(t0 + 10 * MIN),
        },
      ]);
      // The scheduler's figures are read again in the background once they are 5 minutes old.
      p.clock.set(new Date(t0 + 66 * MIN));
      await big.beat([{ id: placement, readyReplicas: 1, energyJoules: 100_000, powerWatts: 28 }]);
      await small.beat();
      await until('the scheduler using the measured figure', dryRun, (clusters) => clusters[0] === big.id, 10_000);
      const figures = await p.request('GET', `/api/v1/energy?from=${new Date(t0).toISOString()}&to=${new Date(t0 + 2 * 60 * MIN).toISOString()}`);
      expect(figures.body.items[0]).to.include({ clusterId: big.id, joules: 100_000, measuredSeconds: 3960, stdTokens: '1200000' });
    });
  },
  { TOKENPOOL_SCHEDULER_WEIGHTS: 'energy=2,best-fit=1,consolidation=0' },
);
