/**
 * The agent's side of usage (API.md "Usage"), shared by every agent: serving engines' token
 * counters (vLLM `vllm:prompt_tokens_total` and `vllm:generation_tokens_total`, per pod) become
 * usage events, one per pod and counter window, and go to `POST /api/v1/agent/usage` in batches.
 *
 * An event's id is a hash of its counter window, so the same window sent again, by a retry after
 * a lost answer say, is a duplicate and never a second charge. While the platform is unreachable
 * events wait in a bounded queue; when it is full, windows are left open instead (their pods'
 * baselines stay put), so the next event of each pod covers the whole time and nothing is lost.
 *
 * With a {@link UsageStateStore}, baselines and unsent events outlive the process: the state is
 * saved after baselines move and events are queued, and an event is sent only once a saved state
 * holds it, so a new process that loads the state sends the same windows (the same ids, which the
 * platform dedupes) and continues from the same baselines: nothing lost, nothing counted twice. The
 * state stays within the store's size (a ConfigMap keeps at most 1 MiB): when the next event would
 * not fit, windows stay open as when the queue is full.
 */
import { createHash } from 'node:crypto';
import type { UsageEvent, UsageRequest, UsageResponse } from './platform-client.js';
import { parseUsageState, serializeUsageState, UnreadableStateError, type SavedBaseline, type UsageStateStore } from './usage-state.js';

/** One pod's counters at one scrape. */
export interface CounterSample {
  readonly placementId: string;
  readonly workloadId: string;
  /** The pod's name, unique within its placement. */
  readonly pod: string;
  /**
   * What changes when the serving process starts anew (pod UID and container restart count, or
   * the engine's `process_start_time_seconds`). Optional: without it a restart is recognised only
   * by a counter that went down.
   */
  readonly incarnation?: string;
  /**
   * When this incarnation started, in epoch ms, if known. A pod first seen after the reporter's
   * first scrape and started after it is reported from zero; any other pod seen for the first
   * time only sets its baseline, since an earlier agent process may have reported its tokens.
   */
  readonly startedAtMs?: number;
  /** `vllm:prompt_tokens_total`. */
  readonly promptTokensTotal: number;
  /** `vllm:generation_tokens_total`. */
  readonly generationTokensTotal: number;
}

/** Where the counters come from: a Kubernetes agent scrapes its pods, the demo simulates them. */
export interface CounterSource {
  scrape(now: Date): Promise<readonly CounterSample[]> | readonly CounterSample[];
}

/** The part of `PlatformClient` the reporter needs. */
export interface UsageClient {
  usage(body: UsageRequest): Promise<UsageResponse>;
}

/** Options of a {@link UsageReporter}. */
export interface UsageReporterOptions {
  /** The cluster's name, the prefix of every event id. */
  readonly cluster: string;
  readonly client: UsageClient;
  /** Where `start()` reads counters. */
  readonly source?: CounterSource;
  /**
   * Where baselines and unsent events are kept across restarts. With one, call `restore()` before
   * `observe()` (`start()` does it), and events are sent only once saved.
   */
  readonly store?: UsageStateStore;
  /** Time between scrapes of the `start()` loop, in ms. Default 10,000. */
  readonly intervalMs?: number;
  /** Events kept unsent at most; past it counter windows stay open. Default 100,000. */
  readonly maxQueued?: number;
  /** Events per request, at most 10,000. Default 1,000. */
  readonly batchSize?: number;
  /** First retry delay after a failed send, doubling per failure up to `maxBackoffMs`. Default 1,000. */
  readonly backoffBaseMs?: number;
  /** Default 60,000. */
  readonly maxBackoffMs?: number;
  /** A pod not seen for this long is forgotten. Default one hour. */
  readonly forgetAfterMs?: number;
  /** Uniform in [0, 1), for jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** Default `() => new Date()`. */
  readonly now?: () => Date;
  readonly setTimeout?: (fn: () => void, ms: number) => unknown;
  readonly clearTimeout?: (handle: unknown) => void;
  readonly log?: (msg: string, fields?: object) => void;
}

/** Counters since the reporter was made; a snapshot. */
export interface UsageReporterStats {
  /** Events the platform answered for (accepted, duplicate or rejected). */
  readonly sent: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: number;
  /** Events in batches the platform refused as a whole (400, 413): never retried. */
  readonly dropped: number;
  /** Events waiting to be sent. */
  readonly queued: number;
  /** Send attempts that failed and will be retried. */
  readonly failures: number;
  /** When the next send may be tried after a failure (epoch ms), or null. */
  readonly retryAt: number | null;
  /** Saves of the state that failed (events wait until one succeeds). */
  readonly saveFailures: number;
}

/** What `restore()` found in the store. */
export type RestoreOutcome =
  /** Nothing saved: the reporter starts fresh. */
  | 'none'
  /** Baselines and unsent events were taken over. */
  | 'restored'
  /** The saved text was not a usage state: the reporter starts fresh and overwrites it. */
  | 'unreadable'
  /** The saved state belongs to another cluster id: the reporter starts fresh and overwrites it. */
  | 'other-cluster';

interface Baseline {
  readonly placementId: string;
  readonly pod: string;
  prompt: number;
  generation: number;
  incarnation: string | undefined;
  /** Restarts seen by this reporter, so that counters that climb through the same values again make new ids. */
  restarts: number;
  seenAt: number;
}

const MAX_BATCH = 10_000;
/** Room for the state's fixed fields besides its baselines and queue, in bytes. */
const STATE_OVERHEAD_BYTES = 512;

/**
 * Counter windows in, usage batches out. Use `observe` and `flush` from your own loop, or
 * `start()` with a `source` to scrape every `intervalMs`. `flush` never throws: a failure is
 * logged, counted and retried after a jittered exponential backoff (sooner than the next scrape
 * if the backoff is shorter), honouring a `Retry-After` the platform sent.
 */
export class UsageReporter {
  readonly #cluster: string;
  readonly #client: UsageClient;
  readonly #source: CounterSource | undefined;
  readonly #store: UsageStateStore | undefined;
  readonly #intervalMs: number;
  readonly #maxQueued: number;
  readonly #batchSize: number;
  readonly #backoffBaseMs: number;
  readonly #maxBackoffMs: number;
  readonly #forgetAfterMs: number;
  readonly #random: () => number;
  readonly #now: () => Date;
  readonly #setTimeout: (fn: () => void, ms: number) => unknown;
  readonly #clearTimeout: (handle: unknown) => void;
  readonly #log: (msg: string, fields?: object) => void;

  readonly #baselines = new Map<string, Baseline>();
  #queue: UsageEvent[] = [];
  #firstScrapeAt: number | undefined;
  // Persistence: bytes the saved state would take, events ever queued and ever taken off the
  // queue, and how many of those queued were in a saved state (only those may be sent).
  #restored: boolean;
  #dirty = false;
  #queueBytes = 0;
  #baselineBytes = 0;
  #queuedTotal = 0;
  #dequeuedTotal = 0;
  #savedThrough = Infinity;
  #saving: Promise<void> = Promise.resolve();
  #saveFailures = 0;
  #flushing: Promise<void> | undefined;
  #consecutiveFailures = 0;
  #retryAt: number | null = null;
  #timer: unknown;
  #retryTimer: unknown;
  #tick: Promise<void> | undefined;
  #running = false;

  #sent = 0;
  #accepted = 0;
  #duplicates = 0;
  #rejected = 0;
  #dropped = 0;
  #failures = 0;

  constructor(opts: UsageReporterOptions) {
    this.#cluster = opts.cluster;
    this.#client = opts.client;
    this.#source = opts.source;
    this.#store = opts.store;
    this.#restored = opts.store === undefined;
    if (opts.store) this.#savedThrough = 0;
    this.#intervalMs = opts.intervalMs ?? 10_000;
    this.#maxQueued = opts.maxQueued ?? 100_000;
    this.#batchSize = opts.batchSize ?? 1000;
    this.#backoffBaseMs = opts.backoffBaseMs ?? 1000;
    this.#maxBackoffMs = opts.maxBackoffMs ?? 60_000;
    this.#forgetAfterMs = opts.forgetAfterMs ?? 3_600_000;
    this.#random = opts.random ?? Math.random;
    this.#now = opts.now ?? (() => new Date());
    this.#setTimeout = opts.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms).unref());
    this.#clearTimeout = opts.clearTimeout ?? ((h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>));
    this.#log = opts.log ?? (() => {});
    if (!(this.#batchSize >= 1 && this.#batchSize <= MAX_BATCH)) throw new RangeError(`batchSize must lie in 1..${MAX_BATCH}`);
    if (!(this.#maxQueued >= 1)) throw new RangeError('maxQueued must be positive');
    if (!(this.#intervalMs > 0)) throw new RangeError('intervalMs must be positive');
  }

  /** Events waiting to be sent. */
  get queued(): number {
    return this.#queue.length;
  }

  get stats(): UsageReporterStats {
    return {
      sent: this.#sent,
      accepted: this.#accepted,
      duplicates: this.#duplicates,
      rejected: this.#rejected,
      dropped: this.#dropped,
      queued: this.#queue.length,
      failures: this.#failures,
      retryAt: this.#retryAt,
      saveFailures: this.#saveFailures,
    };
  }

  /** The cluster id event ids begin with. */
  get cluster(): string {
    return this.#cluster;
  }

  /**
   * Takes over the baselines and unsent events saved in the store, if they are this cluster's.
   * Saved text that is not a usage state is logged and replaced: the reporter starts fresh, under
   * the rule for a new process (pods it has not seen only set their baselines). Rejects, changing
   * nothing, when the store cannot be read now; call again later. Without a store: 'none'.
   */
  async restore(): Promise<RestoreOutcome> {
    if (!this.#store) return 'none';
    if (this.#restored) throw new Error('restore() was called already');
    const text = await this.#store.load();
    let outcome: RestoreOutcome = 'none';
    if (text !== undefined) {
      try {
        const state = parseUsageState(text);
        if (state.cluster !== this.#cluster) {
          this.#log('usage: the saved state is of another cluster; starting fresh', { saved: state.cluster, cluster: this.#cluster });
          outcome = 'other-cluster';
        } else {
          this.#takeOver(state.firstScrapeAt, state.baselines, state.queue);
          outcome = 'restored';
          this.#log('usage: restored the saved state', { baselines: state.baselines.length, queued: state.queue.length });
        }
      } catch (err) {
        if (!(err instanceof UnreadableStateError)) throw err;
        this.#log('usage: the saved state is unreadable; starting fresh (pods seen first now only set their baselines)', {
          error: err.message,
          bytes: Buffer.byteLength(text),
        });
        outcome = 'unreadable';
      }
    }
    this.#restored = true;
    this.#dirty = outcome !== 'restored' && outcome !== 'none';
    return outcome;
  }

  #takeOver(firstScrapeAt: number | null, baselines: readonly SavedBaseline[], queue: readonly UsageEvent[]): void {
    this.#firstScrapeAt = firstScrapeAt ?? undefined;
    for (const [placementId, pod, incarnation, prompt, generation, restarts, seenAt] of baselines) {
      this.#addBaseline(`${placementId}\u0000${pod}`, {
        placementId,
        pod,
        prompt,
        generation,
        incarnation: incarnation ?? undefined,
        restarts,
        seenAt,
      });
    }
    for (const e of queue) this.#enqueue({ ...e });
    this.#savedThrough = this.#queuedTotal;
  }

  /**
   * Records one scrape taken at `at`: each pod's growth since its baseline becomes an event. A
   * counter lower than before, or a new incarnation, means the engine restarted: the new value is
   * the growth. While the queue is full, no event is made and baselines stay, so the window grows.
   */
  observe(samples: readonly CounterSample[], at: Date): void {
    if (!this.#restored) throw new Error('restore() must come before observe() when the reporter has a store');
    const now = at.getTime();
    const first = this.#firstScrapeAt === undefined;
    this.#firstScrapeAt ??= now;
    if (first) this.#dirty = true;
    for (const s of samples) {
      if (!validCounter(s.promptTokensTotal) || !validCounter(s.generationTokensTotal)) {
        this.#log('usage: ignoring a sample whose counters are not whole non-negative numbers', { pod: s.pod, placementId: s.placementId });
        continue;
      }
      const key = `${s.placementId}\u0000${s.pod}`;
      let base = this.#baselines.get(key);
      if (!base) {
        const bornSinceFirstScrape = !first && s.startedAtMs !== undefined && s.startedAtMs >= this.#firstScrapeAt;
        base = { placementId: s.placementId, pod: s.pod, prompt: 0, generation: 0, incarnation: s.incarnation, restarts: 0, seenAt: now };
        this.#addBaseline(key, base);
        this.#dirty = true;
        if (!bornSinceFirstScrape) {
          base.prompt = s.promptTokensTotal;
          base.generation = s.generationTokensTotal;
          continue;
        }
      }
      base.seenAt = now;
      const restarted = s.incarnation !== base.incarnation || s.promptTokensTotal < base.prompt || s.generationTokensTotal < base.generation;
      const input = restarted ? s.promptTokensTotal : s.promptTokensTotal - base.prompt;
      const output = restarted ? s.generationTokensTotal : s.generationTokensTotal - base.generation;
      if (input === 0 && output === 0 && !restarted) continue;
      if (this.#queue.length >= this.#maxQueued) continue;
      const event: UsageEvent | undefined =
        input > 0 || output > 0
          ? {
              id: this.#eventId(s, base, restarted ? base.restarts + 1 : base.restarts),
              workloadId: s.workloadId,
              inputTokens: input,
              outputTokens: output,
              occurredAt: at.toISOString(),
            }
          : undefined;
      // The saved state must hold the event: when it would not fit, the window stays open.
      if (event && this.#store && this.#stateBytes() + eventBytes(event) > this.#store.maxBytes) continue;
      if (restarted) base.restarts += 1;
      if (event) this.#enqueue(event);
      this.#dirty = true;
      base.prompt = s.promptTokensTotal;
      base.generation = s.generationTokensTotal;
      base.incarnation = s.incarnation;
    }
    for (const [key, base] of this.#baselines) {
      if (now - base.seenAt > this.#forgetAfterMs) {
        this.#baselines.delete(key);
        this.#baselineBytes -= baselineBytes(base);
        this.#dirty = true;
      }
    }
  }

  #addBaseline(key: string, base: Baseline): void {
    this.#baselines.set(key, base);
    this.#baselineBytes += baselineBytes(base);
  }

  #enqueue(event: UsageEvent): void {
    this.#queue.push(event);
    this.#queueBytes += eventBytes(event);
    this.#queuedTotal += 1;
  }

  /** Takes the oldest `n` events off the queue. */
  #dequeue(n: number): void {
    for (const e of this.#queue.splice(0, n)) this.#queueBytes -= eventBytes(e);
    this.#dequeuedTotal += n;
    this.#dirty = true;
  }

  /** An upper bound of the saved state's size in bytes. */
  #stateBytes(): number {
    return STATE_OVERHEAD_BYTES + this.#cluster.length + this.#baselineBytes + this.#queueBytes;
  }

  /**
   * Saves the state if it changed since the last save; saves run one after another. Rejects when
   * the store failed (the state stays marked as changed, so the next call tries again).
   */
  #persist(): Promise<void> {
    const run = this.#saving.then(async () => {
      if (!this.#store || !this.#dirty) return;
      const through = this.#queuedTotal;
      const state = {
        version: 1 as const,
        cluster: this.#cluster,
        firstScrapeAt: this.#firstScrapeAt ?? null,
        baselines: [...this.#baselines.values()].map((b): SavedBaseline => [
          b.placementId,
          b.pod,
          b.incarnation ?? null,
          b.prompt,
          b.generation,
          b.restarts,
          b.seenAt,
        ]),
        queue: this.#queue,
      };
      this.#dirty = false;
      try {
        await this.#store.save(serializeUsageState(state));
      } catch (err) {
        this.#dirty = true;
        this.#saveFailures += 1;
        throw err;
      }
      this.#savedThrough = Math.max(this.#savedThrough, through);
    });
    this.#saving = run.catch(() => {});
    return run;
  }

  /** Saves what changed; a failure is logged, and events not in a saved state wait. */
  async #persistLogged(): Promise<boolean> {
    try {
      await this.#persist();
      return true;
    } catch (err) {
      this.#log('usage: cannot save the usage state; events not saved yet wait', { error: String(err), queued: this.#queue.length });
      return false;
    }
  }

  /**
   * Sends what is queued, oldest first, in batches of `batchSize`. Resolves once the queue is
   * empty or a send failed (then the rest waits for the backoff to pass); does nothing while an
   * earlier failure's backoff lasts. Concurrent calls share one flush.
   */
  flush(): Promise<void> {
    this.#flushing ??= this.#flush().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  /** Scrapes `source` every `intervalMs` (first at once), observes and flushes. */
  start(): void {
    if (!this.#source) throw new Error('start() needs a counter source');
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  /** Stops the loop, waiting for a scrape or send in flight; queued events stay queued. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#clearTimeout(this.#timer);
    this.#clearTimeout(this.#retryTimer);
    await this.#tick;
    await this.#flushing;
    if (this.#restored) await this.#persistLogged();
  }

  #schedule(ms: number): void {
    this.#timer = this.#setTimeout(() => {
      this.#tick = this.#scrapeAndSend().finally(() => {
        this.#tick = undefined;
        if (this.#running) this.#schedule(this.#intervalMs);
      });
    }, ms);
  }

  async #scrapeAndSend(): Promise<void> {
    if (!this.#restored) {
      try {
        await this.restore();
      } catch (err) {
        // Neither scrape nor send: what the store holds would be overwritten. The next tick tries again.
        this.#log('usage: cannot read the saved usage state; will try again', { error: String(err) });
        return;
      }
    }
    try {
      const at = this.#now();
      this.observe(await this.#source!.scrape(at), at);
    } catch (err) {
      this.#log('usage: scrape failed', { error: String(err) });
    }
    await this.flush();
  }

  async #flush(): Promise<void> {
    if (!this.#restored) return;
    // Saved even while the platform is away: a restart then finds every event made so far.
    if (!(await this.#persistLogged())) return;
    if (this.#retryAt !== null && this.#now().getTime() < this.#retryAt) return;
    await this.#send();
    if (this.#dirty) await this.#persistLogged();
  }

  async #send(): Promise<void> {
    while (this.#queue.length > 0) {
      // Only events a saved state holds: one sent before its window was saved could be made again, with another id, after a restart.
      let saved = this.#savedThrough - this.#dequeuedTotal;
      if (saved <= 0) {
        if (!(await this.#persistLogged())) return;
        saved = this.#savedThrough - this.#dequeuedTotal;
        if (saved <= 0) return;
      }
      const batch = this.#queue.slice(0, Math.min(this.#batchSize, saved));
      let answer: UsageResponse;
      try {
        answer = await this.#client.usage({ events: batch });
      } catch (err) {
        const status = (err as { status?: unknown }).status;
        if (status === 400 || status === 413) {
          // The platform refuses the batch as a whole and would refuse it again: keeping it would block everything behind it.
          this.#dequeue(batch.length);
          this.#dropped += batch.length;
          this.#log('usage: the platform refused a batch; dropped', { events: batch.length, error: String(err) });
          continue;
        }
        this.#backOff(err);
        return;
      }
      this.#dequeue(batch.length);
      this.#consecutiveFailures = 0;
      this.#retryAt = null;
      this.#sent += batch.length;
      this.#accepted += answer.accepted;
      this.#duplicates += answer.duplicates;
      this.#rejected += answer.rejected.length;
      if (answer.rejected.length > 0) {
        const reasons: Record<string, number> = {};
        for (const r of answer.rejected) reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;
        this.#log('usage: events rejected', { reasons });
      }
    }
  }

  #backOff(err: unknown): void {
    this.#failures += 1;
    this.#consecutiveFailures += 1;
    const exp = Math.min(this.#maxBackoffMs, this.#backoffBaseMs * 2 ** (this.#consecutiveFailures - 1));
    const retryAfter = (err as { retryAfterMs?: unknown }).retryAfterMs;
    const delay = Math.max(exp * (0.5 + 0.5 * this.#random()), typeof retryAfter === 'number' ? retryAfter : 0);
    this.#retryAt = this.#now().getTime() + delay;
    this.#log('usage: report failed; will retry', { error: String(err), queued: this.#queue.length, retryInMs: Math.round(delay) });
    if (this.#running && delay < this.#intervalMs) {
      this.#clearTimeout(this.#retryTimer);
      this.#retryTimer = this.#setTimeout(() => void this.flush(), delay);
    }
  }

  /** The window's identity: the same pod, incarnation and counter values give the same id. */
  #eventId(s: CounterSample, from: Baseline, restarts: number): string {
    const window = JSON.stringify([
      this.#cluster,
      s.placementId,
      s.pod,
      from.incarnation ?? null,
      s.incarnation ?? null,
      restarts,
      from.prompt,
      from.generation,
      s.promptTokensTotal,
      s.generationTokensTotal,
    ]);
    return `${this.#cluster}:${createHash('sha256').update(window).digest('base64url').slice(0, 32)}`;
  }
}

/** The bytes an event adds to the saved state (its JSON and a comma). */
function eventBytes(e: UsageEvent): number {
  return Buffer.byteLength(JSON.stringify(e)) + 1;
}

/** An upper bound of the bytes a baseline adds to the saved state. */
function baselineBytes(b: Baseline): number {
  // Quotes, escapes, commas and brackets, and five numbers of at most 16 digits.
  return Buffer.byteLength(JSON.stringify([b.placementId, b.pod, b.incarnation ?? null])) + 6 * 17;
}

function validCounter(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
