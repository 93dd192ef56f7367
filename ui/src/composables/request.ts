/**
 * Loading and error state around one request: every view shows `loading` and `error` (an ApiError
 * with the problem's detail and field errors) through <RequestState>.
 */
import { onScopeDispose, ref, shallowRef, type Ref, type ShallowRef } from 'vue';
import { ApiError } from '@/api/client';

export interface Request<T> {
  readonly data: ShallowRef<T | undefined>;
  readonly error: ShallowRef<ApiError | undefined>;
  readonly loading: Ref<boolean>;
  /** Runs the request again; a run that a newer one overtook is dropped. */
  run(): Promise<void>;
}

/** `fn` run now (unless `immediate` is false) and on every `run()`. */
export function useRequest<T>(fn: () => Promise<T>, options: { immediate?: boolean } = {}): Request<T> {
  const data = shallowRef<T>();
  const error = shallowRef<ApiError>();
  const loading = ref(false);
  let seq = 0;
  const run = async () => {
    const mine = ++seq;
    loading.value = true;
    try {
      const value = await fn();
      if (mine !== seq) return;
      data.value = value;
      error.value = undefined;
    } catch (e) {
      if (mine !== seq) return;
      error.value = e instanceof ApiError ? e : new ApiError(0, e instanceof Error ? e.message : String(e));
    } finally {
      if (mine === seq) loading.value = false;
    }
  };
  if (options.immediate !== false) void run();
  return { data, error, loading, run };
}

/**
 * Calls `fn` every `ms` milliseconds while the page is visible (and once at once); stops with the
 * component. Answers a function that stops it earlier.
 */
export function usePoll(fn: () => unknown, ms: number): () => void {
  let timer: ReturnType<typeof setInterval> | undefined;
  const tick = () => {
    if (typeof document === 'undefined' || document.visibilityState !== 'hidden') void fn();
  };
  tick();
  timer = setInterval(tick, ms);
  const stop = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
  onScopeDispose(stop);
  return stop;
}
