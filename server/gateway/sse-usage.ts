/**
 * Reading an OpenAI server-sent-event stream as it passes through the gateway: the `usage` of the
 * last chunk that carries one, the number of content chunks (the fallback count when a stream ends
 * without usage), and, for a client that did not ask for usage, withholding the usage-only chunk
 * the gateway asked the engine for. Events may be split anywhere across network chunks.
 */

/** Token counts as the serving engine reported them. */
export interface EngineUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** OpenAI's `usage` object ({ prompt_tokens, completion_tokens, total_tokens }) read strictly; undefined when absent or malformed. */
export function usageFromJson(usage: unknown): EngineUsage | undefined {
  if (typeof usage !== 'object' || usage === null) return undefined;
  const u = usage as Record<string, unknown>;
  const prompt = u.prompt_tokens;
  // Embeddings answers carry no completion_tokens.
  const completion = u.completion_tokens ?? 0;
  if (!isCount(prompt) || !isCount(completion)) return undefined;
  const total = isCount(u.total_tokens) ? u.total_tokens : prompt + completion;
  return { promptTokens: prompt, completionTokens: completion, totalTokens: total };
}

/** A chunk with generated text in it (chat delta content, completion text, tool-call arguments), as a string test: parsing every chunk costs. */
const CONTENT = /"(?:content|text|arguments|reasoning_content)"\s*:\s*"(?!")/;
/** A chunk with a non-null usage object; only these are parsed. */
const USAGE = /"usage"\s*:\s*\{/;
/** The longest event read; longer ones are forwarded unread. */
const MAX_EVENT_BYTES = 1024 * 1024;
const LF = 0x0a;
const CR = 0x0d;

export interface SseUsageTapOptions {
  /**
   * Drop the usage-only chunk (`choices: []` with `usage`) from what is forwarded: the client did not
   * ask for usage, the gateway did. Forwarding then goes by whole events (a partial event waits for
   * its end); otherwise every network chunk is forwarded as it came.
   */
  readonly withholdUsage: boolean;
}

export class SseUsageTap {
  readonly #withhold: boolean;
  #pending: Buffer = Buffer.alloc(0);
  #usage: EngineUsage | undefined;
  #contentChunks = 0;
  #done = false;

  constructor(options: SseUsageTapOptions) {
    this.#withhold = options.withholdUsage;
  }

  /** The usage of the last chunk that carried one, if any has passed. */
  get usage(): EngineUsage | undefined {
    return this.#usage;
  }

  /** Chunks with generated content that have passed. */
  get contentChunks(): number {
    return this.#contentChunks;
  }

  /** `data: [DONE]` has passed. */
  get done(): boolean {
    return this.#done;
  }

  /** Takes the next bytes of the upstream body; answers the bytes to forward to the client now (possibly none). */
  push(chunk: Buffer): Buffer {
    const data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const kept: Buffer[] = [];
    let start = 0;
    let withheld = false;
    // A boundary may straddle the previous chunk's end: look back as far as one can reach.
    let i = Math.max(0, this.#pending.length - 3);
    for (; i < data.length; i++) {
      if (data[i] !== LF) continue;
      const end = data[i + 1] === LF ? i + 2 : data[i + 1] === CR && data[i + 2] === LF ? i + 3 : -1;
      if (end < 0) continue;
      if (this.#event(data.toString('utf8', start, i)) && this.#withhold) {
        withheld = true;
      } else if (this.#withhold) {
        kept.push(data.subarray(start, end));
      }
      start = end;
      i = end - 1;
    }
    this.#pending = data.subarray(start);
    if (this.#pending.length > MAX_EVENT_BYTES) {
      // No chunk is this long: rather than hold it without bound, pass it on unread.
      if (this.#withhold) kept.push(this.#pending);
      start = data.length;
      this.#pending = Buffer.alloc(0);
    }
    if (!this.#withhold) return chunk;
    if (!withheld) return data.subarray(0, start);
    return kept.length === 1 ? kept[0]! : Buffer.concat(kept);
  }

  /** The upstream body ended: answers what is left to forward (an unterminated last event, as it came). */
  end(): Buffer {
    const rest = this.#pending;
    this.#pending = Buffer.alloc(0);
    return this.#withhold ? rest : Buffer.alloc(0);
  }

  /** Reads one whole event; answers whether it is the usage-only chunk. */
  #event(text: string): boolean {
    let data = '';
    if (text.startsWith('data: ') && !text.includes('\n')) {
      // The usual event, one `data:` line: read without splitting.
      data = text.endsWith('\r') ? text.slice(6, -1) : text.slice(6);
    } else {
      for (const line of text.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const value = line.charCodeAt(5) === 0x20 ? line.slice(6) : line.slice(5);
        data = data === '' ? value.replace(/\r$/, '') : `${data}\n${value.replace(/\r$/, '')}`;
      }
    }
    if (data === '') return false;
    if (data === '[DONE]') {
      this.#done = true;
      return false;
    }
    if (CONTENT.test(data)) this.#contentChunks += 1;
    if (!USAGE.test(data)) return false;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return false;
    }
    const chunk = parsed as { usage?: unknown; choices?: unknown };
    const usage = usageFromJson(chunk.usage);
    if (usage) this.#usage = usage;
    return usage !== undefined && Array.isArray(chunk.choices) && chunk.choices.length === 0;
  }
}
