import { z } from 'zod';
import type { AppContext } from '../context.js';
import { route, type AnyRoute } from './route.js';
import { weightSourceSchema } from './weights.routes.js';
import { decimalFactor, deviceName, idParam, listOf, modelName, pageOf, pageOnlyQuery, resourceName, timestamp, vendorName } from './schemas.js';

const profileFields = {
  name: deviceName,
  vendor: vendorName,
  memoryGiB: decimalFactor({ max: 1_000_000 }),
  tdpWatts: decimalFactor({ max: 1_000_000 }),
  stdTokensPerSec: decimalFactor({ max: 1_000_000_000 }),
  resourceName,
  aliases: z.array(deviceName).max(32).default([]),
};
const createProfile = z.strictObject(profileFields);
const patchProfile = z.strictObject({ ...profileFields, aliases: z.array(deviceName).max(32) }).partial();

export const deviceProfileSchema = z.object({
  id: z.string(),
  name: z.string(),
  vendor: z.string(),
  memoryGiB: z.number(),
  tdpWatts: z.number(),
  stdTokensPerSec: z.number(),
  resourceName: z.string(),
  aliases: z.array(z.string()),
  builtin: z.boolean(),
  createdAt: timestamp,
  updatedAt: timestamp,
});

const modelFields = {
  name: modelName,
  minMemoryGiB: decimalFactor({ max: 1_000_000 }),
  costFactor: decimalFactor({ max: 1_000_000 }),
  inputFactor: decimalFactor({ max: 1 }),
  vendors: z.array(vendorName).max(32).default([]),
  engines: z
    .record(vendorName, z.string().min(1).max(64).nullable())
    .refine((m) => Object.keys(m).length <= 32, 'at most 32 vendors')
    .transform(namedEngines)
    .optional()
    .meta({
      description: 'Vendor → engine id serving the model on that vendor; a vendor absent (or null) gets its default engine. A patch replaces the whole map.',
    }),
  source: weightSourceSchema.nullable().optional(),
  servedName: modelName
    .nullable()
    .optional()
    .meta({ description: "The name the engine serves the model under (`{servedName}` in an engine's args); null or absent: the model's name" }),
};
const createModel = z.strictObject(modelFields);
const patchModel = z.strictObject({ ...modelFields, vendors: z.array(vendorName).max(32) }).partial();

/** The map without its null entries (null: the vendor's default engine). */
function namedEngines(m: Record<string, string | null>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [vendor, id] of Object.entries(m)) if (id !== null) out[vendor] = id;
  return out;
}

export const modelSchema = z.object({
  id: z.string(),
  name: z.string(),
  minMemoryGiB: z.number(),
  costFactor: z.number(),
  inputFactor: z.number(),
  vendors: z.array(z.string()),
  engines: z.record(z.string(), z.string()).meta({ description: 'Vendor → engine id; a vendor absent gets its default engine' }),
  source: weightSourceSchema.nullable().optional().meta({
    description:
      'Where the weights come from (a cluster may have its own: /api/v1/clusters/:id/weights); null: none set. Shown to operators only (it names their storage): absent for tenants and agents',
  }),
  servedName: z.string().nullable().meta({ description: "The name the engine serves the model under; null: the model's name" }),
  builtin: z.boolean(),
  createdAt: timestamp,
  updatedAt: timestamp,
});

const readers = ['operator', 'tenant', 'agent'] as const;

/** A model as a reader sees it: the weights' source is the operators' (their storage's names), not the tenants' or agents'. */
function forReader<M extends { source?: unknown }>(principal: { kind: string }, model: M): M | Omit<M, 'source'> {
  if (principal.kind === 'operator') return model;
  const { source: _, ...rest } = model;
  return rest;
}
const ENGINES_422 = 'engines names an engine that does not exist or does not serve that vendor';

export function catalogRoutes(ctx: AppContext): AnyRoute[] {
  const { catalog } = ctx.services;
  return [
    route({
      method: 'post',
      path: '/api/v1/device-profiles',
      tag: 'Catalog',
      summary: 'Add a device profile',
      auth: ['operator'],
      body: createProfile,
      responses: { 201: { description: 'The profile', schema: deviceProfileSchema }, 409: { description: 'Name or alias taken' } },
      handler: async ({ body }) => ({ status: 201, body: await catalog.createProfile(body) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/device-profiles',
      tag: 'Catalog',
      summary: 'List device profiles',
      auth: readers,
      query: pageOnlyQuery,
      responses: { 200: { description: 'A page of profiles', schema: listOf(deviceProfileSchema) } },
      handler: async ({ query }) => ({ status: 200, body: await catalog.listProfiles(pageOf(query)) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/device-profiles/:id',
      tag: 'Catalog',
      summary: 'Get a device profile',
      auth: readers,
      params: idParam,
      responses: { 200: { description: 'The profile', schema: deviceProfileSchema } },
      handler: async ({ params }) => ({ status: 200, body: await catalog.getProfile(params.id) }),
    }),
    route({
      method: 'patch',
      path: '/api/v1/device-profiles/:id',
      tag: 'Catalog',
      summary: 'Edit a device profile (fields given replace the old ones)',
      auth: ['operator'],
      params: idParam,
      body: patchProfile,
      responses: { 200: { description: 'The profile', schema: deviceProfileSchema }, 409: { description: 'Name or alias taken' } },
      handler: async ({ params, body }) => ({ status: 200, body: await catalog.updateProfile(params.id, body) }),
    }),
    route({
      method: 'delete',
      path: '/api/v1/device-profiles/:id',
      tag: 'Catalog',
      summary: 'Remove a device profile',
      auth: ['operator'],
      params: idParam,
      responses: { 204: { description: 'Removed' }, 409: { description: 'Still in use' } },
      handler: async ({ params }) => {
        await catalog.deleteProfile(params.id);
        return { status: 204 };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/models',
      tag: 'Catalog',
      summary: 'Add a model',
      auth: ['operator'],
      body: createModel,
      responses: { 201: { description: 'The model', schema: modelSchema }, 409: { description: 'Name taken' }, 422: { description: ENGINES_422 } },
      handler: async ({ body }) => ({ status: 201, body: await catalog.createModel(body) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/models',
      tag: 'Catalog',
      summary: 'List models',
      auth: readers,
      query: pageOnlyQuery,
      responses: { 200: { description: 'A page of models', schema: listOf(modelSchema) } },
      handler: async ({ query, principal }) => {
        const page = await catalog.listModels(pageOf(query));
        return { status: 200, body: { ...page, items: page.items.map((m) => forReader(principal, m)) } };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/models/:id',
      tag: 'Catalog',
      summary: 'Get a model',
      auth: readers,
      params: idParam,
      responses: { 200: { description: 'The model', schema: modelSchema } },
      handler: async ({ params, principal }) => ({ status: 200, body: forReader(principal, await catalog.getModel(params.id)) }),
    }),
    route({
      method: 'patch',
      path: '/api/v1/models/:id',
      tag: 'Catalog',
      summary: 'Edit a model (fields given replace the old ones)',
      auth: ['operator'],
      params: idParam,
      body: patchModel,
      responses: { 200: { description: 'The model', schema: modelSchema }, 409: { description: 'Name taken' }, 422: { description: ENGINES_422 } },
      handler: async ({ params, body }) => ({ status: 200, body: await catalog.updateModel(params.id, body) }),
    }),
    route({
      method: 'delete',
      path: '/api/v1/models/:id',
      tag: 'Catalog',
      summary: 'Remove a model',
      auth: ['operator'],
      params: idParam,
      responses: { 204: { description: 'Removed' }, 409: { description: 'Still in use' } },
      handler: async ({ params }) => {
        await catalog.deleteModel(params.id);
        return { status: 204 };
      },
    }),
  ];
}
