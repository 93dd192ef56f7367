import { expect } from 'chai';

import { tenantShare } from '../../../scheduler/fair-share.js';
import type { Decision, TenantSnap, WorkloadSnap } from '../../../scheduler/framework/types.js';
import { FairQueue } from '../../../scheduler/queue.js';
import { scheduleCycle } from '../../../scheduler/schedule.js';
import { aCluster, aSnapshot, aTenant, aWorkload, h100, type TenantBuilder } from './builders.js';

/** `n` workloads of one tenant, submitted in a row from `seq`. */
const workloads = (tenant: string, n: number, seq: number): WorkloadSnap[] =>
  Array.from({ length: n }, (_, i) =>
    aWorkload(`${tenant}-${i}`)
      .tenant(tenant)
      .seq(seq + i)
      .tokensPerMin(180_000)
      .build(),
  );

/**
 * Drains a queue as a cycle would, each served workload adding `stdPerMin` to its tenant's
 * holding, and answers the tenants served, in order.
 */
function drain(tenants: readonly TenantSnap[], pending: readonly WorkloadSnap[], served: number, stdPerMin = 100_000): string[] {
  const byId = new Map(tenants.map((t) => [t.id, t]));
  const held = new Map<string, number>();
  const queue = new FairQueue(pending, (id) => tenantShare(byId.get(id), held.get(id) ?? 0));
  const order: string[] = [];
  for (let w = queue.next(); w !== undefined && order.length < served; w = queue.next()) {
    order.push(w.tenantId);
    held.set(w.tenantId, (held.get(w.tenantId) ?? 0) + stdPerMin * 1_000_000);
  }
  return order;
}

const count = (order: readonly string[], tenant: string) => order.filter((t) => t === tenant).length;

describe('FairQueue: tenant weights', () => {
  const cases: ReadonlyArray<{ name: string; light: TenantBuilder; heavy: TenantBuilder; served: number; heavyGets: number }> = [
    { name: 'equal weights take turns', light: aTenant('light'), heavy: aTenant('heavy'), served: 8, heavyGets: 4 },
    { name: 'weight 2 is served twice as often as weight 1', light: aTenant('light'), heavy: aTenant('heavy').weight(2), served: 9, heavyGets: 6 },
    { name: 'weight 3 against weight 1', light: aTenant('light'), heavy: aTenant('heavy').weight(3), served: 8, heavyGets: 6 },
    {
      name: 'weights count on quotas too',
      light: aTenant('light').quota(1_000_000),
      heavy: aTenant('heavy').quota(1_000_000).weight(2),
      served: 9,
      heavyGets: 6,
    },
    { name: 'a weight below 1 gives way', light: aTenant('light').weight(0.5), heavy: aTenant('heavy'), served: 9, heavyGets: 6 },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.heavyGets} of ${c.served}`, () => {
      // The light tenant submitted first, so it wins every tie.
      const pending = [...workloads('light', 12, 0), ...workloads('heavy', 12, 100)];
      const order = drain([c.light.build(), c.heavy.build()], pending, c.served);
      expect(count(order, 'heavy')).to.equal(c.heavyGets);
      expect(count(order, 'light')).to.equal(c.served - c.heavyGets);
    });
  }

  it('weight 2 against weight 1, turn by turn: ties go to the older head', () => {
    const pending = [...workloads('light', 6, 0), ...workloads('heavy', 6, 100)];
    const order = drain([aTenant('light').build(), aTenant('heavy').weight(2).build()], pending, 9);
    expect(order).to.deep.equal(['light', 'heavy', 'heavy', 'light', 'heavy', 'heavy', 'light', 'heavy', 'heavy']);
  });

  it('in a cycle, an oversubscribed pool is split two to one', () => {
    // Nine H100s; each workload takes one. Twelve workloads per tenant.
    const snapshot = aSnapshot()
      .cluster(aCluster('c1').slot('H100', h100, 9))
      .tenant(aTenant('light'), aTenant('heavy').weight(2))
      .build();
    const pending = [...workloads('light', 12, 0), ...workloads('heavy', 12, 100)];
    const placed = scheduleCycle({ snapshot, pending }).decisions.filter((d: Decision) => d.kind === 'place');
    const tenantOf = new Map(pending.map((w) => [w.id, w.tenantId]));
    const tenants = placed.map((d) => tenantOf.get(d.workloadId)!);
    expect({ heavy: count(tenants, 'heavy'), light: count(tenants, 'light') }).to.deep.equal({ heavy: 6, light: 3 });
  });
});
