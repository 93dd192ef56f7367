import { expect } from 'chai';
import { parseTokenCounters, vllmMetricsPage } from '../../../../adapters/kubernetes/prometheus-text.js';

describe('parseTokenCounters', () => {
  const cases: { name: string; text: string; want: ReturnType<typeof parseTokenCounters> }[] = [
    {
      name: 'vLLM: sums the series of each counter, ignores _created and other families',
      text: [
        '# HELP vllm:prompt_tokens_total Number of prefill tokens processed.',
        '# TYPE vllm:prompt_tokens_total counter',
        'vllm:prompt_tokens_total{engine="0",model_name="qwen"} 1200.0',
        'vllm:prompt_tokens_total{engine="1",model_name="qwen"} 800.0',
        'vllm:prompt_tokens_created{engine="0",model_name="qwen"} 1.7e9',
        'vllm:generation_tokens_total{engine="0",model_name="qwen"} 3e2',
        'vllm:num_requests_running{engine="0"} 4',
        'process_start_time_seconds 1764300000.5',
      ].join('\n'),
      want: { engine: 'vllm', promptTokensTotal: 2000, generationTokensTotal: 300, processStartTimeSeconds: 1764300000.5 },
    },
    {
      name: 'SGLang',
      text: 'sglang:prompt_tokens_total{model_name="m"} 10\nsglang:generation_tokens_total{model_name="m"} 5\nsglang:cached_tokens_total{model_name="m"} 3\n',
      want: { engine: 'sglang', promptTokensTotal: 10, generationTokensTotal: 5 },
    },
    {
      name: 'label values with escaped quotes, braces and backslashes; timestamps',
      text: 'vllm:prompt_tokens_total{model_name="a \\"b\\" {c} \\\\"} 7 1764300000000\nvllm:generation_tokens_total{model_name="x\\ny"} 2\n',
      want: { engine: 'vllm', promptTokensTotal: 7, generationTokensTotal: 2 },
    },
    { name: 'no token counters', text: '# TYPE up gauge\nup 1\n', want: undefined },
    { name: 'garbage lines are skipped', text: 'not a metric line at all\n{}\nvllm:prompt_tokens_total NaN\nvllm:prompt_tokens_total 5\n', want: { engine: 'vllm', promptTokensTotal: 5, generationTokensTotal: 0 } },
  ];
  for (const c of cases) {
    it(c.name, () => expect(parseTokenCounters(c.text)).to.deep.equal(c.want));
  }

  it('reads back the page a simulated engine renders', () => {
    expect(parseTokenCounters(vllmMetricsPage('qwen"7b', 123, 45))).to.deep.equal({ engine: 'vllm', promptTokensTotal: 123, generationTokensTotal: 45 });
  });
});
