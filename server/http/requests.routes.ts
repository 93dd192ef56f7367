import { z } from 'zod';
import type { RequestLogService } from '../services/requests.service.js';
import { route, type AnyRoute } from './route.js';
import { instant, listOf, modelName, pageOf, pageQuery, timestamp } from './schemas.js';

const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\u0000]*$/, 'must not contain NUL characters');
const httpStatus = z
  .string()
  .regex(/^\d{3}$/, 'must be a three-digit HTTP status')
  .transform(Number)
  .pipe(z.number().int().min(100, 'must be an HTTP status, 100–599').max(599, 'must be an HTTP status, 100–599'));

const requestSchema = z.object({
  requestId: z.string().meta({ description: 'The x-request-id the call was answered with' }),
  startedAt: timestamp,
  tenantId: z.string(),
  apiKeyId: z.string().nullable().meta({ description: 'The calling API key; null when a signed-in user called' }),
  userId: z.string().nullable().meta({ description: 'The calling user of a session; null for an API key' }),
  model: z.string().meta({ description: 'The platform model name asked for' }),
  endpoint: z.enum(['chat.completions', 'completions', 'embeddings']),
  workloadId: z.string().nullable().meta({ description: 'Where it was served; null when refused before routing' }),
  placementId: z.string().nullable(),
  clusterId: z.string().nullable(),
  status: z.number().int().meta({ description: 'The HTTP status answered' }),
  errorCode: z.string().nullable().meta({ description: "OpenAI's error code of a refusal or failure, e.g. rate_limit_exceeded" }),
  promptTokens: z.number().int().nullable().meta({ description: 'As the serving engine reported; null when unknown' }),
  completionTokens: z.number().int().nullable().meta({ description: 'As the serving engine reported; null when unknown' }),
  ttftMs: z.number().int().nullable().meta({ description: 'Milliseconds to the first byte of the answer; null when none was sent' }),
  durationMs: z.number().int().meta({ description: 'Milliseconds from the request to the end of the answer' }),
  streamed: z.boolean(),
  attempts: z.number().int().meta({ description: 'Upstream tries; 0 when refused before routing' }),
});

/** `GET /api/v1/requests`: the gateway's request log (operator: all; a tenant admin: its tenant's; a member: its own). */
export function requestRoutes(requests: RequestLogService): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/requests',
      tag: 'Requests',
      summary:
        "The token gateway's request log, in the order written (the operator: all, or one tenant's; a tenant admin: its tenant's; a member: its own key's or user's)",
      auth: ['operator', 'tenant'],
      query: z.strictObject({
        ...pageQuery,
        tenantId: id.optional().meta({ description: "The operator's filter; a tenant always gets its own" }),
        apiKeyId: id.optional().meta({ description: 'The calling API key' }),
        model: modelName.optional().meta({ description: 'A platform model name' }),
        status: httpStatus.optional().meta({ description: 'The HTTP status answered, exactly' }),
        from: instant.optional().meta({ description: 'Started at or after (inclusive)' }),
        to: instant.optional().meta({ description: 'Started before (exclusive)' }),
      }),
      responses: {
        200: { description: 'A page of logged requests', schema: listOf(requestSchema) },
        403: { description: 'Not the operator nor a tenant' },
      },
      handler: async ({ query, principal }) => ({
        status: 200,
        body: await requests.list(
          principal,
          { tenantId: query.tenantId, apiKeyId: query.apiKeyId, model: query.model, status: query.status, from: query.from, to: query.to },
          pageOf(query),
        ),
      }),
    }),
  ];
}
