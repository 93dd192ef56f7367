/**
 * A cluster's node report (heartbeat `nodes`, issue 14 "Placement health": node-level fit) and
 * what the scheduler keeps of it. Pure.
 */

/** At most this many entries in one report (one per node and device model). */
export const MAX_NODE_ENTRIES = 5_000;

/** The most devices of one model one node may report (a bound on nonsense, far above any server). */
export const MAX_NODE_DEVICES = 4_096;

/** One node's devices of one model, as the agent reports them. */
export interface NodeReport {
  readonly name: string;
  readonly deviceModel: string;
  /** Allocatable devices of this model on the node. */
  readonly total: number;
  /** `total` less the devices requested by the node's pods that have not terminated (0 … total). */
  readonly free: number;
}

/** Per device model: free devices of each node, and the largest node's total. */
export type NodeFitByModel = Record<string, { free: number[]; largest: number }>;

/** What the scheduler reads of a report, by device model (scheduler/node-fit.ts). */
export function nodeFitOf(nodes: readonly NodeReport[]): NodeFitByModel {
  const fit: NodeFitByModel = {};
  for (const n of nodes) {
    const entry = (fit[n.deviceModel] ??= { free: [], largest: 0 });
    entry.free.push(n.free);
    if (n.total > entry.largest) entry.largest = n.total;
  }
  return fit;
}
