/**
 * The tokenpool program (`npm start`, the container's command): the platform of server/main.ts,
 * with the demo city of adapters/simulated beside it when `TOKENPOOL_DEMO` is on.
 */
import { main } from '../server/main.js';
import { startDemo } from './demo.js';

main({ demo: startDemo });
