/**
 * The demo city of `npm start`: the simulated member clusters of adapters/simulated, registered
 * on first start, each driven by an in-process agent that calls this server over HTTP exactly as
 * a real agent does.
 */
import { DEMO_CITY, startSimulatedCity, type SimulatedCity } from '../adapters/simulated/city.js';
import type { AppContext } from './context.js';

export async function startDemoCity(ctx: AppContext, baseUrl: string): Promise<SimulatedCity> {
  const { clusters } = ctx.services;
  const withTokens = [];
  for (const spec of DEMO_CITY) {
    const existing = await clusters.findByName(spec.name);
    // Tokens are stored hashed, so a restarted demo issues its agents new ones.
    const agentToken = existing
      ? (await clusters.rotateAgentToken(existing.id)).agentToken
      : (await clusters.register({ name: spec.name, region: spec.region, labels: { ...spec.labels } })).agentToken;
    withTokens.push({ spec, agentToken });
  }
  const intervalMs = Math.min(10_000, Math.floor((ctx.config.clusterTtlSeconds * 1000) / 3));
  ctx.log.info('demo city started', { clusters: withTokens.length, heartbeatMs: intervalMs });
  return startSimulatedCity({
    baseUrl,
    clusters: withTokens,
    intervalMs,
    log: (msg, fields) => ctx.log.warn(`demo agent: ${msg}`, fields),
  });
}
