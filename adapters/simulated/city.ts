/**
 * The demo city: fictional member clusters across Guangzhou's districts, each a
 * {@link SimulatedCluster} with its own agent that talks to the platform over HTTP, exactly as a
 * real agent does. Each cluster's ready replicas serve OpenAI's API on loopback, and its heartbeats
 * report their endpoints.
 */
import { ClusterAgent } from '../agent.js';
import type { AgentLog } from '../agent.js';
import { PlatformClient } from '../platform-client.js';
import { UsageReporter } from '../usage-reporter.js';
import type { UsageStateStore } from '../usage-state.js';
import { SimulatedServing } from './serving.js';
import { SimulatedCluster } from './cluster.js';
import type { SimulatedClusterOptions, SimulatedClusterSpec, SimulatedNodeSpec } from './cluster.js';

/** `count` nodes named `<prefix>-01 …` with `devices` devices of `deviceModel` each. */
function nodes(prefix: string, count: number, deviceModel: string, devices = 8): SimulatedNodeSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${prefix}-${String(i + 1).padStart(2, '0')}`,
    deviceModel,
    devices,
  }));
}

/**
 * The device model of the demo that no catalog profile knows, so that the console shows an
 * unprofiled device. Every other device model here is a built-in profile name or alias.
 */
export const UNPROFILED_DEMO_DEVICE = 'Enflame-S60';

/**
 * Ten member clusters in eight districts, mixing NVIDIA, Huawei Ascend,
 * Cambricon, Hygon, Kunlunxin and MetaX accelerators, plus a few {@link UNPROFILED_DEMO_DEVICE}
 * cards on `baiyun-1`. Names, sites and operators are fictional.
 */
export const DEMO_CITY: readonly SimulatedClusterSpec[] = [
  {
    name: 'nansha-1',
    region: 'nansha',
    labels: { operator: 'China Mobile Guangzhou', site: 'Nansha AI Computing Center' },
    nodes: nodes('ns1-ascend910b', 16, 'huawei-Ascend910B'),
  },
  {
    name: 'nansha-2',
    region: 'nansha',
    labels: { operator: 'Guangzhou Nansha Development Digital Co.', site: 'Nansha Free Trade Zone Data Park' },
    nodes: [...nodes('ns2-h800', 4, 'NVIDIA-H800-80GB-HBM3'), ...nodes('ns2-h20', 6, 'NVIDIA-H20')],
  },
  {
    name: 'huangpu-1',
    region: 'huangpu',
    labels: { operator: 'China Telecom Guangzhou', site: 'Huangpu Science City Intelligent Computing Hall' },
    nodes: [...nodes('hp1-ascend910c', 8, 'huawei-Ascend910C'), ...nodes('hp1-ascend310p', 2, 'huawei-Ascend310P')],
  },
  {
    name: 'huangpu-2',
    region: 'huangpu',
    labels: { operator: 'Guangzhou Development District Cloud', site: 'Sino-Singapore Knowledge City Compute Center' },
    nodes: [...nodes('hp2-c500', 6, 'C500'), ...nodes('hp2-p800', 4, 'P800')],
  },
  {
    name: 'tianhe-1',
    region: 'tianhe',
    labels: { operator: 'China Unicom Guangzhou', site: 'Tianhe Smart City Computing Hub' },
    nodes: [...nodes('th1-h100', 4, 'NVIDIA-H100-80GB-HBM3'), ...nodes('th1-a100', 4, 'NVIDIA-A100-SXM4-80GB')],
  },
  {
    name: 'panyu-1',
    region: 'panyu',
    labels: { operator: 'Panyu Intelligent Computing Co.', site: 'Guangzhou University Town Compute Center' },
    nodes: [...nodes('py1-mlu590', 8, 'MLU590'), ...nodes('py1-mlu370', 4, 'MLU370-X8', 16)],
  },
  {
    name: 'baiyun-1',
    region: 'baiyun',
    labels: { operator: 'Guangzhou Digital Government Services', site: 'Baiyun Government Cloud Data Center' },
    nodes: [...nodes('by1-k100', 6, 'K100'), { name: 'by1-enflame-01', deviceModel: UNPROFILED_DEMO_DEVICE, devices: 4 }],
  },
  {
    name: 'haizhu-1',
    region: 'haizhu',
    labels: { operator: 'Pearl River Compute Network Co.', site: 'Haizhu Pazhou AI Innovation Park' },
    nodes: [...nodes('hz1-p800', 4, 'P800'), ...nodes('hz1-c500', 2, 'C500')],
  },
  {
    name: 'liwan-1',
    region: 'liwan',
    labels: { operator: 'Lingnan Cloud Services', site: 'Liwan Bai-E-Tan Edge Computing Room' },
    nodes: [...nodes('lw1-l40s', 4, 'NVIDIA-L40S'), ...nodes('lw1-rtx4090', 2, 'NVIDIA-GeForce-RTX-4090')],
  },
  {
    name: 'zengcheng-1',
    region: 'zengcheng',
    labels: { operator: 'China Mobile Guangzhou', site: 'Zengcheng Green Data Center' },
    nodes: nodes('zc1-a800', 6, 'NVIDIA-A800-SXM4-80GB'),
  },
];

/** Options of {@link startSimulatedCity}. */
export interface SimulatedCityOptions {
  /** The platform's base URL the agents call, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  /** Each cluster with the agent token the platform issued when it was registered. */
  readonly clusters: readonly { readonly spec: SimulatedClusterSpec; readonly agentToken: string }[];
  /** Heartbeat interval of every agent, in ms. Default 10,000. */
  readonly intervalMs?: number;
  /** Receives every agent's log lines, with the cluster's name in `fields.cluster`. */
  readonly log?: AgentLog;
  /** Passed to every simulated cluster. */
  readonly cluster?: SimulatedClusterOptions;
  /** Time between usage reports of every cluster's serving pods, in ms. Default 10,000. */
  readonly usageIntervalMs?: number;
  /**
   * Where each cluster's usage reporter keeps its baselines and unsent events (a
   * `MemoryStateStore`, say), by cluster name; default: nowhere, as a reporter without a store.
   */
  readonly usageStates?: (cluster: string) => UsageStateStore;
  /**
   * Whether serving pods also serve a background load of direct callers, so that usage grows when
   * nobody calls (see {@link SimulatedServing}): for every pod, or by workload id. Default true.
   */
  readonly backgroundLoad?: boolean | ((workloadId: string) => boolean);
  /** Uniform in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /** Defaults to the global `fetch`. */
  readonly fetch?: typeof fetch;
}

/** A running simulated city. */
export interface SimulatedCity {
  /** One usage reporter per cluster (scraping its simulated serving pods), in the order of `clusters`. */
  readonly reporters: readonly UsageReporter[];
  readonly agents: ClusterAgent[];
  readonly clusters: SimulatedCluster[];
  /** Stops every agent and usage reporter, waiting for heartbeats and reports in flight, then every serving engine. */
  stop(): Promise<void>;
}

// Spread of the first heartbeats, so that the pool fills within a second without a thundering herd.
const FIRST_HEARTBEAT_SPREAD_MS = 250;

/**
 * Starts one agent and one usage reporter per cluster against the platform at `baseUrl`; each
 * reporter scrapes its cluster's serving pods every `usageIntervalMs`. The first heartbeats go out
 * within {@link FIRST_HEARTBEAT_SPREAD_MS} ms of the call; the clusters must already be registered.
 */
export function startSimulatedCity(opts: SimulatedCityOptions): SimulatedCity {
  const random = opts.random ?? Math.random;
  const clusters: SimulatedCluster[] = [];
  const agents: ClusterAgent[] = [];
  const reporters: UsageReporter[] = [];
  for (const { spec, agentToken } of opts.clusters) {
    const cluster = new SimulatedCluster(spec, opts.cluster);
    const client = new PlatformClient({ baseUrl: opts.baseUrl, token: agentToken, fetch: opts.fetch });
    const log = opts.log && ((msg: string, fields?: object) => opts.log!(msg, { cluster: spec.name, ...fields }));
    const agent = new ClusterAgent({
      client,
      backend: cluster,
      random,
      intervalMs: opts.intervalMs,
      initialDelayMs: Math.floor(random() * Math.min(FIRST_HEARTBEAT_SPREAD_MS, opts.intervalMs ?? Infinity)),
      log,
    });
    // The cluster's serving pods, scraped and reported through the agent usage API as a real agent does.
    const reporter = new UsageReporter({
      cluster: spec.name,
      client,
      source: new SimulatedServing(cluster, random, { background: opts.backgroundLoad }),
      store: opts.usageStates?.(spec.name),
      intervalMs: opts.usageIntervalMs ?? 10_000,
      random,
      log,
    });
    clusters.push(cluster);
    agents.push(agent);
    reporters.push(reporter);
  }
  for (const agent of agents) agent.start();
  for (const reporter of reporters) reporter.start();
  return {
    agents,
    clusters,
    reporters,
    async stop() {
      await Promise.all([...agents.map((a) => a.stop()), ...reporters.map((r) => r.stop())]);
      // After the agents: a reconcile in flight could otherwise start an engine behind the close.
      await Promise.all(clusters.map((c) => c.close()));
    },
  };
}
