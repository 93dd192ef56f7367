/**
 * Coalesces writes that arrive together into one statement, as a database's group commit does:
 * while a statement is in flight, the writes that arrive meanwhile wait and go together in the
 * next one. Under load, many requests share one round trip instead of one each; a lone request
 * waits only for the end of its event-loop turn.
 *
 * If the batch statement fails, each item is written on its own, so one bad item fails only its
 * own request.
 */
export interface CoalesceOptions<I, O> {
  /** Writes all items at once; answers one result per item, in order. */
  readonly many: (items: readonly I[]) => Promise<O[]>;
  /** Writes one item (alone, or after the batch failed); default: `many` with that item. */
  readonly one?: (item: I) => Promise<O>;
  /** Most items in one statement; default 500. */
  readonly maxBatch?: number;
}

interface Waiting<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (error: unknown) => void;
}

export class Coalescer<I, O> {
  private queue: Waiting<I, O>[] = [];
  private scheduled = false;
  private inFlight = 0;

  private readonly one: (item: I) => Promise<O>;

  constructor(private readonly opts: CoalesceOptions<I, O>) {
    this.one = opts.one ?? (async (item) => (await opts.many([item]))[0]!);
  }

  write(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.inFlight > 0) return; // the statement in flight flushes when it is done
    const max = this.opts.maxBatch ?? 500;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, max);
      this.inFlight++;
      void this.run(batch).finally(() => {
        if (--this.inFlight === 0 && this.queue.length > 0) this.flush();
      });
    }
  }

  private async run(batch: readonly Waiting<I, O>[]): Promise<void> {
    if (batch.length === 1) {
      await this.one(batch[0]!.item).then(batch[0]!.resolve, batch[0]!.reject);
      return;
    }
    let results: O[];
    try {
      results = await this.opts.many(batch.map((w) => w.item));
    } catch {
      await Promise.all(batch.map((w) => this.one(w.item).then(w.resolve, w.reject)));
      return;
    }
    batch.forEach((w, i) => w.resolve(results[i]!));
  }
}
