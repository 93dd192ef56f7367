/**
 * Fair sharing between tenants of one priority (after Kueue's fair sharing and Slurm's decayed
 * usage): the tenant with the lowest share is served next.
 */
import type { TenantSnap } from './framework/types.js';

/**
 * Standard tokens per minute that one unit of fair-share weight stands for, for tenants without a
 * quota: a tenant of weight 2 and no quota is entitled to as much as one of weight 1 with a
 * 2,000,000 std/min quota.
 */
export const FAIR_SHARE_UNIT_STD_PER_MIN = 1_000_000;

/**
 * The exponentially decayed average of a tenant's held standard tokens per minute, advanced by
 * `elapsedMs` during which the tenant held `heldStdPerMin`:
 *
 *     d = 2^(−elapsedMs ÷ halfLifeMs)
 *     decayed = previous × d + heldStdPerMin × (1 − d)
 *
 * so a constant holding converges to itself and past holding loses half its weight every
 * half-life. Exact composition: advancing by a then by b (same held) equals advancing by a + b.
 *
 * Edge cases: `elapsedMs ≤ 0` (or NaN) answers `previous` unchanged; `halfLifeMs ≤ 0` (no memory)
 * or an infinite `elapsedMs` answers `heldStdPerMin`; a non-finite or negative `previous` counts as 0.
 */
export function decayUsage(previous: number, elapsedMs: number, halfLifeMs: number, heldStdPerMin: number): number {
  const prev = Number.isFinite(previous) && previous > 0 ? previous : 0;
  if (!(elapsedMs > 0)) return prev;
  if (!(halfLifeMs > 0) || elapsedMs === Infinity) return heldStdPerMin;
  const d = Math.pow(2, -elapsedMs / halfLifeMs);
  return prev * d + heldStdPerMin * (1 - d);
}

/**
 * A tenant's share: `(heldStdPerMin + decayedStdPerMin) ÷ entitlement`, the entitlement being
 * `weight × maxStdPerMin` when the tenant has a quota, else `weight × FAIR_SHARE_UNIT_STD_PER_MIN`.
 * Lower is served first, so at equal use a tenant of weight 2 is served before one of weight 1
 * until it uses twice as much. `heldMicro` is the tenant's held standard tokens per minute in
 * millionths (as the cycle updates it). A tenant with no entitlement (quota or weight ≤ 0) has
 * share +∞ (0 when it holds nothing). An unknown tenant (undefined) counts as weight 1 with no
 * quota and no past usage.
 */
export function tenantShare(tenant: TenantSnap | undefined, heldMicro: number): number {
  const decayed = tenant !== undefined && tenant.decayedStdPerMin > 0 ? tenant.decayedStdPerMin : 0;
  const used = heldMicro / 1_000_000 + decayed;
  const entitlement = tenant === undefined ? FAIR_SHARE_UNIT_STD_PER_MIN : tenant.weight * (tenant.maxStdPerMin ?? FAIR_SHARE_UNIT_STD_PER_MIN);
  if (!(entitlement > 0)) return used > 0 ? Infinity : 0;
  return used / entitlement;
}
