import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';

export interface WorkloadForUsage {
  readonly id: string;
  readonly tenant_id: string;
  readonly model_id: string;
  readonly cost_factor: string;
  readonly input_factor: string;
  /** The workload has, or had, a placement on the reporting cluster. */
  readonly on_cluster: boolean;
}

export interface UsageRow {
  readonly id: string;
  readonly tenantId: string;
  readonly workloadId: string;
  readonly modelId: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly stdTokens: string;
  readonly occurredAt: Date;
}

export interface UsageTotals {
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly std: string;
}

/** Usage events: inserted in batches, each event id counted once, ever (its primary key). */
export class UsageRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** The workloads of a batch, with their model's factors and whether they ran on the cluster. */
  async workloads(ids: readonly string[], clusterId: string): Promise<WorkloadForUsage[]> {
    if (ids.length === 0) return [];
    const r = await sql<WorkloadForUsage>`
      SELECT w.id, w.tenant_id, w.model_id, m.cost_factor, m.input_factor,
             EXISTS (SELECT 1 FROM placements p WHERE p.workload_id = w.id AND p.cluster_id = ${clusterId}) AS on_cluster
        FROM workloads w JOIN models m ON m.id = w.model_id
       WHERE w.id = ANY(${ids as string[]}::text[])`.execute(this.db);
    return r.rows;
  }

  /** Inserts the events in one statement; answers how many were new (the rest were seen before). */
  async insert(rows: readonly UsageRow[], clusterId: string, receivedAt: Date): Promise<number> {
    if (rows.length === 0) return 0;
    const r = await sql<{ id: string }>`
      INSERT INTO usage_events (id, tenant_id, workload_id, cluster_id, model_id, input_tokens, output_tokens, std_tokens, occurred_at, received_at)
      SELECT e.id, e.tenant_id, e.workload_id, ${clusterId}, e.model_id, e.input_tokens, e.output_tokens, e.std_tokens, e.occurred_at, ${receivedAt}::timestamptz
        FROM unnest(${rows.map((x) => x.id)}::text[], ${rows.map((x) => x.tenantId)}::text[], ${rows.map((x) => x.workloadId)}::text[],
                    ${rows.map((x) => x.modelId)}::text[], ${rows.map((x) => x.inputTokens)}::int8[], ${rows.map((x) => x.outputTokens)}::int8[],
                    ${rows.map((x) => x.stdTokens)}::numeric[], ${rows.map((x) => x.occurredAt.toISOString())}::timestamptz[])
          AS e(id, tenant_id, workload_id, model_id, input_tokens, output_tokens, std_tokens, occurred_at)
      ON CONFLICT (id) DO NOTHING
      RETURNING id`.execute(this.db);
    return r.rows.length;
  }

  private filtered(tenantId: string | undefined, from: Date, to: Date) {
    let q = this.db.selectFrom('usage_events').where('occurred_at', '>=', from).where('occurred_at', '<', to);
    if (tenantId) q = q.where('tenant_id', '=', tenantId);
    return q;
  }

  async totals(tenantId: string | undefined, from: Date, to: Date): Promise<UsageTotals> {
    const row = await this.filtered(tenantId, from, to)
      .select([
        sql<number>`coalesce(sum(input_tokens), 0)::int8`.as('input_tokens'),
        sql<number>`coalesce(sum(output_tokens), 0)::int8`.as('output_tokens'),
        sql<string>`coalesce(sum(std_tokens), 0)::text`.as('std'),
      ]).executeTakeFirstOrThrow();
    return row;
  }

  async byModel(tenantId: string | undefined, from: Date, to: Date): Promise<(UsageTotals & { model: string })[]> {
    return this.filtered(tenantId, from, to).innerJoin('models', 'models.id', 'usage_events.model_id')
      .select([
        'models.name as model',
        sql<number>`sum(input_tokens)::int8`.as('input_tokens'),
        sql<number>`sum(output_tokens)::int8`.as('output_tokens'),
        sql<string>`sum(std_tokens)::text`.as('std'),
      ]).groupBy('models.name').orderBy('models.name').execute();
  }

  async byDay(tenantId: string | undefined, from: Date, to: Date, timezone: string): Promise<(UsageTotals & { day: string })[]> {
    return this.filtered(tenantId, from, to)
      .select([
        sql<string>`to_char(occurred_at AT TIME ZONE ${timezone}, 'YYYY-MM-DD')`.as('day'),
        sql<number>`sum(input_tokens)::int8`.as('input_tokens'),
        sql<number>`sum(output_tokens)::int8`.as('output_tokens'),
        sql<string>`sum(std_tokens)::text`.as('std'),
      ]).groupBy(sql`1`).orderBy(sql`1`).execute();
  }
}
