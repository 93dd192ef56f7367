/**
 * The token gateway (API.md v2 "Token gateway"): a tenant's OpenAI-format call, checked against
 * its key's limits, routed to a running placement of the model (the tenant's own workloads first),
 * passed through to a serving replica (upstream.ts), and metered as one usage event and one
 * request-log row.
 *
 * A call's answer ends only once its usage event is safe (metering.ts: in the metering journal, or
 * committed): an answer a client received whole is billed, and one cut by a crash before its event
 * was safe reaches the client cut, never whole (README "Token gateway").
 */
import type { Principal } from '../auth/authenticate.js';
import type { Clock } from '../clock.js';
import { AppError, statusOf } from '../errors.js';
import type { ReplyStream } from '../http/route.js';
import type { Logger } from '../log.js';
import type { RequestEndpoint, RequestLogEntry } from '../repositories/requests.repository.js';
import type { ServingTarget } from '../repositories/workloads.repository.js';
import type { RequestRates } from '../repositories/tenants.repository.js';
import type { MeteredCall } from '../services/usage.service.js';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Candidate } from './balancer.js';
import type { Metering } from './metering.js';
import { MemoryLimitStore, type LimitStore, type TokenLimit } from '../limits/store.js';
import { tunnelOrigin } from '../tunnel/tunnels.js';
import { requestUsage, UpstreamError, type AttemptFailure, type MeteredUsage, type UpstreamPath, type UpstreamResult, type Upstream } from './upstream.js';

/** What the gateway needs of the rest of the platform (app.ts wires it). */
export interface GatewayDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly upstream: Upstream;
  /** Where calls to a model can go (WorkloadsRepository.servingTargets). */
  readonly targets: (model: string) => Promise<readonly ServingTarget[]>;
  /** The names of the catalog's models. */
  readonly modelNames: () => Promise<readonly string[]>;
  /** The caller's limits (TenantsService.requestRates, cached). */
  readonly limits: (tenantId: string, apiKeyId: string | undefined) => Promise<RequestRates | undefined>;
  /** Meters served calls (metering.ts). */
  readonly metering: Metering;
  /** Records a finished request (RequestLogService.record). */
  readonly record: (entry: RequestLogEntry) => void;
  /**
   * Tenants with nothing left to spend: a hard-capped plan used up this month
   * (BillingService.exhaustedTenants), or a prepaid balance used up (LedgerService.exhaustedPrepaid).
   */
  readonly exhausted: () => Promise<ReadonlySet<string>>;
  /** Where the gateway's metrics go; none: not collected (tests of other things). */
  readonly registry?: Registry;
  /** How long a model's routing table, and the catalog's names, are kept before they are read again; default 1,000 ms. */
  readonly cacheMs?: number;
  /** How long the set of used-up plans is kept; default 5,000 ms. */
  readonly quotaCacheMs?: number;
  /** Where `tpm` and `maxConcurrent` are counted (server/limits/); default: this process's memory. */
  readonly limitStore?: LimitStore;
  /** Which clusters' tunnels this process holds (server/tunnel/tunnels.ts); none: `tunnel://` endpoints are never used. */
  readonly tunnels?: { connected(clusterId: string): boolean };
}

/** The OpenAI endpoints the gateway serves, by the request log's name. */
export type GatewayEndpoint = RequestEndpoint;

export const GATEWAY_PATHS: Readonly<Record<RequestEndpoint, UpstreamPath>> = {
  'chat.completions': '/v1/chat/completions',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
};

/** A model a key may call, as `GET /v1/models` lists it (OpenAI's shape). */
export interface GatewayModel {
  readonly id: string;
  readonly object: 'model';
  readonly created: number;
  readonly owned_by: string;
}

function modelNotFound(model: string): AppError {
  return new AppError('not_found', `The model "${model}" does not exist.`, undefined, undefined, 'model_not_found');
}

/** Characters per token for a prompt's estimate when the engine reported none (the usual rule of thumb). */
const CHARS_PER_TOKEN = 4;
/** Completion tokens a call is estimated at when it names no `max_tokens` (for `tpm`, settled after). */
const DEFAULT_COMPLETION_ESTIMATE = 256;

/** A call's tokens before it is made, for `tpm`: its prompt's estimate and the completion it allows. */
export function estimateCallTokens(endpoint: RequestEndpoint, body: Readonly<Record<string, unknown>>): number {
  const prompt = estimatePromptTokens(body);
  if (endpoint === 'embeddings') return prompt;
  const max = body.max_completion_tokens ?? body.max_tokens;
  return prompt + (typeof max === 'number' && Number.isFinite(max) && max > 0 ? max : DEFAULT_COMPLETION_ESTIMATE);
}

/** A prompt's tokens estimated from its text, for a stream cut before the engine reported usage. */
export function estimatePromptTokens(body: Readonly<Record<string, unknown>>): number {
  let chars = 0;
  const walk = (v: unknown): void => {
    if (typeof v === 'string') chars += v.length;
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(body.messages ?? body.prompt ?? body.input);
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

export class GatewayService {
  private readonly cache = new Map<string, { until: number; targets: Promise<readonly ServingTarget[]> }>();
  private names: { until: number; names: Promise<readonly string[]> } | undefined;
  /** `tpm` and `maxConcurrent`. */
  private readonly limitStore: LimitStore;
  private used: { until: number; tenants: Promise<ReadonlySet<string>> } | undefined;
  private readonly metrics: GatewayMetrics | undefined;

  constructor(private readonly deps: GatewayDeps) {
    this.limitStore = deps.limitStore ?? new MemoryLimitStore(() => deps.clock.now().getTime());
    this.metrics = deps.registry ? gatewayMetrics(deps.registry, deps.upstream) : undefined;
  }

  /** The models this caller may call now: allowed to its key, with a running placement it can use. */
  async models(principal: Principal): Promise<GatewayModel[]> {
    const { tenantId, apiKeyId } = caller(principal);
    const limits = await this.deps.limits(tenantId, apiKeyId);
    const allowed = limits?.allowedModels ? new Set(limits.allowedModels) : undefined;
    const names = (await this.modelNames()).filter((n) => !allowed || allowed.has(n));
    const usable = await Promise.all(names.map(async (n) => (await this.targetsOf(n)).some((t) => t.shared || t.tenantId === tenantId)));
    return names.filter((_, i) => usable[i]).map((id) => ({ id, object: 'model', created: 0, owned_by: 'tokenpool' }));
  }

  /**
   * Serves one call: the caller's limits, a placement of the model, the replica's answer streamed
   * to `out`, and its usage metered. Throws an AppError (with OpenAI's code) when nothing was
   * written to the client yet.
   */
  async call(principal: Principal, endpoint: RequestEndpoint, body: Readonly<Record<string, unknown>> & { model: string }, out: ReplyStream): Promise<void> {
    const startedAt = this.deps.clock.now();
    const started = performance.now();
    const { tenantId, apiKeyId, userId } = caller(principal);
    const streamed = body.stream === true;
    const entry = (fields: Partial<RequestLogEntry> & Pick<RequestLogEntry, 'status'>): RequestLogEntry => ({
      requestId: out.requestId,
      startedAt,
      tenantId,
      apiKeyId: apiKeyId ?? null,
      userId: userId ?? null,
      model: body.model,
      workloadId: null,
      placementId: null,
      clusterId: null,
      endpoint,
      errorCode: null,
      promptTokens: null,
      completionTokens: null,
      ttftMs: null,
      durationMs: Math.round(performance.now() - started),
      streamed,
      attempts: 0,
      ...fields,
    });
    let release: (() => void) | undefined;
    let settle: ((actual: number) => void) | undefined;
    try {
      ({ release, settle } = await this.admit(tenantId, apiKeyId, endpoint, body));
      const targets = await this.targetsOf(body.model);
      const candidates = this.candidates(targets, tenantId);
      if (candidates.length === 0) {
        throw new AppError('unavailable', `No running placement of "${body.model}" can take this call now.`, undefined, 5, 'model_not_available');
      }
      // The engines serve the model under its served name (the same for every target of it).
      const servedName = targets[0]?.servedName;
      const prepared = requestUsage(servedName && servedName !== body.model ? { ...body, model: servedName } : body);
      const tokensOf = (usage: MeteredUsage | undefined) => ({
        promptTokens: usage?.promptTokens ?? (usage ? estimatePromptTokens(body) : null),
        completionTokens: usage?.completionTokens ?? null,
      });
      // A served call's usage is made safe before the client has its whole answer (metering.ts).
      let metered = false;
      const meter = async (served: Candidate, status: number, usage: MeteredUsage | undefined): Promise<void> => {
        if (metered || status < 200 || status >= 300 || !usage) return;
        metered = true;
        const { promptTokens, completionTokens } = tokensOf(usage);
        try {
          await this.deps.metering.served({
            requestId: out.requestId,
            tenantId,
            apiKeyId: apiKeyId ?? null,
            workloadId: served.workloadId,
            placementId: served.placementId,
            clusterId: served.clusterId,
            inputTokens: promptTokens ?? 0,
            outputTokens: completionTokens ?? 0,
            occurredAt: startedAt,
            ...modelOf(targets.find((t) => t.placementId === served.placementId)),
          });
        } catch (err) {
          // The call was served: its event goes to the log whole, to be replayed, never lost silently.
          this.deps.log.error('metering failed', {
            requestId: out.requestId,
            tenantId,
            workloadId: served.workloadId,
            clusterId: served.clusterId,
            promptTokens,
            completionTokens,
            error: String(err),
          });
        }
      };
      const result = await this.deps.upstream.call({
        candidates,
        path: GATEWAY_PATHS[endpoint],
        body: prepared.body,
        stream: streamed,
        withholdUsage: streamed && !prepared.clientAsked,
        signal: out.signal,
        requestId: out.requestId,
        client: out.body,
        // A whole answer's length is known: no chunked encoding, so its end adds no write of its own.
        onHeaders: (a) =>
          out.head(
            a.status,
            a.contentLength === undefined ? { 'content-type': a.contentType } : { 'content-type': a.contentType, 'content-length': String(a.contentLength) },
          ),
        beforeEnd: (a) => meter(a.candidate, a.status, a.usage),
      });
      const served = result.candidate;
      // A stream cut short (the client left) is billed what the engine produced by then.
      await meter(served, result.status, result.usage);
      const { promptTokens, completionTokens } = tokensOf(result.usage);
      settle((promptTokens ?? 0) + (completionTokens ?? 0));
      this.metrics?.served(body.model, result, promptTokens ?? 0, completionTokens ?? 0);
      this.deps.record(
        entry({
          status: result.status,
          workloadId: served.workloadId,
          placementId: served.placementId,
          clusterId: served.clusterId,
          promptTokens,
          completionTokens,
          ttftMs: Math.round(result.ttfbMs),
          durationMs: Math.round(performance.now() - started),
          attempts: result.attempts,
          errorCode: result.cut === undefined ? null : result.cut,
        }),
      );
    } catch (err) {
      settle?.(0);
      const known = err instanceof UpstreamError ? upstreamFailure(err, body.model) : err;
      const failure = known instanceof AppError ? known : undefined;
      this.metrics?.failed(body.model, failure, err instanceof UpstreamError ? err.failures : []);
      this.deps.record(
        entry({
          status: failure ? statusOf(failure.kind) : 499,
          errorCode: failure?.code ?? (err instanceof UpstreamError && err.kind === 'client_closed' ? 'client_closed' : null),
          attempts: err instanceof UpstreamError ? err.failures.length : 0,
        }),
      );
      throw known;
    } finally {
      release?.();
    }
  }

  /**
   * The caller's limits, in this order: the model exists, the key may call it, the tenant's
   * hard-capped plan is not used up, the key has a free slot (`maxConcurrent`), and the key's and
   * the tenant's `tpm` have room for the call's estimate. Answers the release of the slot and the
   * settlement of the estimate (to the tokens counted, 0 when nothing was served).
   */
  private async admit(
    tenantId: string,
    apiKeyId: string | undefined,
    endpoint: RequestEndpoint,
    body: Readonly<Record<string, unknown>> & { model: string },
  ): Promise<{ release: () => void; settle: (actual: number) => void }> {
    const model = body.model;
    const limits = await this.deps.limits(tenantId, apiKeyId);
    if (!(await this.modelNames()).includes(model)) throw modelNotFound(model);
    if (limits?.allowedModels && !limits.allowedModels.includes(model)) {
      throw new AppError('forbidden', `This API key may not call "${model}".`, undefined, undefined, 'model_not_allowed');
    }
    if ((await this.usedUp()).has(tenantId)) {
      throw new AppError(
        'rate_limited',
        "The tenant has nothing left to spend: its plan's tokens for this month are used up with no overage allowed, or its prepaid balance is used up (top up to continue).",
        undefined,
        3600,
        'insufficient_quota',
      );
    }
    const tokenLimits: TokenLimit[] = [];
    if (apiKeyId !== undefined && limits?.keyTpm) tokenLimits.push({ key: `key:${apiKeyId}`, perMinute: limits.keyTpm, name: "the key's tpm" });
    if (limits?.tenantTpm) tokenLimits.push({ key: `tenant:${tenantId}`, perMinute: limits.tenantTpm, name: "the tenant's tpm" });
    const release = await this.takeSlot(apiKeyId, limits?.maxConcurrent ?? null);
    const reservation = await this.limitStore.reserveTokens(tokenLimits, estimateCallTokens(endpoint, body));
    if (!reservation.ok) {
      release();
      throw new AppError(
        'rate_limited',
        `Too many tokens: over ${reservation.name} of ${reservation.perMinute} a minute; try again in ${reservation.retryAfterSeconds} s.`,
        undefined,
        reservation.retryAfterSeconds,
        'rate_limit_exceeded',
      );
    }
    return { release, settle: (actual) => reservation.settle(actual) };
  }

  /** A slot of the key's `maxConcurrent`; answers its release (idempotent). */
  private async takeSlot(apiKeyId: string | undefined, maxConcurrent: number | null): Promise<() => void> {
    if (apiKeyId === undefined || !maxConcurrent) return () => {};
    const release = await this.limitStore.takeSlot(`key:${apiKeyId}`, maxConcurrent);
    if (!release) {
      throw new AppError('rate_limited', `This API key has ${maxConcurrent} calls in flight, its most.`, undefined, 1, 'rate_limit_exceeded');
    }
    return release;
  }

  /** Tenants with nothing left to spend (a used-up hard cap or prepaid balance), read at most once per `quotaCacheMs`. */
  private usedUp(): Promise<ReadonlySet<string>> {
    const now = this.deps.clock.now().getTime();
    if (!this.used || this.used.until <= now) {
      const tenants = this.deps.exhausted();
      this.used = { until: now + (this.deps.quotaCacheMs ?? 5000), tenants };
      tenants.catch(() => (this.used = undefined));
    }
    return this.used.tenants;
  }

  /** A model's routing table, read at most once per `cacheMs` (a read in flight is shared). */
  private targetsOf(model: string): Promise<readonly ServingTarget[]> {
    const now = this.deps.clock.now().getTime();
    const hit = this.cache.get(model);
    if (hit && hit.until > now) return hit.targets;
    const targets = this.deps.targets(model);
    this.cache.set(model, { until: now + (this.deps.cacheMs ?? 1000), targets });
    targets.catch(() => this.cache.delete(model));
    return targets;
  }

  /** The catalog's model names, read at most once per `cacheMs`. */
  private modelNames(): Promise<readonly string[]> {
    const now = this.deps.clock.now().getTime();
    if (!this.names || this.names.until <= now) {
      const names = this.deps.modelNames();
      this.names = { until: now + (this.deps.cacheMs ?? 1000), names };
      names.catch(() => (this.names = undefined));
    }
    return this.names.names;
  }

  /**
   * The endpoints of the caller's own placements and of shared ones (the balancer tries its own
   * first); each weighted by its share of its placement's throughput.
   */
  private candidates(targets: readonly ServingTarget[], tenantId: string): Candidate[] {
    const out: Candidate[] = [];
    for (const t of targets) {
      const own = t.tenantId === tenantId;
      if (!own && !t.shared) continue;
      for (const reported of t.endpoints) {
        let endpoint = reported;
        if (reported.startsWith('tunnel://')) {
          // Reachable only through the cluster's tunnel, which one process holds (README "Tunnel").
          if (!this.deps.tunnels?.connected(t.clusterId)) continue;
          endpoint = tunnelOrigin(reported, t.clusterId);
        }
        out.push({
          endpoint,
          placementId: t.placementId,
          workloadId: t.workloadId,
          clusterId: t.clusterId,
          servingKey: t.servingKey,
          own,
          weight: t.tokensPerMin / t.endpoints.length,
        });
      }
    }
    return out;
  }
}

/** A routing-table row's model facts, for metering without reading them again (none: read by the meter). */
function modelOf(t: ServingTarget | undefined): Pick<MeteredCall, 'model'> {
  return t ? { model: { modelId: t.modelId, costFactor: t.costFactor, inputFactor: t.inputFactor } } : {};
}

function caller(principal: Principal): { tenantId: string; apiKeyId: string | undefined; userId: string | undefined } {
  if (principal.kind !== 'tenant') throw new AppError('forbidden', 'Models are called with a tenant API key.');
  return { tenantId: principal.tenantId, apiKeyId: principal.apiKeyId, userId: principal.userId };
}

function upstreamFailure(err: UpstreamError, model: string): AppError | UpstreamError {
  switch (err.kind) {
    case 'no_endpoint':
      return new AppError('unavailable', `No replica of "${model}" can take this call now.`, undefined, 5, 'model_not_available');
    case 'all_failed':
      return new AppError('bad_gateway', `The replicas serving "${model}" failed (${err.failures.length} tried).`, undefined, undefined, 'upstream_error');
    case 'timeout':
      return new AppError('bad_gateway', `The replicas serving "${model}" did not answer in time.`, undefined, undefined, 'upstream_timeout');
    case 'client_closed':
      return err;
  }
}

/** The gateway's metrics (README "Token gateway"). */
interface GatewayMetrics {
  served(model: string, result: UpstreamResult, promptTokens: number, completionTokens: number): void;
  failed(model: string, refusal: AppError | undefined, failures: readonly AttemptFailure[]): void;
}

function gatewayMetrics(registry: Registry, upstream: Upstream): GatewayMetrics {
  const duration = new Histogram({
    name: 'tokenpool_gateway_request_duration_seconds',
    help: 'Gateway calls from request to the end of the answer, by model and status',
    labelNames: ['model', 'status'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const ttft = new Histogram({
    name: 'tokenpool_gateway_time_to_first_token_seconds',
    help: "Gateway calls from request to the first byte of the replica's answer, by model",
    labelNames: ['model'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'tokenpool_gateway_tokens_total',
    help: 'Tokens served through the gateway, by model and kind (prompt, completion); its rate is tokens per second',
    labelNames: ['model', 'kind'] as const,
    registers: [registry],
  });
  const upstreamErrors = new Counter({
    name: 'tokenpool_gateway_upstream_errors_total',
    help: 'Attempts on a replica that did not serve, by cluster and reason (connect, timeout, status, busy, too_large)',
    labelNames: ['cluster_id', 'reason'] as const,
    registers: [registry],
  });
  const retried = new Counter({
    name: 'tokenpool_gateway_retries_total',
    help: 'Calls served by another replica after one failed before the first byte, by the serving cluster',
    labelNames: ['cluster_id'] as const,
    registers: [registry],
  });
  const refused = new Counter({
    name: 'tokenpool_gateway_refusals_total',
    help: 'Calls refused or failed before an answer, by OpenAI error code',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'tokenpool_gateway_circuits',
    help: "Replicas' circuit breakers by state (closed, open, half_open)",
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const counts = { closed: 0, open: 0, half_open: 0 };
      for (const [, state] of upstream.breakers.states()) counts[state]++;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  const countFailures = (failures: readonly AttemptFailure[]) => {
    for (const f of failures) upstreamErrors.inc({ cluster_id: f.candidate.clusterId, reason: f.reason });
  };
  return {
    served(model, result, promptTokens, completionTokens) {
      duration.observe({ model, status: String(result.status) }, result.durationMs / 1000);
      ttft.observe({ model }, result.ttfbMs / 1000);
      tokens.inc({ model, kind: 'prompt' }, promptTokens);
      tokens.inc({ model, kind: 'completion' }, completionTokens);
      countFailures(result.failures);
      if (result.failures.length > 0) retried.inc({ cluster_id: result.candidate.clusterId });
    },
    failed(_model, refusal, failures) {
      refused.inc({ code: refusal ? (refusal.code ?? refusal.kind) : 'client_closed' });
      countFailures(failures);
    },
  };
}
