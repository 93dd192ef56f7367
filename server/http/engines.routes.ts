import { z } from 'zod';
import type { AppContext } from '../context.js';
import { route, type AnyRoute } from './route.js';
import { idParam, listOf, pageOf, pageOnlyQuery, timestamp, vendorName } from './schemas.js';

/** A Kubernetes quantity as a request or limit takes it, without sign or exponent: "16Gi", "500m", "8". */
const quantity = z
  .string()
  .max(32)
  .regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/, 'must be a Kubernetes quantity such as "16Gi", "500m" or "8"');

/** A container image reference, or "" for none (not configured). */
const imageRef = z
  .string()
  .max(512)
  .regex(/^$|^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/, 'must be an image reference such as "vllm/vllm-openai:v0.11.0", or "" for none')
  .meta({ description: 'The container image; "" means not configured (placements get no engine until it is set).' });

const clusterImageMap = z
  .record(z.string().min(1).max(64), imageRef)
  .refine((m) => Object.keys(m).length <= 1000, 'at most 1000 clusters')
  .meta({ description: "Cluster id → the image used on that cluster instead of `image` (a private registry's copy). A patch replaces the whole map." });

const envName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name (letters, digits, "_", not starting with a digit)');

const envMap = z
  .record(envName, z.string().max(4096))
  .refine((m) => Object.keys(m).length <= 64, 'at most 64 variables')
  .meta({ description: 'Environment variables the engine container gets (name → value).' });

const httpPath = z
  .string()
  .max(256)
  .regex(/^\/[A-Za-z0-9._~\-/]*$/, 'must be an absolute URL path such as "/health"');

const dialect = z.enum(['vllm', 'sglang', 'mindie', 'none']);

const engineName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, 'must use lower-case letters, digits, "." and "-"');

const vendorList = z.array(vendorName).max(32);

const engineFields = {
  name: engineName,
  vendors: vendorList.min(1).meta({ description: 'Vendors whose devices the engine serves.' }),
  defaultFor: vendorList
    .default([])
    .meta({ description: "Vendors whose placements get this engine when their model names none (it becomes their default, replacing another's)." }),
  image: imageRef,
  clusterImages: clusterImageMap.default({}),
  args: z
    .array(z.string().max(1024))
    .max(128)
    .default([])
    .meta({ description: 'Container arguments; {model} {servedName} {tensorParallel} {port} are filled in by the agent.' }),
  env: envMap.default({}),
  apiKeyEnv: envName
    .nullable()
    .default(null)
    .meta({ description: 'The env var the engine reads its API key from; null: the agent appends `--api-key <key>` to args.' }),
  port: z.number().int().min(1).max(65535),
  shmSize: quantity.meta({ description: 'Size of the /dev/shm memory volume.' }),
  cpuPerDevice: quantity.meta({ description: 'CPU request per device of a replica.' }),
  memoryPerDevice: quantity.meta({ description: 'Memory request per device of a replica.' }),
  healthPath: httpPath,
  metricsPath: httpPath,
  metricsDialect: dialect,
  startupSeconds: z.number().int().min(1).max(86_400).meta({ description: 'How long the engine may take to start (weights loading) before probes count.' }),
  runAsNonRoot: z.boolean().default(false),
  basis: z.string().max(4096).default('').meta({ description: "Where the entry's facts come from." }),
};

const createEngine = z.strictObject(engineFields);
const patchEngine = z
  .strictObject({
    ...engineFields,
    defaultFor: vendorList,
    clusterImages: clusterImageMap,
    args: z.array(z.string().max(1024)).max(128),
    env: envMap,
    apiKeyEnv: envName.nullable(),
    runAsNonRoot: z.boolean(),
    basis: z.string().max(4096),
  })
  .partial();

/** The engine a desired placement carries in a heartbeat answer (what the agent renders from). */
export const placementEngineSchema = z
  .object({
    id: z.string(),
    image: z.string(),
    args: z.array(z.string()),
    env: z.record(z.string(), z.string()),
    apiKeyEnv: z.string().nullable(),
    port: z.number().int(),
    shmSize: z.string(),
    cpuPerDevice: z.string(),
    memoryPerDevice: z.string(),
    healthPath: z.string(),
    metricsPath: z.string(),
    metricsDialect: dialect,
    startupSeconds: z.number().int(),
    runAsNonRoot: z.boolean(),
  })
  .meta({
    description: 'The serving engine to run; args may hold {model} {servedName} {tensorParallel} {port}. Absent: none could be resolved (see engineProblem).',
  });

export const engineSchema = placementEngineSchema
  .extend({
    clusterImages: z.record(z.string(), z.string()),
    name: z.string(),
    vendors: z.array(z.string()),
    defaultFor: z.array(z.string()),
    builtin: z.boolean(),
    basis: z.string(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ description: 'A serving engine of the catalog; image "" means not configured.' });

const readers = ['operator', 'tenant', 'agent'] as const;

export function engineRoutes(ctx: AppContext): AnyRoute[] {
  const { engines } = ctx.services;
  return [
    route({
      method: 'get',
      path: '/api/v1/engines',
      tag: 'Catalog',
      summary: 'List serving engines',
      auth: readers,
      query: pageOnlyQuery,
      responses: { 200: { description: 'A page of engines', schema: listOf(engineSchema) } },
      handler: async ({ query }) => ({ status: 200, body: await engines.list(pageOf(query)) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/engines/:id',
      tag: 'Catalog',
      summary: 'Get a serving engine',
      auth: readers,
      params: idParam,
      responses: { 200: { description: 'The engine', schema: engineSchema } },
      handler: async ({ params }) => ({ status: 200, body: await engines.get(params.id) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/clusters/:id/engines',
      tag: 'Clusters',
      summary: "The engine each of a cluster's active placements runs, or why it runs none",
      auth: ['operator'],
      params: idParam,
      responses: {
        200: {
          description: "The cluster's active placements (empty for an unknown cluster)",
          schema: z.object({
            items: z.array(
              z.object({ placementId: z.string(), engineId: z.string().nullable(), image: z.string().nullable(), problem: z.string().nullable() }),
            ),
          }),
        },
      },
      handler: async ({ params }) => ({ status: 200, body: { items: await engines.placementsOf(params.id) } }),
    }),
    route({
      method: 'post',
      path: '/api/v1/engines',
      tag: 'Catalog',
      summary: 'Add a serving engine',
      auth: ['operator'],
      body: createEngine,
      responses: {
        201: { description: 'The engine', schema: engineSchema },
        409: { description: 'Name taken' },
        422: { description: 'clusterImages names a cluster that does not exist' },
      },
      handler: async ({ body }) => ({ status: 201, body: await engines.create(body) }),
    }),
    route({
      method: 'patch',
      path: '/api/v1/engines/:id',
      tag: 'Catalog',
      summary: 'Edit a serving engine, built-ins included (fields given replace the old ones)',
      auth: ['operator'],
      params: idParam,
      body: patchEngine,
      responses: {
        200: { description: 'The engine', schema: engineSchema },
        409: { description: 'Name taken' },
        422: { description: 'clusterImages names a cluster that does not exist' },
      },
      handler: async ({ params, body }) => ({ status: 200, body: await engines.update(params.id, body) }),
    }),
    route({
      method: 'delete',
      path: '/api/v1/engines/:id',
      tag: 'Catalog',
      summary: 'Remove a serving engine (not a built-in, and not one a model names)',
      auth: ['operator'],
      params: idParam,
      responses: { 204: { description: 'Removed' }, 409: { description: 'Built-in, or named by a model' } },
      handler: async ({ params }) => {
        await engines.remove(params.id);
        return { status: 204 };
      },
    }),
  ];
}
