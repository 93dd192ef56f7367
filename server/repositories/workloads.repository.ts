import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB, PlacementsTable, WorkloadsTable } from '../../db/schema.js';
import { placementStdSql } from '../../scheduler/capacity.js';
import type { Priority } from '../../scheduler/framework/types.js';
import type { HeldPlacement, KeptPlacement } from '../../scheduler/rescale.js';
import { PRIORITY_RANK } from '../../scheduler/snapshot.js';
import { measureAvailability, slaRecordOf } from './sla.repository.js';
import { ACTIVE_PLACEMENT_STATES, HOLDING_WORKLOAD_STATES, PLACEMENT, PlacementState, sqlStates, WORKLOAD, WorkloadState } from '../domain/workload-states.js';
import { Coalescer } from './coalesce.js';
import { onePage, type PageRequest } from './paging.js';

export type WorkloadRow = Selectable<WorkloadsTable>;
export type PlacementRow = Selectable<PlacementsTable>;

/** A workload row with its model's name and cost factor. */
export type WorkloadWithModel = WorkloadRow & { model_name: string; cost_factor: string };
/** What a scheduling cycle reads of a pending workload. */
export type PendingWorkload = Pick<
  WorkloadWithModel,
  'id' | 'tenant_id' | 'seq' | 'model_id' | 'tokens_per_min' | 'priority' | 'regions' | 'ha' | 'version' | 'cost_factor'
>;

/** What an insert made: the row, or why none (no model has the name; the tenant's pending cap is reached). */
export type InsertAnswer = WorkloadRow | 'unknown_model' | 'over_cap' | { readonly maxPriority: Priority };

/** The rank of the priority a tenant `t` was granted (`max_priority`), from the scheduler's PRIORITY_RANK. */
const GRANTED_RANK = sql.raw(
  `CASE t.max_priority ${Object.entries(PRIORITY_RANK)
    .map(([name, rank]) => `WHEN '${name}' THEN ${rank}`)
    .join(' ')} END`,
);

/**
 * A window of `perTenant` pending workloads (at least 2): its `head` oldest, and `tail` more read
 * in turns (WorkloadsRepository.pending).
 */
export function pendingWindow(perTenant: number): { readonly head: number; readonly tail: number } {
  const size = Math.max(2, Math.floor(perTenant));
  return { head: Math.ceil(size / 2), tail: size - Math.ceil(size / 2) };
}

/** A workload to insert, pending, for the model of that name. */
export interface NewWorkload {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly kind: string;
  readonly modelName: string;
  readonly tokensPerMin: number;
  readonly priority: string;
  readonly regions: string[] | null;
  readonly ha: boolean;
  /** `gateway` or `direct` (migration 0018). */
  readonly access: string;
  /** Run by the operator for every tenant (migration 0021); its tenant is the platform's own. */
  readonly shared?: boolean;
  readonly now: Date;
}

export interface NewPlacement {
  readonly id: string;
  readonly clusterId: string;
  readonly deviceModel: string;
  readonly profileId: string;
  readonly profileName: string;
  readonly resourceName: string;
  readonly replicas: number;
  readonly devicesPerReplica: number;
  readonly tokensPerMin: number;
}

/** What one scheduling cycle decided, committed in one transaction. */
export interface CycleCommit {
  readonly placed: readonly { workloadId: string; version: number; placements: readonly NewPlacement[] }[];
  readonly pending: readonly { workloadId: string; version: number; reason: string; message: string }[];
  /** Workloads whose placements are released and who go back to pending (preempted or evicted). */
  readonly requeued: readonly { workloadId: string; reason: string; message: string }[];
}

export interface ActivePlacement {
  readonly id: string;
  readonly workload_id: string;
  readonly tenant_id: string;
  readonly priority: string;
  readonly workload_seq: number;
  readonly cluster_id: string;
  readonly device_model: string;
  readonly replicas: number;
  readonly devices_per_replica: number;
  readonly tokens_per_min: number;
  readonly workload_tokens_per_min: number;
  readonly cost_factor: string;
}

/**
 * The active placement states as an SQL list of literals, never parameters: the partial index
 * on active placements (migration 0002) serves a statement only when its planner can prove the
 * index's predicate, which a prepared statement's generic plan cannot do from `state IN ($1, $2)`.
 * With parameters, a heartbeat's desired set became a scan of every placement.
 */
export const ACTIVE_SQL = sql.raw(sqlStates(ACTIVE_PLACEMENT_STATES));

// Every change of state this repository makes, checked against the tables as the module loads.
const PLACE = WORKLOAD.move(WorkloadState.placed, [WorkloadState.pending]);
const REQUEUE = WORKLOAD.move(WorkloadState.pending, HOLDING_WORKLOAD_STATES);
const DELETE = WORKLOAD.move(WorkloadState.deleted);
const WORKLOAD_READY = WORKLOAD.move(WorkloadState.running, [WorkloadState.placed]);
const WORKLOAD_UNREADY = WORKLOAD.move(WorkloadState.placed, [WorkloadState.running]);
const PLACEMENT_READY = PLACEMENT.move(PlacementState.running, [PlacementState.placed]);
const PLACEMENT_UNREADY = PLACEMENT.move(PlacementState.placed, [PlacementState.running]);
const LOSE = PLACEMENT.move(PlacementState.lost, ACTIVE_PLACEMENT_STATES);
const RELEASE_ACTIVE = PLACEMENT.move(PlacementState.released, ACTIVE_PLACEMENT_STATES);
/** Lost and failed placements are history once their workload is placed again. */
const RELEASE_LOST = PLACEMENT.move(PlacementState.released, [PlacementState.lost, PlacementState.failed]);
const FAIL = PLACEMENT.move(PlacementState.failed, ACTIVE_PLACEMENT_STATES);
/** Every placement that is not history yet: active or lost. */
const RELEASE_ALL = PLACEMENT.move(PlacementState.released);

/**
 * Locks the placements of `workloadIds` that are not released yet, in id order, in the caller's
 * transaction. The lock order of the house: a transaction that changes placements and their
 * workloads locks the placements first, in id order, then the workloads — the agents' ready
 * reports (recordReady) too. Two such transactions then never wait on each other in a circle,
 * which PostgreSQL would end by aborting one of them (a heartbeat's 500, a failed cycle).
 */
async function lockPlacementsOf(tx: Transaction<DB>, workloadIds: readonly string[]): Promise<void> {
  if (workloadIds.length === 0) return;
  await sql`SELECT id FROM placements
             WHERE workload_id = ANY(${[...workloadIds]}::text[]) AND state <> ${sql.lit(PlacementState.released)}
             ORDER BY id FOR UPDATE`.execute(tx);
}

/**
 * Releases the placements of `workloadIds` that `move` may release (active ones, or every one not
 * released yet), in the caller's transaction.
 */
async function releasePlacements(tx: Transaction<DB>, workloadIds: readonly string[], move: typeof RELEASE_ALL, now: Date): Promise<void> {
  await tx
    .updateTable('placements')
    .set({ state: move.to, ended_at: now })
    .where(sql<boolean>`workload_id = ANY(${[...workloadIds]}::text[])`)
    .where('state', 'in', move.from)
    .execute();
}

/** A placement the token gateway may send calls to (see WorkloadsRepository.servingTargets). */
export interface ServingTarget {
  readonly placementId: string;
  readonly workloadId: string;
  readonly tenantId: string;
  /** Run for every tenant (callable by all), not only its own tenant. */
  readonly shared: boolean;
  readonly clusterId: string;
  readonly servingKey: string;
  /** Base URLs of its ready replicas, as its agent last reported them. */
  readonly endpoints: string[];
  /** The placement's throughput (model tokens per minute) when all its replicas are ready. */
  readonly tokensPerMin: number;
  readonly readyReplicas: number;
  readonly replicas: number;
  /** The model's id and factors as exact decimal text, for metering a call without reading them again. */
  readonly modelId: string;
  readonly costFactor: string;
  readonly inputFactor: string;
  /** The name its engine serves the model under (the model's `servedName`, else its name): the `model` the gateway sends upstream. */
  readonly servedName?: string;
}

/** One placement in an agent's report, as recorded (see ClustersService RunningReport). */
export interface RunningReportRow {
  readonly id: string;
  readonly readyReplicas: number;
  readonly endpoints?: readonly string[] | undefined;
  readonly phase?: string | undefined;
  readonly reason?: string | null | undefined;
  readonly message?: string | null | undefined;
  readonly desiredReplicas?: number | undefined;
}

/** An active placement a health deadline may catch (WorkloadsRepository.unhealthy). */
export type UnhealthyPlacement = Pick<
  PlacementRow,
  'id' | 'workload_id' | 'cluster_id' | 'devices_per_replica' | 'phase' | 'health_reason' | 'health_message' | 'failing_since' | 'ready_at' | 'created_at'
>;

/**
 * A placement to fail: the deadline it passed, as its caller saw it — `failing` (still failing
 * since `failingSince`) or `startup` (still never all ready) — and the message its workload waits with.
 */
export interface PlacementFailure {
  readonly id: string;
  readonly workloadId: string;
  readonly deadline: 'failing' | 'startup';
  readonly failingSince: Date | null;
  readonly why: string;
}

/** Why a workload waits again: its pending `reason` and a message for people. */
export interface Requeue {
  readonly reason: string;
  readonly message: string;
}

/**
 * Sends placed or running workloads back to pending with `why` (one for all, or one each, in the
 * order of `workloadIds`), in the caller's transaction, releasing every active placement they
 * hold: they are placed again whole, and a workload is never left `placed` without its
 * placements. Workloads in other states are left as they are. Three statements however many.
 */
export async function requeueWhole(tx: Transaction<DB>, workloadIds: readonly string[], why: Requeue | readonly Requeue[], now: Date): Promise<void> {
  if (workloadIds.length === 0) return;
  const whys: readonly Requeue[] = 'reason' in why ? workloadIds.map(() => why) : why;
  await lockPlacementsOf(tx, workloadIds);
  await releasePlacements(tx, workloadIds, RELEASE_ACTIVE, now);
  await sql`
    UPDATE workloads w SET state = ${sql.lit(REQUEUE.to)}, reason = d.reason, message = d.message, updated_at = ${now}, version = w.version + 1
      FROM unnest(${[...workloadIds]}::text[], ${whys.map((w) => w.reason)}::text[], ${whys.map((w) => w.message)}::text[]) AS d(id, reason, message)
     WHERE w.id = d.id AND w.state IN ${sql.raw(sqlStates(REQUEUE.from))}`.execute(tx);
}

/** Workloads, their placements, and idempotency records of creates. */
export class WorkloadsRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Inserts a pending workload for the model of that name, unless its tenant already has
   * `maxPending` pending workloads or has not been granted its priority (API.md v2 `maxPriority`).
   * Answers the row, `unknown_model` when no model has the name, `over_cap`, or the tenant's
   * `maxPriority` when the workload asks for more. Outside a transaction, inserts that arrive
   * together share one statement (see coalesce.ts).
   */
  async insert(row: NewWorkload, maxPending: number, tx?: Kysely<DB>): Promise<InsertAnswer> {
    return tx ? (await this.insertRows([{ row, maxPending }], tx))[0]! : this.inserts.write({ row, maxPending });
  }

  private readonly inserts = new Coalescer<{ row: NewWorkload; maxPending: number }, InsertAnswer>({
    many: (items) => this.insertRows(items, this.db),
  });

  /**
   * Inserts pending workloads in one statement, in the order given so that `seq` keeps arrival
   * order, each only while its tenant stays within its cap of pending workloads. The statement
   * locks its tenants' count rows (migration 0017's `pending_in`) in tenant order before it decides
   * what fits, and counts what it inserted into them itself (migration 0035): a racing create of
   * the same tenant, in any process, waits for the lock and then sees this one's count, so parallel
   * creates never pass the cap. Plain SQL: this is the hottest write of the platform.
   */
  private async insertRows(items: readonly { row: NewWorkload; maxPending: number }[], db: Kysely<DB>): Promise<InsertAnswer[]> {
    const answers = await this.insertBatch(items, db);
    // The setting that tells the trigger this statement counted itself lasts to the end of the
    // transaction: inside a caller's transaction, later inserts must be counted by the trigger.
    if (db.isTransaction) await sql`SELECT set_config('tokenpool.pending_counted', '', true)`.execute(db);
    return answers;
  }

  /**
   * The insert itself: one statement, for most creates are inserted, and a statement's fixed cost
   * is most of a small batch's. Each workload goes in when its model exists, its tenant was granted
   * its priority, and its tenant's pending count plus its place `k` among the batch's workloads of
   * that tenant stays within the cap. Why the others were not is asked afterwards, in a second
   * statement that only refusals pay; one that waited behind a refused workload of its tenant in
   * the batch (counted in its `k`) is tried again alone.
   */
  private async insertBatch(items: readonly { row: NewWorkload; maxPending: number }[], db: Kysely<DB>): Promise<InsertAnswer[]> {
    const place = new Map<string, number>();
    const records = items.map(({ row: r, maxPending }, n) => {
      const k = (place.get(r.tenantId) ?? 0) + 1;
      place.set(r.tenantId, k);
      return {
        n,
        k,
        id: r.id,
        tenant_id: r.tenantId,
        name: r.name,
        kind: r.kind,
        model: r.modelName,
        tokens_per_min: r.tokensPerMin,
        rank: PRIORITY_RANK[r.priority as Priority] ?? null,
        priority: r.priority,
        regions: r.regions,
        ha: r.ha,
        access: r.access,
        shared: r.shared === true,
        at: r.now.toISOString(),
        cap: maxPending,
      };
    });
    // `locked`: each of the batch's tenants (named in an array, found by key) with its grant and its
    // pending count as it is once its `pending_in` row is locked — a racing create's count, committed
    // while this one waited, included. Rows are locked in tenant order, as the trigger does, so two
    // statements never deadlock on them. The setting tells the trigger not to count this insert.
    // `made`: what fits. `counted`: what was made, added to its tenants' rows, still locked.
    // Only what the database decides comes back (the serial `seq`, the model's id, the version): the
    // rest is what was sent, and reading back every column of every row cost the server more (dates
    // parsed, seventeen columns described) than the insert cost the database.
    const inserted = await sql<Pick<WorkloadRow, 'id' | 'seq' | 'model_id' | 'version'>>`
      WITH locked AS (
        SELECT i.tenant_id, i.n - o.n AS pending, ${GRANTED_RANK} AS granted
          FROM unnest(${[...place.keys()]}::text[]) AS b(id)
          JOIN pending_in i ON i.tenant_id = b.id
          JOIN pending_out o ON o.tenant_id = b.id
          JOIN tenants t ON t.id = b.id
         WHERE set_config('tokenpool.pending_counted', 'on', true) = 'on'
         ORDER BY i.tenant_id
           FOR UPDATE OF i),
      made AS (
        INSERT INTO workloads (id, tenant_id, name, kind, model_id, tokens_per_min, priority, regions, ha, access, shared, state, created_at, updated_at)
        SELECT r.id, r.tenant_id, r.name, r.kind, m.id, r.tokens_per_min, r.priority,
               CASE WHEN jsonb_typeof(r.regions) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(r.regions)) END,
               r.ha, r.access, r.shared, ${sql.lit(WORKLOAD.initial)}, r.at, r.at
          FROM jsonb_to_recordset(${JSON.stringify(records)}::jsonb)
               AS r(n int, k bigint, id text, tenant_id text, name text, kind text, model text, tokens_per_min bigint, rank int, priority text,
                    regions jsonb, ha boolean, access text, shared boolean, at timestamptz, cap bigint)
          JOIN models m ON m.name = r.model
          JOIN locked g ON g.tenant_id = r.tenant_id
         WHERE r.rank <= g.granted
           AND g.pending + r.k <= r.cap
         ORDER BY r.n
        RETURNING id, seq, model_id, version, tenant_id),
      counted AS (
        UPDATE pending_in c SET n = c.n + (SELECT count(*) FROM made WHERE made.tenant_id = c.tenant_id)
         WHERE c.tenant_id = ANY (ARRAY(SELECT tenant_id FROM made)))
      SELECT id, seq, model_id, version FROM made`.execute(db);
    const made = new Map(inserted.rows.map((w) => [w.id, w]));
    // Spelled out rather than spread from the returned row: the spread of a driver's row was half
    // of the server's time in this function.
    const stored = (r: NewWorkload, w: (typeof inserted.rows)[number]): WorkloadRow => ({
      id: w.id,
      seq: w.seq,
      model_id: w.model_id,
      version: w.version,
      tenant_id: r.tenantId,
      name: r.name,
      kind: r.kind,
      tokens_per_min: r.tokensPerMin,
      priority: r.priority,
      regions: r.regions,
      ha: r.ha,
      access: r.access,
      shared: r.shared === true,
      state: WORKLOAD.initial,
      reason: null,
      message: null,
      created_at: r.now,
      updated_at: r.now,
      deleted_at: null,
    });
    if (made.size === items.length) return items.map(({ row }) => stored(row, made.get(row.id)!));

    const refused = items.filter(({ row }) => !made.has(row.id));
    const why = await sql<{ id: string; known: boolean; max_priority: Priority | null }>`
      SELECT r.id, m.id IS NOT NULL AS known, t.max_priority
        FROM jsonb_to_recordset(${JSON.stringify(refused.map(({ row }) => ({ id: row.id, model: row.modelName, tenant_id: row.tenantId })))}::jsonb)
             AS r(id text, model text, tenant_id text)
        LEFT JOIN models m ON m.name = r.model
        LEFT JOIN tenants t ON t.id = r.tenant_id`.execute(db);
    const whyById = new Map(why.rows.map((w) => [w.id, w]));
    const refusedTenants = new Set<string>();
    const answers: InsertAnswer[] = [];
    for (const { row, maxPending } of items) {
      const w = made.get(row.id);
      if (w) {
        answers.push(stored(row, w));
        continue;
      }
      const reason = whyById.get(row.id);
      if (!reason?.known || reason.max_priority === null) answers.push('unknown_model');
      else if (PRIORITY_RANK[row.priority as Priority] > PRIORITY_RANK[reason.max_priority]) answers.push({ maxPriority: reason.max_priority });
      // Behind a refused workload of its tenant, its `k` counted one too many: alone, it is exact.
      else if (refusedTenants.has(row.tenantId)) answers.push((await this.insertRows([{ row, maxPending }], db))[0]!);
      else answers.push('over_cap');
      refusedTenants.add(row.tenantId);
    }
    return answers;
  }

  private withModel() {
    return this.db
      .selectFrom('workloads')
      .innerJoin('models', 'models.id', 'workloads.model_id')
      .selectAll('workloads')
      .select(['models.name as model_name', 'models.cost_factor as cost_factor']);
  }

  get(id: string): Promise<WorkloadWithModel | undefined> {
    return this.withModel().where('workloads.id', '=', id).executeTakeFirst();
  }

  list(filter: { tenantId?: string; state?: string }, page: PageRequest): Promise<WorkloadWithModel[]> {
    let q = this.withModel();
    if (filter.tenantId) q = q.where('workloads.tenant_id', '=', filter.tenantId);
    q = filter.state ? q.where('workloads.state', '=', filter.state) : q.where('workloads.state', '!=', WorkloadState.deleted);
    return q.$call(onePage(page, 'workloads.seq')).execute();
  }

  /**
   * Pending workloads in arrival order, with only what a scheduling cycle reads: at most
   * `window.perTenant` of each tenant, so that one tenant's backlog is not decided on every cycle.
   * Each tenant gives its oldest half of the window (FIFO at its head) and fills the other half
   * with the workloads after `window.after` (the tenant's last one read by the previous cycle, see
   * Scheduler; none: right after the head), so that every workload behind an unplaceable head is
   * still tried in turn. The window is chosen in the database from the pending rows alone (the
   * (state, seq) index, narrow columns): never from a tenant's whole history.
   */
  pending(window: { readonly perTenant: number; readonly after: ReadonlyMap<string, number> }): Promise<PendingWorkload[]> {
    const { head, tail } = pendingWindow(window.perTenant);
    const after = JSON.stringify([...window.after].map(([tenant_id, seq]) => ({ tenant_id, seq })));
    const pending = sql.lit(WorkloadState.pending);
    return sql<PendingWorkload>`
      WITH queued AS (
             SELECT id, tenant_id, seq, row_number() OVER (PARTITION BY tenant_id ORDER BY seq) AS rn
               FROM workloads WHERE state = ${pending}),
           cursor AS (SELECT * FROM jsonb_to_recordset(${after}::jsonb) AS c(tenant_id text, seq int8)),
           later AS (
             SELECT q.id, row_number() OVER (PARTITION BY q.tenant_id ORDER BY q.seq) AS rn
               FROM queued q LEFT JOIN cursor c ON c.tenant_id = q.tenant_id
              WHERE q.rn > ${head} AND q.seq > coalesce(c.seq, 0)),
           chosen AS (SELECT id FROM queued WHERE rn <= ${head} UNION ALL SELECT id FROM later WHERE rn <= ${tail})
      SELECT w.id, w.tenant_id, w.seq, w.model_id, w.tokens_per_min, w.priority, w.regions, w.ha, w.version, m.cost_factor
        FROM chosen JOIN workloads w ON w.id = chosen.id JOIN models m ON m.id = w.model_id
       ORDER BY w.seq`
      .execute(this.db)
      .then((r) => r.rows);
  }

  /** Placements to show with workloads: everything but released history. */
  placementsOf(workloadIds: readonly string[]): Promise<PlacementRow[]> {
    if (workloadIds.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('placements')
      .selectAll()
      .where('workload_id', 'in', workloadIds)
      .where('state', '!=', PlacementState.released)
      .orderBy('seq')
      .execute();
  }

  /** Placements that hold devices now, with what quota and preemption need of their workload. */
  active(): Promise<ActivePlacement[]> {
    return this.db
      .selectFrom('placements')
      .innerJoin('workloads', 'workloads.id', 'placements.workload_id')
      .innerJoin('models', 'models.id', 'workloads.model_id')
      .select([
        'placements.id',
        'placements.workload_id',
        'workloads.tenant_id',
        'workloads.priority',
        'workloads.seq as workload_seq',
        'placements.cluster_id',
        'placements.device_model',
        'placements.replicas',
        'placements.devices_per_replica',
        'placements.tokens_per_min',
        'workloads.tokens_per_min as workload_tokens_per_min',
        'models.cost_factor',
      ])
      .where(sql<boolean>`placements.state IN ${ACTIVE_SQL}`)
      .execute();
  }

  /** The counter that moves whenever active placements change (see migration 0006). */
  async placementEpoch(): Promise<number> {
    const r = await this.db.selectFrom('placement_epoch').select('epoch').executeTakeFirstOrThrow();
    return Number(r.epoch);
  }

  /** Devices held per cluster and reported device model by active placements. */
  async heldDevices(clusterIds?: readonly string[]): Promise<Map<string, Map<string, number>>> {
    let q = this.db
      .selectFrom('placements')
      .select(['cluster_id', 'device_model', sql<number>`sum(replicas * devices_per_replica)::int8`.as('devices')])
      .where(sql<boolean>`state IN ${ACTIVE_SQL}`);
    if (clusterIds) {
      if (clusterIds.length === 0) return new Map();
      q = q.where('cluster_id', 'in', clusterIds);
    }
    const rows = await q.groupBy(['cluster_id', 'device_model']).execute();
    const out = new Map<string, Map<string, number>>();
    for (const r of rows) {
      const m = out.get(r.cluster_id) ?? new Map<string, number>();
      m.set(r.device_model, r.devices);
      out.set(r.cluster_id, m);
    }
    return out;
  }

  /**
   * Where calls to `modelName` can go (the token gateway's routing table): every active placement
   * of a workload called through the gateway whose agent reported at least one endpoint, with its
   * tenant, its throughput and its serving key. Placements of deleted workloads are released, so
   * never listed.
   */
  servingTargets(modelName: string): Promise<ServingTarget[]> {
    return sql<ServingTarget>`
      SELECT p.id AS "placementId", p.workload_id AS "workloadId", w.tenant_id AS "tenantId", w.shared, p.cluster_id AS "clusterId",
             p.serving_key AS "servingKey", p.endpoints, p.tokens_per_min::float8 AS "tokensPerMin", p.ready_replicas AS "readyReplicas",
             p.replicas, m.id AS "modelId", m.cost_factor::text AS "costFactor", m.input_factor::text AS "inputFactor",
             coalesce(m.served_name, m.name) AS "servedName"
        FROM placements p JOIN workloads w ON w.id = p.workload_id JOIN models m ON m.id = w.model_id
       WHERE m.name = ${modelName} AND p.state IN ${ACTIVE_SQL} AND w.access = 'gateway' AND cardinality(p.endpoints) > 0
       ORDER BY p.seq`
      .execute(this.db)
      .then((r) => r.rows);
  }

  /** Issue 15: a workload's SLA spells and credits (sla.repository.ts). */
  slaRecord(workloadId: string): ReturnType<typeof slaRecordOf> {
    return slaRecordOf(this.db, workloadId);
  }

  /**
   * Records the ready replicas an agent reports for its own placements: a placement is `running`
   * once all its replicas are ready, and a workload once all its placements run. Endpoints, when a
   * report carries them, replace the placement's. A report with a `phase` replaces the placement's
   * health (phase, reason, message; a failing spell starts at the first `failing` report and ends
   * at any other phase); desired replicas, when reported, replace the stored count. A placement
   * is written only when something changed.
   */
  async recordReady(clusterId: string, reports: readonly RunningReportRow[], now: Date): Promise<void> {
    if (reports.length === 0) return;
    const ready = sql.lit(PLACEMENT_READY.to);
    const unready = sql.lit(PLACEMENT_UNREADY.to);
    const workloadReady = sql.lit(WORKLOAD_READY.to);
    const workloadUnready = sql.lit(WORKLOAD_UNREADY.to);
    const holding = sql.raw(sqlStates([...WORKLOAD_READY.from, ...WORKLOAD_UNREADY.from]));
    // Each report's endpoints as one text (URLs hold no whitespace: the API refuses it), null when
    // not reported: one array parameter, as cheap as the others for the hottest write agents make.
    const endpointsLists = reports.map((x) => (x.endpoints === undefined ? null : x.endpoints.join(' ')));
    // Health arrays only when some report has health: the plain report pays for nothing more.
    const health = reports.some((x) => x.phase !== undefined || x.desiredReplicas !== undefined);
    const column = <T>(f: (x: RunningReportRow) => T | undefined) => reports.map((x) => f(x) ?? null);
    const healthColumns = health
      ? sql`, ${column((x) => x.phase)}::text[], ${column((x) => x.reason)}::text[], ${column((x) => x.message)}::text[], ${column((x) => x.desiredReplicas)}::int[]`
      : sql`, NULL::text[], NULL::text[], NULL::text[], NULL::int[]`;
    // One statement: the placements' new ready counts, states and health, and their workloads'
    // states computed from the same new values (CTEs all see the snapshot from before the
    // statement). The placements that change are locked first, in id order (see
    // lockPlacementsOf), and read as locked: their latest committed version.
    const readied = await sql<{ workload_id: string }>`
      WITH r AS (
        SELECT id, ready, CASE WHEN listed IS NULL THEN NULL ELSE string_to_array(listed, ' ') END AS endpoints, phase, reason, message, desired
          FROM unnest(${reports.map((x) => x.id)}::text[], ${reports.map((x) => x.readyReplicas)}::int[], ${endpointsLists}::text[]${healthColumns})
               AS r(id, ready, listed, phase, reason, message, desired)
      ),
      next AS MATERIALIZED (
        SELECT p.id, p.workload_id, r.ready, p.ready_replicas AS was_ready, v.*
          FROM placements p JOIN r ON r.id = p.id
         CROSS JOIN LATERAL (
               SELECT CASE WHEN r.ready >= p.replicas THEN ${ready} ELSE ${unready} END AS state,
                      coalesce(r.endpoints, p.endpoints) AS endpoints,
                      coalesce(r.phase, p.phase) AS phase,
                      CASE WHEN r.phase IS NULL THEN p.health_reason ELSE r.reason END AS health_reason,
                      CASE WHEN r.phase IS NULL THEN p.health_message ELSE r.message END AS health_message,
                      coalesce(r.desired, p.desired_replicas) AS desired_replicas,
                      CASE WHEN r.phase IS NULL THEN p.failing_since
                           WHEN r.phase = 'failing' THEN coalesce(p.failing_since, ${now}::timestamptz) END AS failing_since,
                      CASE WHEN p.ready_at IS NULL AND r.ready >= p.replicas THEN ${now}::timestamptz ELSE p.ready_at END AS ready_at) v
         WHERE p.cluster_id = ${clusterId} AND p.state IN ${ACTIVE_SQL}
           AND (p.ready_replicas, p.state, p.endpoints, p.phase, p.health_reason, p.health_message, p.desired_replicas, p.failing_since, p.ready_at)
               IS DISTINCT FROM (r.ready, v.state, v.endpoints, v.phase, v.health_reason, v.health_message, v.desired_replicas, v.failing_since, v.ready_at)
         ORDER BY p.id
           FOR UPDATE OF p
      ),
      moved AS (
        UPDATE placements p
           SET ready_replicas = next.ready, state = next.state, endpoints = next.endpoints, phase = next.phase, health_reason = next.health_reason,
               health_message = next.health_message, desired_replicas = next.desired_replicas, failing_since = next.failing_since, ready_at = next.ready_at
          FROM next WHERE p.id = next.id
      ),
      workload_next AS (
        SELECT p.workload_id,
               CASE WHEN bool_and(COALESCE(next.state, p.state) = ${ready}) THEN ${workloadReady} ELSE ${workloadUnready} END AS state
          FROM placements p LEFT JOIN next ON next.id = p.id
         WHERE p.workload_id IN (SELECT workload_id FROM next) AND p.state IN ${ACTIVE_SQL}
         GROUP BY p.workload_id
      ),
      moved_workloads AS (
        UPDATE workloads w SET state = workload_next.state, updated_at = ${now}
          FROM workload_next
         WHERE w.id = workload_next.workload_id AND w.state IN ${holding} AND w.state <> workload_next.state
      )
      SELECT DISTINCT workload_id FROM next WHERE ready IS DISTINCT FROM was_ready`.execute(this.db);
    // Issue 15: a changed ready count may start or end an SLA spell (none changed: no statement).
    await measureAvailability(
      this.db,
      readied.rows.map((r) => r.workload_id),
      now,
    );
  }

  /**
   * Active placements whose agent reports phases and that are failing or have never been all
   * ready: the only ones a health deadline can catch (placement-health.ts `overdue`).
   */
  unhealthy(): Promise<UnhealthyPlacement[]> {
    // The predicate of the partial index placements_unhealthy_idx (migration 0024), word for word,
    // so that the look every few seconds reads the few unhealthy rows, not every active placement.
    return sql<UnhealthyPlacement>`
      SELECT id, workload_id, cluster_id, devices_per_replica, phase, health_reason, health_message, failing_since, ready_at, created_at
        FROM placements
       WHERE state IN ${ACTIVE_SQL} AND phase IS NOT NULL AND (failing_since IS NOT NULL OR ready_at IS NULL)
       ORDER BY id`
      .execute(this.db)
      .then((r) => r.rows);
  }

  /**
   * Marks the given placements failed (they hold nothing from now on and keep `failed_at`), if
   * they are still active and still as unhealthy as their caller saw them: still failing since
   * the same time, or still never ready. Their workloads go back to pending (reason `capacity`,
   * with `why` of their failed placement) and release whatever else they held, to be placed again
   * whole — as a lost cluster's are. Answers the placements failed.
   */
  async markFailed(failures: readonly PlacementFailure[], now: Date): Promise<string[]> {
    if (failures.length === 0) return [];
    return this.db.transaction().execute(async (tx) => {
      await lockPlacementsOf(tx, [...new Set(failures.map((f) => f.workloadId))]);
      const failed = await sql<{ id: string; workload_id: string }>`
        UPDATE placements p SET state = ${sql.lit(FAIL.to)}, ended_at = ${now}, failed_at = ${now}
          FROM unnest(${failures.map((f) => f.id)}::text[], ${failures.map((f) => f.deadline)}::text[],
                      ${failures.map((f) => f.failingSince?.toISOString() ?? null)}::timestamptz[]) AS d(id, deadline, since)
         WHERE p.id = d.id AND p.state IN ${sql.raw(sqlStates(FAIL.from))}
           AND CASE d.deadline WHEN 'failing' THEN p.failing_since = d.since ELSE p.ready_at IS NULL END
        RETURNING p.id, p.workload_id`.execute(tx);
      const why = new Map(failures.map((f) => [f.id, f.why]));
      const byWorkload = new Map<string, string>();
      for (const r of failed.rows) if (!byWorkload.has(r.workload_id)) byWorkload.set(r.workload_id, why.get(r.id)!);
      const ids = [...byWorkload.keys()];
      await requeueWhole(
        tx,
        ids,
        ids.map((id) => ({ reason: 'capacity', message: byWorkload.get(id)! })),
        now,
      );
      await measureAvailability(tx, ids, now);
      return failed.rows.map((r) => r.id);
    });
  }

  /**
   * The clusters where a placement of each model failed at or after `since`: model id → cluster
   * ids (the scheduler avoids them for that model for a while).
   */
  async recentFailures(since: Date): Promise<Map<string, Set<string>>> {
    const rows = await this.db
      .selectFrom('placements')
      .innerJoin('workloads', 'workloads.id', 'placements.workload_id')
      .select(['workloads.model_id', 'placements.cluster_id'])
      .distinct()
      .where('placements.failed_at', '>=', since)
      .execute();
    const out = new Map<string, Set<string>>();
    for (const r of rows) {
      const set = out.get(r.model_id) ?? new Set<string>();
      set.add(r.cluster_id);
      out.set(r.model_id, set);
    }
    return out;
  }

  async setState(tx: Transaction<DB>, id: string, fields: { state: string; reason: string | null; message: string | null }, now: Date): Promise<void> {
    await tx
      .updateTable('workloads')
      .set({ ...fields, updated_at: now, version: sql`version + 1` })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Commits one cycle atomically. A decision is applied only if its workload is still pending at
   * the version the cycle saw; anything changed meanwhile (deleted, rescaled) is left for the
   * next cycle. Answers the workloads actually placed, and the placement epoch the commit moved
   * the counter to (the counter is moved last, so no other change can come between).
   */
  async commitCycle(commit: CycleCommit, now: Date): Promise<{ placed: string[]; epoch: number }> {
    return this.db.transaction().execute(async (tx) => {
      // All at once: their placements are locked together, in id order (lockPlacementsOf).
      await requeueWhole(
        tx,
        commit.requeued.map((r) => r.workloadId),
        commit.requeued,
        now,
      );
      let placed: string[] = [];
      if (commit.placed.length > 0) {
        const claimed = await sql<{ id: string }>`
          UPDATE workloads w SET state = ${sql.lit(PLACE.to)}, reason = NULL, message = NULL, updated_at = ${now}, version = w.version + 1
            FROM unnest(${commit.placed.map((p) => p.workloadId)}::text[], ${commit.placed.map((p) => p.version)}::int[]) AS d(id, version)
           WHERE w.id = d.id AND w.version = d.version AND w.state IN ${sql.raw(sqlStates(PLACE.from))}
          RETURNING w.id`.execute(tx);
        placed = claimed.rows.map((r) => r.id);
        const ok = new Set(placed);
        if (placed.length > 0) {
          await tx
            .updateTable('placements')
            .set({ state: RELEASE_LOST.to })
            .where(sql<boolean>`workload_id = ANY(${placed}::text[])`)
            .where('state', 'in', RELEASE_LOST.from)
            .execute();
          const rows = commit.placed.filter((p) => ok.has(p.workloadId)).flatMap((p) => p.placements.map((x) => ({ workloadId: p.workloadId, ...x })));
          // One array per column: a cycle's thousands of rows are ten parameters, not ten each.
          const column = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
          await sql`
            INSERT INTO placements (id, workload_id, cluster_id, device_model, profile_id, profile_name, resource_name, replicas,
                                    devices_per_replica, tokens_per_min, state, created_at)
            SELECT r.*, ${sql.lit(PLACEMENT.initial)}, ${now}::timestamptz
              FROM unnest(${column('id')}::text[], ${column('workloadId')}::text[], ${column('clusterId')}::text[], ${column('deviceModel')}::text[],
                          ${column('profileId')}::text[], ${column('profileName')}::text[], ${column('resourceName')}::text[],
                          ${column('replicas')}::int[], ${column('devicesPerReplica')}::int[], ${column('tokensPerMin')}::float8[]) AS r`.execute(tx);
        }
      }
      if (commit.pending.length > 0) {
        await sql`
          UPDATE workloads w SET reason = d.reason, message = d.message
            FROM unnest(${commit.pending.map((p) => p.workloadId)}::text[], ${commit.pending.map((p) => p.version)}::int[],
                        ${commit.pending.map((p) => p.reason)}::text[], ${commit.pending.map((p) => p.message)}::text[]) AS d(id, version, reason, message)
           WHERE w.id = d.id AND w.version = d.version AND w.state = ${sql.lit(WorkloadState.pending)}
             AND (w.reason IS DISTINCT FROM d.reason OR w.message IS DISTINCT FROM d.message)`.execute(tx);
      }
      // Preempted workloads stop delivering (placing one changes nothing until its agents report).
      await measureAvailability(
        tx,
        commit.requeued.map((r) => r.workloadId),
        now,
      );
      // Moved here, as the last statement, rather than by the deferred triggers at commit.
      const moved = await sql<{ epoch: string | number }>`
        WITH moved AS (UPDATE placement_epoch SET epoch = epoch + 1 RETURNING epoch)
        SELECT epoch, set_config('tokenpool.placement_epoch_moved', 'on', true) FROM moved`.execute(tx);
      return { placed, epoch: Number(moved.rows[0]!.epoch) };
    });
  }

  /**
   * Marks the active placements on the given clusters lost; their workloads go back to pending
   * (reason `capacity`) and release whatever else they held, to be placed again whole.
   * Answers the workloads requeued.
   */
  async markLost(clusterIds: readonly string[], now: Date): Promise<string[]> {
    if (clusterIds.length === 0) return [];
    return this.db.transaction().execute(async (tx) => {
      const on = await tx
        .selectFrom('placements')
        .select('workload_id')
        .distinct()
        .where('cluster_id', 'in', clusterIds)
        .where('state', 'in', LOSE.from)
        .execute();
      await lockPlacementsOf(
        tx,
        on.map((r) => r.workload_id),
      );
      const lost = await tx
        .updateTable('placements')
        .set({ state: LOSE.to, ended_at: now })
        .where('cluster_id', 'in', clusterIds)
        .where('state', 'in', LOSE.from)
        .returning('workload_id')
        .execute();
      const ids = [...new Set(lost.map((r) => r.workload_id))];
      if (ids.length === 0) return [];
      await requeueWhole(tx, ids, { reason: 'capacity', message: 'a cluster it ran on stopped reporting; waiting to be placed again' }, now);
      await measureAvailability(tx, ids, now);
      return ids;
    });
  }

  /** Deletes a workload: releases its placements and keeps the row as `deleted`. */
  async markDeleted(id: string, now: Date): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      await lockPlacementsOf(tx, [id]);
      const r = await tx
        .updateTable('workloads')
        .set({ state: DELETE.to, reason: null, message: null, deleted_at: now, updated_at: now, version: sql`version + 1` })
        .where('id', '=', id)
        .where('state', 'in', DELETE.from)
        .executeTakeFirst();
      if (r.numUpdatedRows === 0n) return false;
      await releasePlacements(tx, [id], RELEASE_ALL, now);
      await measureAvailability(tx, [id], now);
      return true;
    });
  }

  /**
   * Rescales a workload. A placed workload asks `shrink` (given its active placements, read under
   * the workload's lock) how many replicas each placement keeps: placements left with none are
   * released, the others shrink to what they keep; when `shrink` answers null, every placement is
   * released and the workload is queued again, to be placed whole at the new size.
   * Answers false, changing nothing, when the workload is deleted (a delete may come between the
   * caller's read and this transaction).
   */
  async rescale(
    id: string,
    tokensPerMin: number,
    now: Date,
    shrink: (placements: readonly HeldPlacement[]) => ReadonlyMap<string, KeptPlacement> | null,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      await lockPlacementsOf(tx, [id]);
      const w = await tx.selectFrom('workloads').select(['state']).where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
      const state = w.state as WorkloadState;
      const requeue = REQUEUE.from.includes(state);
      if (!requeue && state !== REQUEUE.to) return false;
      let keep: ReadonlyMap<string, KeptPlacement> | null = null;
      if (requeue) {
        const held = await tx
          .selectFrom('placements')
          .select(['id', 'cluster_id', 'replicas', 'tokens_per_min', 'ready_replicas'])
          .where('workload_id', '=', id)
          .where('state', 'in', ACTIVE_PLACEMENT_STATES)
          .orderBy('id')
          .execute();
        keep = shrink(held.map((p) => ({ id: p.id, clusterId: p.cluster_id, replicas: p.replicas, tokensPerMin: p.tokens_per_min })));
        if (keep === null) {
          await releasePlacements(tx, [id], RELEASE_ALL, now);
        } else {
          for (const p of held) {
            const k = keep.get(p.id);
            if (!k || k.replicas >= p.replicas) continue;
            const update = tx.updateTable('placements').where('id', '=', p.id);
            if (k.replicas === 0) await update.set({ state: RELEASE_ACTIVE.to, ended_at: now }).execute();
            else await update.set({ replicas: k.replicas, tokens_per_min: k.tokensPerMin, ready_replicas: Math.min(p.ready_replicas, k.replicas) }).execute();
          }
        }
      }
      await tx
        .updateTable('workloads')
        .set({
          tokens_per_min: tokensPerMin,
          updated_at: now,
          version: sql`version + 1`,
          ...(keep !== null ? {} : { state: REQUEUE.to, reason: null, message: null }),
        })
        .where('id', '=', id)
        .execute();
      await measureAvailability(tx, [id], now);
      return true;
    });
  }

  /**
   * Runs `create` once per (tenant, key): the first request's answer is stored in the same
   * transaction, and a concurrent or later request with the key gets that stored answer.
   */
  async createIdempotent<T>(
    tenantId: string,
    key: string,
    requestHash: string,
    now: Date,
    create: (tx: Kysely<DB>) => Promise<{ status: number; body: T }>,
  ): Promise<{ fresh: true; status: number; body: T } | { fresh: false; requestHash: string; status: number; body: unknown }> {
    const created = await this.db.transaction().execute(async (tx) => {
      const claimed = await tx
        .insertInto('idempotency_keys')
        .values({
          tenant_id: tenantId,
          key,
          request_hash: requestHash,
          status: 0,
          response: 'null',
          created_at: now,
        })
        .onConflict((oc) => oc.columns(['tenant_id', 'key']).doNothing())
        .returning('key')
        .executeTakeFirst();
      if (!claimed) return undefined;
      const answer = await create(tx);
      await tx
        .updateTable('idempotency_keys')
        .set({ status: answer.status, response: JSON.stringify(answer.body) })
        .where('tenant_id', '=', tenantId)
        .where('key', '=', key)
        .execute();
      return answer;
    });
    if (created) return { fresh: true, ...created };
    const stored = await this.findIdempotent(tenantId, key);
    return { fresh: false, requestHash: stored!.request_hash, status: stored!.status, body: stored!.response };
  }

  async findIdempotent(tenantId: string, key: string): Promise<{ request_hash: string; status: number; response: unknown } | undefined> {
    return this.db
      .selectFrom('idempotency_keys')
      .select(['request_hash', 'status', 'response'])
      .where('tenant_id', '=', tenantId)
      .where('key', '=', key)
      .executeTakeFirst();
  }

  /** Standard tokens per minute the tenant's active placements hold: Σ tokensPerMin × costFactor (whole replicas). */
  async heldStdPerMin(tenantId: string): Promise<number> {
    const r = await sql<{ std: string | null }>`
      SELECT sum(${sql.raw(placementStdSql('p.tokens_per_min', 'm.cost_factor'))})::text AS std
        FROM placements p JOIN workloads w ON w.id = p.workload_id JOIN models m ON m.id = w.model_id
       WHERE w.tenant_id = ${tenantId} AND p.state IN ${ACTIVE_SQL}`.execute(this.db);
    return Number(r.rows[0]?.std ?? 0);
  }

  /** Counts of pending workloads by reason (null: not yet considered). */
  async pendingByReason(): Promise<{ reason: string | null; n: number }[]> {
    return this.db
      .selectFrom('workloads')
      .select(['reason', sql<number>`count(*)::int8`.as('n')])
      .where('state', '=', WorkloadState.pending)
      .groupBy('reason')
      .execute();
  }
}
