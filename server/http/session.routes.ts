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
import { listOf, pageOf, pageOnlyQuery, timestamp } from './schemas.js';

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
  createdAt: timestamp,
});

const username = z
  .string()
  .trim()
  .min(3, 'must be at least 3 characters')
  .max(64)
  .regex(/^[A-Za-z0-9._@-]+$/, 'may hold letters, digits and . _ @ -');

const signIn = z.union([
  z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }),
  z.strictObject({ token: z.string().min(1).max(512).meta({ description: 'The admin token or a tenant API key' }) }),
]);

const createUser = z.strictObject({
  username,
  password: z.string().min(10, 'must be at least 10 characters').max(1024),
  kind: z.enum(['operator', 'tenant']),
  tenantId: z.string().max(100).optional(),
  admin: z.boolean().optional().meta({ description: 'A tenant admin may create users of its tenant' }),
});

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
        429: { description: 'Too many failed sign-ins; wait' },
      },
      handler: async ({ body }) => {
        const { cookie, session } = await accounts.signIn(body);
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
      responses: { 201: { description: 'The user', schema: userSchema }, 409: { description: 'Username taken' } },
      handler: async ({ body, principal }) => ({ status: 201, body: await accounts.createUser(principal, body) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/users',
      tag: 'Sign-in',
      summary: 'List users (a tenant: its own)',
      auth: ['operator', 'tenant'],
      query: usersQuery,
      responses: { 200: { description: 'A page of users', schema: listOf(userSchema) } },
      handler: async ({ query, principal }) => ({ status: 200, body: await accounts.listUsers(principal, query.tenantId, pageOf(query)) }),
    }),
  ];
}
