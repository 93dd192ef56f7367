/**
 * The signed-in session (GET/POST/DELETE /api/v1/session): one per page, shared by every view.
 * The cookie is HttpOnly; the page keeps only what the API answered (who, and the CSRF token).
 */
import { reactive } from 'vue';
import { api, setCsrfToken, unwrap, type Get } from '@/api/client';

export type Session = Get<'/api/v1/session'>;

export const session = reactive<{ current: Session | null; checked: boolean }>({ current: null, checked: false });

/**
 * Whether this browser signed in and has not signed out: the cookie is HttpOnly, so this flag
 * spares a page that was never signed in a 401 from asking for its session.
 */
const FLAG = 'tokenpool.signedIn';

function keep(s: Session | null): Session | null {
  session.current = s;
  session.checked = true;
  setCsrfToken(s?.csrfToken);
  if (s) localStorage.setItem(FLAG, '1');
  else localStorage.removeItem(FLAG);
  return s;
}

/** The cookie's session, or null when there is none (asked once per page load). */
export async function loadSession(): Promise<Session | null> {
  if (session.checked) return session.current;
  if (!localStorage.getItem(FLAG)) return keep(null);
  const { data, response } = await api.GET('/api/v1/session');
  return keep(response.ok && data ? data : null);
}

export type Credentials = { username: string; password: string } | { token: string };

/** Signs in; throws the ApiError of a refusal. */
export async function signIn(credentials: Credentials): Promise<Session> {
  return keep(await unwrap(api.POST('/api/v1/session', { body: credentials })))!;
}

export async function signOut(): Promise<void> {
  // Plain fetch, its empty body read: openapi-fetch leaves a 204's body unread, which Chromium
  // reports as an aborted request.
  const res = await fetch('/api/v1/session', { method: 'DELETE', credentials: 'same-origin' });
  await res.text();
  keep(null);
}

/** Forgets the session (the server said 401). */
export function dropSession(): void {
  keep(null);
}
