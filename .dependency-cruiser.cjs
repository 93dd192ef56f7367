// The house's import boundaries (README "map of the house"), checked by `npm run lint`.
// Type-only imports count too: a boundary is about what a folder knows, not only what it runs.

/** Node built-ins that reach outside the process (files, network, processes, threads). */
const NODE_IO = '^(node:)?(fs|net|http|https|http2|tls|dgram|dns|child_process|cluster|worker_threads|readline)(/|$)';
/** npm packages that are I/O: databases, HTTP, Kubernetes, timers on a schedule, metrics registries. */
const NPM_IO =
  '(^|/)node_modules/(pg|pg-copy-streams|kysely|kysely-pglite-dialect|@electric-sql/pglite|express|@kubernetes/client-node|undici|node-cron|prom-client|ioredis)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'pure-core-no-io',
      comment: 'scheduler/ and server/billing/ are data in, decisions out: no files, network, database, HTTP framework or Kubernetes client.',
      severity: 'error',
      from: { path: '^(scheduler|server/billing)/' },
      to: { path: [NODE_IO, NPM_IO] },
    },
    {
      name: 'pure-core-no-clock',
      comment: 'scheduler/ and server/billing/ take the time as an argument; the clock is injected at the edge (server/clock.ts).',
      severity: 'error',
      from: { path: '^(scheduler|server/billing)/' },
      to: { path: '^server/clock\\.ts$' },
    },
    {
      name: 'pure-core-no-edge',
      comment: 'scheduler/ and server/billing/ reach no database code, repositories, services or routes.',
      severity: 'error',
      from: { path: '^(scheduler|server/billing)/' },
      to: { path: '^(db|adapters|server/(repositories|services|http|scheduling|jobs|auth))/' },
    },
    {
      name: 'scheduler-stands-alone',
      comment: 'scheduler/ is the scheduling framework and its plugins; the platform calls it, never the other way round.',
      severity: 'error',
      from: { path: '^scheduler/' },
      to: { path: '^(server|db|adapters)/' },
    },
    {
      name: 'routes-no-repositories',
      comment: 'A route validates, calls a service and maps the result; only repositories touch the database.',
      severity: 'error',
      from: { path: '^server/http/.+\\.routes\\.ts$' },
      to: { path: '^server/repositories/' },
    },
    {
      name: 'server-no-adapters',
      comment: 'The platform knows no agent, Kubernetes backend or simulated city; bin/ composes the demo city with it.',
      severity: 'error',
      from: { path: '^server/' },
      to: { path: '^adapters/' },
    },
    {
      name: 'adapters-speak-http',
      comment: 'The agent and the simulated city talk to the platform only over its HTTP API (API.md).',
      severity: 'error',
      from: { path: '^adapters/' },
      to: { path: '^(server|db|bin)/' },
    },
    {
      name: 'migrations-frozen',
      comment: 'A migration is frozen in time: it imports no application code (it would change under it).',
      severity: 'error',
      from: { path: '^db/migrations/' },
      to: { path: '^(server|scheduler|adapters|bin)/|^db/[^/]+$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|web)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.test.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
