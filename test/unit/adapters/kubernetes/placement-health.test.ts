import { expect } from 'chai';
import type { V1ContainerStatus, V1Deployment, V1Pod, V1PodCondition } from '@kubernetes/client-node';

import { MAX_MESSAGE, placementHealth } from '../../../../adapters/kubernetes/placement-health.js';

const T = new Date('2026-12-07T10:00:00Z');

function deployment(replicas: number, ready: number): V1Deployment {
  return { metadata: { name: 'tp-pl-1' }, spec: { replicas, selector: {}, template: {} }, status: { replicas, readyReplicas: ready } };
}

/** A pod as the kubelet and the scheduler leave it: conditions and container statuses. */
function pod(name: string, status: { conditions?: V1PodCondition[]; containers?: V1ContainerStatus[]; init?: V1ContainerStatus[]; phase?: string }): V1Pod {
  return {
    metadata: { name, labels: { 'tokenpool.io/placement-id': 'pl-1' } },
    spec: { containers: [{ name: 'serving' }] },
    status: {
      phase: status.phase ?? 'Pending',
      conditions: status.conditions ?? [scheduled],
      containerStatuses: status.containers,
      initContainerStatuses: status.init,
    },
  };
}

const scheduled: V1PodCondition = { type: 'PodScheduled', status: 'True', lastTransitionTime: T };
const unschedulable = (message: string): V1PodCondition => ({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: T });

function container(state: V1ContainerStatus['state'], lastState: V1ContainerStatus['lastState'] = {}, ready = false, name = 'serving'): V1ContainerStatus {
  return { name, ready, restartCount: lastState.terminated ? 3 : 0, image: 'vllm/vllm-openai:v0.11.0', imageID: '', state, lastState };
}

const waiting = (reason: string, message?: string) => ({ waiting: { reason, ...(message ? { message } : {}) } });

describe('placement health from pods', () => {
  const cases: ReadonlyArray<{
    name: string;
    d: V1Deployment;
    pods: V1Pod[];
    phase: string;
    reason?: string;
    message?: RegExp;
  }> = [
    { name: 'no pod yet', d: deployment(2, 0), pods: [], phase: 'pending' },
    {
      name: 'not scheduled yet, no verdict from the scheduler',
      d: deployment(1, 0),
      pods: [pod('a', { conditions: [] })],
      phase: 'pending',
    },
    {
      name: 'scheduled, container creating',
      d: deployment(1, 0),
      pods: [pod('a', { containers: [container(waiting('ContainerCreating'))] })],
      phase: 'starting',
    },
    {
      name: 'running, not ready yet (loading weights)',
      d: deployment(1, 0),
      pods: [pod('a', { phase: 'Running', containers: [container({ running: { startedAt: T } })] })],
      phase: 'starting',
    },
    {
      name: 'all replicas ready',
      d: deployment(2, 2),
      pods: [pod('a', { phase: 'Running', containers: [container({ running: { startedAt: T } }, {}, true)] })],
      phase: 'running',
    },
    {
      name: 'ready as wanted while a new revision pulls in vain',
      d: deployment(1, 1),
      pods: [pod('b', { containers: [container(waiting('ImagePullBackOff', 'Back-off pulling image "vllm/vllm-openai:nope"'))] })],
      phase: 'running',
    },
    {
      name: 'ImagePullBackOff',
      d: deployment(1, 0),
      pods: [pod('a', { containers: [container(waiting('ImagePullBackOff', 'Back-off pulling image "registry.example/vllm:v1"'))] })],
      phase: 'failing',
      reason: 'ImagePullBackOff',
      message: /^pod a, container serving: ImagePullBackOff: Back-off pulling image "registry.example\/vllm:v1"$/,
    },
    {
      name: 'ErrImagePull',
      d: deployment(1, 0),
      pods: [pod('a', { containers: [container(waiting('ErrImagePull', 'rpc error: code = NotFound'))] })],
      phase: 'failing',
      reason: 'ErrImagePull',
      message: /NotFound/,
    },
    {
      name: 'CrashLoopBackOff after an error exit',
      d: deployment(1, 0),
      pods: [
        pod('a', {
          phase: 'Running',
          containers: [
            container(waiting('CrashLoopBackOff', 'back-off 40s restarting failed container=serving'), {
              terminated: { exitCode: 1, reason: 'Error', finishedAt: T },
            }),
          ],
        }),
      ],
      phase: 'failing',
      reason: 'CrashLoopBackOff',
      message: /back-off 40s .*last exit code 1, Error/,
    },
    {
      name: 'CrashLoopBackOff after OOMKilled',
      d: deployment(1, 0),
      pods: [
        pod('a', {
          phase: 'Running',
          containers: [container(waiting('CrashLoopBackOff', 'back-off 10s'), { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: T } })],
        }),
      ],
      phase: 'failing',
      reason: 'OOMKilled',
      message: /OOMKilled, exit code 137/,
    },
    {
      name: 'terminated OOMKilled, not yet restarted',
      d: deployment(1, 0),
      pods: [pod('a', { phase: 'Running', containers: [container({ terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: T } })] })],
      phase: 'failing',
      reason: 'OOMKilled',
    },
    {
      name: 'Unschedulable',
      d: deployment(1, 0),
      pods: [pod('a', { conditions: [unschedulable('0/4 nodes are available: 4 Insufficient nvidia.com/gpu.')] })],
      phase: 'failing',
      reason: 'Unschedulable',
      message: /^pod a: 0\/4 nodes are available: 4 Insufficient nvidia.com\/gpu.$/,
    },
    {
      name: 'Unschedulable for a missing weights claim',
      d: deployment(1, 0),
      pods: [pod('a', { conditions: [unschedulable('0/4 nodes are available: persistentvolumeclaim "qwen-weights" not found.')] })],
      phase: 'failing',
      reason: 'WeightsUnavailable',
    },
    {
      name: 'an init container that fetches weights crash-loops',
      d: deployment(1, 0),
      pods: [
        pod('a', {
          init: [container(waiting('CrashLoopBackOff', 'back-off 20s'), { terminated: { exitCode: 1, reason: 'Error', finishedAt: T } }, false, 'weights')],
          containers: [container(waiting('PodInitializing'))],
        }),
      ],
      phase: 'failing',
      reason: 'WeightsUnavailable',
      message: /init container weights/,
    },
    {
      name: 'a Secret the container needs is missing',
      d: deployment(1, 0),
      pods: [pod('a', { containers: [container(waiting('CreateContainerConfigError', 'secret "tp-pl-1" not found'))] })],
      phase: 'failing',
      reason: 'Other',
    },
    {
      name: 'one of two pods fails, the other is ready: the worse counts, OOMKilled before Unschedulable',
      d: deployment(3, 1),
      pods: [
        pod('c', { conditions: [unschedulable('0/4 nodes are available')] }),
        pod('b', { phase: 'Running', containers: [container({ terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: T } })] }),
        pod('a', { phase: 'Running', containers: [container({ running: { startedAt: T } }, {}, true)] }),
      ],
      phase: 'failing',
      reason: 'OOMKilled',
      message: /^pod b/,
    },
    {
      name: 'a pod being deleted or evicted does not count',
      d: deployment(1, 0),
      pods: [
        { ...pod('old', { containers: [container(waiting('ImagePullBackOff'))] }), metadata: { name: 'old', deletionTimestamp: T } },
        pod('evicted', { phase: 'Failed', containers: [container(waiting('ImagePullBackOff'))] }),
        pod('new', { containers: [container(waiting('ContainerCreating'))] }),
      ],
      phase: 'starting',
    },
  ];

  for (const c of cases) {
    it(`${c.name}: ${c.phase}${c.reason ? ` (${c.reason})` : ''}`, () => {
      const h = placementHealth(c.d, c.pods);
      expect(h.phase).to.equal(c.phase);
      expect(h.desiredReplicas).to.equal(c.d.spec!.replicas);
      expect(h.reason).to.equal(c.reason);
      if (c.message) expect(h.message).to.match(c.message);
      if (c.phase !== 'failing') expect(h).not.to.have.property('message');
    });
  }

  it('cuts a long message to what the platform accepts', () => {
    const h = placementHealth(deployment(1, 0), [pod('a', { containers: [container(waiting('ErrImagePull', 'x'.repeat(5000)))] })]);
    expect(h.message).to.have.length(MAX_MESSAGE);
  });

  it('a Deployment without replicas set wants one (the API server default)', () => {
    expect(placementHealth({ metadata: {}, spec: { selector: {}, template: {} } }, [])).to.deep.equal({ phase: 'pending', desiredReplicas: 1 });
  });
});
