/**
 * Sign-in for people: operator and tenant users with passwords (scrypt, passwords.ts), and sign-in
 * with a bearer token (the admin token or a tenant API key) for scripted and first-time access. A
 * sign-in makes a session: a random cookie value (only its hash is stored), a CSRF token, and an
 * expiry.
 *
 * Failed sign-ins are counted in the database, per name (or token) and per client address, so
 * that every process and replica sees the same counts: after NAME_BACK_OFF.free failures for a
 * name, or ADDRESS_BACK_OFF.free from an address, the next attempt must wait, twice as long after
 * each further failure, up to 15 minutes (429 with `Retry-After`). A back-off, never a lock-out:
 * once the wait is over a right password signs in, and clears the name's count. A throttled
 * attempt is refused before any hashing.
 *
 * Users are managed by the operator (any user) and by a tenant's admins (that tenant's users):
 * listed, disabled, deleted, their password reset. Disabling, deleting or resetting the password
 * ends the user's sessions at once (sessions are read from the database on every request).
 */
import { randomBytes } from 'node:crypto';
import type { Principal } from '../auth/authenticate.js';
import { hashingGate, hashPassword, needsRehash, nobodyHash, verifyPassword } from '../auth/passwords.js';
import { hashToken, newToken, type IdGenerator } from '../auth/tokens.js';
import type { Clock } from '../clock.js';
import { AppError, rateLimited } from '../errors.js';
import type { AccountsRepository, BackOff, SessionRow, UserRow } from '../repositories/accounts.repository.js';
import { toPage, type Page, type PageRequest } from '../repositories/paging.js';
import type { TenantsRepository } from '../repositories/tenants.repository.js';
import { assertAdministers, owns, scopeTenant } from '../auth/policy.js';

/** Failed sign-ins for one name (or token) before attempts must wait. */
export const NAME_BACK_OFF: BackOff = { free: 5, baseMs: 1000, capMs: 15 * 60_000 };
/** From one client address (a /64 for IPv6): more, as an office behind one address shares it. */
export const ADDRESS_BACK_OFF: BackOff = { free: 20, baseMs: 1000, capMs: 15 * 60_000 };
/** A key with no failure for this long is forgotten (its count starts again) and pruned. */
export const FORGET_FAILURES_MS = 24 * 3600_000;

/**
 * The throttle key of a client address: IPv4 as is (also when mapped into IPv6), IPv6 by its /64,
 * the block one client usually holds whole.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return `addr:${mapped[1]}`;
  if (!address.includes(':')) return `addr:${address}`;
  const [head = '', tail] = address.split('%')[0]!.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `addr:${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

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
export class AccountsService {
  // Verified against when a name is unknown: the same cost, and the same place in the gate.
  private readonly nobody = nobodyHash();

  constructor(
    private readonly repo: AccountsRepository,
    private readonly tenants: TenantsRepository,
    private readonly identify: (token: string) => Promise<Principal | undefined>,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    /** Bounds the password hashes this process computes at once. */
    private readonly gate = hashingGate(),
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
      password_hash: await hashPassword(this.gate, input.password),
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
    const passwordHash = changes.password === undefined ? undefined : await hashPassword(this.gate, changes.password);
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

  /**
   * Signs in with a username and password, or a bearer token, from the client `address` (its
   * socket's); answers the cookie value and the session. Throttled (429) while the name or the
   * address must wait, before any hashing.
   */
  async signIn(input: { username: string; password: string } | { token: string }, address?: string): Promise<{ cookie: string; session: SessionView }> {
    const now = this.clock.now();
    const nameKey = 'token' in input ? `token:${hashToken(input.token).slice(0, 16)}` : `user:${input.username.toLowerCase()}`;
    const addrKey = address === undefined ? undefined : addressKey(address);
    const keys = addrKey ? [nameKey, addrKey] : [nameKey];
    await this.checkThrottle(keys, now);
    let who: SessionOwner | undefined;
    if ('token' in input) {
      const p = await this.identify(input.token);
      if (p?.kind === 'operator') who = { kind: 'operator', name: p.name, user_id: null, tenant_id: null, api_key_id: null, tenant_admin: false };
      // A session made from an API key has the key's role.
      else if (p?.kind === 'tenant')
        who = { kind: 'tenant', name: 'api-key', user_id: null, tenant_id: p.tenantId, api_key_id: p.apiKeyId ?? null, tenant_admin: p.admin === true };
    } else {
      const user = await this.repo.findUser(input.username);
      // Checked again once hashing may start, and a failure counted before the slot passes on: a
      // burst of attempts that all passed the first check must not all be tried once a wait is set.
      const ok = await verifyPassword(this.gate, input.password, user?.password_hash ?? this.nobody, {
        admit: () => this.checkThrottle(keys, this.clock.now()),
        settle: async (match) => {
          if (!(user && match)) await this.failed(nameKey, addrKey, now);
        },
      });
      if (user && ok && user.disabled_at !== null) {
        // Said only to whoever knows the password.
        throw new AppError('unauthorized', 'This user is disabled; ask an administrator.');
      }
      if (user && ok) {
        who = { kind: user.kind, name: user.username, user_id: user.id, tenant_id: user.tenant_id, api_key_id: null, tenant_admin: user.admin };
        if (needsRehash(user.password_hash)) await this.rehash(user, input.password);
      }
    }
    if (!who) {
      if ('token' in input) await this.failed(nameKey, addrKey, now);
      throw new AppError('unauthorized', 'token' in input ? 'The token is not valid.' : 'Wrong username or password.');
    }
    // The name's count only: an address's is not cleared by one account it knows the password of.
    await this.repo.clearFailures(nameKey);
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

  /** Counts a failed sign-in against the name and the address, and prunes forgotten counts. */
  private async failed(nameKey: string, addrKey: string | undefined, now: Date): Promise<void> {
    const forgetBefore = new Date(now.getTime() - FORGET_FAILURES_MS);
    await this.repo.recordFailure(nameKey, now, forgetBefore, NAME_BACK_OFF);
    if (addrKey) await this.repo.recordFailure(addrKey, now, forgetBefore, ADDRESS_BACK_OFF);
    await this.repo.pruneFailures(forgetBefore);
  }

  /** Refuses (429 with `Retry-After`) while any of `keys` must wait. */
  private async checkThrottle(keys: readonly string[], now: Date): Promise<void> {
    const until = await this.repo.blockedUntil(keys, now);
    if (!until) return;
    const seconds = Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));
    throw rateLimited(`Too many failed sign-ins; try again in ${seconds} s.`, seconds);
  }

  /** Replaces a hash made with older parameters; when the gate is full, the next sign-in does it. */
  private async rehash(user: UserRow, password: string): Promise<void> {
    let stronger: string;
    try {
      stronger = await hashPassword(this.gate, password);
    } catch (err) {
      if (err instanceof AppError && err.kind === 'rate_limited') return;
      throw err;
    }
    await this.repo.rehashPassword(user.id, user.password_hash, stronger);
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
