/**
 * The token gateway's benchmark (issue 13, "Measured"): one simulated serving engine
 * (bench/gateway-upstream.ts, a process of its own, answering at once with fixed `usage`) called
 * (a) directly, (b) through a bare undici pass-through proxy (bench/gateway-proxy.ts, another
 * process: the floor of any Node proxy here) and (c) through the gateway of the compiled server on
 * a scratch PostgreSQL database, with auth, limits, routing and metering.
 *
 * For each, non-streamed and streamed: requests/s at saturation (a closed loop of
 * {@link CONCURRENCY} kept-alive clients; the median of {@link ROUNDS} rounds that alternate the
 * paths) and p50/p99 latency at a fixed {@link RATE} requests/s
 * (an open loop: each request sent on its schedule whatever the others do, its latency counted from
 * the scheduled time, so a stall is not hidden by the requests it held back). Then 1,000 streams held
 * open at once, directly and through the gateway over 1, 8 and 16 endpoints, and last the metered
 * usage events compared with what the engine served.
 *
 * The server's default request rates per tenant and per key are turned off (TOKENPOOL_TENANT_RPM=0,
 * TOKENPOOL_KEY_RPM=0): they would refuse the load, not measure it. One server process unless
 * BENCH_WORKERS says otherwise. Needs BENCH_DATABASE_URL (or TEST_DATABASE_URL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Pool } from 'undici';
import { ADMIN, api, cpuSeconds, cpuSecondsOf, scratchOrSkip, startServer } from './lib.js';

const WORKERS = process.env.BENCH_WORKERS ?? '1';
const MODEL = 'qwen2.5-7b-instruct';
/** Clients in the closed loop that finds each path's saturation. */
const CONCURRENCY = 64;
/** Saturation: rounds per path (alternating), and each round's warm-up and measured time. */
const ROUNDS = 3;
const WARMUP_MS = 500;
const MEASURE_MS = 2_500;
/** The fixed rate of the latency runs, requests/s, and how long each runs. */
const RATE = 500;
const RATE_SECONDS = 4;
/** Streams held open at once through the gateway, and how long the engine holds each. */
const STREAMS = 1_000;
const HOLD_MS = 2_000;
/**
 * Endpoints (ports of the engine, as many replicas of the placement) the held streams are spread
 * over through the gateway, one run each (the gateway keeps at most TOKENPOOL_GATEWAY_CONNECTIONS_PER_ENDPOINT connections to each).
 */
const STREAM_ENDPOINTS = [1, 8, 16];

/** The engine's fixed usage per call: prompt tokens, and completion tokens (as many chunks a stream). */
const PROMPT_TOKENS = 11;
const COMPLETION_TOKENS = 5;

const INVENTORY = [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 8, healthy: 8 }];
const MESSAGES = [{ role: 'user', content: 'Say hello.' }];
const BODY = JSON.stringify({ model: MODEL, messages: MESSAGES });
const STREAM_BODY = JSON.stringify({ model: MODEL, messages: MESSAGES, stream: true, stream_options: { include_usage: true } });
const HELD_BODY = JSON.stringify({ model: MODEL, messages: MESSAGES, stream: true, stream_options: { include_usage: true }, bench_hold_ms: HOLD_MS });

type LaneName = 'direct' | 'proxy' | 'gateway';
interface Lane {
  readonly name: LaneName;
  readonly origin: string;
  readonly authorization: string;
}

interface Stats {
  gateway: { requests: number; promptTokens: number; completionTokens: number };
  other: { requests: number; promptTokens: number; completionTokens: number };
  peakOpenStreams: number;
  refused: number;
}

/** Starts a bench helper (`node --import tsx file args…`, `file` beside this one) and waits for its `listening <port>…` line. */
function helper(file: string, args: string[]): Promise<{ child: ChildProcess; ports: number[] }> {
  const path = fileURLToPath(new URL(file, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', path, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening ([\d ]+)\n/.exec(out);
      if (m) resolve({ child, ports: m[1]!.trim().split(' ').map(Number) });
    });
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
}

function stopHelper(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  return exited;
}

/**
 * One call: whether it was answered 200 and whole (a stream to its `[DONE]`), and when its headers
 * arrived (performance.now(); NaN when they did not).
 */
async function call(pool: Pool, lane: Lane, body: string, streamed: boolean): Promise<{ ok: boolean; headersAt: number }> {
  let headersAt = NaN;
  try {
    const r = await pool.request({
      path: '/v1/chat/completions',
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: lane.authorization },
      body,
    });
    headersAt = performance.now();
    const text = await r.body.text();
    return { ok: r.statusCode === 200 && (streamed ? text.endsWith('data: [DONE]\n\n') : text.includes('"usage"')), headersAt };
  } catch {
    return { ok: false, headersAt };
  }
}

const ms = (v: number) => +v.toFixed(2);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export async function benchGateway(): Promise<void> {
  const scratch = await scratchOrSkip('gateway', 'tp_bench_gateway');
  if (!scratch) return;
  const env = { TOKENPOOL_WORKERS: WORKERS, TOKENPOOL_TENANT_RPM: '0', TOKENPOOL_KEY_RPM: '0' };
  const server = await startServer(scratch.url, env);
  const db = new pg.Client({ connectionString: scratch.url });
  await db.connect();
  const helpers: ChildProcess[] = [];
  const heartbeating = new AbortController();
  let heartbeats: Promise<void> | undefined;
  try {
    const { base } = server;
    const cluster = await api(base, ADMIN, 'POST', '/api/v1/clusters', { name: 'gateway-bench', region: 'bench' });
    await api(base, cluster.agentToken, 'POST', '/api/v1/agent/heartbeat', { inventory: INVENTORY, placements: [] });
    const tenant = await api(base, ADMIN, 'POST', '/api/v1/tenants', { name: 'gateway-bench', kind: 'enterprise', billingMode: 'postpaid' });
    const workload = await api(base, tenant.apiKey, 'POST', '/api/v1/workloads', { name: 'chat', model: MODEL, tokensPerMin: 1000 });
    let placement: { id: string; replicas: number; servingKey: string } | undefined;
    for (let tries = 0; !placement; tries++) {
      if (tries > 300) throw new Error('the workload was not placed in 30 s');
      const answer = await api(base, cluster.agentToken, 'POST', '/api/v1/agent/heartbeat', { inventory: INVENTORY, placements: [] });
      placement = answer.placements.find((p: { workloadId: string }) => p.workloadId === workload.id);
      if (!placement) await sleep(100);
    }

    const engine = await helper('./gateway-upstream.ts', [
      placement.servingKey,
      String(Math.max(...STREAM_ENDPOINTS)),
      String(PROMPT_TOKENS),
      String(COMPLETION_TOKENS),
    ]);
    helpers.push(engine.child);
    const engineOrigin = `http://127.0.0.1:${engine.ports[0]}`;
    const proxy = await helper('./gateway-proxy.ts', [engineOrigin, placement.servingKey]);
    helpers.push(proxy.child);

    // The agent's part: the placement's replicas ready at these endpoints, heartbeat every 5 s.
    let endpoints = [engineOrigin];
    const report = () =>
      api(base, cluster.agentToken, 'POST', '/api/v1/agent/heartbeat', {
        inventory: INVENTORY,
        placements: [{ id: placement.id, readyReplicas: placement.replicas, endpoints }],
      });
    await report();
    heartbeats = (async () => {
      while (!heartbeating.signal.aborted) {
        await sleep(5_000, undefined, { signal: heartbeating.signal }).then(
          () => report().catch(() => undefined),
          () => undefined,
        );
      }
    })().catch(() => undefined);

    const lanes: Lane[] = [
      { name: 'direct', origin: engineOrigin, authorization: `Bearer ${placement.servingKey}` },
      { name: 'proxy', origin: `http://127.0.0.1:${proxy.ports[0]}`, authorization: 'Bearer none' },
      { name: 'gateway', origin: base, authorization: `Bearer ${tenant.apiKey}` },
    ];
    const gateway = lanes[2]!;
    let gatewayAnswered = 0;
    // The gateway reads a model's routing at most once a second: wait until it routes.
    {
      const pool = new Pool(base, { connections: 1 });
      for (let tries = 0; !(await call(pool, gateway, BODY, false)).ok; tries++) {
        if (tries > 100) throw new Error('the gateway did not route to the engine in 20 s');
        await sleep(200);
      }
      gatewayAnswered += 1;
      await pool.close();
    }
    console.log(
      JSON.stringify({
        bench: 'gateway.setup',
        database: 'postgres',
        serverProcesses: Number(WORKERS),
        limits: 'TOKENPOOL_TENANT_RPM=0 TOKENPOOL_KEY_RPM=0 (default request rates off)',
        engine: `fixed usage ${PROMPT_TOKENS}+${COMPLETION_TOKENS} tokens, ${COMPLETION_TOKENS} chunks a stream; requires the placement's servingKey`,
        concurrency: CONCURRENCY,
        rate: RATE,
        loadAverage1m: +loadavg()[0]!.toFixed(2),
      }),
    );

    const cpu = () => ({
      server: cpuSeconds(server.child.pid!),
      engine: cpuSeconds(engine.child.pid!),
      proxy: cpuSeconds(proxy.child.pid!),
      postgres: cpuSecondsOf('postgres'),
      loadGenerator: process.cpuUsage(),
    });

    const saturation: Record<string, number> = {};
    const latency: Record<string, { p50: number; p99: number }> = {};
    for (const streamed of [false, true]) {
      const body = streamed ? STREAM_BODY : BODY;
      // Rounds alternate the paths, so that the host's changing load falls on all of them alike; each
      // path's figure is the median of its rounds.
      const rounds: Record<LaneName, { rps: number; failed: number; cpu: Record<string, number>; ok: number; seconds: number }[]> = {
        direct: [],
        proxy: [],
        gateway: [],
      };
      for (let round = 0; round < ROUNDS; round++) {
        for (const lane of lanes) {
          const pool = new Pool(lane.origin, { connections: CONCURRENCY });
          let ok = 0;
          let failed = 0;
          let running = true;
          const clients = Array.from({ length: CONCURRENCY }, async () => {
            while (running) {
              if ((await call(pool, lane, body, streamed)).ok) ok++;
              else failed++;
            }
          });
          await sleep(WARMUP_MS);
          const [ok0, failed0, cpu0, t0] = [ok, failed, cpu(), performance.now()];
          await sleep(MEASURE_MS);
          const [ok1, failed1, cpu1, t1] = [ok, failed, cpu(), performance.now()];
          running = false;
          await Promise.all(clients);
          await pool.close();
          if (lane.name === 'gateway') gatewayAnswered += ok;
          const seconds = (t1 - t0) / 1000;
          const loadGenerator = process.cpuUsage(cpu0.loadGenerator);
          rounds[lane.name].push({
            rps: (ok1 - ok0) / seconds,
            failed: failed1 - failed0,
            ok: ok1 - ok0,
            seconds,
            cpu: {
              server: cpu1.server - cpu0.server,
              engine: cpu1.engine - cpu0.engine,
              proxy: cpu1.proxy - cpu0.proxy,
              postgres: cpu1.postgres - cpu0.postgres,
              loadGenerator: (loadGenerator.user + loadGenerator.system) / 1e6,
            },
          });
        }
      }
      // The CPU of the process that makes the path: the engine alone, the proxy, the gateway's server.
      const own = { direct: 'engine', proxy: 'proxy', gateway: 'server' } as const;
      for (const lane of lanes) {
        const all = rounds[lane.name];
        const rps = Math.round(median(all.map((r) => r.rps)));
        saturation[`${lane.name}.${streamed}`] = rps;
        const sum = (f: (r: (typeof all)[number]) => number) => all.reduce((a, r) => a + f(r), 0);
        const cpuOf = (k: string) => +sum((r) => r.cpu[k]!).toFixed(2);
        console.log(
          JSON.stringify({
            bench: 'gateway.saturation',
            path: lane.name,
            streamed,
            concurrency: CONCURRENCY,
            rounds: ROUNDS,
            seconds: +sum((r) => r.seconds).toFixed(2),
            requestsPerSec: rps,
            roundsRequestsPerSec: all.map((r) => Math.round(r.rps)),
            failed: sum((r) => r.failed),
            cpuMsPerRequest: +((sum((r) => r.cpu[own[lane.name]]!) * 1000) / sum((r) => r.ok)).toFixed(3),
            cpuSeconds: {
              server: cpuOf('server'),
              engine: cpuOf('engine'),
              proxy: cpuOf('proxy'),
              postgres: cpuOf('postgres'),
              loadGenerator: cpuOf('loadGenerator'),
            },
          }),
        );
      }
      for (const lane of lanes) {
        const pool = new Pool(lane.origin, { connections: 256 });
        const n = RATE * RATE_SECONDS;
        const interval = 1000 / RATE;
        const took = new Float64Array(n);
        const headers = new Float64Array(n);
        let failed = 0;
        const calls: Promise<void>[] = [];
        const start = performance.now() + 5;
        for (let sent = 0; sent < n;) {
          const due = Math.min(n, Math.floor((performance.now() - start) / interval) + 1);
          for (; sent < due; sent++) {
            const at = start + sent * interval;
            const i = sent;
            calls.push(
              call(pool, lane, body, streamed).then((r) => {
                took[i] = performance.now() - at;
                headers[i] = r.headersAt - at;
                if (!r.ok) failed++;
              }),
            );
          }
          await sleep(1);
        }
        await Promise.all(calls);
        const seconds = (performance.now() - start) / 1000;
        await pool.close();
        if (lane.name === 'gateway') gatewayAnswered += n - failed;
        took.sort();
        headers.sort();
        const p50 = percentile(took, 0.5);
        const p99 = percentile(took, 0.99);
        latency[`${lane.name}.${streamed}`] = { p50, p99 };
        console.log(
          JSON.stringify({
            bench: 'gateway.latency',
            path: lane.name,
            streamed,
            rate: RATE,
            requests: n,
            seconds: +seconds.toFixed(2),
            p50Ms: ms(p50),
            p99Ms: ms(p99),
            maxMs: ms(took[n - 1]!),
            headersP50Ms: ms(percentile(headers, 0.5)),
            headersP99Ms: ms(percentile(headers, 0.99)),
            failed,
          }),
        );
      }
    }

    // 1,000 streams at once, each held open by the engine for HOLD_MS: directly, then through the
    // gateway to the one endpoint, then spread over several (as many replicas of the placement).
    // The clients' 1,000 connections are opened first: a burst of 1,000 connects overflows a
    // listen backlog and waits out SYN retries, which measures the kernel, not the path.
    const held: Record<string, boolean> = {};
    for (const run of [
      { lane: lanes[0]!, ports: 1, warmPath: '/stats' },
      ...STREAM_ENDPOINTS.map((ports) => ({ lane: gateway, ports, warmPath: '/healthz' })),
    ]) {
      if (run.ports !== endpoints.length) {
        endpoints = engine.ports.slice(0, run.ports).map((p) => `http://127.0.0.1:${p}`);
        await report();
        // The gateway's routing cache (1 s) must see the new endpoints.
        await sleep(1_500);
      }
      const pool = new Pool(run.lane.origin, { connections: STREAMS });
      await Promise.all(Array.from({ length: STREAMS }, () => pool.request({ path: run.warmPath, method: 'GET' }).then((r) => r.body.dump())));
      await fetch(`${engineOrigin}/stats?resetPeak=1`);
      const started = performance.now();
      const results = await Promise.all(Array.from({ length: STREAMS }, () => call(pool, run.lane, HELD_BODY, true)));
      const seconds = (performance.now() - started) / 1000;
      await pool.close();
      const completed = results.filter((r) => r.ok).length;
      if (run.lane === gateway) gatewayAnswered += completed;
      const stats = (await (await fetch(`${engineOrigin}/stats`)).json()) as Stats;
      // Held at once: all complete, and in about one hold's time rather than in queued rounds.
      const atOnce = completed === STREAMS && stats.peakOpenStreams >= STREAMS && seconds < (HOLD_MS / 1000) * 1.75;
      held[`${run.lane.name}.${run.ports}`] = atOnce;
      console.log(
        JSON.stringify({
          bench: 'gateway.streams',
          path: run.lane.name,
          endpoints: run.ports,
          streams: STREAMS,
          holdMs: HOLD_MS,
          completed,
          seconds: +seconds.toFixed(2),
          peakOpenAtEngine: stats.peakOpenStreams,
          heldAtOnce: atOnce,
        }),
      );
    }

    const stats = (await (await fetch(`${engineOrigin}/stats`)).json()) as Stats;
    const metered = (
      await db.query<{ events: string; input: string | null; output: string | null }>(
        'SELECT count(*) AS events, sum(input_tokens) AS input, sum(output_tokens) AS output FROM usage_events WHERE tenant_id = $1',
        [tenant.id],
      )
    ).rows[0]!;
    const meteredFigures = { requests: Number(metered.events), promptTokens: Number(metered.input ?? 0), completionTokens: Number(metered.output ?? 0) };
    const exact =
      meteredFigures.requests === stats.gateway.requests &&
      meteredFigures.promptTokens === stats.gateway.promptTokens &&
      meteredFigures.completionTokens === stats.gateway.completionTokens;
    console.log(
      JSON.stringify({ bench: 'gateway.metering', servedByEngine: stats.gateway, metered: meteredFigures, answeredToClients: gatewayAnswered, exact }),
    );

    const goal = (name: string, measured: number | boolean, target: string, met: boolean) =>
      console.log(JSON.stringify({ bench: 'gateway.goal', goal: name, measured, target, met }));
    for (const streamed of [false, true]) {
      const kind = streamed ? 'streamed' : 'non-streamed';
      const ratio = saturation[`gateway.${streamed}`]! / saturation[`proxy.${streamed}`]!;
      goal(`requests/s, gateway over bare proxy, ${kind}`, +ratio.toFixed(2), '≥ 0.6', ratio >= 0.6);
      const direct = latency[`direct.${streamed}`]!;
      const through = latency[`gateway.${streamed}`]!;
      const addedP50 = through.p50 - direct.p50;
      const addedP99 = through.p99 - direct.p99;
      goal(`added p50 latency over direct at ${RATE}/s, ${kind} (ms)`, ms(addedP50), '≤ 1', addedP50 <= 1);
      goal(`added p99 latency over direct at ${RATE}/s, ${kind} (ms)`, ms(addedP99), '≤ 5', addedP99 <= 5);
    }
    for (const ports of STREAM_ENDPOINTS) {
      const ok = held[`gateway.${ports}`]!;
      goal(
        `${STREAMS} concurrent streams held through the gateway, ${ports} endpoint${ports > 1 ? 's' : ''}`,
        ok,
        'all open at once, done in < 1.75 × hold',
        ok,
      );
    }
    goal('metered requests and tokens equal what the engine served', exact, 'exactly equal', exact);
  } finally {
    heartbeating.abort();
    await heartbeats;
    await Promise.all(helpers.map(stopHelper));
    await server.stop();
    await db.end();
    await scratch.drop();
  }
}
