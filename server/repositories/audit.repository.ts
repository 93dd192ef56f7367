import { sql, type Kysely, type Selectable } from 'kysely';
import type { AuditLogTable, DB } from '../../db/schema.js';
import { onePage, type PageRequest } from './paging.js';

export type AuditRow = Selectable<AuditLogTable>;

/** An audit entry as written. */
export interface AuditEntry {
  readonly at: Date;
  readonly actorKind: 'operator' | 'tenant';
  readonly actorName: string | null;
  readonly actorUserId: string | null;
  readonly actorKeyId: string | null;
  readonly tenantId: string | null;
  readonly method: string;
  readonly route: string;
  readonly resourceId: string | null;
  readonly createdId: string | null;
  readonly status: number;
  /** JSON text of what changed (the redacted request body), or null. */
  readonly changes: string | null;
  readonly address: string | null;
  readonly requestId: string | null;
}

export interface AuditFilter {
  /** Rows of this tenant only. */
  readonly tenantId?: string | undefined;
  /** Rows whose actor has this name, user id or API key id. */
  readonly actor?: string | undefined;
  /** Rows of this route template. */
  readonly route?: string | undefined;
  /** From this instant (inclusive). */
  readonly from?: Date | undefined;
  /** Before this instant (exclusive). */
  readonly to?: Date | undefined;
}

/** The append-only audit log (migration 0012): inserts, reads, and the retention's deletion. */
export class AuditRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Writes entries in one statement, one array parameter per column: the same SQL text whatever
   * the batch's size (prepared once, see db/auto-prepare.ts) and no per-row query building, for
   * this is written with every change the platform takes.
   */
  async insert(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const column = <K extends keyof AuditEntry>(k: K): AuditEntry[K][] => entries.map((e) => e[k]);
    await sql`
      INSERT INTO audit_log (at, actor_kind, actor_name, actor_user_id, actor_key_id, tenant_id, method, route, resource_id, created_id,
                             status, changes, address, request_id)
      SELECT at, actor_kind, actor_name, actor_user_id, actor_key_id, tenant_id, method, route, resource_id, created_id,
             status, changes::jsonb, address, request_id
        FROM unnest(${column('at')}::timestamptz[], ${column('actorKind')}::text[], ${column('actorName')}::text[], ${column('actorUserId')}::text[],
                    ${column('actorKeyId')}::text[], ${column('tenantId')}::text[], ${column('method')}::text[], ${column('route')}::text[],
                    ${column('resourceId')}::text[], ${column('createdId')}::text[], ${column('status')}::int4[], ${column('changes')}::text[],
                    ${column('address')}::text[], ${column('requestId')}::text[]) WITH ORDINALITY
             AS e(at, actor_kind, actor_name, actor_user_id, actor_key_id, tenant_id, method, route, resource_id, created_id,
                  status, changes, address, request_id, n)
       ORDER BY n`.execute(this.db);
  }

  list(filter: AuditFilter, page: PageRequest): Promise<AuditRow[]> {
    let q = this.db.selectFrom('audit_log').selectAll();
    if (filter.tenantId !== undefined) q = q.where('tenant_id', '=', filter.tenantId);
    if (filter.route !== undefined) q = q.where('route', '=', filter.route);
    if (filter.from !== undefined) q = q.where('at', '>=', filter.from);
    if (filter.to !== undefined) q = q.where('at', '<', filter.to);
    const actor = filter.actor;
    if (actor !== undefined) q = q.where((eb) => eb.or([eb('actor_name', '=', actor), eb('actor_user_id', '=', actor), eb('actor_key_id', '=', actor)]));
    return q.$call(onePage(page)).execute();
  }

  /** Deletes the rows written before `cutoff`; answers how many. */
  async deleteBefore(cutoff: Date): Promise<number> {
    const r = await this.db.deleteFrom('audit_log').where('at', '<', cutoff).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
