import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * Model weights (issue 14): where a model's weights come from (`models.source`, a JSON object
 * `{ kind: 'pvc' | 'hostPath' | 'modelscope' | 's3' | 'huggingface', … }`; null: none set, the
 * engine gets the model's name as before) and the name its engine serves it under
 * (`models.served_name`; null: the model's name). `model_cluster_sources` holds a cluster's own
 * source for a model (the operator's per-cluster override: a local PVC, a nearer mirror), gone
 * with either. `clusters.weight_sources` is what the cluster's agent last reported it can load
 * weights from (`{ kinds, claims }`); null: its agent never said (an old agent, a simulated
 * cluster), and such a cluster is taken to load anything.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE models ADD COLUMN source jsonb, ADD COLUMN served_name text`.execute(db);
  await sql`ALTER TABLE clusters ADD COLUMN weight_sources jsonb`.execute(db);
  await db.schema
    .createTable('model_cluster_sources')
    .addColumn('model_id', 'text', (c) => c.notNull().references('models.id').onDelete('cascade'))
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('source', 'jsonb', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('model_cluster_sources_pk', ['model_id', 'cluster_id'])
    .execute();
  // The primary key serves lookups by model; a cluster's deletion cascades through this one.
  await db.schema.createIndex('model_cluster_sources_cluster_idx').on('model_cluster_sources').column('cluster_id').execute();
}
