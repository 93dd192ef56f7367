import { z } from 'zod';
import { ENERGY_GROUPS } from '../domain/energy.js';
import type { EnergyService } from '../services/energy.service.js';
import { route, type AnyRoute } from './route.js';
import { instant, timestamp } from './schemas.js';

const windowQuery = {
  from: instant.optional().meta({ description: 'Start of the window (inclusive; whole minutes count). Default: 24 hours before `to`' }),
  to: instant.optional().meta({ description: 'End of the window (exclusive). Default: now. At most 92 days after `from`' }),
};

const nullableName = (what: string) =>
  z
    .string()
    .nullable()
    .meta({ description: `${what}; null when the group's placements differ in it` });

const energyFigureSchema = z.object({
  placementId: nullableName('The placement'),
  clusterId: nullableName('The cluster'),
  clusterName: nullableName("The cluster's name"),
  vendor: nullableName('The devices’ vendor'),
  model: nullableName('The platform model served'),
  profile: nullableName('The device profile'),
  placements: z.number().int().meta({ description: 'Placements with energy measured in the window' }),
  joules: z.number().meta({ description: "Energy the placements' devices used in the measured minutes, as the clusters' power exporters measured it" }),
  measuredSeconds: z.number().meta({ description: 'Placement-seconds the measurement covers' }),
  stdTokens: z.string().meta({ description: 'Standard tokens served in the measured minutes (exact decimal)' }),
  stdTokensPerJoule: z.number().nullable().meta({ description: 'Measured standard tokens per joule; null when no energy was measured' }),
  tdpStdTokensPerJoule: z
    .number()
    .nullable()
    .meta({ description: "The catalog's estimate for the same devices: stdTokensPerSec ÷ tdpWatts of each placement's profile, weighted by its energy" }),
  powerWatts: z.number().nullable().meta({ description: 'Power the placements draw now (readings of the last 2 minutes); null: none' }),
});

const throughputSchema = z.object({
  profile: z.string(),
  vendor: z.string(),
  catalogStdTokensPerSec: z.number().meta({ description: "The profile's stdTokensPerSec in the catalog" }),
  loadMinutes: z.number().int().meta({ description: 'Placement-minutes at load in the window' }),
  clusters: z.number().int().meta({ description: 'Clusters those minutes come from' }),
  measuredStdTokensPerSec: z
    .number()
    .nullable()
    .meta({ description: 'Standard tokens served per second per device over the minutes at load; null: no minute at load' }),
  proposedStdTokensPerSec: z
    .number()
    .nullable()
    .meta({ description: 'The correction proposed for the catalog, when there are at least minMinutes minutes at load; never applied by itself' }),
});

/** `GET /api/v1/energy` and `GET /api/v1/energy/throughput` (operator): measured tokens per joule and throughput. */
export function energyRoutes(energy: EnergyService): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/energy',
      tag: 'Energy',
      summary:
        "Measured standard tokens per joule over a window, per placement, cluster, vendor, model or device profile, beside the catalog's TDP estimate. Energy comes from the power exporters the clusters' agents read (energyJoules in heartbeats); tokens are those metered in the minutes the energy was measured",
      auth: ['operator'],
      query: z.strictObject({
        ...windowQuery,
        groupBy: z.enum(ENERGY_GROUPS).default('cluster').meta({ description: 'What a figure is per. Default: cluster' }),
      }),
      responses: {
        200: {
          description: 'One figure per group that had energy measured in the window',
          schema: z.object({ from: timestamp, to: timestamp, groupBy: z.enum(ENERGY_GROUPS), items: z.array(energyFigureSchema) }),
        },
        403: { description: 'Not the operator' },
      },
      handler: async ({ query }) => {
        const r = await energy.figures({ from: query.from, to: query.to }, query.groupBy);
        return { status: 200, body: { ...r, from: r.from.toISOString(), to: r.to.toISOString() } };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/energy/throughput',
      tag: 'Energy',
      summary:
        "Measured throughput per device profile against the catalog's stdTokensPerSec, over the placement-minutes at load: those in which the placement's requests in flight (the request log's durations, counted in the minute each request started) averaged at least minConcurrency per ready replica. A proposed correction, never applied by itself",
      auth: ['operator'],
      query: z.strictObject({
        ...windowQuery,
        minConcurrency: z.coerce
          .number()
          .min(0.1)
          .max(10_000)
          .optional()
          .meta({ description: 'Requests in flight per ready replica for a minute to count as at load. Default 8' }),
        minMinutes: z.coerce
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .optional()
          .meta({ description: 'Minutes at load a profile needs before a correction is proposed. Default 10' }),
      }),
      responses: {
        200: {
          description: 'One figure per device profile that served in the window',
          schema: z.object({
            from: timestamp,
            to: timestamp,
            criteria: z.object({ minConcurrency: z.number(), minMinutes: z.number().int() }),
            items: z.array(throughputSchema),
          }),
        },
        403: { description: 'Not the operator' },
      },
      handler: async ({ query }) => {
        const r = await energy.throughput({ from: query.from, to: query.to }, { minConcurrency: query.minConcurrency, minMinutes: query.minMinutes });
        return { status: 200, body: { ...r, from: r.from.toISOString(), to: r.to.toISOString() } };
      },
    }),
  ];
}
