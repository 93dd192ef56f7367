/**
 * A placement whose replica is larger than any node of its device model, on a cluster that serves
 * LeaderWorkerSets (leaderworkerset.x-k8s.io/v1): each replica becomes one group of `size` pods,
 * each pod asking for the node's share of the replica's devices, so that the group spans `size`
 * nodes. The platform's scheduler places such a replica only on a cluster that reported the
 * capability (scheduler/node-fit.ts gives the same shape: the share is the largest power of two
 * no larger than the largest node, `size = devicesPerReplica ÷ share`).
 *
 * The pods are the Deployment's pod template (deployment.ts) for a replica of `share` devices: the
 * engine's tensor parallelism is the share (within a node). LeaderWorkerSet gives every pod
 * `LWS_LEADER_ADDRESS`, `LWS_GROUP_SIZE` and `LWS_WORKER_INDEX`; the pods also carry
 * `TOKENPOOL_DEVICES_PER_REPLICA` and `TOKENPOOL_NODES_PER_REPLICA`. Starting an engine across
 * nodes (vLLM's pipeline parallelism over Ray, say) is the engine's part: the catalog's argument
 * templates do not do it yet. The placement's Service selects the groups' leaders only. Pure, like
 * deploymentFor.
 */
import type { KubernetesObject, V1OwnerReference, V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import type { DesiredPlacement } from '../platform-client.js';
import { deploymentFor, type ServingConfig } from './deployment.js';
import type { DeviceSelector } from './inventory.js';

export const LWS_GROUP = 'leaderworkerset.x-k8s.io';
export const LWS_VERSION = 'v1';
export const LWS_PLURAL = 'leaderworkersets';

/** How a replica spans nodes: `size` pods of `share` devices. */
export interface Span {
  readonly share: number;
  readonly size: number;
}

/**
 * The span of a replica of `devicesPerReplica` devices on nodes whose largest has `largest`
 * devices of its model; undefined when it fits one node (a Deployment serves it).
 */
export function spanOf(devicesPerReplica: number, largest: number): Span | undefined {
  if (devicesPerReplica <= largest || largest < 1) return undefined;
  let share = 1;
  while (share * 2 <= largest && share * 2 <= devicesPerReplica) share *= 2;
  return { share, size: Math.ceil(devicesPerReplica / share) };
}

export interface LeaderWorkerSet extends KubernetesObject {
  spec: {
    replicas: number;
    startupPolicy: 'LeaderCreated';
    leaderWorkerTemplate: {
      size: number;
      restartPolicy: 'RecreateGroupOnPodRestart';
      workerTemplate: V1PodTemplateSpec;
    };
  };
  status?: { readyReplicas?: number; replicas?: number };
}

/** The LeaderWorkerSet of a placement: named, labelled and selected like its Deployment would be. */
export function leaderWorkerSetFor(
  p: DesiredPlacement,
  span: Span,
  selector: DeviceSelector | undefined,
  namespace: string,
  serving: ServingConfig,
): LeaderWorkerSet {
  const d = deploymentFor({ ...p, devicesPerReplica: span.share }, selector, namespace, serving);
  const template = d.spec!.template;
  const containers = template.spec!.containers.map((c) => ({
    ...c,
    env: [
      ...(c.env ?? []),
      { name: 'TOKENPOOL_DEVICES_PER_REPLICA', value: String(p.devicesPerReplica) },
      { name: 'TOKENPOOL_NODES_PER_REPLICA', value: String(span.size) },
    ],
  }));
  return {
    apiVersion: `${LWS_GROUP}/${LWS_VERSION}`,
    kind: 'LeaderWorkerSet',
    metadata: d.metadata!,
    spec: {
      replicas: p.replicas,
      startupPolicy: 'LeaderCreated',
      leaderWorkerTemplate: {
        size: span.size,
        restartPolicy: 'RecreateGroupOnPodRestart',
        workerTemplate: { metadata: template.metadata!, spec: { ...template.spec!, containers } },
      },
    },
  };
}

/** The label LeaderWorkerSet puts on each pod of a group: "0" on the leader. */
export const LWS_WORKER_INDEX = 'leaderworkerset.sigs.k8s.io/worker-index';

/**
 * The placement's Service narrowed to the groups' leaders: a multi-node engine answers on its
 * leader (the workers serve the leader, not clients).
 */
export function leadersOnly(service: V1Service): V1Service {
  return { ...service, spec: { ...service.spec, selector: { ...service.spec?.selector, [LWS_WORKER_INDEX]: '0' } } };
}

/** An owner reference to the placement's LeaderWorkerSet (its Secret, Service and Ingress go with it). */
export function ownedByLeaderWorkerSet(name: string, uid: string): V1OwnerReference {
  return { apiVersion: `${LWS_GROUP}/${LWS_VERSION}`, kind: 'LeaderWorkerSet', name, uid, controller: true, blockOwnerDeletion: true };
}
