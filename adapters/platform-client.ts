/**
 * The agent's side of the platform's HTTP API (API.md "Clusters and agents", "Usage").
 *
 * A member cluster talks to the platform only through these endpoints, with its own agent token,
 * exactly as a third-party agent would. Nothing here knows whether the cluster behind it is real.
 */
import { z } from 'zod';

/** One device model a cluster reports: `deviceModel` is the name feature discovery gives. */
export interface InventoryReport {
  readonly deviceModel: string;
  /** Devices of this model on the cluster's nodes. */
  readonly total: number;
  /** Devices that can take work now (`0 ≤ healthy ≤ total`). */
  readonly healthy: number;
}

/** A placement the cluster runs, and how many of its replicas are ready. */
export interface RunningPlacement {
  readonly id: string;
  readonly readyReplicas: number;
  /**
   * Base URLs of the ready replicas' OpenAI-compatible servers, e.g. `http://10.1.2.3:8000`
   * (at most 64, each http or https, at most 2,048 characters); the gateway calls
   * `<endpoint>/v1/...` with the placement's `servingKey`.
   */
  readonly endpoints?: readonly string[];
  /** What its pods do: pending (none scheduled), starting, running (all ready) or failing. */
  readonly phase?: 'pending' | 'starting' | 'running' | 'failing';
  /** Why a failing placement cannot run. */
  readonly reason?: 'Unschedulable' | 'ImagePullBackOff' | 'ErrImagePull' | 'CrashLoopBackOff' | 'OOMKilled' | 'WeightsUnavailable' | 'Other';
  /** What Kubernetes said of a failing placement, at most 1,024 characters. */
  readonly message?: string;
  /** Replicas its Deployment wants. */
  readonly desiredReplicas?: number;
  /**
   * Joules the placement's devices used since the agent began measuring it (the cluster's power
   * exporters); a counter that starts from 0 again when the agent restarts.
   */
  readonly energyJoules?: number;
  /** Watts the placement's devices draw now. */
  readonly powerWatts?: number;
}

/** Where an engine can read a model's weights from. */
export type WeightSourceKind = 'pvc' | 'hostPath' | 'modelscope' | 's3' | 'huggingface';

/** What this cluster can load weights from: the kinds the agent offers, and the PVCs in its workloads namespace. */
export interface WeightSourcesReport {
  readonly kinds: readonly WeightSourceKind[];
  readonly claims: readonly string[];
}

/** One node's devices of one model: allocatable (`total`) and not requested by a live pod (`free`). */
export interface NodeReport {
  readonly name: string;
  readonly deviceModel: string;
  readonly total: number;
  readonly free: number;
}

/** What the cluster can run beyond Deployments. */
export interface ClusterCapabilities {
  /** The API server serves leaderworkerset.x-k8s.io (replicas may span nodes). */
  readonly leaderWorkerSet: boolean;
}

/** Free devices per node and the cluster's capabilities; a backend that cannot tell sends neither. */
export interface NodesReport {
  /** At most 5,000 entries. */
  readonly nodes: readonly NodeReport[];
  readonly capabilities: ClusterCapabilities;
}

/** Body of `POST /api/v1/agent/heartbeat`. `inventory` replaces the cluster's previous one. */
export interface HeartbeatRequest {
  readonly inventory: readonly InventoryReport[];
  readonly placements: readonly RunningPlacement[];
  /** Absent: not reported (the platform keeps what it had; one that never had any takes this cluster to load anything). */
  readonly weightSources?: WeightSourcesReport;
  /** Free devices per node (node-level fit); absent: the platform counts devices per cluster. */
  readonly nodes?: readonly NodeReport[];
  readonly capabilities?: ClusterCapabilities;
}

/**
 * A model's weights, as the platform sends them: a PVC (`path` inside it) or node directory that
 * holds them, mounted read-only; or a ModelScope id, an S3 URL (keys in the Secret `secret`) or a
 * Hugging Face id (through `mirror`), downloaded by an init container into the agent's cache.
 */
export type WeightSource =
  | { readonly kind: 'pvc'; readonly claim: string; readonly path?: string | undefined }
  | { readonly kind: 'hostPath'; readonly path: string }
  | { readonly kind: 'modelscope'; readonly id: string; readonly revision?: string | undefined }
  | { readonly kind: 's3'; readonly url: string; readonly secret: string; readonly endpoint?: string | undefined }
  | { readonly kind: 'huggingface'; readonly id: string; readonly mirror?: string | undefined; readonly revision?: string | undefined }
  /** A kind this agent does not know (a newer platform): the placement is not applied, and the log says why. */
  | { readonly kind: 'unknown'; readonly sent: string };

/** A placement the platform wants this cluster to run. */
export interface DesiredPlacement {
  readonly id: string;
  readonly workloadId: string;
  readonly model: string;
  /** The device name the agent reported; the one it selects nodes by. */
  readonly deviceModel: string;
  /** The device profile's name in the catalog. */
  readonly profile: string;
  /** The extended resource a replica requests, e.g. `nvidia.com/gpu`. */
  readonly resourceName: string;
  readonly replicas: number;
  readonly devicesPerReplica: number;
  /**
   * The secret the serving engine must require as its API key (`Authorization: Bearer …`); the
   * gateway presents it. Optional only while platforms that do not send it yet are about.
   */
  readonly servingKey?: string;
  /**
   * How to run the placement's serving engine (the platform's engine catalog entry for this
   * model and vendor). Absent: the agent's own defaults (vLLM's OpenAI-compatible server).
   */
  readonly engine?: EngineSpec;
  /** Where the model's weights come from (this cluster's own source, else the model's); absent: none, `{model}` is the model's name. */
  readonly source?: WeightSource;
  /** The name the engine serves the model under (`{servedName}`); absent: the model's name. */
  readonly servedName?: string;
}

/** The metrics format an engine's `/metrics` speaks. */
export type MetricsDialect = 'vllm' | 'sglang' | 'mindie' | 'none';

/** A serving engine as the platform sends it with a desired placement. */
export interface EngineSpec {
  /** The catalog entry's id, e.g. `vllm-cuda`; the agent may override its image per cluster by it. */
  readonly id: string;
  readonly image: string;
  /** Container arguments; `{model}`, `{servedName}`, `{tensorParallel}` and `{port}` are substituted. */
  readonly args: readonly string[];
  /** The vendor's environment for the engine container. */
  readonly env: Readonly<Record<string, string>>;
  /** The variable the engine reads its API key from (e.g. `VLLM_API_KEY`); null: `--api-key <key>` is appended to `args`. */
  readonly apiKeyEnv: string | null;
  /** The engine's HTTP port (OpenAI API, health, metrics). */
  readonly port: number;
  /** Size of the memory-backed `/dev/shm`, a Kubernetes quantity (e.g. `16Gi`). */
  readonly shmSize: string;
  /** CPU a replica requests per device it holds, a Kubernetes quantity (e.g. `4` or `3500m`). */
  readonly cpuPerDevice: string;
  /** Memory a replica requests per device it holds, a Kubernetes quantity (e.g. `32Gi`). */
  readonly memoryPerDevice: string;
  readonly healthPath: string;
  readonly metricsPath: string;
  readonly metricsDialect: MetricsDialect;
  /** Longest time the engine may take to start (weights loading) before it counts as failed, in seconds. */
  readonly startupSeconds: number;
  /** Whether the engine's image runs as a non-root user. */
  readonly runAsNonRoot: boolean;
}

/** Answer of a heartbeat: the complete desired set for the cluster. */
export interface HeartbeatResponse {
  readonly clusterId: string;
  readonly placements: readonly DesiredPlacement[];
}

/** One token count event of `POST /api/v1/agent/usage`; `id` is its idempotency key. */
export interface UsageEvent {
  readonly id: string;
  readonly workloadId: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** RFC 3339. */
  readonly occurredAt: string;
}

/** Body of `POST /api/v1/agent/usage` (at most 10,000 events). */
export interface UsageRequest {
  readonly events: readonly UsageEvent[];
}

/** Answer of a usage report. A rejected event's id is not remembered and may be sent again. */
export interface UsageResponse {
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: readonly { readonly id: string; readonly reason: string }[];
}

/** An RFC 9457 problem document, as the platform answers errors (API.md "Conventions"). */
export interface ProblemDetails {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly detail?: string;
  readonly errors?: readonly { readonly path: string; readonly message: string }[];
  readonly [extension: string]: unknown;
}

/**
 * What went wrong with a call:
 * `http` — the platform answered non-2xx (`status`, `problem` set);
 * `network` — no answer (connection refused, reset, DNS);
 * `timeout` — no complete answer within the client's `timeoutMs`;
 * `protocol` — a 2xx answer whose body is not what API.md promises.
 */
export type PlatformErrorKind = 'http' | 'network' | 'timeout' | 'protocol';

/**
 * A failed call to the platform. `retryable` says whether sending the same request again later
 * may succeed: network failures, timeouts, 408, 429 and 5xx are; credentials the platform refuses
 * (401, 403), a request it rejects (other 4xx) and a malformed answer are not.
 */
export class PlatformError extends Error {
  override readonly name = 'PlatformError';
  readonly kind: PlatformErrorKind;
  /** HTTP status of the answer; undefined when there was none. */
  readonly status: number | undefined;
  /** The problem+json body of a non-2xx answer, when it had a JSON object body. */
  readonly problem: ProblemDetails | undefined;
  readonly retryable: boolean;
  /** Milliseconds the platform asked to wait (`Retry-After` of a 429 or 503), if it said. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    init: {
      kind: PlatformErrorKind;
      retryable: boolean;
      status?: number | undefined;
      problem?: ProblemDetails | undefined;
      retryAfterMs?: number | undefined;
      cause?: unknown;
    },
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.retryable = init.retryable;
    this.status = init.status;
    this.problem = init.problem;
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** Options of a {@link PlatformClient}. */
export interface PlatformClientOptions {
  /** The platform's base URL, e.g. `http://127.0.0.1:8080`; a path prefix is kept. */
  readonly baseUrl: string;
  /** The cluster's agent token, sent as `Authorization: Bearer <token>`. */
  readonly token: string;
  /** Defaults to the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Deadline of one call including reading its body, in ms. Default 10,000. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

const count = z.number().int().nonnegative();

const optionalText = z.string().min(1).optional();
const knownSource = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('pvc'), claim: z.string().min(1), path: optionalText }),
  z.object({ kind: z.literal('hostPath'), path: z.string().startsWith('/') }),
  z.object({ kind: z.literal('modelscope'), id: z.string().min(1), revision: optionalText }),
  z.object({ kind: z.literal('s3'), url: z.string().startsWith('s3://'), secret: z.string().min(1), endpoint: optionalText }),
  z.object({ kind: z.literal('huggingface'), id: z.string().min(1), mirror: optionalText, revision: optionalText }),
]);
// A source this agent cannot read is kept as `unknown`, so that one placement fails to apply, not the whole heartbeat.
const weightSourceSchema = z.unknown().transform((v): WeightSource => {
  const known = knownSource.safeParse(v);
  if (known.success) return known.data;
  const kind = typeof v === 'object' && v !== null && 'kind' in v ? String(v.kind) : typeof v;
  return { kind: 'unknown', sent: kind.slice(0, 64) };
});

// Strip, not strict: the platform may add fields to its answers (API.md), and an old agent must
// keep working.
const heartbeatResponseSchema = z.object({
  clusterId: z.string(),
  placements: z.array(
    z.object({
      id: z.string(),
      workloadId: z.string(),
      model: z.string(),
      deviceModel: z.string(),
      profile: z.string(),
      resourceName: z.string(),
      replicas: count,
      devicesPerReplica: z.number().int().positive(),
      servingKey: z.string().min(1).optional(),
      engine: z
        .object({
          id: z.string().min(1),
          image: z.string().min(1),
          args: z.array(z.string()),
          env: z.record(z.string(), z.string()),
          apiKeyEnv: z.string().min(1).nullable(),
          port: z.number().int().min(1).max(65_535),
          shmSize: z.string().min(1),
          cpuPerDevice: z.string().min(1),
          memoryPerDevice: z.string().min(1),
          healthPath: z.string().startsWith('/'),
          metricsPath: z.string().startsWith('/'),
          // An engine this agent does not know the dialect of is still run; it is only not scraped as one.
          metricsDialect: z.enum(['vllm', 'sglang', 'mindie', 'none']).catch('none'),
          startupSeconds: z.number().int().positive(),
          runAsNonRoot: z.boolean(),
        })
        .optional(),
      source: weightSourceSchema.optional(),
      servedName: z.string().min(1).optional(),
    }),
  ),
});

const deviceProfilesPageSchema = z.object({
  items: z.array(z.object({ name: z.string(), vendor: z.string(), resourceName: z.string(), aliases: z.array(z.string()).default([]) })),
  nextCursor: z.string().nullable(),
});

/** A device profile as the agent needs it: what it is called and how Kubernetes counts it. */
export interface DeviceProfileSummary {
  readonly name: string;
  readonly vendor: string;
  readonly resourceName: string;
  readonly aliases: readonly string[];
}

const usageResponseSchema = z.object({
  accepted: count,
  duplicates: count,
  rejected: z.array(z.object({ id: z.string(), reason: z.string() })),
});

/**
 * HTTP client of the agent endpoints. Every method either resolves with the validated answer or
 * rejects with a {@link PlatformError}; it never retries by itself (the agent loop decides).
 */
export class PlatformClient {
  readonly #base: URL;
  readonly #token: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  constructor(opts: PlatformClientOptions) {
    // A trailing slash makes relative paths resolve under any prefix the base URL carries.
    this.#base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
    this.#token = opts.token;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.#timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');
  }

  /** `POST /api/v1/agent/heartbeat`: reports inventory and running placements, answers the desired set. */
  async heartbeat(body: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.#post('api/v1/agent/heartbeat', body, heartbeatResponseSchema);
  }

  /** `POST /api/v1/agent/usage`: reports token counts of workloads placed on this cluster. */
  async usage(body: UsageRequest): Promise<UsageResponse> {
    return this.#post('api/v1/agent/usage', body, usageResponseSchema);
  }

  /** `GET /api/v1/device-profiles`, every page: the resource names and device names to count. */
  async deviceProfiles(): Promise<DeviceProfileSummary[]> {
    const out: DeviceProfileSummary[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `api/v1/device-profiles?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await this.#call('GET', path, undefined, deviceProfilesPageSchema);
      out.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  }

  async #post<T>(path: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    return this.#call('POST', path, body, schema);
  }

  async #call<T>(method: 'GET' | 'POST', path: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    const url = new URL(path, this.#base);
    const what = `${method} /${path}`;
    const signal = AbortSignal.timeout(this.#timeoutMs);
    let status: number | undefined;
    try {
      const res = await this.#fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          accept: 'application/json, application/problem+json',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      status = res.status;
      // The body is read under the same signal, so a stalled body times out too.
      const text = await res.text();
      if (!res.ok) throw httpError(what, res, text);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new PlatformError(`${what}: answer ${res.status} is not JSON`, {
          kind: 'protocol',
          retryable: false,
          status: res.status,
          cause: err,
        });
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        throw new PlatformError(`${what}: unexpected answer: ${z.prettifyError(parsed.error)}`, {
          kind: 'protocol',
          retryable: false,
          status: res.status,
          cause: parsed.error,
        });
      }
      return parsed.data;
    } catch (err) {
      if (err instanceof PlatformError) throw err;
      if (signal.aborted) {
        throw new PlatformError(`${what}: no answer within ${this.#timeoutMs} ms`, {
          kind: 'timeout',
          retryable: true,
          status,
          cause: err,
        });
      }
      throw new PlatformError(`${what}: ${err instanceof Error ? err.message : String(err)}`, {
        kind: 'network',
        retryable: true,
        status,
        cause: err,
      });
    }
  }
}

function httpError(what: string, res: Response, text: string): PlatformError {
  const problem = parseProblem(text);
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
  const detail = problem?.detail ?? problem?.title ?? (res.statusText || text.slice(0, 200));
  return new PlatformError(`${what}: ${res.status}${detail ? ` ${detail}` : ''}`, {
    kind: 'http',
    status: res.status,
    retryable: isRetryableStatus(res.status),
    problem,
    retryAfterMs,
  });
}

/** Whether an HTTP status may go away on its own: 408, 429 and 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function parseProblem(text: string): ProblemDetails | undefined {
  try {
    const json: unknown = JSON.parse(text);
    if (json !== null && typeof json === 'object' && !Array.isArray(json)) return json as ProblemDetails;
  } catch {
    // Not JSON (a proxy's HTML page, say): the message carries the status instead.
  }
  return undefined;
}

/** `Retry-After` as delay-seconds; the HTTP-date form would need a clock, and the platform sends seconds. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}
