import { expect } from 'chai';
import { EventBus } from '../../server/events.js';
import { silentLogger } from '../../server/log.js';
import { createMetrics } from '../../server/metrics.js';
import { isMeteringDiscrepancy, meteringRatio } from '../../server/services/usage.service.js';
import type { PoolView } from '../../server/services/cluster-view.js';
import { FakeClock } from '../fake-clock.js';

describe('metering cross-check', () => {
  const tolerance = { fraction: 0.05, minTokens: 1000 };

  it('calls a difference a discrepancy only past both the fraction of the larger sum and the token floor', () => {
    expect(isMeteringDiscrepancy(95_000, 100_000, tolerance), 'exactly 5% of 100,000 is not past it').to.equal(false);
    expect(isMeteringDiscrepancy(100_000, 105_264, tolerance), '5,264 is past 5% of 105,264').to.equal(true);
    expect(isMeteringDiscrepancy(105_264, 100_000, tolerance), 'either way round').to.equal(true);
    expect(isMeteringDiscrepancy(0, 999, tolerance), 'under the floor, however large relatively').to.equal(false);
    expect(isMeteringDiscrepancy(0, 1000, tolerance)).to.equal(true);
    expect(isMeteringDiscrepancy(0, 0, tolerance)).to.equal(false);
    expect(isMeteringDiscrepancy(0, 1, { fraction: 0, minTokens: 0 }), 'no tolerance at all: any difference').to.equal(true);
  });

  it('gives the signed ratio: above 0 when the engines counted more, −1 when they counted nothing', () => {
    expect(meteringRatio(100, 1000)).to.equal(0.9);
    expect(meteringRatio(1000, 0)).to.equal(-1);
    expect(meteringRatio(0, 500)).to.equal(1);
    expect(meteringRatio(0, 0)).to.equal(0);
    expect(meteringRatio(800, 1000)).to.equal(0.2);
  });

  it("shows the last check's discrepancies while fresh, replaces them on the next check, and drops them once stale", async () => {
    const clock = new FakeClock();
    const metrics = createMetrics({ pool: () => Promise.reject<PoolView>(new Error('not read')), clock, events: new EventBus(silentLogger) });
    const gauge = async () =>
      (await metrics.registry.getSingleMetricAsString('tokenpool_metering_discrepancy_ratio')).split('\n').filter((l) => !l.startsWith('#'));
    const checks = async () => (await metrics.registry.getSingleMetricAsString('tokenpool_metering_checks_total')).split('\n').at(-1);
    const pair = { workloadId: 'wl_a', clusterId: 'cl_1', meteredTokens: 100, engineTokens: 1000, ratio: 0.9 };

    expect(await gauge()).to.deep.equal([]);
    metrics.metering.checked(clock.now(), [pair, { ...pair, workloadId: 'wl_b', meteredTokens: 1000, engineTokens: 0, ratio: -1 }]);
    expect(await gauge()).to.deep.equal([
      'tokenpool_metering_discrepancy_ratio{workload_id="wl_a",cluster_id="cl_1"} 0.9',
      'tokenpool_metering_discrepancy_ratio{workload_id="wl_b",cluster_id="cl_1"} -1',
    ]);
    clock.advance(5 * 60_000);
    metrics.metering.checked(clock.now(), [pair]);
    expect(await gauge(), 'wl_b was found fine').to.deep.equal(['tokenpool_metering_discrepancy_ratio{workload_id="wl_a",cluster_id="cl_1"} 0.9']);
    expect(await checks()).to.equal('tokenpool_metering_checks_total 2');
    // This process stopped checking (it no longer leads): after three missed checks its result is not shown.
    clock.advance(15 * 60_000);
    expect(await gauge()).to.deep.equal(['tokenpool_metering_discrepancy_ratio{workload_id="wl_a",cluster_id="cl_1"} 0.9']);
    clock.advance(1);
    expect(await gauge()).to.deep.equal([]);
  });
});
