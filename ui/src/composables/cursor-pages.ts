/**
 * A table that pages through a list endpoint's cursors (`{ items, nextCursor }`): forward with the
 * answer's nextCursor, back through the cursors already seen. `filters` change: back to page one.
 */
import { computed, ref, shallowRef, watch, type WatchSource } from 'vue';
import { ApiError } from '@/api/client';

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export function useCursorPages<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, filters?: WatchSource) {
  const items = shallowRef<T[]>([]);
  const error = shallowRef<ApiError>();
  const loading = ref(false);
  /** cursors[i]: the cursor that fetched page i (undefined for the first). */
  const cursors = ref<(string | undefined)[]>([undefined]);
  const index = ref(0);
  const nextCursor = ref<string | null>(null);
  let seq = 0;

  async function load(i: number): Promise<void> {
    const mine = ++seq;
    loading.value = true;
    try {
      const page = await fetchPage(cursors.value[i]);
      if (mine !== seq) return;
      items.value = page.items;
      nextCursor.value = page.nextCursor;
      index.value = i;
      if (page.nextCursor !== null) cursors.value[i + 1] = page.nextCursor;
      error.value = undefined;
    } catch (e) {
      if (mine !== seq) return;
      error.value = e instanceof ApiError ? e : new ApiError(0, String(e));
    } finally {
      if (mine === seq) loading.value = false;
    }
  }

  const reset = () => {
    cursors.value = [undefined];
    return load(0);
  };
  if (filters) watch(filters, reset, { deep: true });
  void load(0);

  return {
    items,
    error,
    loading,
    page: computed(() => index.value + 1),
    hasPrev: computed(() => index.value > 0),
    hasNext: computed(() => nextCursor.value !== null),
    next: () => (nextCursor.value !== null ? load(index.value + 1) : Promise.resolve()),
    prev: () => (index.value > 0 ? load(index.value - 1) : Promise.resolve()),
    reload: () => load(index.value),
    reset,
  };
}

/** Every item of a list endpoint, following its cursors (for small lists: clusters, tenants). */
export async function allPages<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, max = 20): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < max; i++) {
    const page = await fetchPage(cursor);
    out.push(...page.items);
    if (page.nextCursor === null) break;
    cursor = page.nextCursor;
  }
  return out;
}
