/**
 * The cluster agent loop: every interval it reports the cluster's inventory and running placements
 * to the platform and brings the cluster to the desired set the platform answers (pull model,
 * DESIGN.md "Data flow"). It knows the cluster only through {@link ClusterBackend}, so the
 * simulated cluster and the Kubernetes adapter share it.
 */
import type {
  DesiredPlacement,
  HeartbeatRequest,
  HeartbeatResponse,
  InventoryReport,
  NodesReport,
  RunningPlacement,
  WeightSourcesReport,
} from './platform-client.js';

/** The platform as the agent needs it; `PlatformClient` is one. */
export interface HeartbeatClient {
  heartbeat(body: HeartbeatRequest): Promise<HeartbeatResponse>;
}

/** A member cluster as the agent drives it. */
export interface ClusterBackend {
  /** Devices by model, as feature discovery names them. */
  inventory(): Promise<InventoryReport[]>;
  /** Every placement the cluster runs (including ones with no ready replica). */
  running(): Promise<RunningPlacement[]>;
  /** Free devices per node and the cluster's capabilities; absent: not reported. */
  nodeReport?(): Promise<NodesReport>;
  /**
   * Brings the cluster to `desired`, the complete desired set: creates or scales what is listed,
   * removes what is not. Idempotent; called once per successful heartbeat.
   */
  reconcile(desired: readonly DesiredPlacement[]): Promise<void>;
  /**
   * What the cluster can load weights from; undefined: nothing to say this time (the platform
   * keeps what it had). A backend without it (the simulated city) never reports, and the
   * platform takes such a cluster to load anything.
   */
  weightSources?(): Promise<WeightSourcesReport | undefined>;
}

/** Structured log line; `fields` carries the context (cluster, error, delay). */
export type AgentLog = (msg: string, fields?: object) => void;

/** Options of a {@link ClusterAgent}. */
export interface ClusterAgentOptions {
  readonly client: HeartbeatClient;
  readonly backend: ClusterBackend;
  /** Time between successful heartbeats, in ms. Default 10,000. */
  readonly intervalMs?: number;
  /** Random spread of every delay, as a fraction of it (0 … 1): `delay × (1 ± jitter)`. Default 0.1. */
  readonly jitter?: number;
  /** First retry delay after a failure, in ms; it doubles per consecutive failure, up to `intervalMs`. Default `min(1000, intervalMs)`. */
  readonly backoffBaseMs?: number;
  /** Delay of the first heartbeat after `start()`, in ms (not jittered). Default 0. */
  readonly initialDelayMs?: number;
  /** Uniform in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  readonly setTimeout?: (fn: () => void, ms: number) => unknown;
  readonly clearTimeout?: (handle: unknown) => void;
  readonly log?: AgentLog;
}

/** Counters for metrics; a snapshot, not live. */
export interface AgentStats {
  /** Heartbeats the platform answered 2xx. */
  readonly heartbeatsOk: number;
  /** Ticks that got no desired set: the backend could not report, or the heartbeat failed. */
  readonly heartbeatsFailed: number;
  /** Ticks whose heartbeat succeeded but whose reconcile threw. */
  readonly reconcilesFailed: number;
  /** Failed ticks since the last fully successful one. */
  readonly consecutiveFailures: number;
  /** Message of the most recent failure; null until one happens (it stays after recovery). */
  readonly lastError: string | null;
  /** Placements in the desired set of the last successful heartbeat. */
  readonly desiredPlacements: number;
}

const DEFAULT_INTERVAL_MS = 10_000;
const DEFAULT_JITTER = 0.1;
const MAX_BACKOFF_BASE_MS = 1_000;

/**
 * Runs heartbeats on a timer. `start()` schedules the first one after `initialDelayMs`; after a
 * success the next comes one interval later, after a failure sooner: `backoffBaseMs × 2^(k−1)` for
 * the k-th consecutive failure, capped at the interval (a retry never waits longer than a normal
 * heartbeat would). A non-retryable failure (`retryable: false` on the error, e.g. a refused
 * token) waits the full interval, and a `retryAfterMs` the platform sent is honoured. Every delay
 * is jittered. The loop never throws: failures are counted, logged and retried.
 */
export class ClusterAgent {
  readonly #client: HeartbeatClient;
  readonly #backend: ClusterBackend;
  readonly #intervalMs: number;
  readonly #jitter: number;
  readonly #backoffBaseMs: number;
  readonly #initialDelayMs: number;
  readonly #random: () => number;
  readonly #setTimeout: (fn: () => void, ms: number) => unknown;
  readonly #clearTimeout: (handle: unknown) => void;
  readonly #log: AgentLog;

  #running = false;
  // Bumped by start() so that a tick that outlives stop() + start() does not schedule a second timer.
  #generation = 0;
  #timer: unknown = undefined;
  #inFlight: Promise<readonly DesiredPlacement[]> | undefined;

  #heartbeatsOk = 0;
  #heartbeatsFailed = 0;
  #reconcilesFailed = 0;
  #consecutiveFailures = 0;
  #lastError: string | null = null;
  #desired: readonly DesiredPlacement[] = [];

  constructor(opts: ClusterAgentOptions) {
    this.#client = opts.client;
    this.#backend = opts.backend;
    this.#intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#jitter = opts.jitter ?? DEFAULT_JITTER;
    this.#backoffBaseMs = opts.backoffBaseMs ?? Math.min(MAX_BACKOFF_BASE_MS, this.#intervalMs);
    this.#initialDelayMs = opts.initialDelayMs ?? 0;
    this.#random = opts.random ?? Math.random;
    this.#setTimeout = opts.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this.#clearTimeout = opts.clearTimeout ?? ((handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>));
    this.#log = opts.log ?? (() => {});
    if (!(this.#intervalMs > 0) || !Number.isFinite(this.#intervalMs)) {
      throw new RangeError('intervalMs must be a positive number');
    }
    if (!(this.#jitter >= 0 && this.#jitter <= 1)) throw new RangeError('jitter must lie in [0, 1]');
    if (!(this.#backoffBaseMs > 0)) throw new RangeError('backoffBaseMs must be positive');
    if (!(this.#initialDelayMs >= 0)) throw new RangeError('initialDelayMs must not be negative');
  }

  /** Whether the timer loop runs (between `start()` and `stop()`). */
  get running(): boolean {
    return this.#running;
  }

  get stats(): AgentStats {
    return {
      heartbeatsOk: this.#heartbeatsOk,
      heartbeatsFailed: this.#heartbeatsFailed,
      reconcilesFailed: this.#reconcilesFailed,
      consecutiveFailures: this.#consecutiveFailures,
      lastError: this.#lastError,
      desiredPlacements: this.#desired.length,
    };
  }

  /** Starts the timer loop; a no-op when it runs already. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#generation += 1;
    this.#schedule(this.#initialDelayMs, this.#generation);
  }

  /** Stops the timer loop and resolves once a tick in flight (if any) has finished. Never rejects. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) {
      this.#clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    await this.#inFlight?.catch(() => {});
  }

  /**
   * One heartbeat: reads inventory and running placements from the backend, sends them, and
   * reconciles the backend to the answer's desired set, which it returns. Rejects with the first
   * failure (counted in {@link stats}). A call while another tick is in flight joins that tick.
   */
  tick(): Promise<readonly DesiredPlacement[]> {
    this.#inFlight ??= this.#tick().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #tick(): Promise<readonly DesiredPlacement[]> {
    let answer: HeartbeatResponse;
    try {
      const [inventory, placements, weightSources, nodes] = await Promise.all([
        this.#backend.inventory(),
        this.#backend.running(),
        this.#backend.weightSources?.(),
        this.#backend.nodeReport?.(),
      ]);
      answer = await this.#client.heartbeat({
        inventory,
        placements,
        ...(weightSources ? { weightSources } : {}),
        ...(nodes ? { nodes: nodes.nodes, capabilities: nodes.capabilities } : {}),
      });
    } catch (err) {
      this.#heartbeatsFailed += 1;
      this.#failed(err);
      throw err;
    }
    this.#heartbeatsOk += 1;
    this.#desired = answer.placements;
    try {
      await this.#backend.reconcile(answer.placements);
    } catch (err) {
      this.#reconcilesFailed += 1;
      this.#failed(err);
      throw err;
    }
    if (this.#consecutiveFailures > 0) {
      this.#safeLog('heartbeat recovered', { after: this.#consecutiveFailures });
    }
    this.#consecutiveFailures = 0;
    return answer.placements;
  }

  #failed(err: unknown): void {
    this.#consecutiveFailures += 1;
    this.#lastError = err instanceof Error ? err.message : String(err);
  }

  #schedule(delayMs: number, generation: number): void {
    this.#timer = this.#setTimeout(() => {
      this.#timer = undefined;
      void this.#onTimer(generation);
    }, delayMs);
  }

  async #onTimer(generation: number): Promise<void> {
    let delay = this.#jittered(this.#intervalMs);
    try {
      await this.tick();
    } catch (err) {
      delay = this.#retryDelay(err);
      this.#safeLog('heartbeat failed', {
        error: this.#lastError,
        consecutiveFailures: this.#consecutiveFailures,
        retryInMs: delay,
      });
    }
    if (!this.#running || generation !== this.#generation) return;
    try {
      this.#schedule(delay, generation);
    } catch (err) {
      // Only an injected timer can throw here; the loop stops rather than crash its host.
      this.#running = false;
      this.#safeLog('agent loop stopped: cannot schedule', { error: String(err) });
    }
  }

  #retryDelay(err: unknown): number {
    const failures = Math.max(1, this.#consecutiveFailures);
    let delay = retryable(err) ? Math.min(this.#intervalMs, this.#backoffBaseMs * 2 ** Math.min(failures - 1, 30)) : this.#intervalMs;
    const asked = retryAfterMs(err);
    if (asked !== undefined) delay = Math.max(delay, asked);
    return this.#jittered(delay);
  }

  #jittered(ms: number): number {
    const r = this.#random();
    return Math.max(0, Math.round(ms * (1 + this.#jitter * (2 * r - 1))));
  }

  #safeLog(msg: string, fields?: object): void {
    try {
      this.#log(msg, fields);
    } catch {
      // A broken logger must not stop heartbeats.
    }
  }
}

/** Anything but an explicit `retryable: false` (a PlatformError's verdict) is worth retrying soon. */
function retryable(err: unknown): boolean {
  return !(typeof err === 'object' && err !== null && 'retryable' in err && err.retryable === false);
}

function retryAfterMs(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('retryAfterMs' in err)) return undefined;
  const ms = err.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}
