import { expect } from 'chai';

import {
  energyFigures,
  energyIncrease,
  MAX_READING_GAP_MS,
  measuredJoulesPerStd,
  spreadOverMinutes,
  sumDecimals,
  throughputFigures,
  type LoadMinute,
  type PlacementEnergy,
} from '../../server/domain/energy.js';

const T0 = Date.parse('2026-12-07T10:00:00Z');
const S = 1000;

describe('measured energy', () => {
  describe('energyIncrease: consecutive counter readings, as Prometheus reads counters', () => {
    const cases: ReadonlyArray<{ name: string; previous?: { counterJoules: number; atMs: number }; counter: number; at: number; want?: number }> = [
      { name: 'the first reading is only a baseline', counter: 5000, at: T0 },
      { name: 'a rising counter: the difference', previous: { counterJoules: 1000, atMs: T0 }, counter: 8000, at: T0 + 10 * S, want: 7000 },
      { name: 'an unchanged counter: nothing used', previous: { counterJoules: 1000, atMs: T0 }, counter: 1000, at: T0 + 10 * S, want: 0 },
      {
        name: 'a lower reading is a reset (the agent restarted): the new reading',
        previous: { counterJoules: 90_000, atMs: T0 },
        counter: 3000,
        at: T0 + 10 * S,
        want: 3000,
      },
      { name: 'a reading no later than the previous one says nothing', previous: { counterJoules: 1000, atMs: T0 }, counter: 2000, at: T0 },
      {
        name: 'after a gap longer than the limit: a new baseline',
        previous: { counterJoules: 1000, atMs: T0 },
        counter: 2000,
        at: T0 + MAX_READING_GAP_MS + 1,
      },
      { name: 'a gap of exactly the limit still counts', previous: { counterJoules: 1000, atMs: T0 }, counter: 2000, at: T0 + MAX_READING_GAP_MS, want: 1000 },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const got = energyIncrease(c.previous, c.counter, c.at);
        if (c.want === undefined) expect(got).to.equal(undefined);
        else expect(got).to.deep.equal({ joules: c.want, fromMs: c.previous!.atMs, toMs: c.at });
      });
    }
  });

  describe('spreadOverMinutes', () => {
    it('an interval inside one minute goes to that minute', () => {
      expect(spreadOverMinutes({ joules: 7000, fromMs: T0 + 5 * S, toMs: T0 + 15 * S })).to.deep.equal([{ minuteMs: T0, joules: 7000, seconds: 10 }]);
    });
    it('an interval across minutes is shared by time', () => {
      expect(spreadOverMinutes({ joules: 9000, fromMs: T0 + 50 * S, toMs: T0 + 140 * S })).to.deep.equal([
        { minuteMs: T0, joules: 1000, seconds: 10 },
        { minuteMs: T0 + 60 * S, joules: 6000, seconds: 60 },
        { minuteMs: T0 + 120 * S, joules: 2000, seconds: 20 },
      ]);
    });
    it('an empty interval gives nothing', () => {
      expect(spreadOverMinutes({ joules: 10, fromMs: T0, toMs: T0 })).to.deep.equal([]);
    });
  });

  const placement = (over: Partial<PlacementEnergy>): PlacementEnergy => ({
    placementId: 'pl1',
    clusterId: 'c1',
    clusterName: 'nansha-1',
    vendor: 'nvidia',
    model: 'qwen',
    profile: 'NVIDIA-H100-80GB',
    tdpWatts: 700,
    stdTokensPerSec: 3000,
    joules: 0,
    measuredSeconds: 0,
    stdTokens: '0',
    powerWatts: null,
    ...over,
  });

  describe('energyFigures', () => {
    const list = [
      placement({ placementId: 'p1', joules: 1000, measuredSeconds: 60, stdTokens: '2500.5', powerWatts: 600 }),
      placement({ placementId: 'p2', joules: 3000, measuredSeconds: 60, stdTokens: '1500.25' }),
      placement({
        placementId: 'p3',
        clusterId: 'c2',
        clusterName: 'huangpu',
        vendor: 'huawei',
        profile: 'Ascend-910B',
        tdpWatts: 400,
        stdTokensPerSec: 1200,
        joules: 2000,
        measuredSeconds: 120,
        stdTokens: '1000',
      }),
    ];
    it('per cluster: measured tokens per joule beside the TDP estimate weighted by energy; shared fields named, others null', () => {
      const [c1, c2] = energyFigures(list, 'cluster');
      expect(c1).to.deep.equal({
        placementId: null,
        clusterId: 'c1',
        clusterName: 'nansha-1',
        vendor: 'nvidia',
        model: 'qwen',
        profile: 'NVIDIA-H100-80GB',
        placements: 2,
        joules: 4000,
        measuredSeconds: 120,
        stdTokens: '4000.75',
        stdTokensPerJoule: 4000.75 / 4000,
        tdpStdTokensPerJoule: 3000 / 700,
        powerWatts: 600,
      });
      expect(c2!.stdTokensPerJoule).to.equal(0.5);
      expect(c2!.tdpStdTokensPerJoule).to.equal(3);
      expect(c2!.powerWatts).to.equal(null);
    });
    it('per model across vendors: the TDP estimate is weighted by each placement’s energy', () => {
      const [all] = energyFigures(list, 'model');
      expect(all!.vendor).to.equal(null);
      expect(all!.clusterId).to.equal(null);
      expect(all!.stdTokensPerJoule).to.equal(5000.75 / 6000);
      expect(all!.tdpStdTokensPerJoule).to.be.closeTo((4000 * (3000 / 700) + 2000 * 3) / 6000, 1e-12);
    });
    it('a group with no joules has no figure', () => {
      expect(energyFigures([placement({ stdTokens: '10' })], 'placement')[0]!.stdTokensPerJoule).to.equal(null);
    });
  });

  it('sumDecimals sums exactly', () => {
    expect(sumDecimals(['0.1', '0.2', '12.000000000001'])).to.equal('12.300000000001');
    expect(sumDecimals([])).to.equal('0');
  });

  describe('measuredJoulesPerStd: what the energy scorer may use', () => {
    it('only (cluster, profile) pairs with enough measured time and tokens', () => {
      const got = measuredJoulesPerStd(
        [
          placement({ placementId: 'a', joules: 300_000, measuredSeconds: 1800, stdTokens: '1000000' }),
          placement({ placementId: 'b', joules: 300_000, measuredSeconds: 1800, stdTokens: '2000000' }),
          placement({ placementId: 'c', clusterId: 'c2', joules: 300_000, measuredSeconds: 3599, stdTokens: '5000000' }),
          placement({ placementId: 'd', clusterId: 'c3', joules: 300_000, measuredSeconds: 7200, stdTokens: '999999' }),
        ],
        { minSeconds: 3600, minStdTokens: 1_000_000 },
      );
      expect([...got]).to.deep.equal([['c1\u0000NVIDIA-H100-80GB', 600_000 / 3_000_000]]);
    });
  });

  describe('throughputFigures: at load', () => {
    const minute = (over: Partial<LoadMinute>): LoadMinute => ({
      profile: 'NVIDIA-H100-80GB',
      vendor: 'nvidia',
      catalogStdTokensPerSec: 3000,
      clusterId: 'c1',
      readyReplicas: 2,
      devicesPerReplica: 1,
      stdTokens: 0,
      requestSeconds: 0,
      ...over,
    });
    it('counts only minutes with enough requests in flight per replica, per device', () => {
      const minutes = [
        // 2 replicas × 8 in flight = 16 × 60 s of requests: at load; 2 × 60 device-seconds.
        minute({ stdTokens: 240_000, requestSeconds: 960 }),
        minute({ stdTokens: 264_000, requestSeconds: 1200 }),
        // Half busy: not at load, whatever it served.
        minute({ stdTokens: 60_000, requestSeconds: 480 }),
      ];
      const [f] = throughputFigures(minutes, { minConcurrency: 8, minMinutes: 2 });
      expect(f).to.deep.equal({
        profile: 'NVIDIA-H100-80GB',
        vendor: 'nvidia',
        catalogStdTokensPerSec: 3000,
        loadMinutes: 2,
        clusters: 1,
        measuredStdTokensPerSec: 504_000 / 240,
        proposedStdTokensPerSec: 2100,
      });
    });
    it('proposes nothing before enough minutes at load, and measures nothing with none', () => {
      expect(
        throughputFigures([minute({ stdTokens: 240_000, requestSeconds: 960 })], { minConcurrency: 8, minMinutes: 2 })[0]!.proposedStdTokensPerSec,
      ).to.equal(null);
      const [idle] = throughputFigures([minute({ stdTokens: 1000, requestSeconds: 10 })], { minConcurrency: 8, minMinutes: 1 });
      expect(idle!.measuredStdTokensPerSec).to.equal(null);
      expect(idle!.loadMinutes).to.equal(0);
    });
  });
});
