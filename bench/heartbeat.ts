/**
 * `npm run bench -- heartbeat`: the agents' side alone. 200 clusters, 2,000 workloads placed on
 * them (about ten placements a cluster, every replica reported ready), then rounds of heartbeats
 * from 16 clients (each on its own connection) to one server process, whose scheduler has nothing
 * left to place: what a heartbeat costs the
 * server and PostgreSQL in CPU. Two rounds of `BENCH_HEARTBEATS` (default 4,000); the first warms
 * the processes and is reported apart.
 */
import pg from 'pg';
import { ADMIN, api, connection, cpuSeconds, cpuSecondsOf, pool, scratchOrSkip, startServer } from './lib.js';

const HEARTBEATS = Number(process.env.BENCH_HEARTBEATS ?? 4000);
const CLUSTERS = 200;
const WORKLOADS = 2000;
const CLIENTS = 16;
const INVENTORY = [
  { deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 40, healthy: 40 },
  { deviceModel: 'huawei-Ascend910B', total: 32, healthy: 32 },
  { deviceModel: 'MLU590', total: 28, healthy: 28 },
];

export async function benchHeartbeat(): Promise<void> {
  const scratch = await scratchOrSkip('heartbeat', 'tp_heartbeat');
  if (!scratch) return;
  const db = new pg.Client({ connectionString: scratch.url });
  await db.connect();
  const { child, base, stop } = await startServer(scratch.url, { TOKENPOOL_WORKERS: process.env.BENCH_WORKERS ?? '1' });
  try {
    const clusters: { token: string; running: { id: string; readyReplicas: number }[] }[] = [];
    await pool(
      Array.from({ length: CLUSTERS }, (_, i) => i),
      CLIENTS,
      async (i) => {
        const c = await api(base, ADMIN, 'POST', '/api/v1/clusters', { name: `c-${i}`, region: `region-${i % 10}` });
        clusters.push({ token: c.agentToken, running: [] });
      },
    );
    const beat = async (c: (typeof clusters)[number], socket?: ReturnType<typeof connection>) => {
      const answer = await api(base, c.token, 'POST', '/api/v1/agent/heartbeat', { inventory: INVENTORY, placements: c.running }, socket);
      c.running = answer.placements.map((p: { id: string; replicas: number }) => ({ id: p.id, readyReplicas: p.replicas }));
    };
    await pool(clusters, CLIENTS, (c) => beat(c));
    const keys: string[] = [];
    for (let i = 0; i < 20; i++) keys.push((await api(base, ADMIN, 'POST', '/api/v1/tenants', { name: `Tenant ${i}`, kind: 'government' })).apiKey);
    await pool(
      Array.from({ length: WORKLOADS }, (_, i) => i),
      CLIENTS,
      async (i) => {
        await api(base, keys[i % keys.length]!, 'POST', '/api/v1/workloads', { name: `w-${i}`, model: 'qwen2.5-7b-instruct', tokensPerMin: 5000 });
      },
    );
    // Clusters keep reporting (as agents do) until every workload is placed and its replicas ready.
    for (;;) {
      const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM workloads WHERE state = 'pending'`);
      if (Number(r.rows[0]!.n) === 0) break;
      await pool(clusters, CLIENTS, (c) => beat(c));
      await new Promise((r) => setTimeout(r, 500));
    }
    await pool(clusters, CLIENTS, (c) => beat(c));
    const placements = clusters.reduce((n, c) => n + c.running.length, 0);
    const connections = Array.from({ length: CLIENTS }, () => connection());
    for (const round of ['warm-up', 'measured']) {
      const server0 = cpuSeconds(child.pid!);
      const pg0 = cpuSecondsOf('postgres');
      const started = performance.now();
      await pool(
        Array.from({ length: HEARTBEATS }, (_, i) => i),
        CLIENTS,
        async (i, _, client) => beat(clusters[i % CLUSTERS]!, connections[client]),
      );
      const seconds = (performance.now() - started) / 1000;
      console.log(
        JSON.stringify({
          bench: 'heartbeat',
          round,
          heartbeats: HEARTBEATS,
          clusters: CLUSTERS,
          placements,
          heartbeatsPerSec: Math.round(HEARTBEATS / seconds),
          serverCpuMicrosPerHeartbeat: Math.round(((cpuSeconds(child.pid!) - server0) / HEARTBEATS) * 1e6),
          postgresCpuMicrosPerHeartbeat: Math.round(((cpuSecondsOf('postgres') - pg0) / HEARTBEATS) * 1e6),
        }),
      );
    }
  } finally {
    await stop();
    await db.end();
    await scratch.drop();
  }
}
