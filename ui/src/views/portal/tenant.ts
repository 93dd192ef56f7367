/** What the portal's views share: the signed-in tenant's id and role, and the catalog's model names. */
import { computed } from 'vue';
import { api, toApiError, unwrap } from '@/api/client';
import { allPages } from '@/composables/cursor-pages';
import { session } from '@/composables/session';

/** The signed-in tenant's id ('' before the session is known). */
export const tenantId = computed(() => session.current?.tenantId ?? '');
/** Whether the caller is one of the tenant's admins (manages keys, users, budget); the API enforces it, the UI hides what it cannot do. */
export const isAdmin = computed(() => session.current?.admin === true);

/** Every model of the catalog (name, cost factors). */
export const listModels = () => allPages((cursor) => unwrap(api.GET('/api/v1/models', { params: { query: { limit: '200', ...(cursor ? { cursor } : {}) } } })));

/** A cursor page's query: its size and, after the first, its cursor. */
export const pageQuery = (cursor: string | undefined, limit = 50) => ({ limit: String(limit), ...(cursor ? { cursor } : {}) });

/** Every API key of the signed-in tenant (revoked ones too). */
export const listKeys = () =>
  allPages((cursor) => unwrap(api.GET('/api/v1/tenants/{id}/api-keys', { params: { path: { id: tenantId.value }, query: pageQuery(cursor, 200) } })));

/**
 * DELETE of a path answered 204, as a plain fetch with the session's CSRF token and its empty body
 * read (openapi-fetch leaves a 204's body unread, which Chromium reports as aborted); throws the
 * problem as an ApiError.
 */
export async function deleteNoContent(path: string): Promise<void> {
  const res = await fetch(path, {
    method: 'DELETE',
    credentials: 'same-origin',
    headers: session.current ? { 'x-csrf-token': session.current.csrfToken } : {},
  });
  const text = await res.text();
  if (!res.ok) throw toApiError(res.status, text ? (JSON.parse(text) as unknown) : undefined);
}
