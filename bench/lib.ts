/** Shared pieces of the benchmarks: a scratch PostgreSQL database, the compiled server as a child process, a client pool. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import pg from 'pg';

export const ADMIN = 'tp_admin_bench-operator-token-0123456789';

/** Kept-alive connections shared by the run's incidental calls (setup, checks). */
const keepAlive = new http.Agent({ keepAlive: true });

/**
 * One client's own kept-alive connection, as a separate program (an agent, a tenant's service)
 * holds it: a multi-process server then spreads clients over its workers, where one shared pool
 * would hand most calls to whichever connections it reused last.
 */
export function connection(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 1 });
}

export async function api(base: string, token: string, method: string, path: string, body?: unknown, agent: http.Agent = keepAlive): Promise<any> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(
      base + path,
      {
        method,
        agent,
        headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
  if (status < 200 || status >= 300) throw new Error(`${method} ${path}: ${status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Runs `fn` over `items` with at most `concurrency` calls in flight; `client` numbers the caller (0…concurrency−1). */
export async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number, client: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, client) => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i, client);
      }
    }),
  );
}

export function benchDatabaseUrl(): string | undefined {
  return process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
}

/** What a benchmark that needs PostgreSQL prints when {@link benchDatabaseUrl} has none. */
export function skippedWithoutDatabase(bench: string): { bench: string; skipped: string } {
  return { bench, skipped: 'set BENCH_DATABASE_URL (or run under .ci/run --db-only)' };
}

/**
 * A scratch database for benchmark `bench`, or, with no PostgreSQL to make one on, undefined after
 * printing the benchmark's skip line ({@link skippedWithoutDatabase}).
 */
export async function scratchOrSkip(bench: string, prefix: string): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  const adminUrl = benchDatabaseUrl();
  if (adminUrl) return scratchDatabase(adminUrl, prefix);
  console.log(JSON.stringify(skippedWithoutDatabase(bench)));
  return undefined;
}

/** A new database for one run, dropped by `drop()`. */
export async function scratchDatabase(adminUrl: string, prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/**
 * Starts `node dist/bin/tokenpool.js` on a free port; resolves once it listens. Every simulated
 * agent and client connects from this one loopback address, as a city's would through one proxy,
 * so the per-client connection cap is off (TOKENPOOL_MAX_CONNECTIONS_PER_CLIENT=0) unless `env` sets it.
 */
export function startServer(databaseUrl: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; base: string; stop: () => Promise<void> }> {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, 'dist/bin/tokenpool.js'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: '0',
      TOKENPOOL_ADMIN_TOKEN: ADMIN,
      TOKENPOOL_DEMO: '0',
      TOKENPOOL_MAX_CONNECTIONS_PER_CLIENT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr.on('data', (d: Buffer) => {
    const s = d.toString();
    if (/"level":"error"/.test(s)) process.stderr.write(s);
  });
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve({ child, base: m[1]!, stop });
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

/** A file of /proc/<pid>/, or '' once the process is gone. */
function proc(pid: number | string, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
}

/** A process and its descendants (a multi-process server's primary and workers). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const children = proc(out[i]!, `task/${out[i]}/children`).trim();
    if (children) out.push(...children.split(/\s+/).map(Number));
  }
  return out;
}

/** Peak resident memory of a process and its descendants, added up (an upper bound on their peak together). */
export function peakRssMiB(pid: number): number {
  const kib = processTree(pid).reduce((sum, p) => sum + Number(/VmHWM:\s+(\d+)/.exec(proc(p, 'status'))?.[1] ?? 0), 0);
  return Math.round(kib / 1024);
}

/** CPU seconds (user + system) used so far by one process; 0 once it is gone. */
function ownCpuSeconds(pid: number | string): number {
  const fields = proc(pid, 'stat').split(') ')[1]?.split(' ');
  return fields ? (Number(fields[11]) + Number(fields[12])) / 100 : 0;
}

/** CPU seconds used so far by a process and its live descendants. */
export function cpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + ownCpuSeconds(p), 0);
}

/** CPU seconds used so far by every process whose command name is `name` (postgres, say). */
export function cpuSecondsOf(name: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && proc(entry, 'comm').trim() === name) total += ownCpuSeconds(entry);
  }
  return total;
}
