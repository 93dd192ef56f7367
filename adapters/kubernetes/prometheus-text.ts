/**
 * Token counters from a serving engine's `/metrics` page, in the Prometheus text exposition format
 * 0.0.4 (an OpenMetrics page reads the same way: `# EOF` is a comment, exemplars are ignored).
 *
 * vLLM exposes `vllm:prompt_tokens_total` and `vllm:generation_tokens_total`, one series per
 * `model_name` and `engine` (its `# TYPE` line may name the family without `_total`, so samples
 * are matched by their own name); SGLang, run with `--enable-metrics`, `sglang:prompt_tokens_total`
 * and `sglang:generation_tokens_total`. The series of a counter are summed and rounded to a whole
 * token. `_created` samples, other families, comments and lines that are not samples are ignored,
 * as are values that are not finite and non-negative (NaN, ±Inf). vLLM's counters are read if
 * either is on the page (a missing one counts 0), else SGLang's; a page with neither gives
 * undefined.
 */
export interface TokenCounters {
  readonly engine: 'vllm' | 'sglang';
  readonly promptTokensTotal: number;
  readonly generationTokensTotal: number;
  /** `process_start_time_seconds` of the page, in epoch seconds, if it has one. */
  readonly processStartTimeSeconds?: number;
}

/** One sample line: its metric name, label pairs in page order, value. */
export interface Sample {
  readonly name: string;
  readonly labels: readonly (readonly [name: string, value: string])[];
  readonly value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)$/i;
const TIMESTAMP = /^-?\d+$/;
const UNESCAPE: Readonly<Record<string, string>> = { '\\': '\\', '"': '"', n: '\n' };

/** A sample line of the page, or undefined for a comment, a blank line or anything malformed. */
export function parseSampleLine(line: string): Sample | undefined {
  let rest = line.trim();
  if (rest === '' || rest.startsWith('#')) return undefined;
  const name = NAME.exec(rest)?.[0];
  if (name === undefined) return undefined;
  rest = rest.slice(name.length);
  const labels: [string, string][] = [];
  if (rest.startsWith('{')) {
    rest = rest.slice(1).trimStart();
    while (!rest.startsWith('}')) {
      const label = LABEL_NAME.exec(rest)?.[0];
      if (label === undefined) return undefined;
      rest = rest.slice(label.length).trimStart();
      if (!rest.startsWith('=')) return undefined;
      rest = rest.slice(1).trimStart();
      if (!rest.startsWith('"')) return undefined;
      let value = '';
      let i = 1;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        // Unknown escapes are kept as written, as Prometheus itself does.
        if (rest[i] === '\\' && i + 1 < rest.length) value += UNESCAPE[rest[++i]!] ?? `\\${rest[i]}`;
        else value += rest[i];
      }
      if (i >= rest.length) return undefined;
      labels.push([label, value]);
      rest = rest.slice(i + 1).trimStart();
      if (rest.startsWith(',')) rest = rest.slice(1).trimStart();
      else if (!rest.startsWith('}')) return undefined;
    }
    rest = rest.slice(1);
  }
  if (!/^[ \t]/.test(rest)) return undefined;
  // Value, optional timestamp, and (OpenMetrics) an optional exemplar after `#`.
  const [value, timestamp, ...more] = rest
    .split('#', 1)[0]!
    .trim()
    .split(/[ \t]+/);
  if (value === undefined || !FLOAT.test(value) || more.length > 0) return undefined;
  if (timestamp !== undefined && !TIMESTAMP.test(timestamp)) return undefined;
  const lower = value.toLowerCase().replace(/^\+/, '');
  const number = lower.endsWith('nan') ? NaN : lower.startsWith('inf') ? Infinity : lower.startsWith('-inf') ? -Infinity : Number(value);
  return { name, labels, value: number };
}

/** Sums of the finite, non-negative samples of each metric name on the page. */
export function sampleSums(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    const s = parseSampleLine(line);
    if (s && Number.isFinite(s.value) && s.value >= 0) sums.set(s.name, (sums.get(s.name) ?? 0) + s.value);
  }
  return sums;
}

export function parseTokenCounters(text: string): TokenCounters | undefined {
  const sums = sampleSums(text);
  const start = sums.get('process_start_time_seconds');
  for (const engine of ['vllm', 'sglang'] as const) {
    const prompt = sums.get(`${engine}:prompt_tokens_total`);
    const generation = sums.get(`${engine}:generation_tokens_total`);
    if (prompt === undefined && generation === undefined) continue;
    return {
      engine,
      promptTokensTotal: Math.round(prompt ?? 0),
      generationTokensTotal: Math.round(generation ?? 0),
      ...(start !== undefined ? { processStartTimeSeconds: start } : {}),
    };
  }
  return undefined;
}

/** The page a vLLM engine would show for these totals (the simulated serving pods render it). */
export function vllmMetricsPage(model: string, promptTokensTotal: number, generationTokensTotal: number): string {
  // prometheus_client prints floats; an integer as `12.0`.
  const value = (n: number) => (Number.isInteger(n) ? `${n}.0` : String(n));
  const labels = `{engine="0",model_name="${model.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"}`;
  return [
    '# HELP vllm:prompt_tokens_total Number of prefill tokens processed.',
    '# TYPE vllm:prompt_tokens_total counter',
    `vllm:prompt_tokens_total${labels} ${value(promptTokensTotal)}`,
    '# HELP vllm:generation_tokens_total Number of generation tokens processed.',
    '# TYPE vllm:generation_tokens_total counter',
    `vllm:generation_tokens_total${labels} ${value(generationTokensTotal)}`,
    '',
  ].join('\n');
}
