/**
 * The audit trail (MLPS 2.0 security audit): every change an operator or a tenant makes through
 * the API, and every sign-in — who, what resource, what changed (secrets redacted), when, from
 * which address — kept append-only in the database; and refused requests (401, 403, failed
 * sign-ins) counted and logged without secrets.
 *
 * The pipeline tells `observe` how each request ended, after the answer; entries are written in
 * batches (group commit), so no answer waits for the audit log, and an entry that cannot be
 * written is logged and counted, never turned into the user's error.
 */
import type { Principal } from '../auth/authenticate.js';
import { AppError } from '../errors.js';
import { BatchWriter } from './batch-writer.js';
import type { Clock } from '../clock.js';
import type { RequestOutcome } from '../http/pipeline.js';
import type { Logger } from '../log.js';
import type { AuditEntry, AuditFilter, AuditRepository, AuditRow } from '../repositories/audit.repository.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';

/** Why a request was refused, as the `reason` label of the refusal counter. */
export type RefusalReason = 'sign_in_failed' | 'sign_in_throttled' | 'unauthenticated' | 'forbidden' | 'rate_limited';

export interface AuditMetrics {
  refused(reason: RefusalReason): void;
  /** Entries that could not be written. */
  writeFailed(count: number): void;
}

export interface AuditView {
  readonly at: string;
  readonly actor: {
    readonly kind: string;
    readonly name: string | null;
    readonly userId: string | null;
    readonly apiKeyId: string | null;
    readonly tenantId: string | null;
  };
  readonly method: string;
  readonly route: string;
  readonly resourceId: string | null;
  readonly createdId: string | null;
  readonly status: number;
  readonly changes: unknown;
  readonly address: string | null;
  readonly requestId: string | null;
}

/** The days a row is kept at least: the database refuses to delete younger ones (migration 0012). */
export const MIN_AUDIT_RETENTION_DAYS = 180;
/** Longer request bodies are not kept whole: the entry says so instead. */
export const MAX_CHANGES_CHARS = 64 * 1024;
const DAY_MS = 86_400_000;
/** How long an entry waits for others to be written with it. */
const AUDIT_LINGER_MS = 100;
/** Most entries in one insert: a full batch is written without waiting for the linger. */
const AUDIT_BATCH = 1000;
const CHANGE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const SIGN_IN_ROUTE = '/api/v1/session';
const GATEWAY_PREFIX = '/v1/';
/** Field names whose values are secrets: passwords, tokens, keys (`apiKey`, not `apiKeyId`). */
const SECRET_FIELD = /(password|secret|token|key)$/i;
export const REDACTED = '[redacted]';

export class AuditService {
  /** No answer waits for its entry: entries gather for a linger and go one insert per batch. */
  private readonly entries = new BatchWriter<AuditEntry>({
    write: (batch) => this.repo.insert(batch),
    lingerMs: AUDIT_LINGER_MS,
    maxBatch: AUDIT_BATCH,
    failed: (count, err) => this.failed(count, err),
  });

  constructor(
    private readonly repo: AuditRepository,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: AuditMetrics,
    private readonly retentionDays: number,
  ) {}

  /** The pipeline's audit sink: records a successful change, counts a refusal. Never throws. */
  readonly observe = (o: RequestOutcome): void => {
    try {
      if (o.status >= 200 && o.status < 300) {
        // Calls to models (POST /v1/…) change nothing: the request log keeps them.
        if (CHANGE_METHODS.has(o.method) && !o.route.startsWith(GATEWAY_PREFIX)) this.record(o);
      } else if (o.status === 401 || o.status === 403 || (o.status === 429 && (o.route === SIGN_IN_ROUTE || o.body === undefined))) {
        // A 429 before the body was read is the request-rate check's (pipeline.ts); later ones are other limits (pending workloads, dry runs).
        this.refuse(o);
      }
    } catch (err) {
      this.failed(1, err);
    }
  };

  /** Waits for the entries already handed to `observe` to be written (or to have failed). */
  settled(): Promise<void> {
    return this.entries.settled();
  }

  /**
   * A page of entries, newest last (in the order written): the operator's of every tenant, or of
   * the one it names; a tenant admin's of its own tenant only; anyone else is refused (403).
   */
  async list(principal: Principal, filter: AuditFilter, page: PageRequest): Promise<Page<AuditView>> {
    let tenantId = filter.tenantId;
    if (principal.kind === 'tenant') {
      if (principal.admin !== true) throw new AppError('forbidden', "Only the tenant's admins may read its audit log.");
      tenantId = principal.tenantId;
    } else if (principal.kind !== 'operator') {
      throw new AppError('forbidden', `The audit log is not for ${principal.kind} credentials.`);
    }
    // Read what this process has answered already, as a client who just made a change expects;
    // only those: under a stream of changes, later ones are not waited for.
    await this.settled();
    const rows = await this.repo.list({ ...filter, tenantId }, page);
    return toPage(rows, page.limit, view);
  }

  /** Deletes the entries older than the retention (by the clock); answers how many. */
  purge(): Promise<number> {
    return this.repo.deleteBefore(new Date(this.clock.now().getTime() - this.retentionDays * DAY_MS));
  }

  private record(o: RequestOutcome): void {
    const p = o.principal?.kind === 'public' && o.route === SIGN_IN_ROUTE && o.method === 'POST' ? signedIn(o.reply) : o.principal;
    // Agents' heartbeats and usage are not changes by people; other public routes have no actor.
    if (p?.kind !== 'operator' && p?.kind !== 'tenant') return;
    const replyId = (o.reply as { id?: unknown } | undefined)?.id;
    const entry: AuditEntry = {
      at: this.clock.now(),
      actorKind: p.kind,
      actorName: p.name ?? null,
      actorUserId: p.userId ?? null,
      actorKeyId: p.kind === 'tenant' ? (p.apiKeyId ?? null) : null,
      tenantId: p.kind === 'tenant' ? p.tenantId : null,
      method: o.method,
      route: o.route,
      resourceId: o.params.id ?? null,
      createdId: o.method === 'POST' && typeof replyId === 'string' && replyId !== o.params.id ? replyId : null,
      status: o.status,
      changes: changesText(o.body),
      address: o.address ?? null,
      requestId: o.requestId,
    };
    this.entries.add(entry);
  }

  private refuse(o: RequestOutcome): void {
    const reason: RefusalReason =
      o.route === SIGN_IN_ROUTE && o.method === 'POST'
        ? o.status === 429
          ? 'sign_in_throttled'
          : 'sign_in_failed'
        : o.status === 401
          ? 'unauthenticated'
          : o.status === 429
            ? 'rate_limited'
            : 'forbidden';
    this.metrics.refused(reason);
    // Never the credentials, the body or the query: only what identifies the attempt.
    this.log.warn('request refused', {
      reason,
      status: o.status,
      method: o.method,
      route: o.route,
      principal: o.principal?.kind,
      address: o.address,
      requestId: o.requestId,
    });
  }

  private failed(count: number, err: unknown): void {
    this.metrics.writeFailed(count);
    this.log.error('audit entry not written', { error: String(err instanceof Error ? err.message : err) });
  }
}

/** Who a sign-in's answer (the session's view) says signed in. */
function signedIn(reply: unknown): Principal | undefined {
  const s = reply as { kind?: unknown; name?: unknown; tenantId?: unknown } | undefined;
  if (typeof s?.name !== 'string') return undefined;
  if (s.kind === 'operator') return { kind: 'operator', name: s.name };
  if (s.kind === 'tenant' && typeof s.tenantId === 'string') return { kind: 'tenant', tenantId: s.tenantId, name: s.name };
  return undefined;
}

function view(r: AuditRow): AuditView {
  return {
    at: r.at.toISOString(),
    actor: { kind: r.actor_kind, name: r.actor_name, userId: r.actor_user_id, apiKeyId: r.actor_key_id, tenantId: r.tenant_id },
    method: r.method,
    route: r.route,
    resourceId: r.resource_id,
    createdId: r.created_id,
    status: r.status,
    changes: r.changes ?? null,
    address: r.address,
    requestId: r.request_id,
  };
}

/** The JSON text kept of a request body: secrets redacted, at most MAX_CHANGES_CHARS. */
export function changesText(body: unknown): string | null {
  if (body === undefined) return null;
  const text = JSON.stringify(redact(body));
  return text.length > MAX_CHANGES_CHARS ? JSON.stringify({ omitted: `a body of ${text.length} characters` }) : text;
}

/**
 * A copy of `value` with the values of secret fields replaced by {@link REDACTED}, and strings
 * made storable in jsonb (no NUL, no lone surrogates).
 */
export function redact(value: unknown): unknown {
  if (typeof value === 'string') return storable(value);
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[storable(k)] = SECRET_FIELD.test(k) ? REDACTED : redact(v);
    return out;
  }
  return value;
}

const SUSPECT = /[\u0000\ud800-\udfff]/;
const NOT_STORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function storable(s: string): string {
  // The cheap test first: almost every string has neither.
  return SUSPECT.test(s) ? s.replace(NOT_STORABLE, '\ufffd') : s;
}
