/** Fake accelerator nodes for the Kubernetes tests: a Node whose status says Ready, as a kubelet would. */
import type { CoreV1Api } from '@kubernetes/client-node';

/** Creates a Ready node labelled with `product` (NVIDIA's model label) and 8 `nvidia.com/gpu` allocatable. */
export async function readyGpuNode(core: CoreV1Api, name: string, product: string): Promise<void> {
  await core.createNode({
    body: { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, 'nvidia.com/gpu.product': product } } },
  });
  const created = await core.readNode({ name });
  const capacity = { cpu: '64', memory: '512Gi', pods: '110', 'nvidia.com/gpu': '8' };
  const now = new Date();
  await core.replaceNodeStatus({
    name,
    body: {
      ...created,
      status: {
        capacity,
        allocatable: capacity,
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now }],
      },
    },
  });
}
