/**
 * `npm run admin-token`: issues a new built-in admin token and prints it once. Run it with the
 * same DATABASE_URL / TOKENPOOL_DATA_DIR as the server (with the embedded database, stop the
 * server first: PGlite allows one process).
 */
import { connectDatabase } from '../db/connect.js';
import { migrateToLatest } from '../db/migrate.js';
import { rotateAdminToken } from './auth/admin-token.js';
import { ConfigError, loadConfig } from './config.js';
import { SettingsRepository } from './repositories/settings.repository.js';

try {
  const config = loadConfig(process.env);
  const database = await connectDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  await migrateToLatest(database.db);
  const token = await rotateAdminToken(new SettingsRepository(database.db));
  await database.close();
  process.stdout.write(`new admin token (shown once; the old one no longer works): ${token}\n`);
} catch (err) {
  process.stderr.write(`tokenpool: ${err instanceof ConfigError ? 'invalid configuration: ' : ''}${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
