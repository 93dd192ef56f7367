import type { ClusterFilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unresolvable, type Status } from '../framework/status.js';
import type { Snapshot, WeightSource, WeightSourcesReport } from '../framework/types.js';

const KIND_WORDS: Readonly<Record<WeightSource['kind'], string>> = {
  pvc: 'a PersistentVolumeClaim',
  hostPath: 'a host path',
  modelscope: 'ModelScope',
  s3: 'S3',
  huggingface: 'Hugging Face',
};

/** The source a model's placement on a cluster loads from: the cluster's own, else the model's; null: none set. */
export function effectiveSource(snapshot: Snapshot, modelId: string, model: { readonly source?: WeightSource | null }, clusterId: string): WeightSource | null {
  return snapshot.clusterSources?.get(modelId)?.get(clusterId) ?? model.source ?? null;
}

/**
 * Why a cluster whose agent reported `report` cannot load `source`, or null when it can. A cluster
 * that never reported (`report` undefined: an agent from before weights, or the simulated city)
 * is taken to load anything, so that those keep scheduling as they did.
 */
export function weightsProblem(source: WeightSource | null, report: WeightSourcesReport | undefined): string | null {
  if (!source || !report) return null;
  if (!report.kinds.includes(source.kind))
    return `this cluster cannot load weights from ${KIND_WORDS[source.kind]} (its agent offers: ${report.kinds.join(', ') || 'none'})`;
  if (source.kind === 'pvc' && !report.claims.includes(source.claim)) {
    return `the PersistentVolumeClaim "${source.claim}" holding the weights is not in this cluster's workloads namespace`;
  }
  return null;
}

/**
 * Keeps a model off the clusters that cannot load its weights: the source in effect there (the
 * cluster's override, else the model's) is of a kind the cluster's agent does not offer, or a
 * PVC that is not in its workloads namespace. Its pods would only wait for weights that never
 * come and hold the devices until the health deadline. Unresolvable: evicting workloads does not
 * bring the weights; the operator sets a per-cluster source or creates the claim. Reason
 * `no_compatible_device`: like a vendor mismatch, the cluster cannot serve the model as it is
 * set up, whatever frees up there.
 */
export const weightsAvailable: ClusterFilterPlugin = {
  name: 'weights-available',
  reason: 'no_compatible_device',
  level: 'cluster',
  static: true,
  filter: (ctx, cluster): Status => {
    const snapshot = ctx.state.snapshot;
    const report = snapshot.weightSources?.get(cluster.id);
    if (!report) return SUCCESS;
    const problem = weightsProblem(effectiveSource(snapshot, ctx.model.id, ctx.model, cluster.id), report);
    return problem ? unresolvable('no_compatible_device', problem) : SUCCESS;
  },
};
