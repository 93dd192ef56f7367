/**
 * Sign-in for people: operator and tenant users with passwords (scrypt), and sign-in with a
 * bearer token (the admin token or a tenant API key) for scripted and first-time access. A
 * sign-in makes a session: a random cookie value (only its hash is stored), a CSRF token, and an
 * expiry. Repeated failed sign-ins for one name are slowed down: after five, each further attempt
 * must wait, twice as long each time, up to five minutes.
 *
 * Users are managed by the operator (any user) and by a tenant's admins (that tenant's users):
 * listed, disabled, deleted, their password reset. Disabling, deleting or resetting the password
 * ends the user's sessions at once (sessions are read from the database on every request).
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Principal } from '../auth/authenticate.js';
import { hashToken, newToken, type IdGenerator } from '../auth/tokens.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { AccountsRepository, SessionRow, UserRow } from '../repositories/accounts.repository.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { TenantsRepository } from '../repositories/tenants.repository.js';
import { assertAdministers, owns, scopeTenant } from '../auth/policy.js';

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((done, fail) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? fail(err) : done(key))));
}

const SCRYPT = { N: 16_384, r: 8, p: 1 } as const;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, { ...SCRYPT, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const want = Buffer.from(key, 'base64url');
  const got = await scrypt(password, Buffer.from(salt, 'base64url'), want.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: 64 * 1024 * 1024 });
  return timingSafeEqual(got, want);
}

// A hash to verify against when the user does not exist, so that the answer takes as long.
const NOBODY = hashPassword(randomBytes(16).toString('hex'));

export interface User {
  readonly id: string;
  readonly username: string;
  readonly kind: 'operator' | 'tenant';
  readonly tenantId: string | null;
  readonly admin: boolean;
  /** A disabled user cannot sign in and has no session. */
  readonly disabled: boolean;
  readonly createdAt: string;
}

/** An operator's or tenant admin's change to a user; fields left out stay as they are. */
export interface UserChanges {
  readonly disabled?: boolean | undefined;
  readonly password?: string | undefined;
}

export interface SessionView {
  readonly kind: 'operator' | 'tenant';
  readonly name: string;
  readonly tenantId: string | null;
  readonly admin: boolean;
  readonly csrfToken: string;
  readonly expiresAt: string;
}

function toUser(r: UserRow): User {
  return {
    id: r.id,
    username: r.username,
    kind: r.kind as User['kind'],
    tenantId: r.tenant_id,
    admin: r.admin,
    disabled: r.disabled_at !== null,
    createdAt: r.created_at.toISOString(),
  };
}

export const SESSION_TTL_MS = 12 * 3600_000;

/** Who a session is for, as its row records it. */
type SessionOwner = Pick<SessionRow, 'kind' | 'name' | 'user_id' | 'tenant_id' | 'api_key_id' | 'tenant_admin'>;

function principalOf(s: SessionRow): Principal {
  const ids = { ...(s.user_id ? { userId: s.user_id } : {}), ...(s.api_key_id ? { apiKeyId: s.api_key_id } : {}) };
  return s.kind === 'operator'
    ? { kind: 'operator', name: s.name, ...ids }
    : { kind: 'tenant', tenantId: s.tenant_id!, name: s.name, admin: s.tenant_admin, ...ids };
}

function viewOf(s: SessionRow): SessionView {
  return {
    kind: s.kind as SessionView['kind'],
    name: s.name,
    tenantId: s.tenant_id,
    admin: s.kind === 'operator' || s.tenant_admin,
    csrfToken: s.csrf_token,
    expiresAt: s.expires_at.toISOString(),
  };
}
const FREE_FAILURES = 5;
const MAX_LOCK_MS = 300_000;

/** Failed sign-ins per name: after FREE_FAILURES, a wait that doubles per further failure. */
class SignInThrottle {
  private readonly failures = new Map<string, { count: number; until: number }>();

  check(key: string, now: number): void {
    const f = this.failures.get(key);
    if (f && f.until > now) {
      const seconds = Math.ceil((f.until - now) / 1000);
      throw new AppError('rate_limited', `Too many failed sign-ins; try again in ${seconds} s.`);
    }
  }

  failed(key: string, now: number): void {
    const f = this.failures.get(key) ?? { count: 0, until: 0 };
    f.count += 1;
    f.until = f.count >= FREE_FAILURES ? now + Math.min(MAX_LOCK_MS, 1000 * 2 ** (f.count - FREE_FAILURES)) : 0;
    this.failures.set(key, f);
    if (this.failures.size > 100_000) this.failures.clear();
  }

  succeeded(key: string): void {
    this.failures.delete(key);
  }
}

export class AccountsService {
  private readonly throttle = new SignInThrottle();

  constructor(
    private readonly repo: AccountsRepository,
    private readonly tenants: TenantsRepository,
    private readonly identify: (token: string) => Promise<Principal | undefined>,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
  ) {}

  async createUser(
    by: Principal,
    input: { username: string; password: string; kind: 'operator' | 'tenant'; tenantId?: string | undefined; admin?: boolean | undefined },
  ): Promise<User> {
    if (input.kind === 'operator') {
      if (by.kind !== 'operator') throw new AppError('forbidden', 'Only operators may create operator users.');
      if (input.tenantId !== undefined)
        throw new AppError('invalid', 'Operator users belong to no tenant.', [{ path: 'tenantId', message: 'must be absent for operator users' }]);
    } else {
      if (input.tenantId === undefined)
        throw new AppError('invalid', 'A tenant user needs a tenant.', [{ path: 'tenantId', message: 'required for tenant users' }]);
      assertAdministers(by, input.tenantId, 'Only a tenant admin may create users, and only for its own tenant.');
      if (!(await this.tenants.get(input.tenantId))) throw new AppError('unprocessable', `No tenant has id "${input.tenantId}".`);
    }
    if (await this.repo.findUser(input.username)) throw new AppError('conflict', `The username "${input.username}" is taken.`);
    const row = await this.repo.insertUser({
      id: this.ids.next('usr'),
      username: input.username,
      password_hash: await hashPassword(input.password),
      kind: input.kind,
      tenant_id: input.kind === 'tenant' ? input.tenantId! : null,
      admin: input.admin ?? false,
      created_at: this.clock.now(),
    });
    return toUser(row);
  }

  /** The operator lists every user (or one tenant's); a tenant admin its tenant's; a member may not (403). */
  async listUsers(by: Principal, tenantId: string | undefined, page: PageRequest): Promise<Page<User>> {
    const scoped = scopeTenant(by, tenantId);
    if (by.kind === 'tenant') assertAdministers(by, by.tenantId, "Only the tenant's admins may list its users.");
    const filter = scoped ? { tenantId: scoped } : {};
    return toPage(await this.repo.listUsers(filter, page), page.limit, toUser);
  }

  /**
   * The user `id` as `by` may manage it: not found (404) for an unknown user or one of another
   * tenant (an operator user is no tenant's); forbidden (403) for a member of its tenant.
   */
  private async managed(by: Principal, id: string): Promise<UserRow> {
    const row = await this.repo.getUser(id);
    const visible = row && (by.kind === 'operator' || (row.tenant_id !== null && owns(by, row.tenant_id)));
    if (!row || !visible) throw new AppError('not_found', 'No user has this id.');
    if (row.tenant_id !== null) assertAdministers(by, row.tenant_id, "Only the tenant's admins may manage its users.");
    return row;
  }

  /** Disables or enables a user, or sets its password; either of the first two ends its sessions. */
  async updateUser(by: Principal, id: string, changes: UserChanges): Promise<User> {
    const row = await this.managed(by, id);
    const disabledAt = changes.disabled === undefined ? undefined : changes.disabled ? (row.disabled_at ?? this.clock.now()) : null;
    const passwordHash = changes.password === undefined ? undefined : await hashPassword(changes.password);
    const updated = await this.repo.updateUser(id, {
      ...(disabledAt === undefined ? {} : { disabledAt }),
      ...(passwordHash === undefined ? {} : { passwordHash }),
    });
    if (!updated) throw new AppError('not_found', 'No user has this id.');
    return toUser(updated);
  }

  /** Deletes a user; its sessions end with it. */
  async deleteUser(by: Principal, id: string): Promise<void> {
    await this.managed(by, id);
    if (!(await this.repo.deleteUser(id))) throw new AppError('not_found', 'No user has this id.');
  }

  /** Signs in with a username and password, or a bearer token; answers the cookie value and the session. */
  async signIn(input: { username: string; password: string } | { token: string }): Promise<{ cookie: string; session: SessionView }> {
    const now = this.clock.now();
    const key = 'token' in input ? `token:${hashToken(input.token).slice(0, 16)}` : `user:${input.username.toLowerCase()}`;
    this.throttle.check(key, now.getTime());
    let who: SessionOwner | undefined;
    if ('token' in input) {
      const p = await this.identify(input.token);
      if (p?.kind === 'operator') who = { kind: 'operator', name: p.name, user_id: null, tenant_id: null, api_key_id: null, tenant_admin: false };
      // A session made from an API key has the key's role.
      else if (p?.kind === 'tenant')
        who = { kind: 'tenant', name: 'api-key', user_id: null, tenant_id: p.tenantId, api_key_id: p.apiKeyId ?? null, tenant_admin: p.admin === true };
    } else {
      const user = await this.repo.findUser(input.username);
      const ok = await verifyPassword(input.password, user?.password_hash ?? (await NOBODY));
      if (user && ok && user.disabled_at !== null) {
        // Said only to whoever knows the password.
        throw new AppError('unauthorized', 'This user is disabled; ask an administrator.');
      }
      if (user && ok) who = { kind: user.kind, name: user.username, user_id: user.id, tenant_id: user.tenant_id, api_key_id: null, tenant_admin: user.admin };
    }
    if (!who) {
      this.throttle.failed(key, now.getTime());
      throw new AppError('unauthorized', 'token' in input ? 'The token is not valid.' : 'Wrong username or password.');
    }
    this.throttle.succeeded(key);
    const cookie = newToken('tp_sess_');
    const row: SessionRow = {
      ...who,
      id_hash: hashToken(cookie),
      csrf_token: randomBytes(24).toString('base64url'),
      created_at: now,
      expires_at: new Date(now.getTime() + SESSION_TTL_MS),
    };
    await this.repo.insertSession(row);
    await this.repo.deleteExpiredSessions(now);
    return { cookie, session: viewOf(row) };
  }

  /** The session behind a cookie value, as the authenticator needs it. */
  async sessionOf(idHash: string): Promise<{ principal: Principal; csrfToken: string; view: SessionView } | undefined> {
    const s = await this.repo.findSession(idHash, this.clock.now());
    return s && { principal: principalOf(s), csrfToken: s.csrf_token, view: viewOf(s) };
  }

  async signOut(idHash: string): Promise<void> {
    await this.repo.deleteSession(idHash);
  }
}
