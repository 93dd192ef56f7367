import { z } from 'zod';
import type { AppContext } from '../context.js';
import { MAX_NODE_DEVICES, MAX_NODE_ENTRIES } from '../domain/node-report.js';
import { MAX_HEALTH_MESSAGE, PLACEMENT_FAILURE_REASONS, PLACEMENT_PHASES } from '../domain/placement-health.js';
import { AppError } from '../errors.js';
import { placementEngineSchema } from './engines.routes.js';
import { weightSourceSchema, weightSourcesReportSchema } from './weights.routes.js';
import { route, type AnyRoute } from './route.js';
import { clusterName, deviceName, endpointUrl, idParam, labelMap, listOf, pageOf, pageOnlyQuery, regionName, timestamp } from './schemas.js';

const stateEnum = z.enum(['pending', 'ready', 'not_ready', 'cordoned']);

export const clusterSchema = z.object({
  id: z.string(),
  name: z.string(),
  region: z.string(),
  labels: z.record(z.string(), z.string()),
  state: stateEnum,
  cordoned: z.boolean(),
  lastHeartbeatAt: timestamp.nullable(),
  createdAt: timestamp,
  providerId: z.string().nullable().meta({ description: 'The provider that owns the cluster (PUT /api/v1/clusters/:id/provider); null: none' }),
  inventory: z.array(
    z.object({
      deviceModel: z.string(),
      profile: z.string().nullable(),
      vendor: z.string().nullable(),
      total: z.number().int(),
      healthy: z.number().int(),
    }),
  ),
  capacity: z.object({ totalStdPerMin: z.number(), allocatedStdPerMin: z.number(), freeStdPerMin: z.number() }),
  unprofiledDevices: z.array(z.string()),
});

const nodeEntry = z.object({
  name: z.string().meta({ description: 'The Kubernetes node name' }),
  deviceModel: z.string(),
  total: z.number().int().meta({ description: 'Allocatable devices of this model on the node' }),
  free: z.number().int().meta({ description: 'Devices not requested by any pod on the node that has not terminated' }),
});

/** `GET /api/v1/clusters/:id`: the cluster with its nodes as its agent last reported them. */
export const clusterDetailSchema = clusterSchema.extend({
  nodes: z.array(nodeEntry).nullable().meta({
    description:
      'Per node and device model, the devices the agent last reported; null: its agent never reported nodes (the scheduler counts devices per cluster only)',
  }),
  nodesReportedAt: timestamp.nullable().meta({ description: 'When the node report was last received; null: never' }),
  capabilities: z.object({
    leaderWorkerSet: z.boolean().meta({ description: 'The cluster serves LeaderWorkerSets: a replica larger than any node may span several nodes' }),
  }),
});

const registerCluster = z.strictObject({ name: clusterName, region: regionName, labels: labelMap.optional() });

const count = z.number().int().min(0).max(1_000_000);

/** What an agent may say of a placement's pods (API.md v2 "Placement health"); every field optional. */
const placementHealthReport = z.object({
  phase: z
    .enum(PLACEMENT_PHASES)
    .optional()
    .meta({ description: "What the placement's pods do: pending (not scheduled yet), starting, running (all ready) or failing; absent: not reported" }),
  reason: z.enum(PLACEMENT_FAILURE_REASONS).nullable().optional().meta({ description: 'Why a failing placement cannot run' }),
  message: z.string().max(MAX_HEALTH_MESSAGE).nullable().optional().meta({ description: "The kubelet's or the Kubernetes scheduler's words about it" }),
  desiredReplicas: count.optional().meta({ description: "Replicas the placement's Deployment wants" }),
});

/** What an agent may say of a placement's energy (issue 14, "Measured tokens per watt"); both optional. */
const placementEnergyReport = z.object({
  energyJoules: z.number().min(0).max(1e18).optional().meta({
    description:
      "Joules the placement's devices used since the agent began measuring it, from the cluster's power exporter: a counter, which may start again from 0 when the agent restarts",
  }),
  powerWatts: z.number().min(0).max(1e9).optional().meta({ description: "Power the placement's devices draw now, in watts" }),
});

const heartbeatBody = z.strictObject({
  inventory: z
    .array(
      z
        .strictObject({ deviceModel: deviceName, total: count, healthy: count })
        .refine((d) => d.healthy <= d.total, { message: 'must not exceed total', path: ['healthy'] }),
    )
    .max(1000)
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      items.forEach((d, i) => {
        if (seen.has(d.deviceModel)) ctx.addIssue({ code: 'custom', message: 'reported twice', path: [i, 'deviceModel'] });
        seen.add(d.deviceModel);
      });
    }),
  placements: z
    .array(
      z.strictObject({
        id: z.string().min(1).max(64),
        readyReplicas: count,
        endpoints: z.array(endpointUrl).max(64).optional().meta({
          description:
            "Base URLs of the placement's ready replicas' OpenAI-compatible servers, or tunnel://<host>:<port> for an in-cluster address reached through the cluster's tunnel (GET /api/v1/agent/tunnel); absent: unchanged",
        }),
        ...placementHealthReport.shape,
        ...placementEnergyReport.shape,
      }),
    )
    .max(100_000)
    .default([]),
  weightSources: weightSourcesReportSchema.optional().meta({
    description:
      'What this cluster can load weights from: the source kinds its agent offers, and the PVCs in its workloads namespace; absent: unchanged (an agent that never sends it is taken to load anything)',
  }),
  nodes: z
    .array(
      z
        .strictObject({
          name: z.string().min(1).max(253),
          deviceModel: deviceName,
          total: z.number().int().min(0).max(MAX_NODE_DEVICES),
          free: z.number().int().min(0).max(MAX_NODE_DEVICES),
        })
        .refine((n) => n.free <= n.total, { message: 'must not exceed total', path: ['free'] }),
    )
    .max(MAX_NODE_ENTRIES)
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      items.forEach((n, i) => {
        const key = `${n.name}\u0000${n.deviceModel}`;
        if (seen.has(key)) ctx.addIssue({ code: 'custom', message: 'node and device model reported twice', path: [i, 'name'] });
        seen.add(key);
      });
    })
    .optional()
    .meta({
      description:
        'Per node and device model: allocatable devices (`total`) and those no running or pending pod requests (`free`). With it the scheduler places a replica of n devices only where a node has n free; absent: device counts per cluster decide, as before',
    }),
  capabilities: z
    .strictObject({
      leaderWorkerSet: z.boolean().meta({ description: 'The API server serves leaderworkerset.x-k8s.io: replicas larger than any node may span nodes' }),
    })
    .optional(),
});

const desiredPlacementSchema = z.object({
  id: z.string(),
  workloadId: z.string(),
  model: z.string(),
  deviceModel: z.string(),
  profile: z.string(),
  resourceName: z.string(),
  replicas: z.number().int(),
  devicesPerReplica: z.number().int(),
  servingKey: z.string().meta({ description: 'The secret the agent gives the serving engine as its API key; the token gateway presents it to the replicas' }),
  engine: placementEngineSchema.optional(),
  engineProblem: z
    .string()
    .optional()
    .meta({ description: 'Why `engine` is absent: no engine for the vendor, or its image is not configured (the operator sets it on the engine)' }),
  source: weightSourceSchema.optional().meta({
    description: "Where the weights come from: the cluster's own source for the model, else the model's; absent: none set ({model} is the model's name)",
  }),
  servedName: z.string().optional().meta({ description: 'The name the engine serves the model under ({servedName} in the engine args)' }),
});

const poolSchema = z.object({
  totalStdPerMin: z.number(),
  allocatedStdPerMin: z.number(),
  freeStdPerMin: z.number(),
  clusters: z.object({ ready: z.number().int(), notReady: z.number().int(), cordoned: z.number().int(), pending: z.number().int() }),
  byVendor: z.array(
    z.object({ vendor: z.string(), devices: z.number().int(), totalStdPerMin: z.number(), allocatedStdPerMin: z.number(), freeStdPerMin: z.number() }),
  ),
  byCluster: z.array(
    z.object({
      clusterId: z.string(),
      name: z.string(),
      region: z.string(),
      state: stateEnum,
      totalStdPerMin: z.number(),
      allocatedStdPerMin: z.number(),
      freeStdPerMin: z.number(),
    }),
  ),
});

export function clusterRoutes(ctx: AppContext): AnyRoute[] {
  const { clusters } = ctx.services;
  return [
    route({
      method: 'post',
      path: '/api/v1/clusters',
      tag: 'Clusters',
      summary: 'Register a member cluster; the agent token is shown only here',
      auth: ['operator'],
      body: registerCluster,
      responses: {
        201: { description: 'The cluster and its agent token', schema: clusterSchema.extend({ agentToken: z.string() }) },
        409: { description: 'Name taken' },
      },
      handler: async ({ body }) => ({ status: 201, body: await clusters.register(body) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/clusters',
      tag: 'Clusters',
      summary: 'List clusters',
      auth: ['operator'],
      query: pageOnlyQuery,
      responses: { 200: { description: 'A page of clusters', schema: listOf(clusterSchema) } },
      handler: async ({ query }) => ({ status: 200, body: await clusters.list(pageOf(query)) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/clusters/:id',
      tag: 'Clusters',
      summary: 'Get a cluster',
      auth: ['operator'],
      params: idParam,
      responses: { 200: { description: 'The cluster, with its nodes as its agent last reported them', schema: clusterDetailSchema } },
      handler: async ({ params }) => ({ status: 200, body: await clusters.get(params.id) }),
    }),
    route({
      method: 'delete',
      path: '/api/v1/clusters/:id',
      tag: 'Clusters',
      summary: 'Deregister a cluster; its agent token stops working',
      auth: ['operator'],
      params: idParam,
      responses: { 204: { description: 'Removed' } },
      handler: async ({ params }) => {
        await clusters.remove(params.id);
        return { status: 204 };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/clusters/:id/cordon',
      tag: 'Clusters',
      summary: 'Hold a cluster: it keeps its placements and takes no new ones',
      auth: ['operator'],
      params: idParam,
      responses: { 200: { description: 'The cluster', schema: clusterSchema } },
      handler: async ({ params }) => ({ status: 200, body: await clusters.setCordoned(params.id, true) }),
    }),
    route({
      method: 'post',
      path: '/api/v1/clusters/:id/uncordon',
      tag: 'Clusters',
      summary: 'Release an operator hold',
      auth: ['operator'],
      params: idParam,
      responses: { 200: { description: 'The cluster', schema: clusterSchema } },
      handler: async ({ params }) => ({ status: 200, body: await clusters.setCordoned(params.id, false) }),
    }),
    route({
      method: 'post',
      path: '/api/v1/clusters/:id/agent-token',
      tag: 'Clusters',
      summary: 'Issue a new agent token; the old one stops working',
      auth: ['operator'],
      params: idParam,
      responses: { 200: { description: 'The new token, shown only here', schema: z.object({ id: z.string(), agentToken: z.string() }) } },
      handler: async ({ params }) => ({ status: 200, body: await clusters.rotateAgentToken(params.id) }),
    }),
    route({
      method: 'post',
      path: '/api/v1/agent/heartbeat',
      tag: 'Agents',
      summary: "Report the cluster's inventory and running placements; answers the desired set",
      auth: ['agent'],
      body: heartbeatBody,
      responses: { 200: { description: 'The complete desired set', schema: z.object({ clusterId: z.string(), placements: z.array(desiredPlacementSchema) }) } },
      handler: async ({ body, principal }) => {
        if (principal.kind !== 'agent') throw new AppError('forbidden', 'Only agents send heartbeats.');
        return {
          status: 200,
          body: await clusters.heartbeat(principal.clusterId, body.inventory, body.placements, {
            weightSources: body.weightSources,
            nodes: body.nodes,
            capabilities: body.capabilities,
          }),
        };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/pool',
      tag: 'Clusters',
      summary: 'The pooled capacity in standard tokens per minute',
      auth: ['operator'],
      responses: { 200: { description: 'The pool', schema: poolSchema } },
      handler: async () => ({ status: 200, body: await clusters.pool() }),
    }),
  ];
}
