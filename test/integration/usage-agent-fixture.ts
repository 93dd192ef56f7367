/**
 * An agent's usage side as a process of its own, for agent-restart.test.ts: it scrapes one serving
 * engine's metrics page and reports through the real UsageReporter, keeping its state in a file
 * (a Kubernetes agent with a volume, TOKENPOOL_STATE_FILE). The test kills it and starts it again.
 */
import { parseTokenCounters } from '../../adapters/kubernetes/prometheus-text.js';
import { PlatformClient } from '../../adapters/platform-client.js';
import { UsageReporter } from '../../adapters/usage-reporter.js';
import { FileStateStore } from '../../adapters/usage-state.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const reporter = new UsageReporter({
  cluster: env('CLUSTER_ID'),
  client: new PlatformClient({ baseUrl: env('PLATFORM_URL'), token: env('AGENT_TOKEN'), timeoutMs: 2_000 }),
  store: new FileStateStore(env('STATE_FILE')),
  intervalMs: Number(env('INTERVAL_MS')),
  backoffBaseMs: 50,
  maxBackoffMs: 200,
  source: {
    async scrape() {
      const res = await fetch(env('METRICS_URL'));
      const counters = parseTokenCounters(await res.text());
      if (!counters) return [];
      return [
        {
          placementId: env('PLACEMENT_ID'),
          workloadId: env('WORKLOAD_ID'),
          pod: 'serving-0',
          incarnation: 'uid-0/0',
          startedAtMs: Number(env('ENGINE_STARTED_MS')),
          promptTokensTotal: counters.promptTokensTotal,
          generationTokensTotal: counters.generationTokensTotal,
        },
      ];
    },
  },
  log: (msg, fields) => process.stderr.write(`${JSON.stringify({ msg, ...fields })}\n`),
});
reporter.start();
// The reporter's timers do not hold the process open (in the agent its HTTP server does).
const alive = setInterval(() => {}, 1 << 30);
process.on('SIGTERM', () => void reporter.stop().then(() => clearInterval(alive)));
