/**
 * The order in which one cycle considers pending workloads: priority `high`, then `normal`, then
 * `low`; within a priority, tenants take turns by fair share (the tenant with the lowest share
 * goes next: use over its weighted entitlement, fair-share.ts, so a tenant of weight 2 gets twice
 * the turns of one of weight 1), and each tenant's workloads go first come, first served (by `seq`).
 */
import type { Priority, WorkloadSnap } from './framework/types.js';

const LEVELS: readonly Priority[] = ['high', 'normal', 'low'];

interface Entry {
  readonly tenantId: string;
  readonly list: readonly WorkloadSnap[];
  next: number;
  share: number;
}

/**
 * A queue whose order depends on decisions made while it is drained: shares are read through
 * `shareOf` each time a tenant is put back, so what the cycle places moves a tenant back in line.
 * Each workload id is served once (later duplicates are dropped).
 */
export class FairQueue {
  private readonly levels = new Map<Priority, Entry[]>();
  private level = -1;
  private heap: Entry[] = [];
  private served: Entry | undefined;

  constructor(
    pending: readonly WorkloadSnap[],
    private readonly shareOf: (tenantId: string) => number,
  ) {
    const seen = new Set<string>();
    const byLevel = new Map<Priority, Map<string, WorkloadSnap[]>>();
    for (const w of pending) {
      if (seen.has(w.id)) continue;
      seen.add(w.id);
      const priority: Priority = LEVELS.includes(w.priority) ? w.priority : 'normal';
      let tenants = byLevel.get(priority);
      if (!tenants) byLevel.set(priority, (tenants = new Map<string, WorkloadSnap[]>()));
      const list = tenants.get(w.tenantId);
      if (list) list.push(w);
      else tenants.set(w.tenantId, [w]);
    }
    for (const [priority, tenants] of byLevel) {
      const entries: Entry[] = [];
      for (const [tenantId, list] of tenants) {
        list.sort((a, b) => a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        entries.push({ tenantId, list, next: 0, share: 0 });
      }
      this.levels.set(priority, entries);
    }
  }

  /**
   * The next workload to consider, or undefined when all are served. Decide on it (and update
   * what `shareOf` reads) before asking for the next one.
   */
  next(): WorkloadSnap | undefined {
    const last = this.served;
    this.served = undefined;
    if (last && last.next < last.list.length) {
      last.share = this.shareOf(last.tenantId);
      this.push(last);
    }
    while (this.heap.length === 0) {
      this.level++;
      if (this.level >= LEVELS.length) return undefined;
      this.heap = [...(this.levels.get(LEVELS[this.level]!) ?? [])];
      this.reheap();
    }
    const top = this.pop();
    this.served = top;
    return top.list[top.next++];
  }

  /** Re-reads every waiting tenant's share (after a decision changed other tenants' holdings). */
  refresh(): void {
    this.reheap();
  }

  private reheap(): void {
    for (const e of this.heap) e.share = this.shareOf(e.tenantId);
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.down(0);
    }
    return top;
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/** Lower share first; then the older head workload; then tenant id, so the order is total. */
function before(a: Entry, b: Entry): boolean {
  if (a.share !== b.share) return a.share < b.share;
  const sa = a.list[a.next]!.seq;
  const sb = b.list[b.next]!.seq;
  if (sa !== sb) return sa < sb;
  return a.tenantId < b.tenantId;
}
