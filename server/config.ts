/**
 * Configuration from the environment (API.md "Running the server"), validated once at start.
 * A wrong value is a {@link ConfigError} naming the variable.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

import { DEFAULT_WEIGHTS, WEIGHT_BY_SCORER } from '../scheduler/framework/registry.js';
import type { ScoreWeights } from '../scheduler/framework/types.js';
import { parseTrustedProxies } from './http/client-address.js';

export interface Config {
  readonly port: number;
  readonly host: string;
  /** undefined: embedded PGlite persisted in `dataDir`. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly adminToken: string | undefined;
  readonly demo: boolean;
  readonly clusterTtlSeconds: number;
  /**
   * Placement health (README "Placement health"): seconds a placement may report `failing`
   * (`TOKENPOOL_PLACEMENT_FAIL_AFTER_SECONDS`, default 300) and may go without ever being all ready
   * (`TOKENPOOL_PLACEMENT_STARTUP_SECONDS`, default 1,800), for one device per replica — both
   * times `1 + log2(devicesPerReplica)`; and seconds a cluster where a placement of a model failed
   * is avoided for that model (`TOKENPOOL_FAILED_CLUSTER_AVOID_SECONDS`, default 1,800; 0: never).
   */
  readonly placementHealth: { readonly failAfterSeconds: number; readonly startupSeconds: number; readonly avoidSeconds: number };
  readonly timezone: string;
  /**
   * VAT (README "VAT and e-fapiao"): the rate a plan created without `vatRate` gets
   * (`TOKENPOOL_VAT_RATE`, default `"0.06"`, 6 % for information-technology services), and the
   * CJK font the invoice PDF embeds (`TOKENPOOL_INVOICE_FONT`, default Debian's fonts-noto-cjk
   * `NotoSansCJK-Regular.ttc`, whose Simplified Chinese face is used).
   */
  readonly vat: { readonly defaultRate: string; readonly invoiceFont: string };
  /** Half-life of past use in fair-share ordering, in seconds. */
  readonly fairShareHalfLifeSeconds: number;
  /** Server processes sharing the port (node:cluster); more than one needs PostgreSQL. */
  readonly workers: number;
  /** Requests per minute on the API, per server process; 0 turns one off (server/http/rate-limit.ts). */
  readonly requestRates: {
    /** Per tenant without an operator-set rpm (`TOKENPOOL_TENANT_RPM`, default 6000). */
    readonly tenantRpm: number;
    /** Per API key or tenant user (`TOKENPOOL_KEY_RPM`, default 3000). */
    readonly keyRpm: number;
    /** Per cluster agent (`TOKENPOOL_AGENT_RPM`, default 6000). */
    readonly agentRpm: number;
  };
  /** Weights of the scheduler's scorers (`TOKENPOOL_SCHEDULER_WEIGHTS` over the defaults). */
  readonly schedulerWeights: Readonly<ScoreWeights>;
  /**
   * The share of a request's candidates a scheduling round scores at least, 1–100, or 0 to adapt
   * to the city's size (`TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE`).
   */
  readonly schedulerScorePercentage: number;
  /** Days the audit log keeps an entry, at least 180 (`TOKENPOOL_AUDIT_RETENTION_DAYS`, default 365). */
  readonly auditRetentionDays: number;
  /** Days the gateway's request log keeps a request, at least 1 (`TOKENPOOL_REQUEST_LOG_RETENTION_DAYS`, default 90); whole months go at once. */
  readonly requestLogRetentionDays: number;
  /**
   * Days the agents' engine counts of gateway workloads are kept, at least 91
   * (`TOKENPOOL_ENGINE_COUNTS_RETENTION_DAYS`, default 91): longer than an agent may send an event
   * (90 days and 5 minutes back), so an id is never forgotten while it could still be counted again.
   */
  readonly engineCountsRetentionDays: number;
  /** Days measured energy and ready replicas per placement-minute are kept, at least 30 (`TOKENPOOL_ENERGY_RETENTION_DAYS`, default 92). */
  readonly energyRetentionDays: number;
  /** Days the history of the city's totals per minute is kept, at least 1 (`TOKENPOOL_HISTORY_RETENTION_DAYS`, default 400). */
  readonly historyRetentionDays: number;
  /** Connections the token gateway keeps open to one serving replica, at most (`TOKENPOOL_GATEWAY_CONNECTIONS_PER_ENDPOINT`, default 1,024): a stream holds one for its whole length. */
  readonly gatewayConnectionsPerEndpoint: number;
  /**
   * Where the gateway journals each served call's usage event before its answer ends
   * (`TOKENPOOL_METERING_JOURNAL`; default `<TOKENPOOL_DATA_DIR>/metering-journal`, none with an
   * in-memory database); undefined (`off`): answers end only once their events are committed.
   */
  readonly meteringJournal: string | undefined;
  /**
   * When the metering check calls a gateway workload's engine counts on a cluster discrepant with
   * its metered tokens over an hour (server/jobs/metering-check.ts): the difference must pass
   * `fraction` of the larger (`TOKENPOOL_METERING_TOLERANCE`, default 0.05) and `minTokens`
   * (`TOKENPOOL_METERING_MIN_TOKENS`, default 10,000), so that tiny traffic never alerts.
   */
  readonly meteringTolerance: { readonly fraction: number; readonly minTokens: number };
  /** Pending workloads one tenant may have; a create past it is 429 (`TOKENPOOL_MAX_PENDING_PER_TENANT`, default 100). */
  readonly maxPendingPerTenant: number;
  /** Dry runs computed at once per process; one more is 429 (`TOKENPOOL_MAX_CONCURRENT_DRY_RUNS`, default 4). */
  readonly maxConcurrentDryRuns: number;
  /** Limits on clients' connections and request bodies (README "Configuration"). */
  readonly http: HttpLimits;
  /**
   * Where the limits (`rpm`, `tpm`, `maxConcurrent`) live (server/limits/): `url` undefined keeps them
   * in this process's memory (`REDIS_URL`); `timeoutMs` bounds a Redis command before the check
   * falls back to memory (`TOKENPOOL_REDIS_TIMEOUT_MS`, default 200); `prefix` starts every key
   * (`TOKENPOOL_REDIS_PREFIX`, default `tokenpool:`).
   */
  readonly redis: { readonly url: string | undefined; readonly timeoutMs: number; readonly prefix: string };
  /** The port of a gateway-only process (`npm run gateway`, `TOKENPOOL_GATEWAY_PORT`, default 8081). */
  readonly gatewayPort: number;
}

/** What one server process allows its clients. */
export interface HttpLimits {
  /** A request's headers must all arrive within this (`TOKENPOOL_HEADERS_TIMEOUT_SECONDS`). */
  readonly headersTimeoutMs: number;
  /** A whole request, body included, must arrive within this (`TOKENPOOL_REQUEST_TIMEOUT_SECONDS`). */
  readonly requestTimeoutMs: number;
  /** An idle kept-alive connection is closed after this (`TOKENPOOL_KEEP_ALIVE_TIMEOUT_SECONDS`). */
  readonly keepAliveTimeoutMs: number;
  /** Open connections from one client address; more are closed at once; 0: no cap (`TOKENPOOL_MAX_CONNECTIONS_PER_CLIENT`). */
  readonly maxConnectionsPerClient: number;
  /** Request bodies read and parsed at once (`TOKENPOOL_BODY_CONCURRENCY`). */
  readonly bodyConcurrency: number;
  /** Requests that may wait for a body slot; past them, 503 (`TOKENPOOL_BODY_QUEUE`). */
  readonly bodyQueue: number;
  /**
   * The reverse proxies believed about the client's address and scheme, as IP addresses and CIDR
   * ranges in canonical form; empty: none (`TOKENPOOL_TRUSTED_PROXIES`, http/client-address.ts).
   * Their connections are exempt from `maxConnectionsPerClient`.
   */
  readonly trustedProxies: readonly string[];
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const schema = z.object({
  PORT: integer(0, 65535).default(8080),
  HOST: z.string().min(1, 'must not be empty').default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^(postgres(ql)?:\/\/.+|pglite:\/\/memory)$/, 'must be postgres://…, postgresql://… or pglite://memory')
    .optional(),
  TOKENPOOL_DATA_DIR: z.string().min(1, 'must not be empty').default('./.tokenpool'),
  TOKENPOOL_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  TOKENPOOL_DEMO: z.enum(['0', '1'], { message: 'must be 0 or 1' }).optional(),
  TOKENPOOL_CLUSTER_TTL_SECONDS: integer(1, 86_400).default(30),
  TOKENPOOL_PLACEMENT_FAIL_AFTER_SECONDS: integer(1, 7 * 86_400).default(300),
  TOKENPOOL_PLACEMENT_STARTUP_SECONDS: integer(1, 7 * 86_400).default(1800),
  TOKENPOOL_FAILED_CLUSTER_AVOID_SECONDS: integer(0, 7 * 86_400).default(1800),
  TOKENPOOL_TENANT_RPM: integer(0, 1_000_000).default(6000),
  TOKENPOOL_KEY_RPM: integer(0, 1_000_000).default(3000),
  TOKENPOOL_AGENT_RPM: integer(0, 1_000_000).default(6000),
  TOKENPOOL_FAIR_SHARE_HALF_LIFE_SECONDS: integer(1, 30 * 86_400).default(3600),
  TOKENPOOL_TIMEZONE: z.string().refine(isTimeZone, 'must be an IANA time zone such as Asia/Shanghai').default('Asia/Shanghai'),
  TOKENPOOL_VAT_RATE: z
    .string()
    .regex(/^0(\.\d{1,4})?$/, 'must be a rate from 0 to below 1 with at most 4 decimals, such as 0.06')
    .default('0.06'),
  TOKENPOOL_INVOICE_FONT: z.string().default('/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc'),
  TOKENPOOL_SCHEDULER_WEIGHTS: z.string().optional(),
  TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE: integer(0, 100).default(0),
  // The database refuses to delete audit rows younger than 180 days (migration 0012).
  TOKENPOOL_AUDIT_RETENTION_DAYS: integer(180, 36_500).default(365),
  TOKENPOOL_REQUEST_LOG_RETENTION_DAYS: integer(1, 36_500).default(90),
  TOKENPOOL_ENGINE_COUNTS_RETENTION_DAYS: integer(91, 36_500).default(91),
  TOKENPOOL_ENERGY_RETENTION_DAYS: integer(30, 36_500).default(92),
  TOKENPOOL_HISTORY_RETENTION_DAYS: integer(1, 36_500).default(400),
  TOKENPOOL_GATEWAY_CONNECTIONS_PER_ENDPOINT: integer(1, 100_000).default(1024),
  TOKENPOOL_METERING_JOURNAL: z.string().min(1, 'must be a directory or off').optional(),
  TOKENPOOL_METERING_TOLERANCE: z
    .string()
    .regex(/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, 'must be a fraction from 0 to 1, such as 0.05')
    .transform(Number)
    .default(0.05),
  TOKENPOOL_METERING_MIN_TOKENS: integer(0, 1_000_000_000_000).default(10_000),
  TOKENPOOL_HEADERS_TIMEOUT_SECONDS: integer(1, 3600).default(20),
  TOKENPOOL_REQUEST_TIMEOUT_SECONDS: integer(1, 3600).default(120),
  TOKENPOOL_KEEP_ALIVE_TIMEOUT_SECONDS: integer(1, 3600).default(75),
  TOKENPOOL_MAX_CONNECTIONS_PER_CLIENT: integer(0, 1_000_000).default(256),
  TOKENPOOL_BODY_CONCURRENCY: integer(1, 4096).default(16),
  TOKENPOOL_BODY_QUEUE: integer(0, 1_000_000).default(1024),
  TOKENPOOL_TRUSTED_PROXIES: z.string().optional(),
  TOKENPOOL_MAX_PENDING_PER_TENANT: integer(1, 100_000).default(100),
  TOKENPOOL_MAX_CONCURRENT_DRY_RUNS: integer(1, 1000).default(4),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/.+/, 'must be redis://… or rediss://…')
    .optional(),
  TOKENPOOL_REDIS_TIMEOUT_MS: integer(1, 60_000).default(200),
  TOKENPOOL_REDIS_PREFIX: z.string().max(100, 'must be at most 100 characters').default('tokenpool:'),
  TOKENPOOL_GATEWAY_PORT: integer(0, 65535).default(8081),
  TOKENPOOL_WORKERS: z.union([z.literal('auto'), integer(1, 64)], { message: 'must be auto or a whole number from 1 to 64' }).default(1),
});

/** Reads the configuration; empty strings count as unset. Throws ConfigError on the first bad value. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const present = Object.fromEntries(Object.keys(schema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? '?'), issue.message);
  }
  const v = parsed.data;
  const workers = v.TOKENPOOL_WORKERS === 'auto' ? availableParallelism() : v.TOKENPOOL_WORKERS;
  if (workers > 1 && !v.DATABASE_URL?.startsWith('postgres')) {
    throw new ConfigError('TOKENPOOL_WORKERS', 'more than one worker needs DATABASE_URL=postgres://… (the embedded database lives in one process)');
  }
  if (v.TOKENPOOL_REQUEST_TIMEOUT_SECONDS < v.TOKENPOOL_HEADERS_TIMEOUT_SECONDS) {
    throw new ConfigError('TOKENPOOL_REQUEST_TIMEOUT_SECONDS', 'must be at least TOKENPOOL_HEADERS_TIMEOUT_SECONDS (the headers are part of the request)');
  }
  return {
    port: v.PORT,
    host: v.HOST,
    databaseUrl: v.DATABASE_URL,
    dataDir: v.TOKENPOOL_DATA_DIR,
    adminToken: v.TOKENPOOL_ADMIN_TOKEN,
    demo: v.TOKENPOOL_DEMO === undefined ? v.DATABASE_URL === undefined : v.TOKENPOOL_DEMO === '1',
    clusterTtlSeconds: v.TOKENPOOL_CLUSTER_TTL_SECONDS,
    placementHealth: {
      failAfterSeconds: v.TOKENPOOL_PLACEMENT_FAIL_AFTER_SECONDS,
      startupSeconds: v.TOKENPOOL_PLACEMENT_STARTUP_SECONDS,
      avoidSeconds: v.TOKENPOOL_FAILED_CLUSTER_AVOID_SECONDS,
    },
    timezone: v.TOKENPOOL_TIMEZONE,
    vat: { defaultRate: v.TOKENPOOL_VAT_RATE, invoiceFont: v.TOKENPOOL_INVOICE_FONT },
    fairShareHalfLifeSeconds: v.TOKENPOOL_FAIR_SHARE_HALF_LIFE_SECONDS,
    workers,
    requestRates: { tenantRpm: v.TOKENPOOL_TENANT_RPM, keyRpm: v.TOKENPOOL_KEY_RPM, agentRpm: v.TOKENPOOL_AGENT_RPM },
    schedulerWeights: parseWeights(v.TOKENPOOL_SCHEDULER_WEIGHTS),
    schedulerScorePercentage: v.TOKENPOOL_SCHEDULER_SCORE_PERCENTAGE,
    auditRetentionDays: v.TOKENPOOL_AUDIT_RETENTION_DAYS,
    requestLogRetentionDays: v.TOKENPOOL_REQUEST_LOG_RETENTION_DAYS,
    engineCountsRetentionDays: v.TOKENPOOL_ENGINE_COUNTS_RETENTION_DAYS,
    energyRetentionDays: v.TOKENPOOL_ENERGY_RETENTION_DAYS,
    historyRetentionDays: v.TOKENPOOL_HISTORY_RETENTION_DAYS,
    gatewayConnectionsPerEndpoint: v.TOKENPOOL_GATEWAY_CONNECTIONS_PER_ENDPOINT,
    meteringJournal:
      v.TOKENPOOL_METERING_JOURNAL === 'off'
        ? undefined
        : (v.TOKENPOOL_METERING_JOURNAL ?? (v.DATABASE_URL === 'pglite://memory' ? undefined : join(v.TOKENPOOL_DATA_DIR, 'metering-journal'))),
    meteringTolerance: { fraction: v.TOKENPOOL_METERING_TOLERANCE, minTokens: v.TOKENPOOL_METERING_MIN_TOKENS },
    maxPendingPerTenant: v.TOKENPOOL_MAX_PENDING_PER_TENANT,
    maxConcurrentDryRuns: v.TOKENPOOL_MAX_CONCURRENT_DRY_RUNS,
    http: {
      headersTimeoutMs: v.TOKENPOOL_HEADERS_TIMEOUT_SECONDS * 1000,
      requestTimeoutMs: v.TOKENPOOL_REQUEST_TIMEOUT_SECONDS * 1000,
      keepAliveTimeoutMs: v.TOKENPOOL_KEEP_ALIVE_TIMEOUT_SECONDS * 1000,
      maxConnectionsPerClient: v.TOKENPOOL_MAX_CONNECTIONS_PER_CLIENT,
      bodyConcurrency: v.TOKENPOOL_BODY_CONCURRENCY,
      bodyQueue: v.TOKENPOOL_BODY_QUEUE,
      trustedProxies: proxies(v.TOKENPOOL_TRUSTED_PROXIES),
    },
    redis: { url: v.REDIS_URL, timeoutMs: v.TOKENPOOL_REDIS_TIMEOUT_MS, prefix: v.TOKENPOOL_REDIS_PREFIX },
    gatewayPort: v.TOKENPOOL_GATEWAY_PORT,
  };
}

/** `TOKENPOOL_TRUSTED_PROXIES`, checked entry by entry (http/client-address.ts). */
function proxies(text: string | undefined): readonly string[] {
  try {
    return text === undefined ? [] : parseTrustedProxies(text);
  } catch (err) {
    throw new ConfigError('TOKENPOOL_TRUSTED_PROXIES', (err as Error).message);
  }
}

/** The most a scorer may weigh: one score counting a thousand times another is already extreme. */
const MAX_WEIGHT = 1000;

/**
 * `TOKENPOOL_SCHEDULER_WEIGHTS`: comma-separated `scorer=weight` (e.g. `best-fit=2,energy=1`),
 * each weight a number from 0 (scorer off) to {@link MAX_WEIGHT}; scorers not named keep their
 * default weight.
 */
function parseWeights(text: string | undefined): Readonly<ScoreWeights> {
  const variable = 'TOKENPOOL_SCHEDULER_WEIGHTS';
  const weights: { -readonly [K in keyof ScoreWeights]: number } = { ...DEFAULT_WEIGHTS };
  if (text === undefined) return weights;
  const scorers = Object.keys(WEIGHT_BY_SCORER).sort().join(', ');
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const m = /^\s*([^=\s]+)\s*=\s*(\S*)\s*$/.exec(part);
    if (!m) throw new ConfigError(variable, `"${part.trim()}" is not scorer=weight (e.g. best-fit=2,energy=1)`);
    const name = m[1]!;
    const value = m[2]!;
    const key = Object.hasOwn(WEIGHT_BY_SCORER, name) ? WEIGHT_BY_SCORER[name] : undefined;
    if (key === undefined) throw new ConfigError(variable, `unknown scorer "${name}"; the scorers are ${scorers}`);
    if (seen.has(name)) throw new ConfigError(variable, `${name} is given twice`);
    seen.add(name);
    if (!/^\d+(\.\d+)?$/.test(value) || Number(value) > MAX_WEIGHT) {
      throw new ConfigError(variable, `the weight of ${name} must be a number from 0 to ${MAX_WEIGHT}, not "${value}"`);
    }
    weights[key] = Number(value);
  }
  return weights;
}
