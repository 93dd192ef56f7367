import { expect } from 'chai';

import { workloadStdMicro } from '../../../scheduler/capacity.js';
import type { ClusterFilterPlugin } from '../../../scheduler/framework/plugin.js';
import { DEFAULT_FILTERS } from '../../../scheduler/framework/registry.js';
import { FrameworkRuntime } from '../../../scheduler/framework/runtime.js';
import { SUCCESS, unresolvable, unschedulable } from '../../../scheduler/framework/status.js';
import type { Status } from '../../../scheduler/framework/status.js';
import type { Decision, Snapshot } from '../../../scheduler/framework/types.js';
import { Preemptor } from '../../../scheduler/preemption.js';
import { scheduleCycle } from '../../../scheduler/schedule.js';
import { buildWorkingState } from '../../../scheduler/snapshot.js';
import { aCluster, aPlacement, aProfile, aSnapshot, aWorkload, deepFreeze, h100, mlu590, qwen72b, qwen7b, type ClusterBuilder } from './builders.js';

/**
 * Two clusters of 4 devices, each full with one `low` workload: `low-c1` (newer, so evicted first
 * when both could help) on c1, `low-c2` on c2. A `high` 72b workload needs 4 H100s.
 */
function city(c1: ClusterBuilder, c1Device = 'H100'): Snapshot {
  const low1 = aWorkload('low-c1').priority('low').seq(2).model(qwen7b).tokensPerMin(180_000).build();
  const low2 = aWorkload('low-c2').priority('low').seq(1).model(qwen7b).tokensPerMin(180_000).build();
  return aSnapshot()
    .cluster(c1, aCluster('c2').slot('H100', h100, 4))
    .placement(aPlacement(low1, qwen7b).on('c1', c1Device).replicas(1, 4), aPlacement(low2, qwen7b).on('c2', 'H100').replicas(1, 4))
    .build();
}

const high = aWorkload('high').priority('high').seq(10).model(qwen72b).tokensPerMin(72_000).regions('nansha').build();

function preempted(decisions: readonly Decision[]): readonly string[] {
  const d = decisions.find((x) => x.workloadId === 'high')!;
  if (d.kind !== 'place') throw new Error(`high is pending (${d.reason}: ${d.message})`);
  return d.preempted;
}

describe('preemption skips candidates it cannot help', () => {
  const tiny = aProfile('tiny').memoryGiB(2).build();
  const cases: ReadonlyArray<{ name: string; c1: ClusterBuilder; device?: string; preempted: string[] }> = [
    { name: 'cordoned', c1: aCluster('c1').cordoned().slot('H100', h100, 4), preempted: ['low-c2'] },
    { name: 'not ready', c1: aCluster('c1').notReady().slot('H100', h100, 4), preempted: ['low-c2'] },
    { name: 'a vendor the model does not run on', c1: aCluster('c1').slot('MLU', mlu590, 4), device: 'MLU', preempted: ['low-c2'] },
    { name: 'outside the allowed regions', c1: aCluster('c1').region('tianhe').slot('H100', h100, 4), preempted: ['low-c2'] },
    { name: 'devices too small for a replica', c1: aCluster('c1').slot('tiny', tiny, 4), device: 'tiny', preempted: ['low-c2'] },
    // The control: full is resolvable, so the newer low workload goes first.
    { name: 'merely full (resolvable)', c1: aCluster('c1').slot('H100', h100, 4), preempted: ['low-c1'] },
  ];
  for (const c of cases) {
    it(`c1 ${c.name}: evicts ${c.preempted.join(', ')}`, () => {
      const snapshot = city(c.c1, c.device);
      const { decisions } = scheduleCycle(deepFreeze({ snapshot, pending: [high] }));
      expect(preempted(decisions)).to.deep.equal(c.preempted);
    });
  }

  describe('a dynamic filter decides by its status code', () => {
    /** A dynamic cluster filter that rejects c1 with `status` (the rest pass). */
    const rejectC1 = (status: Status): ClusterFilterPlugin => ({
      name: 'reject-c1',
      reason: 'capacity',
      level: 'cluster',
      static: false,
      filter: (_ctx, cluster) => (cluster.id === 'c1' ? status : SUCCESS),
    });
    function plan(extra: ClusterFilterPlugin[]) {
      const state = buildWorkingState(city(aCluster('c1').slot('H100', h100, 4)));
      const runtime = new FrameworkRuntime({ filters: [...DEFAULT_FILTERS, ...extra], scorers: [] }, state);
      const shape = runtime.shapeFor(qwen72b, high.regions);
      return new Preemptor(runtime, state).plan(shape, high, workloadStdMicro(high.tokensPerMin, qwen72b.costFactor));
    }

    it('UnschedulableAndUnresolvable on c1: nothing there is evicted, c2 is used', () => {
      const p = plan([rejectC1(unresolvable('capacity', 'draining'))]);
      expect(p?.victims).to.deep.equal(['low-c2']);
      expect(p?.picks.map((x) => x.slot)).to.deep.equal([1]);
    });

    it('Error on c1: skipped the same way', () => {
      expect(plan([rejectC1({ code: 'Error', reason: 'capacity', message: 'cannot judge' })])?.victims).to.deep.equal(['low-c2']);
    });

    it('no rejection: the newest low workload, on c1, goes first', () => {
      expect(plan([])?.victims).to.deep.equal(['low-c1']);
    });

    it('c1 unresolvable and c2 still rejected once freed: no plan, rather than a useless eviction', () => {
      const everywhere: ClusterFilterPlugin = {
        name: 'reject-all',
        reason: 'capacity',
        level: 'cluster',
        static: false,
        filter: (_ctx, cluster) => (cluster.id === 'c1' ? unresolvable('capacity', 'draining') : unschedulable('capacity', 'busy')),
      };
      expect(plan([everywhere])).to.equal(null);
    });
  });
});
