/**
 * Node-level fit: a replica of `n` devices runs in one pod, so it needs one node with `n` free
 * devices of its model; the free devices of a slot spread over many nodes carry fewer replicas
 * than their sum suggests. Pure: the working state's per-node counts in, replica counts out.
 *
 * A slot's nodes are kept as a histogram (`hist[v]` = nodes with `v` free devices), so counting
 * and taking replicas cost O(largest node), not O(nodes).
 *
 * Multi-node replicas. On a cluster that serves LeaderWorkerSets, a replica larger than its
 * largest node spans several: it runs as `pods` pods of `pod` devices each, `pod` the largest
 * power of two no larger than the largest node (so `pod` divides `n`, a power of two too), and
 * `pods = n ÷ pod` (the LeaderWorkerSet's `size`). Only a replica that fits no single node spans
 * nodes; one that fits a node but finds the nodes too fragmented waits for capacity.
 */
import type { NodeFit } from './framework/types.js';

/** How one replica runs on a slot's nodes: `pods` pods of `pod` devices each. */
export interface ReplicaPods {
  readonly pod: number;
  readonly pods: number;
}

/**
 * The pods one replica of `n` devices takes on nodes whose largest has `largest` devices:
 * one pod of `n` when it fits a node; else, with `leaderWorkerSet`, `n ÷ pod` pods of the
 * largest power of two `pod ≤ largest`; else null (it fits no node).
 */
export function replicaPods(n: number, largest: number, leaderWorkerSet: boolean): ReplicaPods | null {
  const pod = podShare(n, largest, leaderWorkerSet);
  return pod < 1 ? null : { pod, pods: Math.ceil(n / pod) };
}

/**
 * The devices one pod of a replica of `n` devices asks for: `n` when it fits the largest node,
 * else (with `leaderWorkerSet`) the share of {@link replicaPods}, else 0 (it fits no node). The
 * same as `replicaPods(…)?.pod ?? 0` without allocating, for the scheduler's hot loop.
 */
export function podShare(n: number, largest: number, leaderWorkerSet: boolean): number {
  if (n <= largest) return n;
  if (!leaderWorkerSet || largest < 1) return 0;
  let pod = 1;
  while (pod * 2 <= largest && pod * 2 <= n) pod *= 2;
  return pod;
}

/**
 * Pods of each power-of-two size the nodes of `hist` can take now: `out[k]` = {@link nodePods}
 * of `2^k` devices. Replicas and pods are powers of two (API.md "Formulas"), so this answers every
 * question a cycle asks of a slot in O(1) until the slot's nodes change.
 */
export function podsByPowerOfTwo(hist: Int32Array, out?: Int32Array): Int32Array {
  const largest = hist.length - 1;
  const sizes = largest < 1 ? 1 : 32 - Math.clz32(largest);
  const pods = out && out.length === sizes ? out : new Int32Array(sizes);
  for (let k = 0; k < sizes; k++) pods[k] = nodePods(hist, 1 << k);
  return pods;
}

/**
 * Replicas of `n` devices, in pods of `pod` devices ({@link podShare}, a power of two), that
 * nodes with `pods` ({@link podsByPowerOfTwo}) can take now.
 */
export function replicasOnNodes(pods: Int32Array, n: number, pod: number): number {
  if (pod < 1) return 0;
  const k = 31 - Math.clz32(pod);
  const count = k < pods.length ? pods[k]! : 0;
  return pod >= n ? count : Math.floor(count / Math.ceil(n / pod));
}

/** The histogram of a slot's free devices per node: index = free devices, value = nodes. */
export function nodeHistogram(fit: NodeFit): Int32Array {
  const size = Math.max(0, Math.floor(fit.largest));
  const hist = new Int32Array(size + 1);
  for (const f of fit.free) {
    const v = f > size ? size : f > 0 ? Math.floor(f) : 0;
    hist[v] = hist[v]! + 1;
  }
  return hist;
}

/** Pods of `pod` devices the nodes of `hist` can take now (a node takes ⌊free ÷ pod⌋). */
export function nodePods(hist: Int32Array, pod: number): number {
  if (pod < 1) return 0;
  let pods = 0;
  for (let v = pod; v < hist.length; v++) {
    const nodes = hist[v]!;
    if (nodes > 0) pods += nodes * Math.floor(v / pod);
  }
  return pods;
}

/** Replicas of the given shape the nodes of `hist` can take now. */
export function nodeReplicas(hist: Int32Array, shape: ReplicaPods): number {
  const pods = nodePods(hist, shape.pod);
  return shape.pods === 1 ? pods : Math.floor(pods / shape.pods);
}

/** Whether some node of `hist` has `pod` devices free. */
export function someNodeHas(hist: Int32Array, pod: number): boolean {
  for (let v = hist.length - 1; v >= pod && v >= 1; v--) if (hist[v]! > 0) return true;
  return false;
}

/** The most devices free on one node of `hist` (0 when none). */
export function mostFree(hist: Int32Array): number {
  for (let v = hist.length - 1; v > 0; v--) if (hist[v]! > 0) return v;
  return 0;
}

/**
 * Takes `replicas` replicas of the given shape from the nodes of `hist`, each pod on the node
 * with the fewest free devices that still holds it (best fit: large free blocks stay whole for
 * large replicas). The caller has checked they fit ({@link nodeReplicas}); pods that find no node
 * are not taken.
 */
export function takeNodeReplicas(hist: Int32Array, shape: ReplicaPods, replicas: number): void {
  const { pod } = shape;
  let left = replicas * shape.pods;
  let v = pod;
  while (left > 0 && v < hist.length) {
    if (hist[v] === 0) {
      v++;
      continue;
    }
    hist[v] = hist[v]! - 1;
    hist[v - pod] = hist[v - pod]! + 1;
    left--;
    // The node now has v − pod free: it may take another pod, and is the best fit if it can.
    if (v - pod >= pod) v -= pod;
  }
}
