/**
 * Request rates on the API: how many requests a minute a tenant, each of its keys (or users) and
 * each agent may make, checked by the pipeline right after authentication and before the body is
 * read. Over a limit the answer is 429 problem+json naming the limit, with `Retry-After`; every
 * limited answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (the
 * IETF httpapi draft's fields) for the limit closest to running out.
 *
 * The rule (GCRA) and where its state lives are the limit store's (server/limits/): this
 * process's memory, or Redis when `REDIS_URL` is set, so that the limits hold across every
 * process and replica that shares it (README "Limits across processes").
 */
import type { Principal } from '../auth/authenticate.js';
import { rateLimited } from '../errors.js';
import type { Limit } from '../limits/request-rates.js';
import type { LimitStore } from '../limits/store.js';

/** Requests per minute from the platform's configuration; 0 turns a limit off. */
export interface DefaultRates {
  /** Per tenant, when the operator has set none on it (`TOKENPOOL_TENANT_RPM`). */
  readonly tenantRpm: number;
  /** Per API key or tenant user, whatever the key's own `rpm` (`TOKENPOOL_KEY_RPM`). */
  readonly keyRpm: number;
  /** Per cluster agent (`TOKENPOOL_AGENT_RPM`). */
  readonly agentRpm: number;
}

/** The rates set on a tenant and on the key used (null: unset). */
export interface SetRates {
  readonly tenantRpm: number | null;
  readonly keyRpm: number | null;
}

/** The pipeline's hook after authentication: may set headers on the answer; throws a 429 AppError to refuse. */
export type Admission = (principal: Principal, setHeader: (name: string, value: string) => void) => Promise<void>;

/**
 * The request-rate check for the pipeline. A tenant's request counts against the tenant (its
 * operator-set `rpm`, else the platform default) and against the key or user making it (the
 * platform default per key, and the key's own `rpm` when set — a tenant admin can only lower
 * it). An agent counts against the platform's per-agent rate. The operator is not limited.
 */
export function requestRates(opts: {
  store: LimitStore;
  defaults: DefaultRates;
  ratesOf: (tenantId: string, apiKeyId: string | undefined) => Promise<SetRates | undefined>;
}): Admission {
  const { store, defaults } = opts;
  return async (principal, setHeader) => {
    const limits: Limit[] = [];
    if (principal.kind === 'agent') {
      if (defaults.agentRpm > 0) limits.push({ key: `agent:${principal.clusterId}`, perMinute: defaults.agentRpm, name: "the platform's rate per agent" });
    } else if (principal.kind === 'tenant') {
      const set = await opts.ratesOf(principal.tenantId, principal.apiKeyId);
      const tenantRpm = set?.tenantRpm ?? defaults.tenantRpm;
      if (tenantRpm > 0) {
        limits.push({
          key: `tenant:${principal.tenantId}`,
          perMinute: tenantRpm,
          name: set?.tenantRpm ? "the tenant's rate (rpm)" : "the platform's rate per tenant",
        });
      }
      const who = principal.apiKeyId !== undefined ? `key:${principal.apiKeyId}` : principal.userId !== undefined ? `user:${principal.userId}` : undefined;
      if (who !== undefined) {
        const own = set?.keyRpm ?? 0;
        if (own > 0 && (defaults.keyRpm === 0 || own <= defaults.keyRpm)) limits.push({ key: who, perMinute: own, name: "the key's rate (rpm)" });
        else if (defaults.keyRpm > 0) limits.push({ key: who, perMinute: defaults.keyRpm, name: "the platform's rate per key" });
      }
    }
    if (limits.length === 0) return;
    const d = await store.takeRequests(limits);
    setHeader('ratelimit-limit', String(d.limit));
    setHeader('ratelimit-remaining', String(d.remaining));
    setHeader('ratelimit-reset', String(d.resetSeconds));
    if (!d.allowed) {
      // Sent as Retry-After by the pipeline.
      throw rateLimited(`Too many requests: over ${d.name} of ${d.limit} a minute; try again in ${d.retryAfterSeconds} s.`, d.retryAfterSeconds);
    }
  };
}
