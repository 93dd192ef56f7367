/**
 * "A tenant sees only its own": the one rule for whose data a principal may see or change.
 * The operator sees every tenant's; a tenant only its own; an agent (or an anonymous caller) no
 * tenant's. What belongs to another tenant is answered as not found, never as forbidden, so that
 * its existence is not revealed (API.md "Conventions"). Services ask here instead of comparing
 * tenant ids themselves.
 */
import { AppError } from '../errors.js';
import type { Principal } from './authenticate.js';

/** The tenant a principal is, when it is one (an API key or a tenant user's session). */
export function ownTenant(principal: Principal): string | undefined {
  return principal.kind === 'tenant' ? principal.tenantId : undefined;
}

/** Whether `principal` may see what tenant `tenantId` owns. */
export function owns(principal: Principal, tenantId: string): boolean {
  return principal.kind === 'operator' || (principal.kind === 'tenant' && principal.tenantId === tenantId);
}

/** Throws not found (with `notFound` as its detail) unless `principal` may see what `tenantId` owns. */
export function assertOwns(principal: Principal, tenantId: string, notFound: string): void {
  if (!owns(principal, tenantId)) throw new AppError('not_found', notFound);
}

/**
 * The tenant a list or report is limited to: a tenant's own, whatever it asked for; the one the
 * operator names, or undefined for every tenant. Other principals see no tenant's data (403).
 */
export function scopeTenant(principal: Principal, requested: string | undefined): string | undefined {
  if (principal.kind === 'tenant') return principal.tenantId;
  if (principal.kind === 'operator') return requested;
  throw new AppError('forbidden', `This is not for ${principal.kind} credentials.`);
}

/**
 * Throws forbidden (with `message`) unless `principal` administers tenant `tenantId`: the
 * operator, or an admin user of that tenant (a session signed in with one of its API keys is one).
 */
export function assertAdministers(principal: Principal, tenantId: string, message: string): void {
  if (principal.kind === 'operator') return;
  if (principal.kind === 'tenant' && principal.tenantId === tenantId && principal.admin === true) return;
  throw new AppError('forbidden', message);
}
