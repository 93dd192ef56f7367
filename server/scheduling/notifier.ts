/**
 * Between replicas that share one PostgreSQL, two things must travel. "The leader should run a
 * cycle": a replica that does not lead sends `NOTIFY tokenpool_schedule`, and the leader,
 * listening on its lock connection (leader.ts), runs one at once rather than at its next tick.
 * And "this credential stopped working" (`NOTIFY tokenpool_credentials`, the credential as JSON):
 * every replica drops it from its credential cache at once. This module owns both channels, both
 * ends.
 */
import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';

/** The channel on which replicas that do not lead ask the leader for a cycle. */
export const WAKE_CHANNEL = 'tokenpool_schedule';

/** The channel on which a replica tells every replica that a credential was revoked. */
export const CREDENTIALS_CHANNEL = 'tokenpool_credentials';

/** The shortest time between two wake-ups one replica sends, in milliseconds. */
export const WAKE_INTERVAL_MS = 20;

/** How the scheduler asks the leader for a cycle, and hears that it is asked. */
export interface LeaderNotifier {
  /** Asks the leading replica for a cycle; cheap to call often (sends are coalesced). */
  wake(): void;
  /** Called for every wake-up any replica sent, on every replica that listens (the scheduler checks that it leads). */
  onWake(listener: () => void): void;
}

/** How a replica tells every replica (itself included) that a credential stopped working. */
export interface CredentialNotifier {
  /** Sends `payload` (JSON text, under 8000 bytes) to every listening replica; never coalesced. */
  revoked(payload: string): Promise<void>;
  /** Called with each payload any replica sent. */
  onRevoked(listener: (payload: string) => void): void;
  /**
   * Called each time listening starts on a new connection: whatever was sent while no connection
   * listened is lost, so a listener treats it as "anything may have been revoked".
   */
  onListening(listener: () => void): void;
}

export interface PgNotifierOptions {
  /** Sends one notification on `channel`, with `payload` or none (see pgNotify). */
  readonly send: (channel: string, payload?: string) => Promise<void>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly intervalMs?: number;
  readonly setTimeout?: (fn: () => void, ms: number) => unknown;
  readonly clearTimeout?: (handle: unknown) => void;
}

/** Sends a notification through the pool: `SELECT pg_notify(channel, payload)`. */
export function pgNotify<DB>(db: Kysely<DB>): (channel: string, payload?: string) => Promise<void> {
  return async (channel, payload = '') => {
    await sql`SELECT pg_notify(${channel}, ${payload})`.execute(db);
  };
}

/**
 * LISTEN/NOTIFY on WAKE_CHANNEL. Sending is coalesced: at most one NOTIFY in flight and one per
 * `intervalMs`, with one more for whatever was asked while one was in flight. A burst of creates
 * then costs the database a few notifications, not one per create; the leader's cycle would take
 * them together anyway. A failed send is logged, never thrown: the leader's periodic tick still
 * comes.
 */
export class PgNotifier implements LeaderNotifier, CredentialNotifier {
  /** A send waits for its turn or is in flight. */
  private busy = false;
  private again = false;
  private timer: unknown;
  private inFlight: Promise<void> | undefined;
  private lastSent = -Infinity;
  private stopped = false;
  private readonly listeners: (() => void)[] = [];
  private readonly revokedListeners: ((payload: string) => void)[] = [];
  private readonly listeningListeners: (() => void)[] = [];

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

  async revoked(payload: string): Promise<void> {
    await this.opts.send(CREDENTIALS_CHANNEL, payload);
  }

  onRevoked(listener: (payload: string) => void): void {
    this.revokedListeners.push(listener);
  }

  onListening(listener: () => void): void {
    this.listeningListeners.push(listener);
  }

  /**
   * Listens on `client`, a connection of the caller's own (not from a pool: a pooled connection
   * would take the LISTEN with it to other work). Called again for each new connection.
   */
  async listen(client: pg.Client): Promise<void> {
    client.on('notification', (msg) => {
      if (msg.channel === WAKE_CHANNEL) for (const l of this.listeners) l();
      else if (msg.channel === CREDENTIALS_CHANNEL) for (const l of this.revokedListeners) l(msg.payload ?? '');
    });
    await client.query(`LISTEN ${WAKE_CHANNEL}`);
    await client.query(`LISTEN ${CREDENTIALS_CHANNEL}`);
    for (const l of this.listeningListeners) l();
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
