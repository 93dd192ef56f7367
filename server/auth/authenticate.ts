/**
 * Who is calling: the operator (admin token or an operator user's session), a tenant (API key or
 * a tenant user's session) or an agent (cluster token). No, unknown or expired credentials: 401. A
 * principal of the wrong kind: 403. A request on a session cookie that changes something must
 * carry the session's CSRF token in `X-CSRF-Token` (403 otherwise).
 */
import { AppError } from '../errors.js';
import { hashToken, sameHash, TOKEN_PREFIX } from './tokens.js';

export type PrincipalKind = 'operator' | 'tenant' | 'agent';

export type Principal =
  | { readonly kind: 'operator'; readonly name: string; readonly userId?: string }
  | {
      readonly kind: 'tenant';
      readonly tenantId: string;
      readonly apiKeyId?: string;
      readonly userId?: string;
      readonly name?: string;
      /** An admin of the tenant (an admin key or user, or a session made from one): manages its keys, users and budget. */
      readonly admin?: boolean;
    }
  | { readonly kind: 'agent'; readonly clusterId: string }
  | { readonly kind: 'public' };

export interface CredentialStore {
  /**
   * Hashes of the tokens accepted as the built-in operator `admin`, asked each time a token that
   * is not a key or an agent's is presented (so a rotation holds at once; see admin-token.ts).
   */
  adminTokenHashes(token: string): readonly string[] | Promise<readonly string[]>;
  /**
   * The unrevoked key with this hash; `role` admin makes its principal a tenant admin. A key past
   * its `expiresAt` (by the authenticator's clock) is refused.
   */
  findApiKey(hash: string): Promise<{ id: string; tenantId: string; role?: 'admin' | 'member'; expiresAt?: Date | null } | undefined>;
  findAgent(hash: string): Promise<{ clusterId: string } | undefined>;
  /** The live session whose cookie value hashes to `hash`. */
  findSession?(hash: string): Promise<{ principal: Principal; csrfToken: string } | undefined>;
}

/** The browser session cookie. */
export const SESSION_COOKIE = 'tp_session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A cookie's value from a `Cookie` header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export interface RequestCredentials {
  readonly method: string;
  readonly headers: { readonly authorization?: string | undefined; readonly cookie?: string | undefined; readonly [name: string]: unknown };
}

export interface Authenticator {
  /** Resolves the principal of an Authorization header and checks it is one of `allowed`. */
  require(header: string | undefined, allowed: readonly PrincipalKind[] | 'public'): Promise<Principal>;
  /** As `require`, from a request: its bearer token, else its session cookie (with the CSRF check). */
  fromRequest(req: RequestCredentials, allowed: readonly PrincipalKind[] | 'public'): Promise<Principal>;
  /** The principal a bearer token stands for, if any (sign-in with a token). */
  identify(token: string): Promise<Principal | undefined>;
  /**
   * Drops cached principals that match (after a key is revoked or an agent token replaced); a
   * lookup in flight when it is called is not cached either, as it may have read the credential
   * before its revocation.
   */
  forget(match: (p: Principal) => boolean): void;
}

/**
 * How long a recognised API key or agent token is trusted without asking the database again. A
 * revocation does not wait for it (it is forgotten at once on every process, see forget), so it
 * only bounds the reads: longer than an agent's heartbeat interval (10 s), so that heartbeats do
 * not read their token each time.
 */
export const CREDENTIAL_CACHE_MS = 60_000;
const CACHE_LIMIT = 100_000;

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export function createAuthenticator(store: CredentialStore, now: () => number = Date.now): Authenticator {
  // Token → principal for tenant keys and agent tokens, so that hot paths (heartbeats, creates)
  // do not read the database on every request. A revocation calls forget on every replica (the
  // credentials channel, notifier.ts); CREDENTIAL_CACHE_MS bounds the rest.
  const cache = new Map<string, { principal: Principal; until: number }>();
  let generation = 0;

  async function identify(token: string): Promise<Principal | undefined> {
    // Keyed by the token itself, so that a hit costs no hashing.
    const hit = cache.get(token);
    if (hit && hit.until > now()) return hit.principal;
    const started = generation;
    const found = await lookup(token, hashToken(token));
    if (found && found.principal.kind !== 'operator' && generation === started) {
      if (cache.size >= CACHE_LIMIT) cache.clear();
      // An expiring key is trusted no longer than it lives: it stops working at its expiry, not a cache entry later.
      cache.set(token, { principal: found.principal, until: Math.min(now() + CREDENTIAL_CACHE_MS, found.expiresAt) });
    }
    return found?.principal;
  }

  /** The principal of a token, and when it stops being valid (ms; Infinity: never). */
  async function lookup(token: string, hash: string): Promise<{ principal: Principal; expiresAt: number } | undefined> {
    if (token.startsWith(TOKEN_PREFIX.apiKey)) {
      const key = await store.findApiKey(hash);
      const expiresAt = key?.expiresAt ? key.expiresAt.getTime() : Infinity;
      if (!key || expiresAt <= now()) return undefined;
      return { principal: { kind: 'tenant', tenantId: key.tenantId, apiKeyId: key.id, admin: key.role === 'admin' }, expiresAt };
    }
    if (token.startsWith(TOKEN_PREFIX.agent)) {
      const agent = await store.findAgent(hash);
      return agent && { principal: { kind: 'agent', clusterId: agent.clusterId }, expiresAt: Infinity };
    }
    // Compare against every admin hash so the time taken does not tell which one matched.
    let match = false;
    for (const h of await store.adminTokenHashes(token)) match = sameHash(h, hash) || match;
    return match ? { principal: { kind: 'operator', name: 'admin' }, expiresAt: Infinity } : undefined;
  }

  function allow(principal: Principal, allowed: readonly PrincipalKind[]): Principal {
    if (!allowed.includes(principal.kind as PrincipalKind)) {
      throw new AppError('forbidden', `This endpoint is not for ${principal.kind} credentials.`);
    }
    return principal;
  }

  const authenticator: Authenticator = {
    identify,
    async require(header, allowed) {
      if (allowed === 'public') return { kind: 'public' };
      const m = header === undefined ? null : BEARER.exec(header);
      if (!m) throw new AppError('unauthorized', 'Send credentials as "Authorization: Bearer <token>", or sign in.');
      const principal = await identify(m[1]!);
      if (!principal) throw new AppError('unauthorized', 'The token is not valid.');
      return allow(principal, allowed);
    },
    async fromRequest(req, allowed) {
      if (allowed === 'public') return { kind: 'public' };
      const sid = req.headers.authorization === undefined ? cookieValue(req.headers.cookie, SESSION_COOKIE) : undefined;
      if (sid === undefined || !store.findSession) return authenticator.require(req.headers.authorization, allowed);
      const session = await store.findSession(hashToken(sid));
      if (!session) throw new AppError('unauthorized', 'The session has ended; sign in again.');
      if (!SAFE_METHODS.has(req.method) && req.headers['x-csrf-token'] !== session.csrfToken) {
        throw new AppError('forbidden', "A request on a session that changes something needs the session's X-CSRF-Token header.");
      }
      return allow(session.principal, allowed);
    },
    forget(match) {
      generation += 1;
      for (const [token, entry] of cache) if (match(entry.principal)) cache.delete(token);
    },
  };
  return authenticator;
}
