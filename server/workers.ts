/**
 * Several server processes on one port (`TOKENPOOL_WORKERS`, PostgreSQL only), with node:cluster:
 * the primary only forks, watches and stops workers, and gathers their metrics; each worker is
 * the whole platform (HTTP API, jobs, a candidate for scheduler leadership), as a replica on
 * another machine would be. The PostgreSQL advisory lock still elects exactly one scheduler.
 *
 * Start-up: the first worker migrates the database and seeds the catalog alone; the others start
 * once it listens. A worker that dies is replaced (after a pause that doubles while they keep
 * dying, up to 30 s). SIGTERM or SIGINT stops every worker gracefully, then the primary.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, type AddressInfo } from 'node:net';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from './log.js';

/** Which worker a process is (1…n), set by the primary in the worker's environment. */
export const WORKER_ENV = 'TOKENPOOL_WORKER';

type Message =
  | { readonly type: 'tokenpool:ready'; readonly baseUrl: string }
  | { readonly type: 'tokenpool:metrics?'; readonly id: number }
  | { readonly type: 'tokenpool:metrics'; readonly id: number; readonly text?: string; readonly error?: string };

function isMessage(m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith('tokenpool:');
}

/** This process's worker number, or undefined when it is not a worker of a multi-process server. */
export function workerNumber(): number | undefined {
  return cluster.isWorker && process.env[WORKER_ENV] ? Number(process.env[WORKER_ENV]) : undefined;
}

/** In a worker: tells the primary that this worker serves at `baseUrl`. */
export function reportReady(baseUrl: string): void {
  process.send?.({ type: 'tokenpool:ready', baseUrl } satisfies Message);
}

/**
 * In a worker: answers the primary's requests for this worker's metrics from `registry`, and
 * returns how to read every worker's metrics added up (through the primary).
 */
export function shareMetrics(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one makes prom-client answer the primary's requests in this worker.
  new AggregatorRegistry();
  let next = 0;
  const waiting = new Map<number, (m: Extract<Message, { type: 'tokenpool:metrics' }>) => void>();
  process.on('message', (m: unknown) => {
    if (isMessage(m) && m.type === 'tokenpool:metrics') waiting.get(m.id)?.(m);
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the primary process did not answer with the metrics in 10 s'));
      }, 10_000);
      waiting.set(id, (m) => {
        clearTimeout(timer);
        waiting.delete(id);
        if (m.text !== undefined) resolve(m.text);
        else reject(new Error(m.error ?? 'no metrics'));
      });
      process.send?.({ type: 'tokenpool:metrics?', id } satisfies Message);
    });
}

export interface PrimaryOptions {
  readonly workers: number;
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  readonly log: Logger;
  /** Printed once every worker listens, with the URL they serve. */
  readonly onListening: (baseUrl: string) => void;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Runs the primary process until SIGTERM or SIGINT; then exits. */
export async function runPrimary(opts: PrimaryOptions): Promise<void> {
  const { log } = opts;
  const aggregator = new AggregatorRegistry();
  const numbers = new Map<Worker, number>();
  let stopping: string | undefined;
  let restartDelayMs = 1000;
  let lastDeath = 0;

  // PORT=0 (any free port) is chosen here once, so that every worker, and a replacement after
  // all had died, listens on the same one.
  const port = opts.port === 0 ? await freePort(opts.host) : opts.port;
  const fork = (n: number): Worker => {
    const worker = cluster.fork({ [WORKER_ENV]: String(n), PORT: String(port) });
    numbers.set(worker, n);
    worker.on('message', (m: unknown) => {
      if (!isMessage(m) || m.type !== 'tokenpool:metrics?') return;
      aggregator.clusterMetrics().then(
        (text) => worker.isConnected() && worker.send({ type: 'tokenpool:metrics', id: m.id, text } satisfies Message),
        (err: unknown) => worker.isConnected() && worker.send({ type: 'tokenpool:metrics', id: m.id, error: String(err) } satisfies Message),
      );
    });
    return worker;
  };
  const ready = (worker: Worker): Promise<string> =>
    new Promise((resolve, reject) => {
      worker.on('message', (m: unknown) => {
        if (isMessage(m) && m.type === 'tokenpool:ready') resolve(m.baseUrl);
      });
      worker.once('exit', (code, signal) => reject(new Error(`worker ${numbers.get(worker)} exited during start-up (${signal ?? `status ${code}`})`)));
    });

  const stopAll = async (signal: string): Promise<never> => {
    stopping ??= signal;
    log.info('stopping workers', { signal });
    const alive = [...numbers.keys()].filter((w) => !w.isDead());
    await Promise.all(
      alive.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
    process.exit(0);
  };
  process.on('SIGTERM', () => void stopAll('SIGTERM'));
  process.on('SIGINT', () => void stopAll('SIGINT'));

  let baseUrl: string;
  try {
    // The first worker alone migrates and seeds; the rest then start side by side.
    baseUrl = await ready(fork(1));
    if (stopping) return;
    await Promise.all(Array.from({ length: opts.workers - 1 }, (_, i) => ready(fork(i + 2))));
  } catch (err) {
    if (stopping) return;
    process.stderr.write(`tokenpool: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    for (const w of numbers.keys()) if (!w.isDead()) w.process.kill('SIGTERM');
    process.exit(1);
  }
  if (stopping) return;

  cluster.on('exit', (worker, code, signal) => {
    const n = numbers.get(worker);
    numbers.delete(worker);
    if (stopping || n === undefined) return;
    const now = Date.now();
    // Deaths in quick succession back off; a worker that lived a minute resets the pause.
    restartDelayMs = now - lastDeath > 60_000 ? 1000 : Math.min(restartDelayMs * 2, 30_000);
    lastDeath = now;
    log.error('worker died; starting another', { worker: n, status: code, signal, inMs: restartDelayMs });
    setTimeout(() => {
      if (!stopping) fork(n);
    }, restartDelayMs);
  });
  opts.onListening(baseUrl);
}
