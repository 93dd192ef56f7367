/** What the portal's views share: the signed-in tenant's id and role, and the catalog's model names. */
import { computed } from 'vue';
import { api, unwrap } from '@/api/client';
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
