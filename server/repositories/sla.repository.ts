/**
 * SLA spells (issue 15, billing/sla.ts): when a workload that has run delivers less throughput than
 * it reserves. `measureAvailability` is called by the code paths that change placements' readiness
 * (workloads.repository.ts: the agents' ready reports, lost clusters, failed placements, a cycle's
 * commit, a rescale, a delete), in their transaction when they have one.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../../db/schema.js';
import { ACTIVE_PLACEMENT_STATES, PlacementState, sqlStates, WorkloadState } from '../domain/workload-states.js';

const ACTIVE = sql.raw(sqlStates(ACTIVE_PLACEMENT_STATES));

/** How a spell started: which placement (and cluster) is responsible, and how. */
export type SpellReason = 'lost' | 'failed' | 'under_replicated' | 'unplaced';

/**
 * Measures `workloadIds` now and records the change: a workload short of its reserve opens a
 * spell (if none is open), one that is not closes its open spell. Short means: it is not deleted,
 * some placement of it has been all ready once (a workload never yet running is not measured), and
 * its active placements deliver less than its `tokensPerMin` — a placement delivers its
 * `tokensPerMin` when all its replicas are ready, else `readyReplicas × tokensPerMin ÷ replicas`.
 * The responsible placement is, first, a lost or failed one not yet released (the latest to end;
 * a lost one's spell starts at its cluster's last heartbeat, when it was last known to serve),
 * else an active one with fewer ready replicas than it runs (`under_replicated`), else none
 * (`unplaced`: preempted, or being placed again).
 */
export async function measureAvailability(db: Kysely<DB> | Transaction<DB>, workloadIds: readonly string[], now: Date): Promise<void> {
  if (workloadIds.length === 0) return;
  const ids = [...new Set(workloadIds)];
  const measured = await sql<{ id: string; tenant_id: string; short: boolean; open: boolean }>`
    SELECT w.id, w.tenant_id,
           (w.state <> ${sql.lit(WorkloadState.deleted)}
            AND EXISTS (SELECT 1 FROM placements r WHERE r.workload_id = w.id AND r.ready_at IS NOT NULL)
            AND coalesce((SELECT sum(CASE WHEN p.ready_replicas >= p.replicas THEN p.tokens_per_min
                                          ELSE p.ready_replicas * p.tokens_per_min / p.replicas END)
                            FROM placements p WHERE p.workload_id = w.id AND p.state IN ${ACTIVE}), 0) < w.tokens_per_min) AS short,
           EXISTS (SELECT 1 FROM sla_spells s WHERE s.workload_id = w.id AND s.ended_at IS NULL) AS open
      FROM workloads w WHERE w.id = ANY(${ids}::text[])`.execute(db);
  const ending = measured.rows.filter((r) => !r.short && r.open).map((r) => r.id);
  if (ending.length > 0) {
    // Never before it started: a report measured with an earlier clock (another request or process
    // that took `now` first) may end a spell a later one opened; it then lasted nothing.
    await db
      .updateTable('sla_spells')
      .set({ ended_at: sql<Date>`greatest(${now}::timestamptz, started_at)` })
      .where('workload_id', 'in', ending)
      .where('ended_at', 'is', null)
      .execute();
  }
  const starting = measured.rows.filter((r) => r.short && !r.open);
  if (starting.length === 0) return;
  const culprits = await sql<{ workload_id: string; id: string; cluster_id: string; state: string; last_heartbeat_at: Date | null }>`
    SELECT p.workload_id, p.id, p.cluster_id, p.state, c.last_heartbeat_at
      FROM placements p JOIN clusters c ON c.id = p.cluster_id
     WHERE p.workload_id = ANY(${starting.map((r) => r.id)}::text[])
       AND (p.state IN (${PlacementState.lost}, ${PlacementState.failed}) OR (p.state IN ${ACTIVE} AND p.ready_replicas < p.replicas))
     ORDER BY p.workload_id, (p.state IN ${ACTIVE}), p.ended_at DESC NULLS LAST, p.id`.execute(db);
  const culpritOf = new Map<string, (typeof culprits.rows)[number]>();
  for (const c of culprits.rows) if (!culpritOf.has(c.workload_id)) culpritOf.set(c.workload_id, c);
  const rows = starting.map((r) => {
    const c = culpritOf.get(r.id);
    const reason: SpellReason = !c ? 'unplaced' : c.state === PlacementState.lost || c.state === PlacementState.failed ? c.state : 'under_replicated';
    const since = reason === 'lost' && c?.last_heartbeat_at && c.last_heartbeat_at < now ? c.last_heartbeat_at : now;
    return { workload_id: r.id, tenant_id: r.tenant_id, placement_id: c?.id ?? null, cluster_id: c?.cluster_id ?? null, reason, started_at: since };
  });
  // Two reports of one workload's clusters may measure it at once: the open spell stays one.
  await sql`
    INSERT INTO sla_spells (workload_id, tenant_id, placement_id, cluster_id, reason, started_at)
    SELECT * FROM unnest(${rows.map((r) => r.workload_id)}::text[], ${rows.map((r) => r.tenant_id)}::text[], ${rows.map((r) => r.placement_id)}::text[],
                         ${rows.map((r) => r.cluster_id)}::text[], ${rows.map((r) => r.reason)}::text[],
                         ${rows.map((r) => r.started_at.toISOString())}::timestamptz[])
    ON CONFLICT (workload_id) WHERE ended_at IS NULL DO NOTHING`.execute(db);
}

/** A recorded spell (GET /api/v1/workloads/:id/sla-spells, the close). */
export interface SpellRow {
  readonly workload_id: string;
  readonly tenant_id: string;
  readonly placement_id: string | null;
  readonly cluster_id: string | null;
  readonly reason: SpellReason;
  readonly started_at: Date;
  readonly ended_at: Date | null;
}

/** One workload's SLA record: its spells and credits, oldest first. */
export async function slaRecordOf(
  db: Kysely<DB>,
  workloadId: string,
): Promise<{
  spells: SpellRow[];
  credits: { period: string; subscription_id: string; availability: string; credit_percent: string; amount: string; invoice_id: string | null }[];
}> {
  const [spells, credits] = await Promise.all([
    db
      .selectFrom('sla_spells')
      .select(['workload_id', 'tenant_id', 'placement_id', 'cluster_id', 'reason', 'started_at', 'ended_at'])
      .where('workload_id', '=', workloadId)
      .orderBy('started_at')
      .orderBy('id')
      .execute(),
    db
      .selectFrom('sla_credits')
      .select(['period', 'subscription_id', 'availability', 'credit_percent', 'amount', 'invoice_id'])
      .where('workload_id', '=', workloadId)
      .orderBy('period')
      .orderBy('subscription_id')
      .execute(),
  ]);
  return { spells: spells as SpellRow[], credits };
}
