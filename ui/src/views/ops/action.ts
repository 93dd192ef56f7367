/** A change made from a button (make default, disable a user, rescale…): busy while it runs, its problem kept for RequestState. */
import { ref, shallowRef } from 'vue';
import { ApiError } from '@/api/client';

export function useAction() {
  const error = shallowRef<ApiError>();
  /** What runs now (a row's id, say); '' when nothing does. */
  const busy = ref('');
  /** Runs `fn`, then `after` (a reload) when it succeeded. */
  async function run(fn: () => Promise<unknown>, after?: () => unknown, what = '*'): Promise<boolean> {
    busy.value = what;
    try {
      await fn();
      error.value = undefined;
      await after?.();
      return true;
    } catch (e) {
      error.value = e instanceof ApiError ? e : new ApiError(0, e instanceof Error ? e.message : String(e));
      return false;
    } finally {
      busy.value = '';
    }
  }
  return { error, busy, run };
}
