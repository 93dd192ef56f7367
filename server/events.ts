/**
 * Domain events: what the services tell the rest of the process has happened, once it is
 * committed. Scheduling, metrics and the credential cache subscribe; no service knows who
 * listens. Events stay in this process: between replicas only "a cycle is wanted" travels, through
 * the scheduling notifier (scheduling/notifier.ts).
 */
import type { Logger } from './log.js';

/** How a cluster's state changed. */
export type ClusterChange = 'ready' | 'not_ready' | 'cordoned' | 'uncordoned' | 'removed';

/** Every event by name, with what it carries. */
export interface DomainEvents {
  /** A workload was created, rescaled or deleted: what it asks of the pool changed. */
  readonly 'workload.changed': { readonly workloadId: string; readonly tenantId: string; readonly change: 'created' | 'rescaled' | 'deleted' };
  /** A heartbeat reported devices different from those stored for its cluster. */
  readonly 'inventory.changed': { readonly clusterId: string };
  /**
   * Clusters changed state: `ready` when a heartbeat brings one back (or in for the first time),
   * `not_ready` when the TTL passed without one, `removed` when deregistered (its workloads are
   * pending again), `cordoned` and `uncordoned` by the operator.
   */
  readonly 'cluster.changed': { readonly clusterIds: readonly string[]; readonly change: ClusterChange };
  /** An agent's heartbeat was recorded. */
  readonly 'heartbeat.recorded': { readonly clusterId: string };
  /** An agent's usage batch was judged and its accepted events committed; the counts add up to the batch. */
  readonly 'usage.recorded': { readonly clusterId: string; readonly accepted: number; readonly duplicates: number; readonly rejected: number };
  /** A credential stopped working: an API key revoked, or an agent token replaced or its cluster removed. */
  readonly 'credential.revoked': { readonly kind: 'api_key'; readonly apiKeyId: string } | { readonly kind: 'agent'; readonly clusterId: string };
}

export type EventName = keyof DomainEvents;
/** A subscriber. What it answers is ignored, except that a promise's rejection is logged (see EventBus). */
export type Listener<K extends EventName> = (event: DomainEvents[K]) => unknown;

/**
 * A typed, synchronous event bus. `emit` calls every listener of the event in the order they
 * subscribed, before it returns; a listener that throws (or whose promise rejects) is logged and
 * the others still run, so an emitter never fails because of a listener.
 */
export class EventBus {
  private readonly listeners = new Map<EventName, Listener<never>[]>();

  constructor(private readonly log: Logger) {}

  /** Subscribes `listener` to `name`; answers a function that unsubscribes it. */
  on<K extends EventName>(name: K, listener: Listener<K>): () => void {
    const list = this.listeners.get(name) ?? [];
    list.push(listener);
    this.listeners.set(name, list);
    return () => {
      const at = list.indexOf(listener);
      if (at >= 0) list.splice(at, 1);
    };
  }

  emit<K extends EventName>(name: K, event: DomainEvents[K]): void {
    const list = this.listeners.get(name);
    if (!list) return;
    for (const listener of [...list]) {
      try {
        const result = (listener as Listener<K>)(event);
        if (result instanceof Promise) result.catch((err: unknown) => this.failed(name, err));
      } catch (err) {
        this.failed(name, err);
      }
    }
  }

  private failed(name: EventName, err: unknown): void {
    this.log.error('event listener failed', { event: name, error: String(err instanceof Error ? err.stack : err) });
  }
}
