/** Typed shorthands for the bodies and lists the operator's platform views send and read. */
import { unwrap, type paths } from '@/api/client';
import type { Page } from '@/composables/cursor-pages';

/** The JSON body a `M` request to `P` takes. */
export type Body<P extends keyof paths, M extends 'post' | 'patch' | 'put'> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

/** The query parameters GET `P` takes. */
export type Query<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } } ? NonNullable<Q> : never;

/** A row of a table: any list item with an id. */
export type Row = Record<string, unknown> & { id: string };

/** A typed page as the rows a generic table shows. */
export async function rows<T extends { id: string }>(
  call: Promise<{ data?: { items: T[]; nextCursor: string | null }; error?: unknown; response: Response }>,
): Promise<Page<Row>> {
  const page = await unwrap(call);
  return { items: page.items as unknown as Row[], nextCursor: page.nextCursor };
}

/** A list page's query: at most 50, from a cursor. */
export const pageQuery = (cursor: string | undefined, limit = '50') => ({ limit, ...(cursor ? { cursor } : {}) });

/** An empty answer (204), its body read to the end (Chromium reports a body left unread as an aborted request). */
export async function noContent(call: Promise<{ response: Response; error?: unknown }>): Promise<void> {
  await unwrap(
    call.then(async (a) => {
      if (!a.response.bodyUsed) await a.response.text().catch(() => '');
      return a;
    }),
  );
}
