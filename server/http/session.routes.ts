/**
 * Sign-in for the console and portal: a session cookie (HttpOnly, SameSite=Strict, Secure behind
 * TLS) and a CSRF token the page sends back in `X-CSRF-Token` on every change. And the users who
 * sign in with passwords.
 */
import { z } from 'zod';
import { cookieValue, SESSION_COOKIE } from '../auth/authenticate.js';
import { hashToken } from '../auth/tokens.js';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { SESSION_TTL_MS } from '../services/accounts.service.js';
import { route, type AnyRoute, type Cookie } from './route.js';
import { idParam, listOf, pageOf, pageOnlyQuery, timestamp } from './schemas.js';

const sessionSchema = z.object({
  kind: z.enum(['operator', 'tenant']),
  name: z.string(),
  tenantId: z.string().nullable(),
  admin: z.boolean(),
  csrfToken: z.string().meta({ description: 'Send it back in X-CSRF-Token on every request that changes something' }),
  expiresAt: timestamp,
});

const userSchema = z.object({
  id: z.string(),
  username: z.string(),
  kind: z.enum(['operator', 'tenant']),
  tenantId: z.string().nullable(),
  admin: z.boolean(),
  disabled: z.boolean().meta({ description: 'A disabled user cannot sign in and has no session' }),
  createdAt: timestamp,
});

const username = z
  .string()
  .trim()
  .min(3, 'must be at least 3 characters')
  .max(64)
  .regex(/^[A-Za-z0-9._@-]+$/, 'may hold letters, digits and . _ @ -');

const password = z.string().min(10, 'must be at least 10 characters').max(1024);

const signIn = z.union([
  z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }),
  z.strictObject({ token: z.string().min(1).max(512).meta({ description: 'The admin token or a tenant API key' }) }),
]);

const createUser = z.strictObject({
  username,
  password,
  kind: z.enum(['operator', 'tenant']),
  tenantId: z.string().max(100).optional(),
  admin: z.boolean().optional().meta({ description: 'A tenant admin may create users of its tenant' }),
});

const patchUser = z
  .strictObject({
    disabled: z.boolean().optional().meta({ description: 'true: the user can no longer sign in, and its sessions end at once; false: it may sign in again' }),
    password: password.optional().meta({ description: "A new password (a reset); the user's sessions end" }),
  })
  .refine((b) => b.disabled !== undefined || b.password !== undefined, { message: 'give disabled, password or both', path: ['disabled'] });

const usersQuery = pageOnlyQuery.extend({ tenantId: z.string().max(100).optional() });

/** The session cookie for `maxAgeMs` (0: clears it); the pipeline adds its attributes. */
function sessionCookie(value: string, maxAgeMs: number): Cookie {
  return { name: SESSION_COOKIE, value, maxAgeMs };
}

export function sessionRoutes(ctx: AppContext): AnyRoute[] {
  const { accounts } = ctx.services;
  return [
    route({
      method: 'post',
      path: '/api/v1/session',
      tag: 'Sign-in',
      summary: 'Sign in with a username and password, or a bearer token; sets the session cookie',
      auth: 'public',
      body: signIn,
      responses: {
        201: { description: 'The session', schema: sessionSchema },
        401: { description: 'Wrong username or password, or a token that is not valid' },
        429: {
          description: 'Too many failed sign-ins for this name or from this address, or too many sign-ins at once; wait as long as Retry-After says',
        },
      },
      handler: async ({ body, address }) => {
        const { cookie, session } = await accounts.signIn(body, address);
        return { status: 201, body: session, cookies: [sessionCookie(cookie, SESSION_TTL_MS)] };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/session',
      tag: 'Sign-in',
      summary: 'The session of the cookie sent',
      auth: 'public',
      responses: { 200: { description: 'The session', schema: sessionSchema }, 401: { description: 'No session' } },
      handler: async ({ header }) => {
        const sid = cookieValue(header('cookie'), SESSION_COOKIE);
        const found = sid ? await accounts.sessionOf(hashToken(sid)) : undefined;
        if (!found) throw new AppError('unauthorized', 'Not signed in.');
        return { status: 200, body: found.view };
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/session',
      tag: 'Sign-in',
      summary: 'Sign out: ends the session and clears the cookie',
      auth: 'public',
      responses: { 204: { description: 'Signed out' } },
      handler: async ({ header }) => {
        const sid = cookieValue(header('cookie'), SESSION_COOKIE);
        if (sid) await accounts.signOut(hashToken(sid));
        return { status: 204, cookies: [sessionCookie('', 0)] };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/users',
      tag: 'Sign-in',
      summary: 'Create a user (operators: any; a tenant admin: users of its tenant)',
      auth: ['operator', 'tenant'],
      body: createUser,
      responses: {
        201: { description: 'The user', schema: userSchema },
        409: { description: 'Username taken' },
        422: { description: 'tenantId names no tenant' },
      },
      handler: async ({ body, principal }) => ({ status: 201, body: await accounts.createUser(principal, body) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/users',
      tag: 'Sign-in',
      summary: "List users (the operator: all, or one tenant's; a tenant admin: its tenant's)",
      auth: ['operator', 'tenant'],
      query: usersQuery,
      responses: { 200: { description: 'A page of users', schema: listOf(userSchema) } },
      handler: async ({ query, principal }) => ({ status: 200, body: await accounts.listUsers(principal, query.tenantId, pageOf(query)) }),
    }),
    route({
      method: 'patch',
      path: '/api/v1/users/:id',
      tag: 'Sign-in',
      summary: "Disable or enable a user, or reset its password (the operator: any user; a tenant admin: its tenant's)",
      auth: ['operator', 'tenant'],
      params: idParam,
      body: patchUser,
      responses: {
        200: { description: 'The user', schema: userSchema },
        403: { description: 'A member of the tenant' },
        404: { description: "No such user, or another tenant's" },
      },
      handler: async ({ params, body, principal }) => ({ status: 200, body: await accounts.updateUser(principal, params.id, body) }),
    }),
    route({
      method: 'delete',
      path: '/api/v1/users/:id',
      tag: 'Sign-in',
      summary: "Delete a user; its sessions end (the operator: any user; a tenant admin: its tenant's)",
      auth: ['operator', 'tenant'],
      params: idParam,
      responses: { 204: { description: 'Deleted' }, 403: { description: 'A member of the tenant' }, 404: { description: "No such user, or another tenant's" } },
      handler: async ({ params, principal }) => {
        await accounts.deleteUser(principal, params.id);
        return { status: 204 };
      },
    }),
  ];
}
