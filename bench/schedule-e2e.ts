/**
 * End-to-end scheduling benchmark on PostgreSQL: the compiled server as a child process (one worker
 * per CPU; BENCH_WORKERS=1 for a single process), 1,000
 * clusters heartbeating every 10 s through the HTTP API, 10,000 workloads submitted over HTTP by
 * 16 concurrent clients; measures the time from the first submission to the last placement.
 * Then fills the queue to 100,000 workloads and reads the server's peak RSS.
 *
 * Needs BENCH_DATABASE_URL (or TEST_DATABASE_URL): a PostgreSQL role that may create databases.
 */
import pg from 'pg';
import {
  ADMIN,
  api,
  benchDatabaseUrl,
  skippedWithoutDatabase,
  connection,
  cpuSeconds,
  cpuSecondsOf,
  peakRssMiB,
  pool,
  scratchDatabase,
  startServer,
} from './lib.js';

const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 1000);
const WORKLOADS = Number(process.env.BENCH_WORKLOADS ?? 10_000);
const TOTAL_WORKLOADS = Number(process.env.BENCH_TOTAL_WORKLOADS ?? 100_000);
const CLIENTS = 16;
const TENANTS = 100;
const HEARTBEAT_MS = 10_000;
/** Server processes (TOKENPOOL_WORKERS): one per CPU unless told otherwise, as a dedicated host runs it. */
const WORKERS = process.env.BENCH_WORKERS ?? 'auto';

const INVENTORY = [
  { deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 40, healthy: 40 },
  { deviceModel: 'huawei-Ascend910B', total: 32, healthy: 32 },
  { deviceModel: 'MLU590', total: 28, healthy: 28 },
];
const MODELS = ['qwen2.5-7b-instruct', 'qwen2.5-7b-instruct', 'qwen2.5-32b-instruct', 'qwen2.5-72b-instruct'];

function workloadBody(i: number) {
  const model = MODELS[i % MODELS.length]!;
  return { name: `w-${i}`, model, tokensPerMin: 5_000 + ((i * 7919) % 60) * 1_000, priority: i % 10 === 0 ? 'high' : i % 3 === 0 ? 'low' : 'normal' };
}

export async function benchScheduleE2e(): Promise<Record<string, unknown>> {
  const adminUrl = benchDatabaseUrl();
  if (!adminUrl) return skippedWithoutDatabase('schedule.e2e');
  const scratch = await scratchDatabase(adminUrl, 'tp_bench');
  const { child, base, stop } = await startServer(scratch.url, { TOKENPOOL_WORKERS: WORKERS });
  const db = new pg.Client({ connectionString: scratch.url });
  await db.connect();
  let stopAgents = false;
  try {
    const clusters: { id: string; token: string }[] = [];
    await pool(
      Array.from({ length: CLUSTERS }, (_, i) => i),
      CLIENTS,
      async (i) => {
        const c = await api(base, ADMIN, 'POST', '/api/v1/clusters', { name: `c-${i}`, region: `region-${i % 10}` });
        clusters.push({ id: c.id, token: c.agentToken });
      },
    );
    // Agents: heartbeat every 10 s, spread over the interval; every desired replica reports ready.
    const agents = clusters.map(async (c, i) => {
      await new Promise((r) => setTimeout(r, (i / clusters.length) * 2000));
      const own = connection();
      let running: { id: string; readyReplicas: number }[] = [];
      while (!stopAgents) {
        try {
          const answer = await api(base, c.token, 'POST', '/api/v1/agent/heartbeat', { inventory: INVENTORY, placements: running }, own);
          running = answer.placements.map((p: { id: string; replicas: number }) => ({ id: p.id, readyReplicas: p.replicas }));
        } catch {
          // keep going, as an agent does
        }
        await new Promise((r) => setTimeout(r, HEARTBEAT_MS * (0.9 + Math.random() * 0.2)));
      }
    });
    for (;;) {
      const p = await api(base, ADMIN, 'GET', '/api/v1/pool');
      if (p.clusters.ready >= CLUSTERS) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const tenants: string[] = [];
    await pool(
      Array.from({ length: TENANTS }, (_, i) => i),
      CLIENTS,
      async (i) => {
        const t = await api(base, ADMIN, 'POST', '/api/v1/tenants', { name: `tenant-${i}`, kind: i % 2 ? 'enterprise' : 'government' });
        // Some of every tenant's workloads run high, which the operator grants (API.md v2 maxPriority).
        await api(base, ADMIN, 'PATCH', `/api/v1/tenants/${t.id}`, { maxPriority: 'high' });
        tenants.push(t.apiKey);
      },
    );

    const cpuAt = () => ({ server: cpuSeconds(child.pid!), postgres: cpuSecondsOf('postgres'), clients: process.cpuUsage() });
    const cpuBefore = cpuAt();
    const started = performance.now();
    // Each of the 16 clients on a connection of its own.
    const connections = Array.from({ length: CLIENTS }, () => connection());
    await pool(
      Array.from({ length: WORKLOADS }, (_, i) => i),
      CLIENTS,
      async (i, _, client) => {
        await api(base, tenants[i % TENANTS]!, 'POST', '/api/v1/workloads', workloadBody(i), connections[client]);
      },
    );
    const submitted = performance.now();
    let placed = 0;
    for (;;) {
      const r = await db.query<{ placed: string; pending: string }>(
        `SELECT count(*) FILTER (WHERE state IN ('placed','running')) AS placed, count(*) FILTER (WHERE state = 'pending') AS pending FROM workloads`,
      );
      placed = Number(r.rows[0]!.placed);
      if (Number(r.rows[0]!.pending) === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const done = performance.now();
    const cpuAfter = cpuAt();
    const clientCpu = process.cpuUsage(cpuBefore.clients);
    // Where the machine's CPU went while the workloads were submitted and placed.
    const cpu = {
      server: +(cpuAfter.server - cpuBefore.server).toFixed(1),
      postgres: +(cpuAfter.postgres - cpuBefore.postgres).toFixed(1),
      clientsAndAgents: +((clientCpu.user + clientCpu.system) / 1e6).toFixed(1),
    };
    // For scale: what the same 16 clients get from the same server for the cheapest request
    // there is (GET /healthz, no database), with the agents still heartbeating.
    const probeStart = performance.now();
    await pool(
      Array.from({ length: 5000 }, (_, i) => i),
      CLIENTS,
      async (_i, _, client) => {
        await api(base, ADMIN, 'GET', '/healthz', undefined, connections[client]);
      },
    );
    const healthzPerSec = Math.round(5000 / ((performance.now() - probeStart) / 1000));
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const metric = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? NaN);
    const cycles = metric(/^tokenpool_scheduler_cycle_duration_seconds_count (\S+)/m);
    const cycleSeconds = metric(/^tokenpool_scheduler_cycle_duration_seconds_sum (\S+)/m);
    const placementReads = metric(/^tokenpool_scheduler_placement_reads_total (\S+)/m);
    const createSeconds = metric(/^tokenpool_http_request_duration_seconds_sum\{method="POST",route="\/api\/v1\/workloads",status="202"\} (\S+)/m);
    const e2e = {
      bench: 'schedule.e2e',
      database: 'postgres',
      serverProcesses: metric(/^tokenpool_server_processes (\S+)/m),
      clusters: CLUSTERS,
      devices: CLUSTERS * 100,
      workloads: WORKLOADS,
      placed,
      submitSeconds: +((submitted - started) / 1000).toFixed(2),
      seconds: +((done - started) / 1000).toFixed(2),
      workloadsPerSec: Math.round(WORKLOADS / ((done - started) / 1000)),
      healthzPerSec,
      cycles,
      placementReads,
      cycleMeanMs: Math.round((cycleSeconds / cycles) * 1000),
      createMeanMs: +((createSeconds / WORKLOADS) * 1000).toFixed(1),
      cpuSeconds: cpu,
    };
    console.log(JSON.stringify(e2e));

    // The rest of the 100,000 go straight into the table (the HTTP path was measured above);
    // the server's cycles then read and decide on all of them.
    const models = await db.query<{ id: string; name: string }>('SELECT id, name FROM models');
    const modelIds = MODELS.map((n) => models.rows.find((m) => m.name === n)!.id);
    const tenantIds = (await db.query<{ id: string }>('SELECT id FROM tenants ORDER BY seq')).rows.map((r) => r.id);
    await db.query(
      `INSERT INTO workloads (id, tenant_id, name, kind, model_id, tokens_per_min, priority, regions, ha, state, created_at, updated_at)
       SELECT 'wl_bench_' || g, ($1::text[])[1 + g % array_length($1::text[], 1)], 'w-' || g, 'service',
              ($2::text[])[1 + g % array_length($2::text[], 1)], 5000 + (g * 7919 % 60) * 1000,
              CASE WHEN g % 10 = 0 THEN 'high' WHEN g % 3 = 0 THEN 'low' ELSE 'normal' END, NULL, false, 'pending', now(), now()
         FROM generate_series($3::int, $4::int - 1) AS g`,
      [tenantIds, modelIds, WORKLOADS, TOTAL_WORKLOADS],
    );
    await api(base, ADMIN, 'POST', '/api/v1/workloads?dryRun=true', {
      tenantId: (await db.query('SELECT id FROM tenants LIMIT 1')).rows[0].id,
      ...workloadBody(0),
    });
    // Wait until a cycle has decided on the whole queue (every pending workload has a reason).
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM workloads WHERE state = 'pending' AND reason IS NULL`);
      if (Number(r.rows[0]!.n) === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const rss = { bench: 'schedule.rss', clusters: CLUSTERS, workloads: TOTAL_WORKLOADS, peakRssMiB: peakRssMiB(child.pid!) };
    console.log(JSON.stringify(rss));
    stopAgents = true;
    await Promise.race([Promise.all(agents), new Promise((r) => setTimeout(r, HEARTBEAT_MS * 1.2))]);
    return { e2e, rss };
  } finally {
    stopAgents = true;
    await stop();
    await db.end();
    await scratch.drop();
  }
}
