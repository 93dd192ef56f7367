/**
 * Token counters from a serving engine's `/metrics` page (Prometheus text format 0.0.4).
 *
 * vLLM exposes `vllm:prompt_tokens_total` and `vllm:generation_tokens_total` (one series per
 * `model_name` and `engine`); SGLang, run with `--enable-metrics`, `sglang:prompt_tokens_total`
 * and `sglang:generation_tokens_total`. Series of a counter are summed; `_created` samples and
 * everything else on the page are ignored. A page without either engine's counters gives
 * undefined.
 */
export interface TokenCounters {
  readonly engine: 'vllm' | 'sglang';
  readonly promptTokensTotal: number;
  readonly generationTokensTotal: number;
  readonly processStartTimeSeconds?: number;
}

/** Sample lines: a metric name, optional `{labels}` (quoted values may hold escaped `"` and `}`), a value. */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)/;

function sampleValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** Sums of every sample per metric name on the page. */
export function sampleSums(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const value = sampleValue(m[2]!);
    if (!Number.isFinite(value)) continue;
    sums.set(m[1]!, (sums.get(m[1]!) ?? 0) + value);
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
  const labels = `{engine="0",model_name="${model.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"}`;
  return [
    '# HELP vllm:prompt_tokens_total Number of prefill tokens processed.',
    '# TYPE vllm:prompt_tokens_total counter',
    `vllm:prompt_tokens_total${labels} ${promptTokensTotal}.0`,
    '# HELP vllm:generation_tokens_total Number of generation tokens processed.',
    '# TYPE vllm:generation_tokens_total counter',
    `vllm:generation_tokens_total${labels} ${generationTokensTotal}.0`,
    '',
  ].join('\n');
}
