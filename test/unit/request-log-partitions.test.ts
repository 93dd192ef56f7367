import { expect } from 'chai';
import { monthPartition } from '../../server/repositories/requests.repository.js';

describe('request log partitions', () => {
  const cases: readonly { at: string; offset: number; name: string; from: string; to: string }[] = [
    { at: '2026-10-20T02:00:00Z', offset: 0, name: 'request_log_y2026m10', from: '2026-10-01T00:00:00.000Z', to: '2026-11-01T00:00:00.000Z' },
    { at: '2026-12-31T23:59:59.999Z', offset: 0, name: 'request_log_y2026m12', from: '2026-12-01T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' },
    { at: '2026-12-31T23:59:59.999Z', offset: 1, name: 'request_log_y2027m01', from: '2027-01-01T00:00:00.000Z', to: '2027-02-01T00:00:00.000Z' },
    { at: '2026-11-30T20:00:00Z', offset: 2, name: 'request_log_y2027m01', from: '2027-01-01T00:00:00.000Z', to: '2027-02-01T00:00:00.000Z' },
    // UTC months: the first hours of a month in Asia/Shanghai are still the month before.
    { at: '2026-11-01T07:00:00+08:00', offset: 0, name: 'request_log_y2026m10', from: '2026-10-01T00:00:00.000Z', to: '2026-11-01T00:00:00.000Z' },
  ];
  for (const c of cases) {
    it(`${c.at} + ${c.offset} months is ${c.name}`, () => {
      const p = monthPartition(new Date(c.at), c.offset);
      expect({ name: p.name, from: p.from.toISOString(), to: p.to.toISOString() }).to.deep.equal({ name: c.name, from: c.from, to: c.to });
    });
  }
});
