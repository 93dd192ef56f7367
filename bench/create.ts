/**
 * `npm run bench -- create`: the create path alone. 100 tenants' keys submit workloads over HTTP
 * from 16 clients (each on its own connection) to a server with no clusters and no scheduling
 * cycles in the way, so that nothing but creates runs: what a create costs the server and
 * PostgreSQL in CPU, and how many statements (transactions) it takes. Two rounds of `BENCH_CREATES`
 * (default 4,000); the first warms the processes (JIT, prepared statements) and is reported apart.
 */
import pg from 'pg';
import { LEADER_LOCK_KEY } from '../server/scheduling/leader.js';
import { ADMIN, api, connection, cpuSeconds, cpuSecondsOf, pool, scratchOrSkip, startServer } from './lib.js';

const CREATES = Number(process.env.BENCH_CREATES ?? 4000);
const CLIENTS = 16;
const TENANTS = 100;

export async function benchCreate(): Promise<void> {
  const scratch = await scratchOrSkip('create', 'tp_create');
  if (!scratch) return;
  // The benchmark holds the scheduler's leader lock, so that the server never leads: no cycle
  // runs during the run, and creates are all there is.
  const db = new pg.Client({ connectionString: scratch.url });
  await db.connect();
  await db.query('SELECT pg_advisory_lock($1)', [LEADER_LOCK_KEY]);
  // One process; the pending cap above what is submitted.
  const { child, base, stop } = await startServer(scratch.url, {
    TOKENPOOL_WORKERS: process.env.BENCH_WORKERS ?? '1',
    TOKENPOOL_MAX_PENDING_PER_TENANT: String(2 * CREATES),
  });
  try {
    const keys: string[] = [];
    for (let i = 0; i < TENANTS; i++) keys.push((await api(base, ADMIN, 'POST', '/api/v1/tenants', { name: `Tenant ${i}`, kind: 'enterprise' })).apiKey);
    // Transactions the database committed or rolled back, once its statistics caught up.
    const transactions = async () => {
      await new Promise((r) => setTimeout(r, 1500));
      await db.query('SELECT pg_stat_clear_snapshot()');
      const r = await db.query<{ n: string }>('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()');
      return Number(r.rows[0]!.n);
    };
    const connections = Array.from({ length: CLIENTS }, () => connection());
    for (const round of ['warm-up', 'measured']) {
      const t0 = await transactions();
      const server0 = cpuSeconds(child.pid!);
      const pg0 = cpuSecondsOf('postgres');
      const started = performance.now();
      await pool(
        Array.from({ length: CREATES }, (_, i) => i),
        CLIENTS,
        async (i, _, client) => {
          const body = { name: `${round}-${i}`, model: 'qwen2.5-7b-instruct', tokensPerMin: 5000 };
          await api(base, keys[i % TENANTS]!, 'POST', '/api/v1/workloads', body, connections[client]);
        },
      );
      const seconds = (performance.now() - started) / 1000;
      const server = cpuSeconds(child.pid!) - server0;
      const postgres = cpuSecondsOf('postgres') - pg0;
      // Less the two statistics reads of `transactions` itself.
      const statements = (await transactions()) - t0 - 2;
      console.log(
        JSON.stringify({
          bench: 'create',
          round,
          creates: CREATES,
          seconds: +seconds.toFixed(2),
          createsPerSec: Math.round(CREATES / seconds),
          serverCpuMicrosPerCreate: Math.round((server / CREATES) * 1e6),
          postgresCpuMicrosPerCreate: Math.round((postgres / CREATES) * 1e6),
          transactionsPerCreate: +(statements / CREATES).toFixed(3),
        }),
      );
    }
  } finally {
    await stop();
    await db.end();
    await scratch.drop();
  }
}
