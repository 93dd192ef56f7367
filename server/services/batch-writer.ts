/**
 * Entries written to the database in batches that nobody waits for (the audit log, the request
 * log): an entry waits up to `lingerMs` for others, a full batch goes at once, and a stream of
 * entries costs one statement per linger with no promise per entry. Batches are written one after
 * another; if one fails, each of its entries is tried alone, so that one bad entry loses only itself.
 */
export interface BatchWriterOptions<T> {
  /** Writes a batch in one statement. */
  readonly write: (batch: readonly T[]) => Promise<unknown>;
  readonly lingerMs: number;
  /** Entries that make a batch go without waiting for the linger. */
  readonly maxBatch: number;
  /** Told of entries that could not be written (logged and counted: never the caller's error). */
  readonly failed: (count: number, err: unknown) => void;
}

export class BatchWriter<T> {
  /** Entries added and not yet handed to the database, in the order added. */
  private buffer: T[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The writes handed to the database, one after another; settles when the last has. */
  private written: Promise<void> = Promise.resolve();

  constructor(private readonly opts: BatchWriterOptions<T>) {}

  /** Adds an entry to the next batch. Never waits, never throws. */
  add(entry: T): void {
    this.buffer.push(entry);
    if (this.buffer.length >= this.opts.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.opts.lingerMs);
  }

  /** Waits for the entries already added to be written (or to have failed). */
  async settled(): Promise<void> {
    this.flush();
    await this.written;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.written = this.written.then(async () => {
      try {
        await this.opts.write(batch);
      } catch {
        for (const entry of batch) await this.opts.write([entry]).catch((err: unknown) => this.opts.failed(1, err));
      }
    });
  }
}
