import { z } from 'zod';
import { HISTORY_STEPS, MAX_HISTORY_POINTS } from '../domain/history.js';
import type { HistoryService } from '../services/history.service.js';
import { route, type AnyRoute } from './route.js';
import { instant, timestamp } from './schemas.js';

const perMin = (what: string) =>
  z
    .number()
    .nullable()
    .meta({ description: `${what}, standard tokens per minute; null when no minute of the bucket was sampled` });
const count = (what: string) =>
  z
    .number()
    .int()
    .nullable()
    .meta({ description: `${what}; null when no minute of the bucket was counted` });
const decimal = (what: string) =>
  z
    .string()
    .nullable()
    .meta({ description: `${what}, an exact decimal; null when no minute of the bucket was counted` });

const pointSchema = z.object({
  at: timestamp.meta({ description: "The bucket's start; the bucket runs to the next point's" }),
  minutes: z.number().int().meta({ description: 'Minutes of the bucket that were sampled (0: none, and every figure is null)' }),
  countedMinutes: z
    .number()
    .int()
    .meta({ description: "Minutes of the bucket whose flows (tokens, requests, energy) were counted: the current minute's are counted once it ends" }),
  totalStdPerMin: perMin("The pool's capacity (as GET /api/v1/pool's totalStdPerMin), averaged over the sampled minutes"),
  totalStdPerMinMax: perMin("The pool's capacity at its highest sampled minute"),
  allocatedStdPerMin: perMin('What placements hold (allocatedStdPerMin), averaged'),
  allocatedStdPerMinMax: perMin('What placements hold at its highest sampled minute'),
  freeStdPerMin: perMin('Free capacity (freeStdPerMin), averaged'),
  clustersReady: z.number().int().nullable().meta({ description: 'Ready clusters in the sampled minute that had the fewest' }),
  clustersNotReady: z.number().int().nullable().meta({ description: 'Not-ready clusters in the sampled minute that had the most' }),
  clustersCordoned: z.number().int().nullable().meta({ description: 'Cordoned clusters in the sampled minute that had the most' }),
  stdTokens: decimal('Standard tokens served in the counted minutes (metered usage, by occurredAt): gatewayStdTokens + agentStdTokens'),
  gatewayStdTokens: decimal("Of which the token gateway's metered calls"),
  agentStdTokens: decimal("Of which the agents' usage reports (direct workloads)"),
  inputTokens: count('Model input tokens of that usage'),
  outputTokens: count('Model output tokens of that usage'),
  requests: count('Calls to the token gateway (/v1) that started in the counted minutes, served or refused (the request log)'),
  failedRequests: count('Of which answered with a 5xx status'),
  energyJoules: z
    .number()
    .nullable()
    .meta({ description: "Energy measured by the clusters' power exporters in the counted minutes (as GET /api/v1/energy); null when none was measured" }),
  meanWatts: z
    .number()
    .nullable()
    .meta({ description: 'energyJoules over the minutes with energy measured: the mean power of the measured devices; null when none' }),
  measuredStdTokens: z
    .string()
    .nullable()
    .meta({ description: 'Standard tokens served in the placement-minutes whose energy was measured, an exact decimal; null when none' }),
  stdTokensPerJoule: z.number().nullable().meta({ description: 'measuredStdTokens ÷ energyJoules; null when no energy was measured' }),
});

/** `GET /api/v1/history` (operator): the city's totals per minute, by range and step. */
export function historyRoutes(history: HistoryService): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/history',
      tag: 'History',
      summary:
        "The city's history: the pool's capacity and allocation, clusters by state, standard tokens served, the gateway's requests and measured energy, sampled every minute, in buckets of `step`. Every bucket of the range is answered, in order; a bucket with no sampled minute has minutes 0 and null figures",
      auth: ['operator'],
      query: z.strictObject({
        from: instant.optional().meta({ description: 'Start (inclusive), taken back to the start of its bucket. Default: 24 hours before `to`' }),
        to: instant.optional().meta({ description: 'End (exclusive), taken on to the end of its bucket. Default: now' }),
        step: z
          .enum(HISTORY_STEPS)
          .optional()
          .meta({
            description: `The bucket: 1m to 6h aligned on UTC multiples of the step, 1d a day of TOKENPOOL_TIMEZONE. At most ${MAX_HISTORY_POINTS} buckets an answer (400 past it). Default: the smallest step that keeps the answer to 300 buckets`,
          }),
      }),
      responses: {
        200: {
          description: 'One point per bucket of the range',
          schema: z.object({
            from: timestamp.meta({ description: "The first bucket's start" }),
            to: timestamp.meta({ description: "The last bucket's end" }),
            step: z.enum(HISTORY_STEPS),
            points: z.array(pointSchema),
          }),
        },
        403: { description: 'Not the operator' },
      },
      handler: async ({ query }) => {
        const r = await history.read({ from: query.from, to: query.to, step: query.step });
        return {
          status: 200,
          body: { from: r.from.toISOString(), to: r.to.toISOString(), step: r.step, points: r.points.map((p) => ({ ...p, at: p.at.toISOString() })) },
        };
      },
    }),
  ];
}
