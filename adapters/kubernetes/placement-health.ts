/**
 * A placement's health from its Deployment and pods, as the kubelet and the Kubernetes scheduler
 * set them (API.md v2 "Placement health"): the phase and, for a failing placement, the reason and
 * the words Kubernetes gave. Pure: objects in, a report out.
 *
 * - `running`: as many ready replicas as the Deployment wants (pods of an old revision that fail
 *   meanwhile do not matter: the placement serves).
 * - `failing`: a pod cannot run — a container (or init container) waiting in ImagePullBackOff,
 *   ErrImagePull or CrashLoopBackOff, a container whose last run ended OOMKilled, a pod the
 *   scheduler marked Unschedulable (PodScheduled=False), or a container the kubelet cannot create
 *   (Other). A crashing init container, or a claim the scheduler cannot find, is WeightsUnavailable:
 *   the agent's only init containers fetch weights, and its only claims hold them.
 * - `starting`: some pod is scheduled, none fails, not all are ready.
 * - `pending`: no pod is scheduled yet (or none exists yet).
 */
import type { V1ContainerStatus, V1Deployment, V1Pod } from '@kubernetes/client-node';

export type HealthPhase = 'pending' | 'starting' | 'running' | 'failing';
export type HealthReason = 'Unschedulable' | 'ImagePullBackOff' | 'ErrImagePull' | 'CrashLoopBackOff' | 'OOMKilled' | 'WeightsUnavailable' | 'Other';

/** What the agent reports of a placement's health (the optional fields of a placement report). */
export interface PlacementHealthReport {
  readonly phase: HealthPhase;
  /** Set when `failing`. */
  readonly reason?: HealthReason;
  /** Set when `failing`: the pod and what Kubernetes said, at most {@link MAX_MESSAGE} characters. */
  readonly message?: string;
  readonly desiredReplicas: number;
}

/** The longest message the platform accepts. */
export const MAX_MESSAGE = 1024;

/** When several pods fail for different reasons, the one reported is the first here. */
const PRECEDENCE: readonly HealthReason[] = [
  'OOMKilled',
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'WeightsUnavailable',
  'Other',
  'Unschedulable',
];

/** Waiting reasons after which the kubelet will not start the container without a change. */
const CANNOT_CREATE = new Set(['CreateContainerConfigError', 'CreateContainerError', 'InvalidImageName', 'ErrImageNeverPull', 'RunContainerError']);

interface Failure {
  readonly reason: HealthReason;
  readonly message: string;
}

/**
 * The health of the placement a Deployment runs, from the pods of that placement (any others
 * are the caller's mistake). A pod being deleted, or one that has ended (Succeeded, Failed:
 * evicted), is not counted: the Deployment replaces it.
 */
export function placementHealth(deployment: V1Deployment, pods: readonly V1Pod[]): PlacementHealthReport {
  const desiredReplicas = deployment.spec?.replicas ?? 1;
  const ready = deployment.status?.readyReplicas ?? 0;
  if (ready >= desiredReplicas) return { phase: 'running', desiredReplicas };
  const live = pods
    .filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  let worst: Failure | undefined;
  for (const pod of live) {
    const f = podFailure(pod);
    if (f && (!worst || PRECEDENCE.indexOf(f.reason) < PRECEDENCE.indexOf(worst.reason))) worst = f;
  }
  if (worst) return { phase: 'failing', reason: worst.reason, message: clip(worst.message), desiredReplicas };
  const scheduled = live.some((p) => p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'True') || p.spec?.nodeName);
  return { phase: scheduled ? 'starting' : 'pending', desiredReplicas };
}

/** Why one pod cannot run, if it cannot. */
export function podFailure(pod: V1Pod): Failure | undefined {
  const name = pod.metadata?.name ?? '?';
  const found: Failure[] = [];
  for (const s of pod.status?.initContainerStatuses ?? []) {
    const f = containerFailure(s, true);
    if (f) found.push({ reason: f.reason, message: `pod ${name}, init container ${s.name}: ${f.message}` });
  }
  for (const s of pod.status?.containerStatuses ?? []) {
    const f = containerFailure(s, false);
    if (f) found.push({ reason: f.reason, message: `pod ${name}, container ${s.name}: ${f.message}` });
  }
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
  if (unscheduled) {
    const said = unscheduled.message ?? 'no node can take it';
    // A claim that does not exist is the weights' volume: the scheduler waits for it forever.
    const reason: HealthReason = /persistentvolumeclaim "[^"]*" not found/i.test(said) ? 'WeightsUnavailable' : 'Unschedulable';
    found.push({ reason, message: `pod ${name}: ${said}` });
  }
  found.sort((a, b) => PRECEDENCE.indexOf(a.reason) - PRECEDENCE.indexOf(b.reason));
  return found[0];
}

function containerFailure(s: V1ContainerStatus, init: boolean): Failure | undefined {
  const waiting = s.state?.waiting;
  const lastEnd = s.lastState?.terminated;
  const end = s.state?.terminated;
  const said = (reason: string | undefined, message: string | undefined) => (message ? `${reason ?? ''}: ${message}` : (reason ?? 'failed'));
  if (end?.reason === 'OOMKilled' || (waiting?.reason === 'CrashLoopBackOff' && lastEnd?.reason === 'OOMKilled')) {
    return { reason: 'OOMKilled', message: `ran out of memory (OOMKilled, exit code ${(end ?? lastEnd)?.exitCode ?? '?'})` };
  }
  if (waiting?.reason === 'ImagePullBackOff' || waiting?.reason === 'ErrImagePull') {
    return { reason: waiting.reason, message: said(waiting.reason, waiting.message) };
  }
  if (waiting?.reason === 'CrashLoopBackOff') {
    const last = lastEnd ? ` (last exit code ${lastEnd.exitCode}${lastEnd.reason ? `, ${lastEnd.reason}` : ''})` : '';
    return { reason: init ? 'WeightsUnavailable' : 'CrashLoopBackOff', message: `${said(waiting.reason, waiting.message)}${last}` };
  }
  if (waiting?.reason && CANNOT_CREATE.has(waiting.reason)) return { reason: 'Other', message: said(waiting.reason, waiting.message) };
  // An init container that ended in error is retried by the kubelet; its failure is the weights'.
  if (init && end && end.exitCode !== 0)
    return { reason: 'WeightsUnavailable', message: `exited with code ${end.exitCode}${end.reason ? ` (${end.reason})` : ''}` };
  return undefined;
}

function clip(s: string): string {
  return s.length <= MAX_MESSAGE ? s : `${s.slice(0, MAX_MESSAGE - 1)}…`;
}
