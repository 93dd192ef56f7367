/**
 * Rescaling a placed workload down (API.md v2 "Scheduling rules"): it keeps the fewest replicas
 * that still carry the new size, and releases the rest, so that what it holds against quota
 * shrinks with it. Pure: placements in, replica counts out.
 */

/** One active placement of the workload being rescaled. */
export interface HeldPlacement {
  readonly id: string;
  readonly clusterId: string;
  readonly replicas: number;
  /** Model tokens per minute the placement carries: all of its replicas. */
  readonly tokensPerMin: number;
}

/** What a placement keeps: `replicas` of it (0: released), carrying `tokensPerMin`. */
export interface KeptPlacement {
  readonly replicas: number;
  readonly tokensPerMin: number;
}

/**
 * The replicas each placement keeps when the workload is rescaled to `tokensPerMin`, by placement
 * id (every placement is listed; `replicas: 0` releases it), or null when the placements cannot
 * carry the new size (the workload is placed again, whole).
 *
 * Promises: the kept placements' `tokensPerMin` sum to at least the new size; no placement keeps
 * more replicas than it has; the kept replicas are as few as possible (the largest replicas are
 * kept first, so no smaller set carries the size); an `ha` workload spread over two or more
 * clusters stays spread over at least two. Deterministic: ties go by placement id.
 */
export function shrinkPlacements(placements: readonly HeldPlacement[], tokensPerMin: number, ha: boolean): ReadonlyMap<string, KeptPlacement> | null {
  const perReplica = (p: HeldPlacement) => p.tokensPerMin / p.replicas;
  const carried = (p: HeldPlacement, k: number) => (k === p.replicas ? p.tokensPerMin : (p.tokensPerMin * k) / p.replicas);
  const usable = placements.filter((p) => p.replicas > 0);
  let total = 0;
  for (const p of usable) total += p.tokensPerMin;
  if (total < tokensPerMin) return null;

  const order = [...usable].sort((a, b) => perReplica(b) - perReplica(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const kept = new Map<string, number>(usable.map((p) => [p.id, 0]));
  const sum = () => {
    let s = 0;
    for (const p of order) s += carried(p, kept.get(p.id)!);
    return s;
  };
  // 1. The largest replicas first, one at a time, until the new size is carried.
  for (const p of order) {
    while (kept.get(p.id)! < p.replicas && sum() < tokensPerMin) kept.set(p.id, kept.get(p.id)! + 1);
  }
  // 2. ha: a workload spread over clusters stays spread; take the largest replica elsewhere.
  const clusters = () => new Set(order.filter((p) => kept.get(p.id)! > 0).map((p) => p.clusterId));
  if (ha && new Set(usable.map((p) => p.clusterId)).size >= 2 && clusters().size < 2) {
    const only = [...clusters()][0];
    const other = order.find((p) => p.clusterId !== only);
    if (other) kept.set(other.id, 1);
    // 3. Whatever the added replica made unnecessary goes, smallest first, keeping the spread.
    for (const p of [...order].reverse()) {
      while (kept.get(p.id)! > 0) {
        kept.set(p.id, kept.get(p.id)! - 1);
        if (sum() >= tokensPerMin && clusters().size >= 2) continue;
        kept.set(p.id, kept.get(p.id)! + 1);
        break;
      }
    }
  }
  const out = new Map<string, KeptPlacement>();
  for (const p of placements) {
    const k = kept.get(p.id) ?? 0;
    out.set(p.id, { replicas: k, tokensPerMin: k === 0 ? 0 : carried(p, k) });
  }
  return out;
}
