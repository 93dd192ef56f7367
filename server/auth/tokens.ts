/**
 * Secrets: random tokens recognisable by prefix, stored only as SHA-256 hashes, compared in
 * constant time. Ids are opaque, time-ordered strings.
 */
import { createHash, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';

export const TOKEN_PREFIX = { admin: 'tp_admin_', apiKey: 'tp_key_', agent: 'tp_agent_' } as const;

/** A new secret: the prefix and 32 random bytes in base64url. */
export function newToken(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Compares two hex hashes in constant time. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Makes opaque ids: a prefix, 10 characters of the clock's millisecond time and 16 random ones
 * (base32), so ids made later sort after those made earlier (to the millisecond).
 */
export class IdGenerator {
  // Random bytes drawn from the CSPRNG 4 KiB at a time (one call per 256 ids, as
  // crypto.randomUUID does): a call per id costs more than the rest of an insert's CPU.
  private readonly pool = Buffer.alloc(4096);
  private at = this.pool.length;

  constructor(private readonly clock: Clock) {}

  /** A new id with this prefix, time-stamped now by the clock. */
  next(prefix: string): string {
    let time = '';
    let t = this.clock.now().getTime();
    for (let i = 0; i < 10; i++) {
      time = CROCKFORD[t % 32] + time;
      t = Math.floor(t / 32);
    }
    if (this.at + 16 > this.pool.length) {
      randomFillSync(this.pool);
      this.at = 0;
    }
    let rand = '';
    for (let i = this.at; i < this.at + 16; i++) rand += CROCKFORD[this.pool[i]! % 32];
    this.at += 16;
    return `${prefix}_${time}${rand}`;
  }
}
