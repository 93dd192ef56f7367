/**
 * The token gateway's routes under `/v1` (API.md v2 "Token gateway"): OpenAI's API for tenants'
 * API keys. Bodies are OpenAI's and pass through to the serving engine with fields this file does
 * not name (temperature, tools, …); errors are answered in OpenAI's shape.
 */
import { z } from 'zod';
import type { GatewayEndpoint, GatewayService } from '../gateway/gateway.service.js';
import { route, type AnyRoute } from './route.js';

const model = z.string().min(1).max(256).meta({ description: "A platform model's name (GET /v1/models)" });
const stream = z.boolean().optional();
const streamOptions = z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional();
const content = z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]).nullable();

const chatBody = z.looseObject({
  model,
  messages: z
    .array(z.looseObject({ role: z.string().min(1).max(64), content: content.optional() }))
    .min(1)
    .max(10_000),
  stream,
  stream_options: streamOptions,
});
const completionBody = z.looseObject({
  model,
  prompt: z.union([z.string(), z.array(z.string()).min(1), z.array(z.number().int()).min(1)]),
  stream,
  stream_options: streamOptions,
});
const embeddingBody = z.looseObject({
  model,
  input: z.union([z.string(), z.array(z.string()).min(1), z.array(z.number().int()).min(1)]),
});

const usage = z.looseObject({ prompt_tokens: z.number().int(), completion_tokens: z.number().int().optional(), total_tokens: z.number().int() });
const answer = z.looseObject({ object: z.string(), usage: usage.optional() });
const modelList = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ id: z.string(), object: z.literal('model'), created: z.number().int(), owned_by: z.string() })),
});

const ERRORS = {
  502: { description: 'The replicas serving the model failed before answering (`upstream_error`, `upstream_timeout`)' },
  503: { description: 'No running placement of the model can take the call (`model_not_available`); Retry-After says when to try again' },
} as const;

export function gatewayRoutes(gateway: GatewayService): AnyRoute[] {
  const call = (path: string, endpoint: GatewayEndpoint, body: z.ZodType<Record<string, unknown> & { model: string }>, summary: string) =>
    route({
      method: 'post',
      path,
      tag: 'Token gateway',
      summary,
      auth: ['tenant'],
      errorFormat: 'openai',
      bodyType: 'any',
      body,
      responses: {
        200: {
          description: "The engine's answer, in OpenAI's format; with `stream: true`, server-sent events ending `data: [DONE]`",
          schema: answer,
          eventStream: true,
        },
        ...ERRORS,
      },
      handler: ({ body: b, principal }) => Promise.resolve({ status: 200, stream: (out) => gateway.call(principal, endpoint, b, out) }),
    });
  return [
    call('/v1/chat/completions', 'chat.completions', chatBody, 'Chat completion from a pooled model (OpenAI-compatible)'),
    call('/v1/completions', 'completions', completionBody, 'Text completion from a pooled model (OpenAI-compatible)'),
    call('/v1/embeddings', 'embeddings', embeddingBody, 'Embeddings from a pooled model (OpenAI-compatible)'),
    route({
      method: 'get',
      path: '/v1/models',
      tag: 'Token gateway',
      summary: 'The models this key may call that have a running placement it can use',
      auth: ['tenant'],
      errorFormat: 'openai',
      responses: { 200: { description: "The models, in OpenAI's list format", schema: modelList } },
      handler: async ({ principal }) => ({ status: 200, body: { object: 'list', data: await gateway.models(principal) } }),
    }),
  ];
}
