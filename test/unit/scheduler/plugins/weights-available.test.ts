import { expect } from 'chai';

import { weightsAvailable, weightsProblem } from '../../../../scheduler/plugins/weights-available.js';
import { scheduleCycle } from '../../../../scheduler/schedule.js';
import type { ModelSnap, Snapshot, WeightSource, WeightSourcesReport } from '../../../../scheduler/framework/types.js';
import { aCluster, aSnapshot, aWorkload, filterContext, h100, qwen7b } from '../builders.js';

const pvc: WeightSource = { kind: 'pvc', claim: 'qwen-weights' };
const hf: WeightSource = { kind: 'huggingface', id: 'Qwen/Qwen2.5-7B-Instruct', mirror: 'https://hf-mirror.com' };
const s3: WeightSource = { kind: 's3', url: 's3://models/qwen', secret: 'model-store' };

const withSource = (source: WeightSource | null): ModelSnap => ({ ...qwen7b, source });

/** The pool with the model's source, what each cluster reported, and per-cluster overrides. */
function pool(
  source: WeightSource | null,
  reports: Record<string, WeightSourcesReport>,
  overrides: Record<string, WeightSource> = {},
  clusters: [string, number][] = [
    ['c1', 0],
    ['c2', 0],
  ],
): Snapshot {
  const base = aSnapshot()
    .model(withSource(source))
    .cluster(...clusters.map(([id, held]) => aCluster(id).slot('H100', h100, 8, held)))
    .build();
  return {
    ...base,
    weightSources: new Map(Object.entries(reports)),
    clusterSources: new Map([[qwen7b.id, new Map(Object.entries(overrides))]]),
  };
}

const everything: WeightSourcesReport = { kinds: ['pvc', 'hostPath', 'modelscope', 's3', 'huggingface'], claims: ['qwen-weights'] };
const mountsOnly: WeightSourcesReport = { kinds: ['pvc', 'hostPath'], claims: ['other-claim'] };

describe('plugin weights-available', () => {
  const cases: ReadonlyArray<{
    name: string;
    source: WeightSource | null;
    report: WeightSourcesReport | undefined;
    override?: WeightSource;
    code: 'Success' | 'UnschedulableAndUnresolvable';
    message?: RegExp;
  }> = [
    { name: 'the model has no source', source: null, report: mountsOnly, code: 'Success' },
    { name: 'the cluster never reported (old agent, simulated city)', source: s3, report: undefined, code: 'Success' },
    { name: 'the kind is offered', source: hf, report: everything, code: 'Success' },
    {
      name: 'the kind is not offered',
      source: hf,
      report: mountsOnly,
      code: 'UnschedulableAndUnresolvable',
      message: /cannot load weights from Hugging Face.*pvc, hostPath/,
    },
    { name: 'nothing is offered', source: s3, report: { kinds: [], claims: [] }, code: 'UnschedulableAndUnresolvable', message: /offers: none/ },
    { name: 'the PVC is there', source: pvc, report: everything, code: 'Success' },
    {
      name: 'the PVC is missing',
      source: pvc,
      report: mountsOnly,
      code: 'UnschedulableAndUnresolvable',
      message: /"qwen-weights".*not in this cluster's workloads namespace/,
    },
    {
      name: "the cluster's override is loadable though the model's is not",
      source: hf,
      report: mountsOnly,
      override: { kind: 'hostPath', path: '/models/qwen' },
      code: 'Success',
    },
    {
      name: "the cluster's override is not loadable though the model's is",
      source: { kind: 'hostPath', path: '/m' },
      report: mountsOnly,
      override: s3,
      code: 'UnschedulableAndUnresolvable',
      message: /S3/,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.code}`, () => {
      const snapshot = pool(c.source, c.report ? { c1: c.report } : {}, c.override ? { c1: c.override } : {});
      const model = withSource(c.source);
      const status = weightsAvailable.filter(filterContext(snapshot, model), snapshot.clusters[0]!);
      expect(status.code).to.equal(c.code);
      if (c.message) expect(status).to.include({ reason: 'no_compatible_device' }).and.have.property('message').that.matches(c.message);
    });
  }

  it('is a static cluster-level filter among the defaults', async () => {
    expect(weightsAvailable).to.include({ name: 'weights-available', level: 'cluster', static: true, reason: 'no_compatible_device' });
    const { DEFAULT_FILTERS } = await import('../../../../scheduler/framework/registry.js');
    expect(DEFAULT_FILTERS.map((f) => f.name)).to.include('weights-available');
  });

  it('weightsProblem: no report or no source is never a problem', () => {
    expect(weightsProblem(null, { kinds: [], claims: [] })).to.equal(null);
    expect(weightsProblem(pvc, undefined)).to.equal(null);
  });

  describe('in a cycle', () => {
    const clusterOf = (snapshot: Snapshot) => {
      const d = scheduleCycle({ snapshot, pending: [aWorkload('w').tokensPerMin(1000).build()] }).decisions[0]!;
      return d.kind === 'place' ? d.placements.map((p) => p.clusterId) : `${d.reason}: ${d.message}`;
    };
    const uneven: [string, number][] = [
      ['c1', 6],
      ['c2', 0],
    ];

    it('places the model on a cluster that can load it, not on the fuller one best-fit prefers', () => {
      expect(clusterOf(pool(hf, { c1: everything, c2: everything }, {}, uneven))).to.deep.equal(['c1']);
      expect(clusterOf(pool(hf, { c1: mountsOnly, c2: everything }, {}, uneven))).to.deep.equal(['c2']);
    });

    it('leaves it pending with the reason when no cluster can load it', () => {
      expect(clusterOf(pool(pvc, { c1: mountsOnly, c2: mountsOnly }))).to.match(/^no_compatible_device: .*"qwen-weights"/);
    });

    it('a cluster with its own source takes the model the others cannot load', () => {
      expect(clusterOf(pool(pvc, { c1: mountsOnly, c2: mountsOnly }, { c2: { kind: 'pvc', claim: 'other-claim' } }))).to.deep.equal(['c2']);
    });
  });
});
