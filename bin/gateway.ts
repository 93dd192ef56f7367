/**
 * The token gateway alone (`npm run gateway`): `/v1/*`, /healthz, /readyz and /metrics on
 * `TOKENPOOL_GATEWAY_PORT`, beside an API process on the same PostgreSQL (and, for limits that hold
 * across both, the same `REDIS_URL`). It runs no jobs and never schedules (server/main.ts).
 */
import { main } from '../server/main.js';

main({ role: 'gateway' });
