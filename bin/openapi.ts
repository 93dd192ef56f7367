/**
 * Writes the OpenAPI document of the whole platform to a file (default dist/openapi.json), from the
 * same route declarations and zod schemas the server serves at /api/v1/openapi.json — no server,
 * no network: the app is built over an in-memory embedded database and closed again. The UI's typed
 * client is generated from this file (`npm run build:ui`).
 *
 *   node dist/bin/openapi.js [OUT]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { connectDatabase } from '../db/connect.js';
import { API_VERSION, createApp } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { jsonLogger } from '../server/log.js';
import { openApiDocument } from '../server/http/openapi.js';

const out = process.argv[2] ?? 'dist/openapi.json';
const database = await connectDatabase({ url: 'pglite://memory' });
try {
  const app = await createApp({ database, config: loadConfig({ DATABASE_URL: 'pglite://memory', TOKENPOOL_DEMO: '0' }), log: jsonLogger(() => {}) });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(openApiDocument(app.routes, API_VERSION), null, 1)}\n`);
  await app.stop();
} finally {
  await database.close();
}
