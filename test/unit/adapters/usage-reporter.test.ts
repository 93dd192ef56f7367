import { expect } from 'chai';
import type { UsageRequest, UsageResponse } from '../../../adapters/platform-client.js';
import { UsageReporter, type CounterSample } from '../../../adapters/usage-reporter.js';

class FakeClient {
  sent: UsageRequest[] = [];
  failing = false;
  async usage(body: UsageRequest): Promise<UsageResponse> {
    if (this.failing) throw new Error('platform unreachable');
    this.sent.push(body);
    return { accepted: body.events.length, duplicates: 0, rejected: [] };
  }
}

const at = new Date('2026-11-01T00:00:00Z');
const sample = (pod: string, prompt: number, generation: number): CounterSample => ({ pod, workloadId: 'wl-1', promptTokensTotal: prompt, generationTokensTotal: generation });

describe('UsageReporter', () => {
  it('reports counter growth since the previous scrape, per pod, and nothing for a first sight', async () => {
    const client = new FakeClient();
    const r = new UsageReporter({ cluster: 'c1', client });
    r.observe([sample('p1', 100, 10)], at);
    expect(r.queued).to.equal(0);
    r.observe([sample('p1', 400, 110), sample('p2', 5, 5)], at);
    await r.flush();
    expect(client.sent).to.have.length(1);
    expect(client.sent[0]!.events).to.deep.equal([{ id: 'c1:p1:400:110', workloadId: 'wl-1', inputTokens: 300, outputTokens: 100, occurredAt: at.toISOString() }]);
  });

  it('treats a lower counter as a restart: the new value is the growth', () => {
    const r = new UsageReporter({ cluster: 'c1', client: new FakeClient() });
    r.observe([sample('p1', 1000, 100)], at);
    r.observe([sample('p1', 30, 7)], at);
    expect(r.queued).to.equal(1);
  });

  it('keeps events while the platform is unreachable and sends them, with the same ids, when it is back', async () => {
    const client = new FakeClient();
    const r = new UsageReporter({ cluster: 'c1', client, batchSize: 2 });
    r.observe([sample('p1', 0, 0)], at);
    for (let i = 1; i <= 5; i++) r.observe([sample('p1', i * 10, i)], at);
    client.failing = true;
    let failed = false;
    await r.flush().catch(() => (failed = true));
    expect(failed).to.equal(true);
    expect(r.queued).to.equal(5);
    client.failing = false;
    await r.flush();
    expect(r.queued).to.equal(0);
    expect(client.sent.flatMap((b) => b.events.map((e) => e.id))).to.deep.equal(['c1:p1:10:1', 'c1:p1:20:2', 'c1:p1:30:3', 'c1:p1:40:4', 'c1:p1:50:5']);
    expect(client.sent.every((b) => b.events.length <= 2)).to.equal(true);
  });

  it('bounds its queue, dropping the oldest', () => {
    const r = new UsageReporter({ cluster: 'c1', client: new FakeClient(), maxQueued: 3 });
    r.observe([sample('p1', 0, 0)], at);
    for (let i = 1; i <= 5; i++) r.observe([sample('p1', i, i)], at);
    expect(r.stats).to.deep.include({ queued: 3, dropped: 2 });
  });
});
