/**
 * Benchmark of one tenant's flood: the time of a scheduling cycle (read, decide, commit) on the
 * embedded database, in a small city whose 20 tenants have 200 workloads waiting, then the same
 * after one tenant adds 10,000 workloads that can never be placed. The cycle loads and decides on
 * a window of each tenant's queue (server/scheduling/scheduler.ts PENDING_PER_TENANT); what still
 * grows with the backlog is the database's one pass over the pending rows that picks the window.
 *
 * Run: `npm run bench -- schedule-backlog` — prints one JSON line.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';

import { connectDatabase } from '../db/connect.js';
import { createApp } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { silentLogger } from '../server/log.js';

const ADMIN = 'tp_admin_bench-operator-token-0123456789';
const CLUSTERS = 10;
const TENANTS = 20;
const WAITING_PER_TENANT = 10;
const BACKLOG = 10_000;
const TIMED_CYCLES = 20;
const MODEL = 'qwen2.5-7b-instruct';
/** Far past any city: never placed, so every cycle decides on the same queue. */
const UNPLACEABLE = 1_000_000_000;

export interface BacklogResult {
  readonly bench: 'schedule.backlog';
  readonly tenants: number;
  readonly waiting: number;
  readonly backlog: number;
  readonly cycleMsWithout: number;
  readonly cycleMsWith: number;
  /** Pending workloads the cycle decided on with the backlog (the window, not the backlog). */
  readonly decidedWith: number;
}

export async function benchScheduleBacklog(): Promise<BacklogResult> {
  const database = await connectDatabase({ url: 'pglite://memory' });
  const config = loadConfig({ DATABASE_URL: 'pglite://memory', TOKENPOOL_ADMIN_TOKEN: ADMIN, TOKENPOOL_DEMO: '0' });
  const app = await createApp({ database, config, log: silentLogger });
  const server = createServer(app.handler).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const api = async (token: string, method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  try {
    for (let i = 0; i < CLUSTERS; i++) {
      const c = await api(ADMIN, 'POST', '/api/v1/clusters', { name: `c-${i}`, region: 'nansha' });
      const inventory = [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 8 }];
      await api(c.agentToken, 'POST', '/api/v1/agent/heartbeat', { inventory, placements: [] });
    }
    const tenants: { id: string; apiKey: string }[] = [];
    for (let i = 0; i < TENANTS; i++) tenants.push(await api(ADMIN, 'POST', '/api/v1/tenants', { name: `tenant-${i}`, kind: 'enterprise' }));
    for (const t of tenants) {
      for (let j = 0; j < WAITING_PER_TENANT; j++) {
        await api(t.apiKey, 'POST', '/api/v1/workloads', { name: `w-${j}`, model: MODEL, tokensPerMin: UNPLACEABLE });
      }
    }
    const timeCycles = async (): Promise<{ ms: number; decided: number }> => {
      for (let i = 0; i < 3; i++) await app.scheduler.runCycle(); // warm up; the first commits the reasons
      const times: number[] = [];
      let decided = 0;
      for (let i = 0; i < TIMED_CYCLES; i++) {
        const start = performance.now();
        decided = (await app.scheduler.runCycle())?.pending ?? 0;
        times.push(performance.now() - start);
      }
      times.sort((a, b) => a - b);
      return { ms: Math.round(times[times.length >> 1]! * 100) / 100, decided };
    };
    const without = await timeCycles();
    const flood = tenants[0]!.id;
    // Already decided on once (the reason and message a cycle gives its like), as a backlog that
    // has waited is: writing a workload's first reason is a one-time cost, not a cycle's.
    await sql`
      INSERT INTO workloads (id, tenant_id, name, kind, model_id, tokens_per_min, priority, regions, ha, state, reason, message, created_at, updated_at)
      SELECT 'wl_backlog_' || i, w.tenant_id, 'backlog-' || i, 'service', w.model_id, w.tokens_per_min, 'normal', NULL, false, 'pending',
             w.reason, w.message, now(), now()
        FROM generate_series(1, ${BACKLOG}::int) AS i
             CROSS JOIN (SELECT * FROM workloads WHERE tenant_id = ${flood} AND reason IS NOT NULL LIMIT 1) w
       ORDER BY i`.execute(database.db);
    // As PostgreSQL's autovacuum would after a bulk insert (the embedded database has none).
    await sql`ANALYZE workloads`.execute(database.db);
    const withBacklog = await timeCycles();
    return {
      bench: 'schedule.backlog',
      tenants: TENANTS,
      waiting: TENANTS * WAITING_PER_TENANT,
      backlog: BACKLOG,
      cycleMsWithout: without.ms,
      cycleMsWith: withBacklog.ms,
      decidedWith: withBacklog.decided,
    };
  } finally {
    await app.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await database.close();
  }
}
