/**
 * A model served for real behind the token gateway: a cluster whose agent reports one simulated
 * OpenAI-compatible engine as the endpoint of a tenant's running gateway workload. Suites that call
 * the gateway with the `openai` client start from here.
 */
import { expect } from 'chai';
import { SimulatedEngine, type ServedRequest } from '../../adapters/simulated/engine.js';
import type { Answer, TestPlatform } from './harness.js';

export const MODEL = 'qwen2.5-7b-instruct';
export const H100 = [{ deviceModel: 'NVIDIA-H100-80GB-HBM3', total: 16, healthy: 16 }];

/** A placement as a heartbeat answer desires it. */
export interface Desired {
  id: string;
  workloadId: string;
  replicas: number;
  servingKey: string;
}

export interface ServedModel {
  /** The cluster's agent token. */
  readonly agent: string;
  readonly clusterId: string;
  /** The workload's one placement. */
  readonly desired: Desired;
  readonly engine: SimulatedEngine;
  /** The agent's heartbeat with these placements reported (none: only the inventory). */
  readonly heartbeat: (p: TestPlatform, placements?: unknown[]) => Promise<Answer>;
}

/**
 * Makes a cluster (`clusterName`), a gateway workload of {@link MODEL} for the tenant of
 * `tenantKey`, placed by one scheduling cycle, and an engine at 100,000 tokens/s serving it, reported
 * ready by the agent. Close `engine` after the suite.
 */
export async function serveModel(
  p: TestPlatform,
  tenantKey: string,
  opts: { clusterName: string; onServed?: (s: ServedRequest) => void },
): Promise<ServedModel> {
  const cluster = (await p.request('POST', '/api/v1/clusters', { body: { name: opts.clusterName, region: 'nansha' } })).body;
  const heartbeat = (q: TestPlatform, placements: unknown[] = []) =>
    q.request('POST', '/api/v1/agent/heartbeat', { token: cluster.agentToken, body: { inventory: H100, placements } });
  await heartbeat(p);
  const w = await p.request('POST', '/api/v1/workloads', { token: tenantKey, body: { name: 'assistant', model: MODEL, tokensPerMin: 1000 } });
  expect(w.status).to.equal(202);
  await p.app.scheduler.runCycle();
  const desired = ((await heartbeat(p)).body.placements as Desired[]).find((x) => x.workloadId === w.body.id)!;
  const engine = await SimulatedEngine.start({
    model: MODEL,
    servingKey: desired.servingKey,
    tokensPerSecond: 100_000,
    ...(opts.onServed ? { onServed: opts.onServed } : {}),
  });
  expect((await heartbeat(p, [{ id: desired.id, readyReplicas: desired.replicas, endpoints: [engine.url] }])).status).to.equal(200);
  return { agent: cluster.agentToken, clusterId: cluster.id, desired, engine, heartbeat };
}
