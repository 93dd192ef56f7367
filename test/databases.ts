/**
 * Clean databases for integration suites: every suite gets its own, cloned from a template that
 * is migrated once per test run. PGlite always; PostgreSQL too when TEST_DATABASE_URL is set.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { connectDatabase, wrapPGlite, parseInt8, type Database, type DatabaseKind } from '../db/connect.js';
import { migrateToLatest } from '../db/migrate.js';

export const DATABASE_KINDS: readonly DatabaseKind[] = process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

let pgliteTemplate: Promise<PGlite> | undefined;

async function makePgliteTemplate(): Promise<PGlite> {
  const lite = await PGlite.create({ parsers: { 20: parseInt8, 1700: (t: string) => t } });
  await migrateToLatest(wrapPGlite(lite).db);
  return lite;
}

const RUN = `${process.pid}_${Date.now().toString(36)}`;
let pgTemplate: Promise<string> | undefined;
let counter = 0;
const created: string[] = [];

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function makePgTemplate(): Promise<string> {
  const name = `tp_tpl_${RUN}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  created.push(name);
  const database = await connectDatabase({ url: withDatabase(process.env.TEST_DATABASE_URL!, name), poolSize: 2 });
  await migrateToLatest(database.db);
  await database.close();
  return name;
}

/** A new, migrated, empty database of the given kind. */
export async function freshDatabase(kind: DatabaseKind): Promise<Database> {
  if (kind === 'pglite') {
    pgliteTemplate ??= makePgliteTemplate();
    const clone = (await (await pgliteTemplate).clone()) as PGlite;
    return wrapPGlite(clone);
  }
  pgTemplate ??= makePgTemplate();
  const template = await pgTemplate;
  const name = `tp_${RUN}_${++counter}`;
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  created.push(name);
  return connectDatabase({ url: withDatabase(process.env.TEST_DATABASE_URL!, name), poolSize: 10 });
}

/** The URL of a fresh PostgreSQL database (for tests that start the server as a process). */
export async function freshPostgresUrl(): Promise<string> {
  pgTemplate ??= makePgTemplate();
  const template = await pgTemplate;
  const name = `tp_${RUN}_${++counter}`;
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  created.push(name);
  return withDatabase(process.env.TEST_DATABASE_URL!, name);
}

/**
 * Drops every database this run created (called once, after all suites). `WITH (FORCE)` may not end
 * an autovacuum worker busy in one (a superuser's process; SQLSTATE 42501): such a drop is tried
 * again for a few seconds, then left, with a warning, to the throwaway cluster it lives in.
 */
export async function dropTestDatabases(): Promise<void> {
  if (!process.env.TEST_DATABASE_URL || created.length === 0) return;
  await admin(async (c) => {
    for (const name of created.reverse()) {
      for (let attempt = 1; ; attempt++) {
        try {
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== '42501') throw err;
          if (attempt === 25) {
            process.stderr.write(`test databases: ${name} left behind (${String(err)})\n`);
            break;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
  });
}
