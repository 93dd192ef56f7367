/**
 * What the usage reporter owes, kept outside the agent process so that a restart neither loses
 * usage nor counts it twice: each pod's counter baseline and the events not yet acknowledged by the
 * platform (their ids unchanged, so a re-send is a duplicate the platform dedupes).
 *
 * A store holds one text. The Kubernetes agent keeps it in a ConfigMap
 * (kubernetes/configmap-state-store.ts), an agent with a volume in a file ({@link FileStateStore}),
 * the simulated city in memory ({@link MemoryStateStore}).
 */
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { UsageEvent } from './platform-client.js';

/** Where a usage reporter keeps its state. */
export interface UsageStateStore {
  /** Bytes (UTF-8) the saved text may have at most; the reporter keeps its state below this. */
  readonly maxBytes: number;
  /** The saved text, or undefined when none was ever saved. Throws when the store cannot be read now. */
  load(): Promise<string | undefined>;
  /** Replaces the saved text. Throws when it was not written (then the previous text stays). */
  save(text: string): Promise<void>;
}

/** A saved baseline: `[placementId, pod, incarnation, prompt, generation, restarts, seenAtMs]`. */
export type SavedBaseline = readonly [string, string, string | null, number, number, number, number];

/** The reporter's state as saved (format version 1). */
export interface UsageState {
  readonly version: 1;
  /** The cluster id the event ids begin with; a state of another cluster is not used. */
  readonly cluster: string;
  /** The reporter's first scrape (epoch ms): pods started after it are reported from zero. */
  readonly firstScrapeAt: number | null;
  readonly baselines: readonly SavedBaseline[];
  /** Events not yet acknowledged, oldest first. */
  readonly queue: readonly UsageEvent[];
}

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const stateSchema = z
  .object({
    version: z.literal(1),
    cluster: z.string().min(1),
    firstScrapeAt: count.nullable(),
    baselines: z.array(z.tuple([z.string(), z.string(), z.string().nullable(), count, count, count, count])),
    queue: z.array(
      z.object({
        id: z.string().min(1),
        workloadId: z.string().min(1),
        inputTokens: count,
        outputTokens: count,
        occurredAt: z.string().min(1),
      }),
    ),
  })
  .strip();

/** The state as the text a store keeps. */
export function serializeUsageState(state: UsageState): string {
  return JSON.stringify(state);
}

/** The state in `text`; throws {@link UnreadableStateError} when it is not one. */
export function parseUsageState(text: string): UsageState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UnreadableStateError(`not JSON: ${(err as Error).message}`);
  }
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UnreadableStateError(`not a usage state: ${issue.path.join('.') || '(root)'} ${issue.message}`);
  }
  return parsed.data;
}

/** The saved text exists but is not a usage state (corrupt, edited by hand, or a newer format). */
export class UnreadableStateError extends Error {}

/** The text is larger than the store can keep. */
export class StateTooLargeError extends Error {}

export function checkSize(text: string, maxBytes: number): void {
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) throw new StateTooLargeError(`the usage state has ${bytes} bytes, more than the ${maxBytes} its store keeps`);
}

/** Keeps the text in memory: the simulated city, and tests. */
export class MemoryStateStore implements UsageStateStore {
  readonly maxBytes: number;
  text: string | undefined;
  /** Saves so far. */
  saves = 0;

  constructor(opts: { maxBytes?: number; text?: string } = {}) {
    this.maxBytes = opts.maxBytes ?? 1 << 20;
    this.text = opts.text;
  }

  async load(): Promise<string | undefined> {
    return this.text;
  }

  async save(text: string): Promise<void> {
    checkSize(text, this.maxBytes);
    this.text = text;
    this.saves += 1;
  }
}

/**
 * Keeps the text in a file (a small volume mounted into the agent's pod). Each save writes a
 * temporary file beside it, flushes it to disk and renames it over the old one, so a crash leaves
 * either the old text or the new, never half of one.
 */
export class FileStateStore implements UsageStateStore {
  readonly maxBytes: number;
  readonly path: string;

  /** `maxBytes`: default 8 MiB. */
  constructor(path: string, opts: { maxBytes?: number } = {}) {
    this.path = path;
    this.maxBytes = opts.maxBytes ?? 8 << 20;
  }

  /** Makes the file's directory, and checks that the file can be read and the directory written. */
  async prepare(): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true });
      await access(dirname(this.path), constants.W_OK);
      await this.load();
    } catch (err) {
      throw new Error(`cannot keep unsent usage in ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  async load(): Promise<string | undefined> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async save(text: string): Promise<void> {
    checkSize(text, this.maxBytes);
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    const file = await open(tmp, 'w', 0o600);
    try {
      await file.writeFile(text, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, this.path);
    // The rename itself must reach the disk too.
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
