/**
 * Between replicas that share one PostgreSQL, the one thing that must travel is "the leader should
 * run a cycle": a replica that does not lead sends `NOTIFY tokenpool_schedule`, and the leader,
 * listening on its lock connection (leader.ts), runs one at once rather than at its next tick.
 * This module owns that channel, both ends.
 */
import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';

/** The channel on which replicas that do not lead ask the leader for a cycle. */
export const WAKE_CHANNEL = 'tokenpool_schedule';

/** The shortest time between two wake-ups one replica sends, in milliseconds. */
export const WAKE_INTERVAL_MS = 20;

/** How the scheduler asks the leader for a cycle, and hears that it is asked. */
export interface LeaderNotifier {
  /** Asks the leading replica for a cycle; cheap to call often (sends are coalesced). */
  wake(): void;
  /** Called for every wake-up any replica sent, on every replica that listens (the scheduler checks that it leads). */
  onWake(listener: () => void): void;
}

export interface PgNotifierOptions {
  /** Sends one notification on `channel` (see pgNotify). */
  readonly send: (channel: string) => Promise<void>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly intervalMs?: number;
  readonly setTimeout?: (fn: () => void, ms: number) => unknown;
  readonly clearTimeout?: (handle: unknown) => void;
}

/** Sends a notification through the pool: `SELECT pg_notify(channel, '')`. */
export function pgNotify<DB>(db: Kysely<DB>): (channel: string) => Promise<void> {
  return async (channel) => {
    await sql`SELECT pg_notify(${channel}, '')`.execute(db);
  };
}

/**
 * LISTEN/NOTIFY on WAKE_CHANNEL. Sending is coalesced: at most one NOTIFY in flight and one per
 * `intervalMs`, with one more for whatever was asked while one was in flight. A burst of creates
 * then costs the database a few notifications, not one per create; the leader's cycle would take
 * them together anyway. A failed send is logged, never thrown: the leader's periodic tick still
 * comes.
 */
export class PgNotifier implements LeaderNotifier {
  /** A send waits for its turn or is in flight. */
  private busy = false;
  private again = false;
  private timer: unknown;
  private inFlight: Promise<void> | undefined;
  private lastSent = -Infinity;
  private stopped = false;
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly opts: PgNotifierOptions) {}

  wake(): void {
    if (this.stopped) return;
    // A send still waiting for its turn goes after this change and covers it; one in flight may
    // reach the leader before its cycle can see the change, so one more follows it.
    if (this.timer !== undefined) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    const wait = Math.max(0, this.lastSent + (this.opts.intervalMs ?? WAKE_INTERVAL_MS) - this.opts.clock.now().getTime());
    this.timer = (this.opts.setTimeout ?? setTimeout)(() => this.send(), wait);
  }

  private send(): void {
    this.timer = undefined;
    this.lastSent = this.opts.clock.now().getTime();
    this.inFlight = this.opts
      .send(WAKE_CHANNEL)
      .catch((err: unknown) => this.opts.log.warn('could not wake the scheduler leader', { error: String(err) }))
      .finally(() => {
        this.inFlight = undefined;
        this.busy = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  onWake(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * Listens on `client`, a connection of the caller's own (not from a pool: a pooled connection
   * would take the LISTEN with it to other work). Called again for each new connection.
   */
  async listen(client: pg.Client): Promise<void> {
    client.on('notification', (msg) => {
      if (msg.channel !== WAKE_CHANNEL) return;
      for (const l of this.listeners) l();
    });
    await client.query(`LISTEN ${WAKE_CHANNEL}`);
  }

  /** Sends nothing more: a send waiting for its turn is dropped, one in flight is awaited. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.again = false;
    if (this.timer !== undefined) (this.opts.clearTimeout ?? ((h) => clearTimeout(h as NodeJS.Timeout)))(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }
}
