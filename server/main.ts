/**
 * The platform process: configuration from the environment, the database, the HTTP server,
 * background jobs, an optional demo beside them, and a graceful stop on SIGTERM. With
 * `TOKENPOOL_WORKERS` > 1 this process only runs the workers (workers.ts), each of which is all of
 * the above. The program that calls `main` is bin/tokenpool.ts, which brings the demo city; with
 * `role: 'gateway'`, bin/gateway.ts (`npm run gateway`), a process of the token gateway alone.
 */
import cluster from 'node:cluster';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectDatabase } from '../db/connect.js';
import { createApp } from './app.js';
import { createNodeServer } from './http/server.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { AppContext } from './context.js';
import { jsonLogger } from './log.js';
import { reportReady, runPrimary, shareMetrics, workerNumber } from './workers.js';

/** Something that runs beside the platform until it stops (the demo city). */
export interface Companion {
  stop(): Promise<void>;
}

export interface MainOptions {
  /**
   * With `TOKENPOOL_DEMO` on, started once the server listens (in the first worker only) and
   * before the `listening on` line is printed; it may print lines of its own. Stopped on shutdown
   * before the platform.
   */
  readonly demo?: (ctx: AppContext, baseUrl: string) => Promise<Companion>;
  /**
   * `gateway`: only the token gateway (`/v1/*`, health and metrics) on `TOKENPOOL_GATEWAY_PORT`,
   * beside an API process on the same PostgreSQL; no jobs, no scheduling, no demo (app.ts `role`).
   */
  readonly role?: 'all' | 'gateway';
}

/**
 * Runs the platform process until SIGTERM or SIGINT. Never rejects: a failure to start is printed
 * to stderr and exits the process with status 1.
 */
export function main(options: MainOptions = {}): void {
  run(options).catch((err: unknown) => {
    process.stderr.write(`tokenpool: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

async function run(options: MainOptions): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tokenpool: invalid configuration: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = jsonLogger();
  const gatewayOnly = options.role === 'gateway';
  const name = gatewayOnly ? 'tokenpool gateway' : 'tokenpool';
  if (gatewayOnly && !config.databaseUrl?.startsWith('postgres')) {
    process.stderr.write("tokenpool: invalid configuration: DATABASE_URL: a gateway process needs postgres://… (it shares the API's database)\n");
    process.exit(1);
  }
  if (config.workers > 1 && cluster.isPrimary) {
    await runPrimary({
      workers: config.workers,
      host: config.host,
      port: gatewayOnly ? config.gatewayPort : config.port,
      log,
      onListening: (baseUrl) => process.stdout.write(`${name} listening on ${baseUrl} (database: postgres, workers: ${config.workers})\n`),
    });
    return;
  }
  // In a multi-process server: which worker this is (the first one migrates, seeds and runs the demo).
  const worker = workerNumber();
  const first = worker === undefined || worker === 1;
  // A signal during start-up is held until the database is consistent (opened, migrated) rather
  // than killing the process halfway through creating or migrating it.
  let stopRequested: string | undefined;
  let onSignal = (signal: string): void => {
    stopRequested ??= signal;
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  const database = await connectDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  const app = await createApp({ database, config, log, role: options.role ?? 'all', ...(worker === undefined ? {} : { shareMetrics }) });
  if (stopRequested) {
    log.info('stopped during start-up', { signal: stopRequested });
    await database.close();
    process.exit(0);
  }

  // Timeouts and the per-client connection cap from config.http. Agents heartbeat every 10 s and
  // load balancers commonly drop idle connections after 60 s: the default keep-alive of 75 s
  // (Node's is 5 s) spares each heartbeat a new connection.
  // A worker listens on the port its primary chose (PORT in its environment).
  const server = createNodeServer(app.handler, config.http).listen(gatewayOnly && worker === undefined ? config.gatewayPort : config.port, config.host);
  server.on('upgrade', app.upgrade);
  // Responses still being written when the server stops close their connection afterwards, so
  // the stop does not wait for clients to drop their idle keep-alive sockets.
  let stopping = false;
  const unanswered = new Set<ServerResponse>();
  server.on('request', (_req, res: ServerResponse) => {
    if (stopping) res.setHeader('connection', 'close');
    unanswered.add(res);
    res.once('close', () => unanswered.delete(res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const baseUrl = `http://${host}:${port}`;

  // Said once: by the first worker of a multi-process server.
  const token = app.adminToken;
  if (first && !gatewayOnly) {
    if (token.generated) process.stdout.write(`admin token (shown once, stored hashed): ${token.generated}\n`);
    else if (token.source === 'environment') process.stdout.write('admin token: the value of TOKENPOOL_ADMIN_TOKEN\n');
    else process.stdout.write('admin token: generated on first start and stored hashed; `npm run admin-token` issues a new one\n');
  }

  app.start();
  const demo = config.demo && first && options.demo && !gatewayOnly ? await options.demo(app.context, baseUrl) : undefined;
  if (worker === undefined) process.stdout.write(`${name} listening on ${baseUrl} (database: ${database.kind}${demo ? ', demo city' : ''})\n`);
  else reportReady(baseUrl);

  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    // Stops listening and closes idle connections; requests in flight finish.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const res of unanswered) if (!res.headersSent) res.setHeader('connection', 'close');
    try {
      await demo?.stop();
      await app.stop();
      await closed;
      await database.close();
      process.exit(0);
    } catch (err) {
      log.error('shutdown failed', { error: String(err) });
      process.exit(1);
    }
  };
  onSignal = (signal) => void shutdown(signal);
  if (stopRequested) void shutdown(stopRequested);
}
