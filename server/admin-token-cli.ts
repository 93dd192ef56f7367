/**
 * `npm run admin-token`: issues a new built-in admin token and prints it once. Running servers on
 * the same database accept it at once and refuse the old one, whose sessions end. Run it with the
 * same DATABASE_URL / TOKENPOOL_DATA_DIR as the server (with the embedded database, stop the
 * server first: PGlite allows one process).
 *
 * With TOKENPOOL_ADMIN_TOKEN set it changes nothing and says why: that variable wins over the
 * stored token on every server started with it.
 */
import { connectDatabase } from '../db/connect.js';
import { migrateToLatest } from '../db/migrate.js';
import { rotateAdminToken } from './auth/admin-token.js';
import { ConfigError, loadConfig } from './config.js';

try {
  const config = loadConfig(process.env);
  if (config.adminToken !== undefined) {
    process.stderr.write(
      'tokenpool: TOKENPOOL_ADMIN_TOKEN is set, and it wins: a server started with it accepts that token as admin and ' +
        'never the stored one. Nothing was changed: no token was issued and no session ended.\n' +
        'To rotate the admin token, set a new TOKENPOOL_ADMIN_TOKEN and restart the servers; or unset it (on the servers ' +
        'and here) and run `npm run admin-token` again.\n',
    );
    process.exit(2);
  }
  const database = await connectDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  await migrateToLatest(database.db);
  const token = await rotateAdminToken(database.db);
  await database.close();
  process.stdout.write(
    `new admin token (shown once): ${token}\n` +
      'Running servers on this database accept it now; the old token no longer works, and the sessions made with it have ended.\n',
  );
} catch (err) {
  process.stderr.write(`tokenpool: ${err instanceof ConfigError ? 'invalid configuration: ' : ''}${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
