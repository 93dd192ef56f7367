/**
 * The metering journal: a served call's usage event appended to a file of this process before the
 * call's answer ends, so that an answer a client received whole is billed even if the process dies
 * before the event's batch reached the database (README "Token gateway", "Metering and crashes").
 *
 * A journal is a directory of segment files, one JSON event per line, named after the host, the
 * process and this journal's instance, so that each process (and each app in one process) writes
 * its own. Appends are synchronous writes: once `append` returns, the event is in the operating
 * system's page cache, which outlives the process (a crash, `kill -9`, an out-of-memory kill), not
 * the machine. A segment is deleted once all of its events are committed; the one being written
 * is replaced after {@link SEGMENT_EVENTS} events or {@link SEGMENT_MS}.
 *
 * Segments left by a process that is gone (same host, process not running, or this process with
 * another instance) are orphans: their events are metered again by whoever finds them, which
 * bills nothing twice (usage events are idempotent per cluster and request id) and loses nothing
 * (an event is deleted only with its whole segment, after it was committed).
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { MeteredCall } from '../services/usage.service.js';

/** Events in one segment before the next is started. */
export const SEGMENT_EVENTS = 20_000;
/** Age of a segment, in ms, after which the next append starts another. */
export const SEGMENT_MS = 10_000;

const PREFIX = 'meter-';
const SUFFIX = '.jsonl';

/** Journal instances open in this process, by instance id: their segments are not orphans. */
const live = new Set<string>();

/** A segment file being written or waiting for its events to be committed. */
export interface Segment {
  readonly path: string;
  /** Events appended and not yet committed. */
  pending: number;
}

interface SegmentState extends Segment {
  fd: number | undefined;
  events: number;
  readonly startedAt: number;
}

/** A segment's name, in parts: `meter-<host>-<pid>-<instance>-<seq>.jsonl` (the host may contain dashes). */
function parseName(name: string): { host: string; pid: number; instance: string } | undefined {
  if (!name.startsWith(PREFIX) || !name.endsWith(SUFFIX)) return undefined;
  const parts = name.slice(PREFIX.length, -SUFFIX.length).split('-');
  if (parts.length < 4) return undefined;
  const instance = parts[parts.length - 2]!;
  const pid = Number(parts[parts.length - 3]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { host: parts.slice(0, -3).join('-'), pid, instance };
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One event as its journal line. */
function lineOf(call: MeteredCall): string {
  return `${JSON.stringify({ ...call, occurredAt: call.occurredAt.getTime() })}\n`;
}

/** The events of a segment's text; a line cut short by a crash in the middle of a write is skipped (its answer never ended). */
export function parseSegment(text: string): { calls: MeteredCall[]; unreadable: number } {
  const calls: MeteredCall[] = [];
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const e = JSON.parse(line) as MeteredCall & { occurredAt: number };
      if (typeof e.requestId !== 'string' || typeof e.clusterId !== 'string' || typeof e.occurredAt !== 'number') throw new Error('not an event');
      calls.push({ ...e, occurredAt: new Date(e.occurredAt) });
    } catch {
      unreadable++;
    }
  }
  return { calls, unreadable };
}

export class MeterJournal {
  private readonly host = hostname().replace(/[^A-Za-z0-9.]/g, '_');
  private readonly instance = randomBytes(6).toString('hex');
  private seq = 0;
  private current: SegmentState | undefined;
  private readonly segments = new Set<SegmentState>();
  private closed = false;

  /** Opens (creating it if needed) the journal directory `dir`; throws when it cannot be written. */
  constructor(
    readonly dir: string,
    private readonly now: () => number = Date.now,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    live.add(this.instance);
    // Proves the directory writable now, not at the first call.
    this.rotate();
  }

  /** Appends the events of `calls` in one write; once this returns they outlive the process. Throws on a write error (a full disk). */
  append(calls: readonly MeteredCall[]): Segment {
    if (this.closed) throw new Error('the metering journal is closed');
    let segment = this.current;
    if (!segment || segment.events >= SEGMENT_EVENTS || this.now() - segment.startedAt >= SEGMENT_MS) segment = this.rotate();
    const lines = Buffer.from(calls.map(lineOf).join(''));
    let written = 0;
    while (written < lines.length) written += writeSync(segment.fd!, lines, written);
    segment.events += calls.length;
    segment.pending += calls.length;
    return segment;
  }

  /** One event of `segment` was committed to the database. */
  committed(segment: Segment): void {
    const s = segment as SegmentState;
    s.pending--;
    if (s.pending <= 0 && s !== this.current) this.drop(s);
  }

  /** Segments of this journal still holding events that were not committed (for tests and shutdown). */
  get uncommitted(): number {
    let n = 0;
    for (const s of this.segments) n += s.pending;
    return n;
  }

  /** Segment files in the directory left by journals that are gone (see the module's comment). */
  orphans(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const name of names) {
      const owner = parseName(name);
      if (!owner || owner.host !== this.host) continue;
      const gone = owner.pid === process.pid ? !live.has(owner.instance) : !running(owner.pid);
      if (gone) out.push(join(this.dir, name));
    }
    return out.sort();
  }

  /** Reads an orphan segment's events. */
  static read(path: string): { calls: MeteredCall[]; unreadable: number } {
    return parseSegment(readFileSync(path, 'utf8'));
  }

  /** Deletes an orphan segment whose events were committed (another process may have done it first). */
  static remove(path: string): void {
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /**
   * Stops appending. Segments whose events were all committed are deleted; any others stay, to be
   * metered again as orphans by the next journal on this directory.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const last = this.current;
    this.current = undefined;
    for (const s of [...this.segments]) {
      if (s.pending <= 0) this.drop(s);
      else if (s === last && s.fd !== undefined) {
        closeSync(s.fd);
        s.fd = undefined;
      }
    }
    live.delete(this.instance);
  }

  private rotate(): SegmentState {
    const previous = this.current;
    const path = join(this.dir, `${PREFIX}${this.host}-${process.pid}-${this.instance}-${String(this.seq++).padStart(6, '0')}${SUFFIX}`);
    const segment: SegmentState = { path, fd: openSync(path, 'a', 0o600), events: 0, pending: 0, startedAt: this.now() };
    this.segments.add(segment);
    this.current = segment;
    if (previous) {
      closeSync(previous.fd!);
      previous.fd = undefined;
      if (previous.pending <= 0) this.drop(previous);
    }
    return segment;
  }

  private drop(s: SegmentState): void {
    if (s.fd !== undefined) {
      closeSync(s.fd);
      s.fd = undefined;
    }
    this.segments.delete(s);
    try {
      MeterJournal.remove(s.path);
    } catch {
      // Left behind, it is metered again as an orphan one day: its events are committed, so nothing is billed twice.
    }
  }
}
