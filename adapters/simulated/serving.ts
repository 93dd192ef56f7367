/**
 * Simulated serving replicas: each ready replica of a simulated deployment is a pod running an
 * inference engine whose vLLM-style counters (`vllm:prompt_tokens_total`,
 * `vllm:generation_tokens_total`) grow with time, as the engine's `/metrics` would show them.
 *
 * The desired placements an agent gets carry no throughput, so a pod's rate comes from its size:
 * {@link OUTPUT_TOKENS_PER_MIN_PER_DEVICE} per device of the replica, times a load that drifts
 * between 30% and 100%. A pod that stops being ready is gone; if its replica is ready again
 * later, it is a new pod (a new incarnation) whose counters start at zero.
 */
import { parseTokenCounters, vllmMetricsPage } from '../kubernetes/prometheus-text.js';
import type { CounterSample, CounterSource } from '../usage-reporter.js';
import type { SimulatedCluster } from './cluster.js';

/** Output tokens per minute a pod serves per device it spans, at full load (demo scale). */
export const OUTPUT_TOKENS_PER_MIN_PER_DEVICE = 6_000;
/** Prompt tokens per generated token, on average (chat with retrieved context). */
export const PROMPT_PER_OUTPUT = 3;

interface Pod {
  readonly incarnation: string;
  readonly startedAtMs: number;
  prompt: number;
  generation: number;
  load: number;
  at: number;
}

/** The serving pods of one simulated cluster, as a {@link CounterSource} for its usage reporter. */
export class SimulatedServing implements CounterSource {
  readonly #pods = new Map<string, Pod>();
  #starts = 0;

  constructor(
    private readonly cluster: SimulatedCluster,
    private readonly random: () => number = Math.random,
  ) {}

  /** Every ready pod's counters at `now`, grown since the previous scrape. */
  scrape(now: Date): CounterSample[] {
    const t = now.getTime();
    const samples: CounterSample[] = [];
    const live = new Set<string>();
    for (const d of this.cluster.deployments()) {
      for (let r = 0; r < d.readyReplicas; r++) {
        const name = `${d.id}-${r}`;
        live.add(name);
        let pod = this.#pods.get(name);
        if (!pod) {
          pod = { incarnation: `${this.cluster.name}/${++this.#starts}`, startedAtMs: t, prompt: 0, generation: 0, load: 0.3 + 0.7 * this.random(), at: t };
          this.#pods.set(name, pod);
        }
        const minutes = Math.max(0, t - pod.at) / 60_000;
        // A random walk of the load, so traffic rises and falls rather than jumping.
        pod.load = Math.min(1, Math.max(0.3, pod.load + (this.random() - 0.5) * 0.2));
        const generated = minutes * d.devicesPerReplica * OUTPUT_TOKENS_PER_MIN_PER_DEVICE * pod.load;
        pod.generation += generated;
        pod.prompt += generated * PROMPT_PER_OUTPUT * (0.5 + this.random());
        pod.at = t;
        // The pod's metrics page, read by the same parser a Kubernetes agent scrapes real engines with.
        const counters = parseTokenCounters(vllmMetricsPage(d.model, Math.floor(pod.prompt), Math.floor(pod.generation)))!;
        samples.push({
          placementId: d.id,
          workloadId: d.workloadId,
          pod: name,
          incarnation: pod.incarnation,
          startedAtMs: pod.startedAtMs,
          promptTokensTotal: counters.promptTokensTotal,
          generationTokensTotal: counters.generationTokensTotal,
        });
      }
    }
    for (const name of this.#pods.keys()) if (!live.has(name)) this.#pods.delete(name);
    return samples;
  }
}
