/**
 * The platform's processes, for the agents' tunnels (README "Tunnel"): a tunnel lives in the
 * process that accepted it, so an agent keeps one to each live process. The 101 answer to a tunnel
 * request names the process that took it and the live ones; the agent opens more connections
 * until it holds one to each (adapters/tunnel-client.ts).
 *
 * A process is live while its long-lived PostgreSQL connection (the scheduler elector's, which
 * every process keeps: server/scheduling/leader.ts) is open: it is named `tokenpool:<id>`. On
 * PGlite there is one process, this one.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';

/** The most process ids a 101 answer names (a header of at most 64 × 13 bytes). */
export const MAX_PROCESSES = 64;

/** A new process id: 12 hex digits, unique among a city's processes in practice. */
export function newProcessId(): string {
  return randomBytes(6).toString('hex');
}

export interface LiveProcessesOptions {
  /** This process's id. */
  readonly self: string;
  /** The live processes' ids from the database; none: this process alone (PGlite). */
  readonly list?: (limit: number) => Promise<string[]>;
  /** Milliseconds now (the injected clock). */
  readonly now: () => number;
  /** The list is asked for at most once per this many ms. Default 3,000. */
  readonly cacheMs?: number;
  readonly log: Logger;
}

/** The live platform processes' ids, this one first, cached for a few seconds. */
export class LiveProcesses {
  readonly #opts: LiveProcessesOptions;
  #cached: readonly string[];
  #at = -Infinity;
  #pending: Promise<readonly string[]> | undefined;

  constructor(opts: LiveProcessesOptions) {
    this.#opts = opts;
    this.#cached = [opts.self];
  }

  get self(): string {
    return this.#opts.self;
  }

  /**
   * The live processes' ids: this one first, then the others in order, at most MAX_PROCESSES. When
   * the database cannot be asked, the last list known (this process is live in any case).
   */
  async list(): Promise<readonly string[]> {
    const list = this.#opts.list;
    if (!list || this.#opts.now() - this.#at < (this.#opts.cacheMs ?? 3000)) return this.#cached;
    this.#pending ??= list(MAX_PROCESSES + 1)
      .then((ids) => {
        this.#cached = [this.#opts.self, ...ids.filter((id) => id !== this.#opts.self)].slice(0, MAX_PROCESSES);
        this.#at = this.#opts.now();
        return this.#cached;
      })
      .catch((err: unknown) => {
        this.#opts.log.warn('could not list the live platform processes', { error: String(err) });
        return this.#cached;
      })
      .finally(() => (this.#pending = undefined));
    return this.#pending;
  }
}
