/** A serving engine's metrics page (vLLM's token counters) on a loopback port, with counters a test advances. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { vllmMetricsPage } from '../adapters/kubernetes/prometheus-text.js';

export class FakeVllmMetrics {
  prompt: number;
  generation: number;
  /** What `grow` added: the usage a test expects billed. */
  readonly grown = { input: 0, output: 0 };
  port = 0;
  private server: Server | undefined;

  /** Counters it starts with: tokens served before any agent saw the engine. */
  constructor(prompt = 0, generation = 0) {
    this.prompt = prompt;
    this.generation = generation;
  }

  /** `http://127.0.0.1:<port>/metrics`, once started. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/metrics`;
  }

  grow(input: number, output: number): void {
    this.prompt += input;
    this.generation += output;
    this.grown.input += input;
    this.grown.output += output;
  }

  async start(): Promise<void> {
    this.server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(vllmMetricsPage('qwen2.5-7b-instruct', this.prompt, this.generation));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
