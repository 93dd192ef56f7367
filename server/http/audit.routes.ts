import { z } from 'zod';
import type { AuditService } from '../services/audit.service.js';
import { route, type AnyRoute } from './route.js';
import { listOf, pageOf, pageQuery, timestamp } from './schemas.js';

const instant = z.iso.datetime({ offset: true, message: 'must be an RFC 3339 time with an offset' }).transform((s) => new Date(s));
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\u0000]*$/, 'must not contain NUL characters');

const auditSchema = z.object({
  at: timestamp,
  actor: z.object({
    kind: z.enum(['operator', 'tenant']),
    name: z.string().nullable().meta({ description: "The operator's or the user's name; null for an API key" }),
    userId: z.string().nullable(),
    apiKeyId: z.string().nullable(),
    tenantId: z.string().nullable().meta({ description: 'The acting tenant; null for the operator' }),
  }),
  method: z.enum(['POST', 'PUT', 'PATCH', 'DELETE']),
  route: z.string().meta({ description: 'The route template, e.g. /api/v1/tenants/:id' }),
  resourceId: z.string().nullable().meta({ description: "The path's :id" }),
  createdId: z.string().nullable().meta({ description: 'The id of what a create made' }),
  status: z.number().int(),
  changes: z.unknown().meta({ description: 'The request body, passwords, tokens and keys replaced by "[redacted]"; null when there was none' }),
  address: z.string().nullable().meta({ description: "The client's socket address" }),
  requestId: z.string().nullable(),
});

/** `GET /api/v1/audit`: the audit log (operator: all; a tenant admin: its tenant's). */
export function auditRoutes(audit: AuditService): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/audit',
      tag: 'Audit',
      summary: "The audit log of changes, in the order made (the operator: all, or one tenant's; a tenant admin: its tenant's)",
      auth: ['operator', 'tenant'],
      query: z.strictObject({
        ...pageQuery,
        actor: text(200).optional().meta({ description: "The actor's name, user id or API key id" }),
        tenantId: text(64).optional().meta({ description: "The acting tenant (the operator's filter; a tenant admin always gets its own)" }),
        route: text(200).optional().meta({ description: 'A route template, e.g. /api/v1/tenants/:id' }),
        from: instant.optional().meta({ description: 'Inclusive' }),
        to: instant.optional().meta({ description: 'Exclusive' }),
      }),
      responses: {
        200: { description: 'A page of audit entries', schema: listOf(auditSchema) },
        403: { description: 'Not the operator nor a tenant admin' },
      },
      handler: async ({ query, principal }) => ({
        status: 200,
        body: await audit.list(principal, { actor: query.actor, tenantId: query.tenantId, route: query.route, from: query.from, to: query.to }, pageOf(query)),
      }),
    }),
  ];
}
