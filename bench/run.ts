/**
 * `npm run bench -- NAME`: runs a benchmark and prints its figures as JSON lines.
 *   schedule — the pure core (one cycle, 1,000 clusters × 100 devices, 100,000 pending), then end to
 *              end on PostgreSQL (BENCH_DATABASE_URL or TEST_DATABASE_URL) and the server's peak RSS.
 *   ingest   — usage events through the HTTP API from 8 agents, a replay, and raw COPY for comparison.
 *   close    — closing a month for 10,000 tenants with 1,000,000 usage events.
 *   schedule-backlog — a cycle's time with and without one tenant's 10,000 unplaceable workloads.
 *   create   — the create path alone: CPU and transactions per create, no clusters, no cycles.
 *   heartbeat — the agents' heartbeats alone: CPU per heartbeat of 200 clusters with 2,000 placements.
 *   gateway  — the token gateway against one simulated engine: direct, through a bare undici proxy,
 *              and through the gateway; requests/s, latency at 500/s, 1,000 held streams, metering.
 */
import { benchScheduleCore } from './schedule-core.js';
import { benchScheduleE2e } from './schedule-e2e.js';
import { benchIngest } from './ingest.js';
import { benchClose } from './close.js';
import { benchScheduleBacklog } from './schedule-backlog.js';
import { benchCreate } from './create.js';
import { benchGateway } from './gateway.js';
import { benchHeartbeat } from './heartbeat.js';

const BENCHES: Record<string, () => Promise<void>> = {
  async schedule() {
    console.log(JSON.stringify(await benchScheduleCore()));
    await benchScheduleE2e().then((r) => {
      if ('skipped' in r) console.log(JSON.stringify(r));
    });
  },
  ingest: benchIngest,
  create: benchCreate,
  heartbeat: benchHeartbeat,
  close: benchClose,
  gateway: benchGateway,
  async 'schedule-core'() {
    console.log(JSON.stringify(await benchScheduleCore()));
  },
  async 'schedule-backlog'() {
    console.log(JSON.stringify(await benchScheduleBacklog()));
  },
  async 'schedule-e2e'() {
    const r = await benchScheduleE2e();
    if ('skipped' in r) console.log(JSON.stringify(r));
  },
};

const name = process.argv[2];
const bench = name ? BENCHES[name] : undefined;
if (!bench) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}>\n`);
  process.exit(1);
}
await bench();
process.exit(0);
