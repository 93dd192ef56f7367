/**
 * Marks clusters whose agents stopped heartbeating as not ready once the TTL has passed, and
 * says which ones (`cluster.changed`, `not_ready`: the scheduler moves their placements).
 * Time comes from the injected clock.
 */
import type { Clock } from '../clock.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import type { ClustersRepository } from '../repositories/clusters.repository.js';

export interface TtlSweeperOptions {
  readonly repo: ClustersRepository;
  readonly clock: Clock;
  readonly ttlMs: number;
  readonly log: Logger;
  readonly events: EventBus;
  /** How often to sweep; default a third of the TTL, at most 5 s. */
  readonly intervalMs?: number;
  readonly setInterval?: (fn: () => void, ms: number) => unknown;
  readonly clearInterval?: (handle: unknown) => void;
}

export class TtlSweeper {
  private handle: unknown;
  private running: Promise<unknown> | undefined;

  constructor(private readonly opts: TtlSweeperOptions) {}

  /** One sweep: answers the ids of clusters that became not ready. */
  async sweep(): Promise<string[]> {
    const cutoff = new Date(this.opts.clock.now().getTime() - this.opts.ttlMs);
    const ids = await this.opts.repo.markStale(cutoff);
    if (ids.length > 0) {
      this.opts.log.warn('clusters not ready: no heartbeat within the TTL', { clusterIds: ids });
      this.opts.events.emit('cluster.changed', { clusterIds: ids, change: 'not_ready' });
    }
    return ids;
  }

  start(): void {
    if (this.handle !== undefined) return;
    const every = this.opts.intervalMs ?? Math.min(5000, Math.max(100, Math.floor(this.opts.ttlMs / 3)));
    const set = this.opts.setInterval ?? ((fn, ms) => setInterval(fn, ms).unref());
    this.handle = set(() => {
      if (this.running) return;
      this.running = this.sweep()
        .catch((err: unknown) => this.opts.log.error('TTL sweep failed', { error: String(err) }))
        .finally(() => (this.running = undefined));
    }, every);
  }

  async stop(): Promise<void> {
    if (this.handle !== undefined) (this.opts.clearInterval ?? ((h) => clearInterval(h as NodeJS.Timeout)))(this.handle);
    this.handle = undefined;
    await this.running;
  }
}
