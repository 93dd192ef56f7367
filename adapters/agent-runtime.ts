/**
 * The cluster agent as a running thing: the Kubernetes backend, the heartbeat loop, the usage
 * reporter and the agent's own `/healthz`, `/readyz` and `/metrics`. `adapters/cluster-agent.ts` runs it as
 * a program; tests start it in-process against a real API server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { ClusterAgent, type AgentLog } from './agent.js';
import type { AgentConfig } from './agent-config.js';
import { errorText, KubernetesBackend } from './kubernetes/backend.js';
import { ConfigMapStateStore } from './kubernetes/configmap-state-store.js';
import { PlatformClient, PlatformError, type HeartbeatRequest } from './platform-client.js';
import { UsageReporter } from './usage-reporter.js';
import { FileStateStore, parseUsageState, UnreadableStateError, type UsageStateStore } from './usage-state.js';
import { TunnelClient, type TunnelClientOptions } from './tunnel-client.js';

export interface AgentRuntimeOptions {
  readonly log?: AgentLog;
  /** Usage reporter clock and timers (tests simulate an outage with them). */
  readonly now?: () => Date;
  /** Default metrics of the Node.js process; off in tests that start several agents. */
  readonly processMetrics?: boolean;
  /** Where the tunnel's calls connect (TunnelClientOptions.connectTo): the k8s harness has no cluster DNS. */
  readonly tunnelConnectTo?: TunnelClientOptions['connectTo'];
}

export interface AgentRuntime {
  /** Where `/healthz` and `/metrics` answer. */
  readonly url: string;
  readonly agent: ClusterAgent;
  readonly backend: KubernetesBackend;
  /** The tunnel to the platform, when TOKENPOOL_TUNNEL is on. */
  readonly tunnel: TunnelClient | undefined;
  /**
   * The usage reporter: at start when a saved usage state names the cluster id, else once the
   * first heartbeat told the agent its cluster id.
   */
  reporter(): UsageReporter | undefined;
  stop(): Promise<void>;
}

/** Raised when the configuration cannot work: the agent should say so and exit 1. */
export class AgentStartError extends Error {}

export async function startAgentRuntime(config: AgentConfig, opts: AgentRuntimeOptions = {}): Promise<AgentRuntime> {
  const log = opts.log ?? (() => {});
  const kc = new KubeConfig();
  try {
    if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
    else kc.loadFromCluster();
  } catch (err) {
    throw new AgentStartError(`cannot read the Kubernetes configuration${config.kubeconfig ? ` from ${config.kubeconfig}` : ''}: ${(err as Error).message}`);
  }
  const platform = new PlatformClient({ baseUrl: config.platformUrl, token: config.agentToken });

  // A refused token is a configuration error; an unreachable platform is not (it may come back).
  let profiles: Awaited<ReturnType<PlatformClient['deviceProfiles']>> | undefined;
  try {
    profiles = await platform.deviceProfiles();
  } catch (err) {
    if (err instanceof PlatformError && (err.status === 401 || err.status === 403)) {
      throw new AgentStartError(`the platform at ${config.platformUrl} refused the agent token (${err.status}); check TOKENPOOL_AGENT_TOKEN`);
    }
    log('the platform is not reachable yet; the agent keeps trying', { error: (err as Error).message });
  }

  const backend = new KubernetesBackend({
    kubeConfig: kc,
    namespace: config.namespace,
    serving: {
      image: config.servingImage,
      images: config.servingImages,
      engineImages: config.engineImages,
      port: config.servingPort,
      tolerations: config.tolerations,
      nodeSelector: config.nodeSelector,
      weights: config.weights,
    },
    ingress: config.ingress,
    powerExporters: config.powerExporters ?? [],
    tunnel: config.tunnel,
    // The backend keeps what this answers; the profiles read at start are used if there are any.
    profiles: async () => profiles ?? platform.deviceProfiles(),
    log,
  });
  try {
    await withDeadline(
      backend.verify(),
      30_000,
      'reading Nodes, Deployments, Pods and PersistentVolumeClaims, and applying Secrets, Services and Ingresses (dry run)',
    );
    await withDeadline(backend.start(), 30_000, 'starting the informers');
  } catch (err) {
    await backend.stop().catch(() => {});
    throw new AgentStartError(`the Kubernetes API at ${kc.getCurrentCluster()?.server ?? '(no server)'} did not serve the agent: ${errorText(err)}`);
  }

  // Counter baselines and unsent usage outlive the process (usage-state.ts).
  const store: UsageStateStore & { prepare(): Promise<void> } =
    config.state.kind === 'file'
      ? new FileStateStore(config.state.path)
      : new ConfigMapStateStore({ kubeConfig: kc, namespace: config.state.namespace, name: config.state.name });
  let saved: string | undefined;
  try {
    await withDeadline(store.prepare(), 30_000, 'reading the saved usage state');
    saved = await store.load();
  } catch (err) {
    await backend.stop().catch(() => {});
    throw new AgentStartError(errorText(err));
  }
  let savedCluster: string | undefined;
  try {
    savedCluster = saved === undefined ? undefined : parseUsageState(saved).cluster;
  } catch (err) {
    // The reporter logs an unreadable state and replaces it; it must not keep the agent from starting.
    if (!(err instanceof UnreadableStateError)) throw err;
  }

  // The usage reporter's event ids begin with the cluster id the platform answers with; the one a
  // saved state names is used until then, so that usage is scraped and kept through an outage.
  let reporter: UsageReporter | undefined;
  let reporterStops: Promise<void> = Promise.resolve();
  const startReporter = (cluster: string) => {
    reporter = new UsageReporter({ cluster, client: platform, source: backend, store, intervalMs: config.usageMs, log, now: opts.now });
    reporter.start();
  };
  if (savedCluster !== undefined) startReporter(savedCluster);
  const client = {
    async heartbeat(body: HeartbeatRequest) {
      const answer = await platform.heartbeat(body);
      if (reporter && reporter.cluster !== answer.clusterId) {
        log('usage: the platform names another cluster id than the saved usage state; starting the usage reporter again', {
          saved: reporter.cluster,
          cluster: answer.clusterId,
        });
        const old = reporter;
        reporter = undefined;
        await (reporterStops = old.stop());
      }
      if (!reporter) startReporter(answer.clusterId);
      return answer;
    },
  };
  const agent = new ClusterAgent({ client, backend, intervalMs: config.heartbeatMs, log });
  agent.start();
  // The platform's calls to this cluster's replicas, over a connection the agent opens.
  const tunnel = config.tunnel
    ? new TunnelClient({
        platformUrl: config.platformUrl,
        token: config.agentToken,
        allow: (authority) => backend.tunnelAllows(authority),
        log,
        ...(opts.tunnelConnectTo ? { connectTo: opts.tunnelConnectTo } : {}),
      })
    : undefined;
  tunnel?.start();

  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const stat = (name: string, help: string, read: () => number, kind: 'counter' | 'gauge' = 'counter') => {
    const Metric = kind === 'counter' ? Counter : Gauge;
    new Metric({
      name,
      help,
      registers: [registry],
      collect() {
        if (this instanceof Counter) {
          this.reset();
          this.inc(read());
        } else this.set(read());
      },
    });
  };
  stat('tokenpool_agent_heartbeats_ok_total', 'Heartbeats the platform answered', () => agent.stats.heartbeatsOk);
  stat('tokenpool_agent_heartbeats_failed_total', 'Heartbeats that failed', () => agent.stats.heartbeatsFailed);
  stat('tokenpool_agent_reconciles_failed_total', 'Heartbeats whose changes to the cluster failed', () => agent.stats.reconcilesFailed);
  stat('tokenpool_agent_desired_placements', 'Placements in the last desired set', () => agent.stats.desiredPlacements, 'gauge');
  stat('tokenpool_agent_usage_events_accepted_total', 'Usage events the platform accepted', () => reporter?.stats.accepted ?? 0);
  stat('tokenpool_agent_usage_events_duplicate_total', 'Usage events the platform had seen before', () => reporter?.stats.duplicates ?? 0);
  stat('tokenpool_agent_power_scrape_failures_total', 'Power exporter pages that could not be read', () => backend.powerScrapeFailures);
  if (tunnel) {
    stat('tokenpool_agent_tunnel_connected', 'A tunnel to the platform is open (1) or none is (0)', () => (tunnel.stats.connected ? 1 : 0), 'gauge');
    stat('tokenpool_agent_tunnels_open', 'Tunnels open to the platform, one per platform process reached', () => tunnel.stats.tunnels, 'gauge');
    stat('tokenpool_agent_tunnel_processes', 'Platform processes the platform last named (each should hold a tunnel)', () => tunnel.stats.processes, 'gauge');
    stat('tokenpool_agent_tunnel_processes_covered', 'Platform processes named that hold a tunnel of this agent', () => tunnel.stats.covered, 'gauge');
    stat('tokenpool_agent_tunnel_reconnects_total', 'Times a tunnel was opened again after it closed or failed', () => tunnel.stats.reconnects);
    stat(
      'tokenpool_agent_tunnel_duplicates_total',
      'Tunnels that reached a platform process already held (the older one there closed)',
      () => tunnel.stats.duplicates,
    );
    stat('tokenpool_agent_tunnel_failures_total', 'Attempts to open a tunnel that failed', () => tunnel.stats.failures);
    stat('tokenpool_agent_tunnel_streams_open', 'Gateway calls being forwarded through the tunnels', () => tunnel.stats.streams, 'gauge');
  }
  stat('tokenpool_agent_usage_events_queued', 'Usage events waiting to be sent', () => reporter?.queued ?? 0, 'gauge');
  stat(
    'tokenpool_agent_usage_state_save_failures_total',
    'Saves of the usage state (baselines, unsent events) that failed; new events wait until one succeeds',
    () => reporter?.stats.saveFailures ?? 0,
  );

  // Live while the loop runs: an unreachable platform is not cured by a restart, and a restart
  // would drop the usage waiting to be sent. Ready while heartbeats succeed, or have failed fewer
  // than three times in a row.
  const status = (ok: boolean) => ({ status: ok ? 'ok' : 'failing', consecutiveFailures: agent.stats.consecutiveFailures, lastError: agent.stats.lastError });
  const server: Server = createServer((req, res) => {
    if (req.url === '/healthz' || req.url === '/readyz') {
      const ok = req.url === '/healthz' ? agent.running : agent.running && agent.stats.consecutiveFailures < 3;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status(ok)));
    } else if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500).end(String(err));
        },
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new AgentStartError(`cannot listen on port ${config.port}: ${err.message}`)));
    server.listen(config.port, resolve);
  }).catch(async (err: unknown) => {
    await agent.stop();
    await tunnel?.stop();
    await backend.stop();
    throw err;
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    agent,
    backend,
    tunnel,
    reporter: () => reporter,
    async stop() {
      await agent.stop();
      await reporterStops;
      await tunnel?.stop();
      await reporter?.stop();
      await backend.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took more than ${ms / 1000} s`)), ms))),
  ]);
}
