/**
 * Usage ingestion on PostgreSQL: 8 agents send 1,000-event batches concurrently through the HTTP
 * API to the compiled server (500,000 events unless BENCH_EVENTS says otherwise); then a replay
 * of every tenth batch (each of its events must count as a duplicate, and no row may be missing);
 * then, for comparison, COPY of the same rows into a bare table of the same shape (no keys, no
 * indexes). BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ADMIN, api, pool, scratchOrSkip, startServer } from './lib.js';

const AGENTS = 8;
const BATCH = 1000;
const EVENTS = Number(process.env.BENCH_EVENTS ?? 500_000);

export async function benchIngest(): Promise<void> {
  const scratch = await scratchOrSkip('ingest', 'tp_bench_ingest');
  if (!scratch) return;
  const server = await startServer(scratch.url);
  const db = new pg.Client({ connectionString: scratch.url });
  await db.connect();
  try {
    const { base } = server;
    const tenant = await api(base, ADMIN, 'POST', '/api/v1/tenants', { name: 'bench', kind: 'enterprise' });
    const agents: { token: string; workloadId: string }[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const c = await api(base, ADMIN, 'POST', '/api/v1/clusters', { name: `agent-${i}`, region: `r${i}` });
      await api(base, c.agentToken, 'POST', '/api/v1/agent/heartbeat', { inventory: [{ deviceModel: 'NVIDIA-H100-80GB', total: 8, healthy: 8 }] });
      const w = await api(base, tenant.apiKey, 'POST', '/api/v1/workloads', {
        name: `w${i}`,
        model: 'qwen2.5-72b-instruct',
        tokensPerMin: 10_000,
        regions: [`r${i}`],
        // Billed from its agent's reports: the path this measures (a gateway workload's are engine counts).
        access: 'direct',
      });
      agents.push({ token: c.agentToken, workloadId: w.id });
    }
    for (;;) {
      const r = await db.query(`SELECT count(*)::int AS n FROM workloads WHERE state = 'placed'`);
      if (r.rows[0].n === AGENTS) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const now = Date.now();
    const batches = Array.from({ length: EVENTS / BATCH }, (_, b) => {
      const agent = agents[b % AGENTS]!;
      return {
        token: agent.token,
        body: JSON.stringify({
          events: Array.from({ length: BATCH }, (_, i) => ({
            id: `evt-${b}-${i}`,
            workloadId: agent.workloadId,
            inputTokens: 1000 + i,
            outputTokens: 250 + (i % 7),
            occurredAt: new Date(now - (i % 600) * 1000).toISOString(),
          })),
        }),
      };
    });
    const post = async (batch: { token: string; body: string }) => {
      const res = await fetch(`${base}/api/v1/agent/usage`, {
        method: 'POST',
        headers: { authorization: `Bearer ${batch.token}`, 'content-type': 'application/json' },
        body: batch.body,
      });
      if (!res.ok) throw new Error(`usage: ${res.status} ${await res.text()}`);
      return (await res.json()) as { accepted: number; duplicates: number; rejected: unknown[] };
    };
    let accepted = 0;
    const started = performance.now();
    await pool(batches, AGENTS, async (batch) => {
      const answer = await post(batch); // read the sum after the await, not before it
      accepted += answer.accepted;
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(
      JSON.stringify({
        bench: 'ingest.api',
        database: 'postgres',
        agents: AGENTS,
        batch: BATCH,
        events: EVENTS,
        accepted,
        seconds: +seconds.toFixed(2),
        eventsPerSec: Math.round(EVENTS / seconds),
      }),
    );

    let duplicates = 0;
    const replay = batches.filter((_, i) => i % 10 === 0);
    await pool(replay, AGENTS, async (batch) => {
      const answer = await post(batch);
      duplicates += answer.duplicates;
    });
    const stored = (await db.query(`SELECT count(*)::int AS n FROM usage_events`)).rows[0].n as number;
    const replayed = replay.length * BATCH;
    console.log(JSON.stringify({ bench: 'ingest.replay', replayed, duplicates, stored, lost: EVENTS - stored }));
    if (accepted !== EVENTS || duplicates !== replayed || stored !== EVENTS) throw new Error('ingest: an event was lost or counted twice');

    await db.query(`CREATE TABLE bare_usage (LIKE usage_events)`);
    const rows = await db.query(`SELECT * FROM usage_events`);
    const lines = rows.rows.map(
      (r) =>
        [
          r.id,
          r.tenant_id,
          r.workload_id,
          r.cluster_id,
          r.model_id,
          r.input_tokens,
          r.output_tokens,
          r.std_tokens,
          r.occurred_at.toISOString(),
          r.received_at.toISOString(),
          r.seq,
        ].join('\t') + '\n',
    );
    // About 1 MB a chunk, so that the stream's per-chunk overhead does not count against COPY.
    const chunks: string[] = [];
    for (let i = 0; i < lines.length; i += 5000) chunks.push(lines.slice(i, i + 5000).join(''));
    const copyStarted = performance.now();
    // The columns named: usage_events has more than the lines carry (attribution, 0022).
    await pipeline(
      Readable.from(chunks),
      db.query(
        copyFrom(
          'COPY bare_usage (id, tenant_id, workload_id, cluster_id, model_id, input_tokens, output_tokens, std_tokens, occurred_at, received_at, seq) FROM STDIN',
        ),
      ),
    );
    const copySeconds = (performance.now() - copyStarted) / 1000;
    console.log(
      JSON.stringify({
        bench: 'ingest.copy',
        database: 'postgres',
        events: lines.length,
        seconds: +copySeconds.toFixed(2),
        eventsPerSec: Math.round(lines.length / copySeconds),
      }),
    );
  } finally {
    await db.end();
    await server.stop();
    await scratch.drop();
  }
}
