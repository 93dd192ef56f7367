/**
 * How the gateway's served calls become usage events (API.md v2 "Token gateway": one event per
 * request, id the request id), written in batches through UsageService.meter, whose insert is
 * idempotent per cluster and request id, so a batch written twice bills once.
 *
 * With a journal (meter-journal.ts, the default), a call's answer ends as soon as its event is
 * appended to the journal; events wait up to `lingerMs` to share a batch, and a batch that fails is
 * tried again until it is committed. The events of a process that died before committing them are
 * metered again from its journal by the next process on the directory. Without a journal, a call's
 * answer ends only once its event is committed: while a batch is in flight, the events that arrive
 * meanwhile wait and go together in the next (group commit). README "Token gateway", "Metering and
 * crashes".
 */
import { Coalescer } from '../repositories/coalesce.js';
import type { Logger } from '../log.js';
import type { MeteredCall } from '../services/usage.service.js';
import { MeterJournal, type Segment } from './meter-journal.js';

export interface MeteringOptions {
  /** Commits events (UsageService.meter); resolves once they are committed. */
  readonly meter: (calls: readonly MeteredCall[]) => Promise<unknown>;
  /** Where events wait for their commit; none: answers wait for it instead. */
  readonly journal?: MeterJournal | undefined;
  readonly log: Logger;
  /** Pause before an event whose batch failed is tried again, ms; default 2,000. */
  readonly retryMs?: number;
  /** How often the journal directory is searched for segments of processes that are gone, ms; default 60,000. */
  readonly sweepMs?: number;
  /** With a journal: how long an event waits for others to share its batch, ms; default 20. */
  readonly lingerMs?: number;
}

interface Journaled {
  readonly call: MeteredCall;
  readonly segment: Segment;
}

/** Events waiting to be tried again at most; past it, the others wait in the journal for the next process (logged). */
const MAX_RETRYING = 100_000;
/** Events committed per statement at most: a batch of the journal's, or of an orphan segment. */
const MAX_BATCH = 1_000;

export class Metering {
  private readonly batches: Coalescer<MeteredCall, void>;
  private readonly journal: MeterJournal | undefined;
  /** Journaled events waiting for their batch; the timer that sends it. */
  private buffer: Journaled[] = [];
  /** Calls to append to the journal at the end of this turn of the event loop, and their answers' waits. */
  private toJournal: { readonly call: MeteredCall; readonly resolve: () => void; readonly reject: (err: unknown) => void }[] = [];
  private linger: NodeJS.Timeout | undefined;
  /** Batches handed to the database, one after another, and retries waiting for their time. */
  private readonly pending = new Set<Promise<void>>();
  private retrying = 0;
  private lastFailureLog = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private stopped = false;

  constructor(private readonly opts: MeteringOptions) {
    this.journal = opts.journal;
    this.batches = new Coalescer<MeteredCall, void>({
      many: async (calls) => {
        await opts.meter(calls);
        return calls.map(() => undefined);
      },
    });
  }

  /**
   * Meters a served call. Resolves when its answer may end: its event is in the journal, or,
   * without a journal (or when appending to it failed), committed. Rejects only in the latter case,
   * when the commit failed.
   */
  served(call: MeteredCall): Promise<void> {
    if (!this.journal) return this.batches.write(call);
    // The calls that end in one turn of the event loop are journaled in one write.
    return new Promise<void>((resolve, reject) => {
      this.toJournal.push({ call, resolve, reject });
      if (this.toJournal.length === 1) setImmediate(() => this.journalTurn());
    });
  }

  private journalTurn(): void {
    const waiting = this.toJournal;
    this.toJournal = [];
    let segment: Segment | undefined;
    try {
      segment = this.journal!.append(waiting.map((w) => w.call));
    } catch (err) {
      this.opts.log.error('metering journal append failed; these answers wait for their commit', { calls: waiting.length, error: String(err) });
    }
    for (const w of waiting) {
      if (segment) {
        this.commitLater({ call: w.call, segment });
        w.resolve();
      } else this.batches.write(w.call).then(w.resolve, w.reject);
    }
  }

  /** Starts looking for orphan segments now and every `sweepMs`. */
  start(): void {
    if (!this.journal || this.sweeper) return;
    void this.sweep();
    this.sweeper = setInterval(() => void this.sweep(), this.opts.sweepMs ?? 60_000);
    this.sweeper.unref();
  }

  /**
   * Meters again the events of orphan segments (left by processes that are gone) and deletes each
   * segment once its events are committed; answers how many events were read. A sweep in progress
   * is joined, not repeated.
   */
  sweep(): Promise<number> {
    if (!this.journal) return Promise.resolve(0);
    this.sweeping ??= this.replayOrphans().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /**
   * Waits, up to `waitMs`, for the events of the answers this process already ended to be
   * committed, so that a read of usage that follows a call sees it (read-your-writes in one process).
   */
  async settled(waitMs = 2_000): Promise<void> {
    this.flush();
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  /**
   * Stops sweeping, waits (up to `waitMs`) for the events in flight to be committed, and closes the
   * journal; events still not committed then stay in it, for the next process on the directory.
   */
  async stop(waitMs = 10_000): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    const deadline = Date.now() + waitMs;
    while ((this.pending.size > 0 || this.buffer.length > 0) && Date.now() < deadline) await this.settled(deadline - Date.now());
    this.stopped = true;
    await this.sweeping?.catch(() => undefined);
    this.journal?.close();
  }

  /** Adds a journaled event to the next batch, which leaves after `lingerMs` or once full. */
  private commitLater(item: Journaled): void {
    if (this.stopped) return;
    this.buffer.push(item);
    if (this.buffer.length >= MAX_BATCH) this.flush();
    else this.linger ??= setTimeout(() => this.flush(), this.opts.lingerMs ?? 20);
  }

  private flush(): void {
    clearTimeout(this.linger);
    this.linger = undefined;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.track(this.write(batch));
  }

  /** Commits a batch; if it fails, each event alone, so that one bad event holds back only itself. */
  private async write(batch: readonly Journaled[]): Promise<void> {
    try {
      await this.opts.meter(batch.map((j) => j.call));
      for (const j of batch) this.journal!.committed(j.segment);
      return;
    } catch (err) {
      if (batch.length === 1) return this.retryLater(batch[0]!, err);
    }
    for (const j of batch) await this.write([j]);
  }

  private retryLater(item: Journaled, err: unknown): void {
    const now = Date.now();
    if (now - this.lastFailureLog >= (this.opts.retryMs ?? 2_000)) {
      this.lastFailureLog = now;
      this.opts.log.error('metering commit failed; the journal keeps the events and they are tried again', {
        requestId: item.call.requestId,
        retrying: this.retrying + 1,
        error: String(err),
      });
    }
    // Stays in the journal's segment, metered by the next process on the directory.
    if (this.stopped || this.retrying >= MAX_RETRYING) return;
    this.retrying++;
    this.track(
      new Promise<void>((resolve) => {
        setTimeout(() => {
          this.retrying--;
          this.commitLater(item);
          resolve();
        }, this.opts.retryMs ?? 2_000).unref();
      }),
    );
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private async replayOrphans(): Promise<number> {
    let read = 0;
    for (const path of this.journal!.orphans()) {
      try {
        const { calls, unreadable } = MeterJournal.read(path);
        for (let i = 0; i < calls.length; i += MAX_BATCH) await this.opts.meter(calls.slice(i, i + MAX_BATCH));
        MeterJournal.remove(path);
        read += calls.length;
        this.opts.log.info('metered the journal of a process that stopped', { path, events: calls.length, unreadableLines: unreadable });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // another process took it
        this.opts.log.error('metering a stopped process’s journal failed; tried again at the next sweep', { path, error: String(err) });
      }
    }
    return read;
  }
}
