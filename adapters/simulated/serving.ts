/**
 * Simulated serving replicas as the usage reporter sees them: each ready replica of a simulated
 * deployment is a pod running a {@link SimulatedEngine}, whose vLLM-style counters
 * (`vllm:prompt_tokens_total`, `vllm:generation_tokens_total`) count what it served over HTTP.
 *
 * Beside what is called over HTTP, a pod may serve a background load: the traffic of callers that
 * reach the engine directly, as an `access: "direct"` workload's own clients do. It is added into
 * the engine's counters (so its `/metrics` page shows both), which keeps the demo's usage growing
 * when nobody calls. The demo gives it to its direct workloads only: on a gateway workload the
 * platform would rightly see it as traffic that bypassed the gateway. The desired placements an agent gets carry no
 * throughput, so the background rate comes from the pod's size: {@link OUTPUT_TOKENS_PER_MIN_PER_DEVICE}
 * per device of the replica, times a load that drifts between 30% and 100%. A pod that stops being
 * ready is gone with its engine; if its replica is ready again later, it is a new pod (a new
 * incarnation) whose counters start at zero.
 */
import { parseTokenCounters, vllmMetricsPage } from '../kubernetes/prometheus-text.js';
import type { CounterSample, CounterSource } from '../usage-reporter.js';
import type { SimulatedCluster } from './cluster.js';
import type { SimulatedEngine } from './engine.js';

/** Output tokens per minute a pod serves per device it spans, at full load (demo scale). */
export const OUTPUT_TOKENS_PER_MIN_PER_DEVICE = 6_000;
/** Prompt tokens per generated token, on average (chat with retrieved context). */
export const PROMPT_PER_OUTPUT = 3;

/** Options of a {@link SimulatedServing}. */
export interface SimulatedServingOptions {
  /** Whether pods serve the background load beside their HTTP callers, for all or by workload id. Default true. */
  readonly background?: boolean | ((workloadId: string) => boolean);
}

interface Pod {
  readonly incarnation: string;
  readonly startedAtMs: number;
  /** Background tokens not yet whole, carried to the next scrape. */
  prompt: number;
  generation: number;
  load: number;
  at: number;
}

/** The serving pods of one simulated cluster, as a {@link CounterSource} for its usage reporter. */
export class SimulatedServing implements CounterSource {
  readonly #pods = new Map<SimulatedEngine, Pod>();
  readonly #background: (workloadId: string) => boolean;
  #starts = 0;

  constructor(
    private readonly cluster: SimulatedCluster,
    private readonly random: () => number = Math.random,
    opts: SimulatedServingOptions = {},
  ) {
    const background = opts.background ?? true;
    this.#background = typeof background === 'function' ? background : () => background;
  }

  /** Every ready pod's counters at `now`: what its engine served, with the background load grown since the previous scrape. */
  scrape(now: Date): CounterSample[] {
    const t = now.getTime();
    const samples: CounterSample[] = [];
    const live = new Set<SimulatedEngine>();
    for (const p of this.cluster.pods()) {
      live.add(p.engine);
      let pod = this.#pods.get(p.engine);
      if (!pod) {
        pod = { incarnation: `${this.cluster.name}/${++this.#starts}`, startedAtMs: t, prompt: 0, generation: 0, load: 0.3 + 0.7 * this.random(), at: t };
        this.#pods.set(p.engine, pod);
      }
      if (this.#background(p.workloadId)) {
        const minutes = Math.max(0, t - pod.at) / 60_000;
        // A random walk of the load, so traffic rises and falls rather than jumping.
        pod.load = Math.min(1, Math.max(0.3, pod.load + (this.random() - 0.5) * 0.2));
        const generated = minutes * p.devicesPerReplica * OUTPUT_TOKENS_PER_MIN_PER_DEVICE * pod.load;
        pod.generation += generated;
        pod.prompt += generated * PROMPT_PER_OUTPUT * (0.5 + this.random());
        const wholePrompt = Math.floor(pod.prompt);
        const wholeGeneration = Math.floor(pod.generation);
        p.engine.countServed(wholePrompt, wholeGeneration);
        pod.prompt -= wholePrompt;
        pod.generation -= wholeGeneration;
      }
      pod.at = t;
      // The engine's metrics page, read by the same parser a Kubernetes agent scrapes real engines with.
      const { promptTokensTotal, generationTokensTotal } = p.engine.counters;
      const counters = parseTokenCounters(vllmMetricsPage(p.model, promptTokensTotal, generationTokensTotal))!;
      samples.push({
        placementId: p.placementId,
        workloadId: p.workloadId,
        pod: p.name,
        incarnation: pod.incarnation,
        startedAtMs: pod.startedAtMs,
        promptTokensTotal: counters.promptTokensTotal,
        generationTokensTotal: counters.generationTokensTotal,
      });
    }
    for (const engine of this.#pods.keys()) if (!live.has(engine)) this.#pods.delete(engine);
    return samples;
  }
}
