import { expect } from 'chai';

import type { Decision, Snapshot, WorkloadSnap } from '../../../scheduler/framework/types.js';
import { mostFree, nodeHistogram, nodePods, nodeReplicas, replicaPods, someNodeHas, takeNodeReplicas } from '../../../scheduler/node-fit.js';
import { scheduleCycle } from '../../../scheduler/schedule.js';
import { aCluster, aModel, aSnapshot, aWorkload, deepFreeze, h100, qwen72b } from './builders.js';

/** 640 GiB: 8 × H100 per replica at 80 GiB; 16 with a larger model. */
const big = aModel('big-16').minMemoryGiB(1100).costFactor(10).build();

function run(snapshot: Snapshot, pending: WorkloadSnap[]): readonly Decision[] {
  return scheduleCycle(deepFreeze({ snapshot, pending })).decisions;
}

describe('node fit: replica shapes on nodes', () => {
  const shapes: ReadonlyArray<{ n: number; largest: number; lws: boolean; want: { pod: number; pods: number } | null }> = [
    { n: 4, largest: 8, lws: false, want: { pod: 4, pods: 1 } },
    { n: 8, largest: 8, lws: false, want: { pod: 8, pods: 1 } },
    { n: 16, largest: 8, lws: false, want: null },
    { n: 16, largest: 8, lws: true, want: { pod: 8, pods: 2 } },
    { n: 16, largest: 6, lws: true, want: { pod: 4, pods: 4 } },
    { n: 64, largest: 8, lws: true, want: { pod: 8, pods: 8 } },
    { n: 2, largest: 0, lws: true, want: null },
  ];
  for (const s of shapes) {
    it(`${s.n} devices on nodes of up to ${s.largest}${s.lws ? ' with LeaderWorkerSet' : ''}: ${s.want ? `${s.want.pods} × ${s.want.pod}` : 'none'}`, () => {
      expect(replicaPods(s.n, s.largest, s.lws)).to.deep.equal(s.want);
    });
  }

  it('counts pods per node, not per slot: 4 nodes with 2 free carry no 4-device replica', () => {
    const hist = nodeHistogram({ free: [2, 2, 2, 2], largest: 8 });
    expect(nodePods(hist, 4)).to.equal(0);
    expect(nodePods(hist, 2)).to.equal(4);
    expect(someNodeHas(hist, 4)).to.equal(false);
    expect(mostFree(hist)).to.equal(2);
  });

  it('a node takes ⌊free ÷ pod⌋ pods; a replica of several pods needs them all', () => {
    const hist = nodeHistogram({ free: [8, 7, 3, 0], largest: 8 });
    expect(nodePods(hist, 4)).to.equal(3);
    expect(nodeReplicas(hist, { pod: 4, pods: 2 })).to.equal(1);
    expect(nodeReplicas(hist, { pod: 1, pods: 1 })).to.equal(18);
  });

  it('takes the best-fitting node first, so large free blocks stay whole', () => {
    const hist = nodeHistogram({ free: [8, 2, 4], largest: 8 });
    takeNodeReplicas(hist, { pod: 2, pods: 1 }, 1);
    // The node with 2 free took it: the 8 and the 4 are whole.
    expect(someNodeHas(hist, 8)).to.equal(true);
    expect(nodePods(hist, 4)).to.equal(3);
    takeNodeReplicas(hist, { pod: 2, pods: 1 }, 3);
    // Then the 4 (twice), then the 8: 6 left there.
    expect(mostFree(hist)).to.equal(6);
    expect(nodePods(hist, 2)).to.equal(3);
  });
});

describe('node fit in a cycle', () => {
  it('a cluster whose free devices are spread too thin takes no replica that needs a whole node (capacity, with the reason)', () => {
    // qwen72b needs 4 × H100 per replica; 8 free devices, but 2 on each of 4 nodes.
    const snapshot = aSnapshot()
      .cluster(aCluster('c1').slot('H100', h100, 8).nodes([2, 2, 2, 2], 8))
      .build();
    const d = run(snapshot, [aWorkload('w').model(qwen72b).tokensPerMin(72_000).build()])[0]!;
    expect(d.kind).to.equal('pending');
    if (d.kind !== 'pending') return;
    expect(d.reason).to.equal('capacity');
    expect(d.message).to.contain('node-fit: no node has 4 free devices');
  });

  it('goes where a node has room, and successive replicas use up the nodes within the cycle', () => {
    const snapshot = aSnapshot()
      .cluster(aCluster('frag').slot('H100', h100, 16).nodes([2, 2, 2, 2, 2, 2, 2, 2], 8))
      .cluster(aCluster('whole').slot('H100', h100, 12).nodes([4, 8], 8))
      .build();
    // Three replicas of 4 devices: the 'whole' cluster's nodes carry exactly 3; a fourth fits nowhere.
    const ws = ['a', 'b', 'c', 'd'].map((id, i) =>
      aWorkload(id)
        .seq(i + 1)
        .model(qwen72b)
        .tokensPerMin(72_000)
        .build(),
    );
    const ds = run(snapshot, ws);
    const placed = ds.filter((d) => d.kind === 'place');
    expect(placed.map((d) => d.workloadId)).to.deep.equal(['a', 'b', 'c']);
    for (const d of placed) if (d.kind === 'place') expect(d.placements.map((p) => p.clusterId)).to.deep.equal(['whole']);
    const last = ds.find((d) => d.workloadId === 'd')!;
    expect(last.kind).to.equal('pending');
  });

  it('a multi-replica request bin-packs its replicas onto nodes', () => {
    // 2 replicas of 4 fit on nodes [4, 4, 2, 2] (12 free devices carry 3 by count, only 2 by node).
    const snapshot = aSnapshot()
      .cluster(aCluster('c1').slot('H100', h100, 12).nodes([4, 4, 2, 2], 8))
      .build();
    const two = run(snapshot, [aWorkload('w').model(qwen72b).tokensPerMin(144_000).build()])[0]!;
    expect(two.kind).to.equal('place');
    if (two.kind === 'place') expect(two.placements[0]!.replicas).to.equal(2);
    const three = run(snapshot, [aWorkload('w').model(qwen72b).tokensPerMin(216_000).build()])[0]!;
    expect(three.kind).to.equal('pending');
  });

  it('a replica larger than any node is refused as no_compatible_device, saying by how much', () => {
    const snapshot = aSnapshot()
      .model(big)
      .cluster(aCluster('c1').slot('H100', h100, 64).nodes([8, 8, 8, 8, 8, 8, 8, 8], 8))
      .build();
    const d = run(snapshot, [aWorkload('w').model(big).tokensPerMin(1000).build()])[0]!;
    expect(d).to.include({ kind: 'pending', reason: 'no_compatible_device' });
    if (d.kind === 'pending') expect(d.message).to.contain('needs 16 devices per replica; the largest node has 8');
  });

  it('with LeaderWorkerSet the same replica spans nodes, and uses them up', () => {
    const snapshot = aSnapshot()
      .model(big)
      .cluster(aCluster('c1').slot('H100', h100, 24).nodes([8, 8, 6], 8).leaderWorkerSet())
      .build();
    const ws = [aWorkload('a').seq(1).model(big).tokensPerMin(1000).build(), aWorkload('b').seq(2).model(big).tokensPerMin(1000).build()];
    const ds = run(snapshot, ws);
    const a = ds.find((d) => d.workloadId === 'a')!;
    expect(a.kind).to.equal('place');
    if (a.kind === 'place') expect(a.placements[0]).to.include({ replicas: 1, devicesPerReplica: 16 });
    // Only the 6-free node is left: no second replica of 2 × 8.
    expect(ds.find((d) => d.workloadId === 'b')!.kind).to.equal('pending');
  });

  it('clusters that reported no nodes keep the cluster-level behaviour', () => {
    const snapshot = aSnapshot()
      .cluster(aCluster('c1').slot('H100', h100, 8))
      .build();
    const d = run(snapshot, [aWorkload('w').model(qwen72b).tokensPerMin(144_000).build()])[0]!;
    expect(d.kind).to.equal('place');
    const huge = run(
      aSnapshot()
        .model(big)
        .cluster(aCluster('c1').slot('H100', h100, 16))
        .build(),
      [aWorkload('w').model(big).tokensPerMin(1000).build()],
    )[0]!;
    expect(huge.kind).to.equal('place');
  });
});

describe('node fit: the reason stays with later workloads of the same shape', () => {
  it('every waiting workload says which node rule stopped it, not only the first', () => {
    const snapshot = aSnapshot()
      .cluster(aCluster('c1').slot('H100', h100, 8).nodes([2, 2, 2, 2], 8))
      .build();
    const ws = ['a', 'b', 'c'].map((id, i) =>
      aWorkload(id)
        .seq(i + 1)
        .model(qwen72b)
        .tokensPerMin(72_000)
        .build(),
    );
    for (const d of run(snapshot, ws)) {
      expect(d.kind).to.equal('pending');
      if (d.kind === 'pending') expect(d.message, d.workloadId).to.contain('node-fit: no node has 4 free devices');
    }
  });
});
