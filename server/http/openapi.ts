/** The OpenAPI 3.1 document, generated from the same route declarations and zod schemas. */
import { z } from 'zod';
import type { AnyRoute } from './route.js';
import { openAiErrorSchema, problemSchema } from './schemas.js';

const PROBLEM_CONTENT = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
const OPENAI_ERROR_CONTENT = { 'application/json': { schema: { $ref: '#/components/schemas/OpenAiError' } } };

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const s = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema;
  delete s.$schema;
  return s;
}

const ERROR_STATUSES: Record<number, string> = {
  400: 'Malformed or invalid input',
  401: 'No or bad credentials',
  403: 'A principal of the wrong kind',
  404: 'Not found, or belonging to another tenant',
  413: 'Body larger than 16 MiB',
  429: 'Over a request rate (http/rate-limit.ts); Retry-After says when to try again',
};

/** Every answer carries X-Request-Id (http/pipeline.ts). */
const REQUEST_ID_HEADER = { 'X-Request-Id': { $ref: '#/components/headers/RequestId' } };
/** A 429 or 503 also says when to try again. */
const RATE_LIMITED_HEADERS = { ...REQUEST_ID_HEADER, 'Retry-After': { description: 'Whole seconds', schema: { type: 'integer', minimum: 1 } } };

export function openApiDocument(routes: readonly AnyRoute[], version: string): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', r.params],
      ['query', r.query],
    ] as const) {
      if (!schema) continue;
      const js = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
      for (const [name, prop] of Object.entries(js.properties ?? {})) {
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (js.required ?? []).includes(name),
          schema: prop,
          ...(prop.description ? { description: prop.description } : {}),
        });
      }
    }
    for (const h of r.headers ?? []) parameters.push({ name: h.name, in: 'header', required: false, description: h.description, schema: { type: 'string' } });
    const responses: Record<string, unknown> = {};
    // Errors as problem+json, or (the token gateway) in OpenAI's shape.
    const errorContent = r.errorFormat === 'openai' ? OPENAI_ERROR_CONTENT : PROBLEM_CONTENT;
    for (const [status, spec] of Object.entries(r.responses)) {
      const isError = Number(status) >= 400;
      responses[status] = {
        description: spec.description,
        headers: status === '429' || status === '503' ? RATE_LIMITED_HEADERS : REQUEST_ID_HEADER,
        ...(spec.text !== undefined
          ? { content: { [spec.text]: { schema: { type: 'string' } } } }
          : isError && !spec.schema
            ? { content: errorContent }
            : spec.schema
              ? {
                  content: {
                    [isError && r.errorFormat !== 'openai' ? 'application/problem+json' : 'application/json']: { schema: jsonSchema(spec.schema, 'output') },
                    ...(spec.eventStream ? { 'text/event-stream': { schema: { type: 'string' } } } : {}),
                  },
                }
              : {}),
      };
    }
    // Tenants and agents have request rates; the operator has none.
    const rated = r.auth !== 'public' && r.auth.some((k) => k !== 'operator');
    const errorStatuses = r.auth === 'public' ? (r.body ? [400, 413] : []) : [400, 401, 403, 404, ...(r.body ? [413] : []), ...(rated ? [429] : [])];
    for (const s of errorStatuses) {
      responses[s] ??= {
        description: ERROR_STATUSES[s],
        headers: s === 429 ? RATE_LIMITED_HEADERS : REQUEST_ID_HEADER,
        content: errorContent,
      };
    }
    // Bodies are read and parsed a bounded number at a time (server/gate.ts); past the queue, 503.
    if (r.body) {
      responses[503] ??= {
        description: 'Too many request bodies being read at once (TOKENPOOL_BODY_QUEUE); Retry-After says when to try again',
        headers: { ...REQUEST_ID_HEADER, 'Retry-After': { description: 'Whole seconds', schema: { type: 'integer', minimum: 1 } } },
        content: errorContent,
      };
    }
    (paths[path] ??= {})[r.method] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.auth === 'public' ? { security: [] } : { 'x-principals': r.auth }),
      ...(parameters.length ? { parameters } : {}),
      // A body the route may go without (an optional schema) is not required.
      ...(r.body
        ? {
            requestBody: {
              required: !r.body.safeParse(undefined).success,
              content: { [r.bodyType === 'csv' ? 'text/csv' : 'application/json']: { schema: jsonSchema(r.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tokenpool API',
      version,
      description: 'City-level compute pool measured in standard tokens per minute. Principals: operator, tenant (API key), agent (cluster token).',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      headers: {
        RequestId: {
          description:
            'The request’s id, also in the server’s logs: the X-Request-Id the request carried when it is 1 to 128 of A–Z a–z 0–9 _ . : @ + = / -, else a new UUID',
          schema: { type: 'string' },
        },
      },
      schemas: { Problem: jsonSchema(problemSchema, 'output'), OpenAiError: jsonSchema(openAiErrorSchema, 'output') },
    },
    paths,
  };
}
