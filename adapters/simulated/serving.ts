/**
 * Simulated serving pods: each ready replica of a simulated deployment is a pod whose vLLM-style
 * token counters grow with time, as a real engine's `/metrics` would show them.
 */
import type { CounterSample } from '../usage-reporter.js';
import type { SimulatedCluster } from './cluster.js';

/** Output tokens per minute one replica serves at full use (demo scale). */
export const REPLICA_OUTPUT_TOKENS_PER_MIN = 20_000;
/** Prompt tokens per generated token. */
export const PROMPT_PER_OUTPUT = 3;

export class SimulatedServing {
  readonly #counters = new Map<string, { prompt: number; generation: number; at: number }>();

  constructor(
    private readonly cluster: SimulatedCluster,
    private readonly random: () => number = Math.random,
  ) {}

  /** Every ready pod's counters at `now`. */
  scrape(now: Date): CounterSample[] {
    const samples: CounterSample[] = [];
    for (const d of this.cluster.deployments()) {
      for (let r = 0; r < d.readyReplicas; r++) {
        const pod = `${d.id}-${r}`;
        const c = this.#counters.get(pod) ?? { prompt: 0, generation: 0, at: now.getTime() };
        const minutes = Math.max(0, now.getTime() - c.at) / 60_000;
        const generated = Math.floor(minutes * REPLICA_OUTPUT_TOKENS_PER_MIN * (0.4 + 0.6 * this.random()));
        const next = { prompt: c.prompt + generated * PROMPT_PER_OUTPUT, generation: c.generation + generated, at: now.getTime() };
        this.#counters.set(pod, next);
        samples.push({ pod, workloadId: d.workloadId, promptTokensTotal: next.prompt, generationTokensTotal: next.generation });
      }
    }
    return samples;
  }
}
