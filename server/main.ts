/**
 * The platform process: configuration from the environment, the database, the HTTP server,
 * background jobs, the demo city, and a graceful stop on SIGTERM.
 */
import type { AddressInfo } from 'node:net';
import { connectDatabase } from '../db/connect.js';
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { startDemoCity } from './demo.js';
import { jsonLogger } from './log.js';

async function main(): Promise<void> {
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
  const database = await connectDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  const app = await createApp({ database, config, log });

  const server = app.express.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const baseUrl = `http://${host}:${port}`;

  const token = app.adminToken;
  if (token.generated) process.stdout.write(`admin token (shown once, stored hashed): ${token.generated}\n`);
  else if (token.source === 'environment') process.stdout.write('admin token: the value of TOKENPOOL_ADMIN_TOKEN\n');
  else process.stdout.write('admin token: generated on first start and stored hashed; `npm run admin-token` issues a new one\n');

  app.start();
  const demo = config.demo ? await startDemoCity(app.context, baseUrl) : undefined;
  process.stdout.write(`tokenpool listening on ${baseUrl} (database: ${database.kind}${config.demo ? ', demo city' : ''})\n`);

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
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
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`tokenpool: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
