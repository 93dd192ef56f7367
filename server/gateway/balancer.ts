/**
 * Choosing the serving replica for one call: the tenant's own workloads first, then shared ones;
 * among those, at random weighted by free throughput divided by (1 + requests outstanding there),
 * skipping endpoints whose circuit breaker is open.
 */
import type { CircuitBreakers } from './breaker.js';

/** One endpoint a call may go to: a ready replica of a running placement of the model asked for. */
export interface Candidate {
  /** The replica's base URL, e.g. "http://10.1.2.3:8000" (no trailing slash); the key of breakers and counts. */
  readonly endpoint: string;
  readonly placementId: string;
  readonly workloadId: string;
  readonly clusterId: string;
  /** The placement's secret, sent as `Authorization: Bearer <servingKey>`. */
  readonly servingKey: string;
  /** The calling tenant's own workload (true) or a shared one (false). */
  readonly own: boolean;
  /**
   * Free throughput at this endpoint, in any unit as long as all candidates use the same one (e.g.
   * the placement's free standard tokens per minute divided among its endpoints). 0 or less: a last
   * resort, tried only after every endpoint with room.
   */
  readonly weight: number;
}

export interface BalancerOptions {
  /** The breakers whose open endpoints are skipped. */
  readonly breakers: CircuitBreakers;
  /** Uniform in [0, 1); injected so a seeded source makes choices reproducible. Default Math.random. */
  readonly random?: () => number;
}

export class Balancer {
  readonly #breakers: CircuitBreakers;
  readonly #random: () => number;
  readonly #outstanding = new Map<string, number>();

  constructor(options: BalancerOptions) {
    this.#breakers = options.breakers;
    this.#random = options.random ?? Math.random;
  }

  /**
   * The order in which to try `candidates` for one call: usable own endpoints (weighted random
   * order), then usable shared ones (the same); endpoints with no free throughput after those with
   * some, within each group. Endpoints whose breaker is open, or half-open with its probe under way,
   * are left out; an empty list means no endpoint can take the call now. The same endpoint listed
   * twice is tried once. Retries walk the list, so the next choice never repeats a tried endpoint.
   */
  order(candidates: readonly Candidate[]): Candidate[] {
    const seen = new Set<string>();
    const own: Candidate[] = [];
    const shared: Candidate[] = [];
    for (const c of candidates) {
      if (seen.has(c.endpoint)) continue;
      seen.add(c.endpoint);
      if (!this.#breakers.usable(c.endpoint)) continue;
      (c.own ? own : shared).push(c);
    }
    return [...this.#weighted(own), ...this.#weighted(shared)];
  }

  /** Requests under way at `endpoint` (counted between {@link begin} and its release). */
  outstanding(endpoint: string): number {
    return this.#outstanding.get(endpoint) ?? 0;
  }

  /** Counts one request under way at `endpoint`; the returned function ends it (once, however often called). */
  begin(endpoint: string): () => void {
    this.#outstanding.set(endpoint, this.outstanding(endpoint) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = this.outstanding(endpoint) - 1;
      if (left > 0) this.#outstanding.set(endpoint, left);
      else this.#outstanding.delete(endpoint);
    };
  }

  /** Weighted sampling without replacement; those with no room follow, least loaded first. */
  #weighted(group: Candidate[]): Candidate[] {
    const pool = group.filter((c) => c.weight > 0).map((c) => ({ c, w: c.weight / (1 + this.outstanding(c.endpoint)) }));
    const rest = group.filter((c) => !(c.weight > 0)).sort((a, b) => this.outstanding(a.endpoint) - this.outstanding(b.endpoint));
    const out: Candidate[] = [];
    let total = pool.reduce((sum, p) => sum + p.w, 0);
    while (pool.length > 0) {
      let r = this.#random() * total;
      let i = 0;
      while (i < pool.length - 1 && r >= pool[i]!.w) r -= pool[i++]!.w;
      const [picked] = pool.splice(i, 1);
      total -= picked!.w;
      out.push(picked!.c);
    }
    return [...out, ...rest];
  }
}
