import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.
/**
 * The engine catalog (issue 14, "Engines per vendor"): which serving engine (image, argument
 * template, environment, resources, probes) runs a placement on which vendor's devices. Built-in
 * entries are seeded by the application on start (like the device catalog), each with the `basis`
 * of its facts. `engine_defaults` names, per vendor, the engine used when a model names none
 * (one per vendor, by its primary key). `engine_cluster_images` overrides an engine's image on one
 * cluster (private registries). A model's `engines` maps vendor → engine id.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('engines')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('vendors', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    // Empty: not configured (no verified public image); such an engine is never sent to an agent.
    .addColumn('image', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('args', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('env', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('api_key_env', 'text')
    .addColumn('port', 'integer', (c) => c.notNull())
    .addColumn('shm_size', 'text', (c) => c.notNull())
    .addColumn('cpu_per_device', 'text', (c) => c.notNull())
    .addColumn('memory_per_device', 'text', (c) => c.notNull())
    .addColumn('health_path', 'text', (c) => c.notNull())
    .addColumn('metrics_path', 'text', (c) => c.notNull())
    .addColumn('metrics_dialect', 'text', (c) => c.notNull())
    .addColumn('startup_seconds', 'integer', (c) => c.notNull())
    .addColumn('run_as_non_root', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('builtin', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('basis', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('engine_defaults')
    .addColumn('vendor', 'text', (c) => c.primaryKey())
    .addColumn('engine_id', 'text', (c) => c.notNull().references('engines.id').onDelete('cascade'))
    .execute();
  await db.schema.createIndex('engine_defaults_engine_idx').on('engine_defaults').column('engine_id').execute();

  // Per cluster, another image for an engine (a private registry's copy); it wins over `image`.
  await db.schema
    .createTable('engine_cluster_images')
    .addColumn('engine_id', 'text', (c) => c.notNull().references('engines.id').onDelete('cascade'))
    .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
    .addColumn('image', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('engine_cluster_images_pk', ['engine_id', 'cluster_id'])
    .execute();

  await sql`ALTER TABLE models ADD COLUMN engines jsonb NOT NULL DEFAULT '{}'::jsonb`.execute(db);
}
