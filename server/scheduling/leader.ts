/**
 * Leader election among server replicas that share one PostgreSQL: the leader holds a
 * session-level advisory lock on a connection of its own; when that connection dies the lock is
 * released and another replica takes it on its next try. On PGlite the single process leads.
 */
import pg from 'pg';
import type { Logger } from '../log.js';

/** Advisory lock key: "tokenpool scheduler leader". */
export const LEADER_LOCK_KEY = 7_426_135_611;

export interface LeaderElector {
  isLeader(): boolean;
  /** One election round now (start() runs them periodically). */
  check(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  /** Called with the new value whenever leadership is gained or lost. */
  onChange(listener: (leader: boolean) => void): void;
}

export function alwaysLeader(): LeaderElector {
  return { isLeader: () => true, check: async () => {}, start: () => {}, stop: async () => {}, onChange: (l) => l(true) };
}

export interface AdvisoryLockElectorOptions {
  readonly url: string;
  readonly log: Logger;
  /** How often to try for the lock (and check the connection while holding it); default 2 s. */
  readonly intervalMs?: number;
  /**
   * Called on each new lock connection before the lock is tried, with the connection: the
   * scheduling notifier LISTENs on it, so that no replica holds a connection more for that.
   */
  readonly onConnect?: (client: pg.Client) => Promise<void>;
  /** false: keeps the connection (for `onConnect`'s listener) but never tries the lock (a gateway-only process). Default true. */
  readonly candidate?: boolean;
  /**
   * The connection's `application_name`; default `tokenpool-leader`. A platform process gives
   * `tokenpool:<process id>`, which lists it among the live processes (server/tunnel/processes.ts).
   */
  readonly applicationName?: string;
}

export class AdvisoryLockElector implements LeaderElector {
  private client: pg.Client | undefined;
  private leader = false;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;
  private stopped = false;
  private readonly listeners: ((leader: boolean) => void)[] = [];
  private readonly log: Logger;

  constructor(private readonly opts: AdvisoryLockElectorOptions) {
    this.log = opts.log;
  }

  isLeader(): boolean {
    return this.leader;
  }

  onChange(listener: (leader: boolean) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.stopped = false;
    const run = () => {
      if (this.busy || this.stopped) return;
      this.busy = this.check().finally(() => (this.busy = undefined));
    };
    run();
    this.timer = setInterval(run, this.opts.intervalMs ?? 2000);
    this.timer.unref();
  }

  /** One try: keep the lock if held (and the connection alive), else try to take it. */
  async check(): Promise<void> {
    try {
      if (!this.client) {
        const client = new pg.Client({ connectionString: this.opts.url, application_name: this.opts.applicationName ?? 'tokenpool-leader' });
        client.on('error', () => this.lose('connection error'));
        // Held before it is ready, so that a failure below ends it (lose).
        this.client = client;
        await client.connect();
        await this.opts.onConnect?.(client);
      }
      if (this.leader || this.opts.candidate === false) {
        await this.client.query('SELECT 1');
        return;
      }
      const r = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK_KEY]);
      if (r.rows[0]?.ok && !this.stopped) this.set(true);
    } catch (err) {
      this.lose(String(err));
    }
  }

  private lose(why: string): void {
    const client = this.client;
    this.client = undefined;
    client?.end().catch(() => {});
    if (this.leader) this.log.warn('scheduler leadership lost', { why });
    this.set(false);
  }

  private set(leader: boolean): void {
    if (this.leader === leader) return;
    this.leader = leader;
    if (leader) this.log.info('scheduler leadership taken');
    for (const l of this.listeners) l(leader);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.busy;
    const client = this.client;
    this.client = undefined;
    this.set(false);
    if (client) {
      await client.query('SELECT pg_advisory_unlock_all()').catch(() => {});
      await client.end().catch(() => {});
    }
  }
}
