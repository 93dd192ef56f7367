/**
 * Password hashes: scrypt at the parameters OWASP's Password Storage Cheat Sheet gives (N=2^17,
 * r=8, p=1: 128 MiB and a few hundred milliseconds per hash), stored as
 * `scrypt$N$r$p$salt$key`. Hashes made with other parameters still verify, and `needsRehash`
 * says when one should be replaced. Every hash and verify goes through a hashing gate (server/gate.ts):
 * a few at once per process, a bounded queue behind them, and a refusal beyond, so that a flood
 * of sign-ins (random names included) cannot take the CPU or the memory.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { rateLimited } from '../errors.js';
import { createGate } from '../gate.js';

/** The parameters new hashes are made with. */
export const SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const;
// scrypt needs 128·N·r·p bytes; room for the largest stored hash accepted below.
const MAXMEM = 256 * 1024 * 1024;
const MAX_N = 2 ** 17;
const MAX_RP = 16;

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((done, fail) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? fail(err) : done(key))));
}

interface Parsed {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

function parse(stored: string): Parsed | undefined {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  if (scheme !== 'scrypt' || !salt || !key) return undefined;
  // Only parameters this process can afford; a hash outside them (never written by this code) matches nothing.
  if (!Number.isInteger(N) || N < 2 || N > MAX_N || (N & (N - 1)) !== 0) return undefined;
  if (!Number.isInteger(R) || !Number.isInteger(P) || R < 1 || P < 1 || R * P > MAX_RP) return undefined;
  return { N, r: R, p: P, salt: Buffer.from(salt, 'base64url'), key: Buffer.from(key, 'base64url') };
}

/** Whether a stored hash was made with other parameters than SCRYPT's (and should be replaced). */
export function needsRehash(stored: string): boolean {
  const h = parse(stored);
  return !h || h.N !== SCRYPT.N || h.r !== SCRYPT.r || h.p !== SCRYPT.p;
}

/** Runs password hashes a bounded number at a time. */
export interface HashingGate {
  /** Runs `work` in a slot; past the queue, refused at once with 429 and `Retry-After`. */
  run<T>(work: () => Promise<T>): Promise<T>;
}

/** At most `concurrency` hashes computed at once, `queue` more waiting; a further one is refused. */
export function hashingGate(concurrency = 2, queue = 16): HashingGate {
  const gate = createGate({ concurrency, queue });
  const refused = (): Error => rateLimited('Too many sign-ins at once; try again in a moment.', 1);
  return { run: (work) => gate.run(work, refused) };
}

/** Hashes with SCRYPT's parameters and a fresh salt, through `gate`. */
export function hashPassword(gate: HashingGate, password: string): Promise<string> {
  return gate.run(async () => {
    const salt = randomBytes(16);
    const key = await scrypt(password, salt, 32, { ...SCRYPT, maxmem: MAXMEM });
    return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  });
}

/** What runs in a verify's gate slot besides the hash itself. */
export interface VerifyHooks {
  /** Just before hashing; may throw to refuse after all (an attempt whose name came to be throttled while it queued). */
  readonly admit?: () => Promise<void>;
  /** With the answer, before the slot passes on (a failure recorded before the next attempt is admitted). */
  readonly settle?: (ok: boolean) => Promise<void>;
}

/** Whether `password` matches `stored`, through `gate`; false for a hash this code cannot read. */
export function verifyPassword(gate: HashingGate, password: string, stored: string, hooks: VerifyHooks = {}): Promise<boolean> {
  const h = parse(stored);
  return gate.run(async () => {
    await hooks.admit?.();
    let ok = false;
    if (h && h.key.length > 0) ok = timingSafeEqual(await scrypt(password, h.salt, h.key.length, { N: h.N, r: h.r, p: h.p, maxmem: MAXMEM }), h.key);
    await hooks.settle?.(ok);
    return ok;
  });
}

/**
 * A hash at SCRYPT's parameters of no one's password, to verify against when a name is unknown so
 * that the answer costs the same time (and the same place in the gate) as for a known one.
 */
export function nobodyHash(): string {
  const salt = randomBytes(16).toString('base64url');
  const key = randomBytes(32).toString('base64url');
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt}$${key}`;
}
