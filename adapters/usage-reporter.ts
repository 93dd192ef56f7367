/**
 * The agent's side of usage (API.md "Usage"), shared by every agent: serving engines' token
 * counters (vLLM `vllm:prompt_tokens_total` and `vllm:generation_tokens_total`, per pod) become
 * usage events, one per pod and counter window, and go to `POST /api/v1/agent/usage` in batches.
 *
 * An event's id is a hash of its counter window, so the same window sent again, by a retry after
 * a lost answer say, is a duplicate and never a second charge. While the platform is unreachable
 * events wait in a bounded queue; when it is full, windows are left open instead (their pods'
 * baselines stay put), so the next event of each pod covers the whole time and nothing is lost.
 */
import { createHash } from 'node:crypto';
import type { UsageEvent, UsageRequest, UsageResponse } from './platform-client.js';

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
}

interface Baseline {
  prompt: number;
  generation: number;
  incarnation: string | undefined;
  /** Restarts seen by this reporter, so that counters that climb through the same values again make new ids. */
  restarts: number;
  seenAt: number;
}

const MAX_BATCH = 10_000;

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
    };
  }

  /**
   * Records one scrape taken at `at`: each pod's growth since its baseline becomes an event. A
   * counter lower than before, or a new incarnation, means the engine restarted: the new value is
   * the growth. While the queue is full, no event is made and baselines stay, so the window grows.
   */
  observe(samples: readonly CounterSample[], at: Date): void {
    const now = at.getTime();
    const first = this.#firstScrapeAt === undefined;
    this.#firstScrapeAt ??= now;
    for (const s of samples) {
      if (!validCounter(s.promptTokensTotal) || !validCounter(s.generationTokensTotal)) {
        this.#log('usage: ignoring a sample whose counters are not whole non-negative numbers', { pod: s.pod, placementId: s.placementId });
        continue;
      }
      const key = `${s.placementId}\u0000${s.pod}`;
      let base = this.#baselines.get(key);
      if (!base) {
        const bornSinceFirstScrape = !first && s.startedAtMs !== undefined && s.startedAtMs >= this.#firstScrapeAt;
        base = { prompt: 0, generation: 0, incarnation: s.incarnation, restarts: 0, seenAt: now };
        this.#baselines.set(key, base);
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
      if (restarted) base.restarts += 1;
      if (input > 0 || output > 0) {
        this.#queue.push({
          id: this.#eventId(s, base),
          workloadId: s.workloadId,
          inputTokens: input,
          outputTokens: output,
          occurredAt: at.toISOString(),
        });
      }
      base.prompt = s.promptTokensTotal;
      base.generation = s.generationTokensTotal;
      base.incarnation = s.incarnation;
    }
    for (const [key, base] of this.#baselines) {
      if (now - base.seenAt > this.#forgetAfterMs) this.#baselines.delete(key);
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
    try {
      const at = this.#now();
      this.observe(await this.#source!.scrape(at), at);
    } catch (err) {
      this.#log('usage: scrape failed', { error: String(err) });
    }
    await this.flush();
  }

  async #flush(): Promise<void> {
    if (this.#retryAt !== null && this.#now().getTime() < this.#retryAt) return;
    while (this.#queue.length > 0) {
      const batch = this.#queue.slice(0, this.#batchSize);
      let answer: UsageResponse;
      try {
        answer = await this.#client.usage({ events: batch });
      } catch (err) {
        const status = (err as { status?: unknown }).status;
        if (status === 400 || status === 413) {
          // The platform refuses the batch as a whole and would refuse it again: keeping it would block everything behind it.
          this.#queue.splice(0, batch.length);
          this.#dropped += batch.length;
          this.#log('usage: the platform refused a batch; dropped', { events: batch.length, error: String(err) });
          continue;
        }
        this.#backOff(err);
        return;
      }
      this.#queue.splice(0, batch.length);
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
  #eventId(s: CounterSample, from: Baseline): string {
    const window = JSON.stringify([
      this.#cluster,
      s.placementId,
      s.pod,
      from.incarnation ?? null,
      s.incarnation ?? null,
      from.restarts,
      from.prompt,
      from.generation,
      s.promptTokensTotal,
      s.generationTokensTotal,
    ]);
    return `${this.#cluster}:${createHash('sha256').update(window).digest('base64url').slice(0, 32)}`;
  }
}

function validCounter(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
