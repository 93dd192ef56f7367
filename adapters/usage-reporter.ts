/**
 * Turns serving engines' token counters into usage events (shared by every agent): counter
 * deltas per pod since the last scrape, with deterministic event ids so a retry is a duplicate,
 * never a second charge. Events wait in a bounded queue while the platform is unreachable.
 */
import type { UsageRequest, UsageResponse } from './platform-client.js';

/** One pod's counters at one scrape (vLLM `vllm:prompt_tokens_total` / `vllm:generation_tokens_total`). */
export interface CounterSample {
  readonly pod: string;
  readonly workloadId: string;
  readonly promptTokensTotal: number;
  readonly generationTokensTotal: number;
}

export interface UsageClient {
  usage(body: UsageRequest): Promise<UsageResponse>;
}

export interface UsageReporterOptions {
  readonly cluster: string;
  readonly client: UsageClient;
  /** Events kept while the platform is unreachable; the oldest are dropped past it. */
  readonly maxQueued?: number;
  readonly batchSize?: number;
}

interface QueuedEvent {
  readonly id: string;
  readonly workloadId: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly occurredAt: string;
}

export class UsageReporter {
  readonly #last = new Map<string, { prompt: number; generation: number }>();
  readonly #queue: QueuedEvent[] = [];
  #dropped = 0;
  #sent = 0;

  constructor(private readonly opts: UsageReporterOptions) {}

  get queued(): number {
    return this.#queue.length;
  }

  get stats(): { sent: number; queued: number; dropped: number } {
    return { sent: this.#sent, queued: this.#queue.length, dropped: this.#dropped };
  }

  /**
   * Records one scrape: each pod's growth since its previous sample becomes an event. A counter
   * lower than before means the pod restarted: the new value is the growth. A pod seen for the
   * first time only sets its baseline (its earlier tokens were reported by whoever saw them).
   */
  observe(samples: readonly CounterSample[], at: Date): void {
    for (const s of samples) {
      const before = this.#last.get(s.pod);
      this.#last.set(s.pod, { prompt: s.promptTokensTotal, generation: s.generationTokensTotal });
      if (!before) continue;
      const reset = s.promptTokensTotal < before.prompt || s.generationTokensTotal < before.generation;
      const input = reset ? s.promptTokensTotal : s.promptTokensTotal - before.prompt;
      const output = reset ? s.generationTokensTotal : s.generationTokensTotal - before.generation;
      if (input === 0 && output === 0) continue;
      this.#queue.push({
        // The counters' values identify the window: the same scrape retried gives the same id.
        id: `${this.opts.cluster}:${s.pod}:${s.promptTokensTotal}:${s.generationTokensTotal}`,
        workloadId: s.workloadId, inputTokens: input, outputTokens: output, occurredAt: at.toISOString(),
      });
    }
    const max = this.opts.maxQueued ?? 1_000_000;
    if (this.#queue.length > max) {
      this.#dropped += this.#queue.length - max;
      this.#queue.splice(0, this.#queue.length - max);
    }
  }

  /** Sends what is queued, in batches; what fails stays queued for the next flush. */
  async flush(): Promise<void> {
    const size = Math.min(this.opts.batchSize ?? 1000, 10_000);
    while (this.#queue.length > 0) {
      const batch = this.#queue.slice(0, size);
      await this.opts.client.usage({ events: batch });
      this.#queue.splice(0, batch.length);
      this.#sent += batch.length;
    }
  }
}
