import { expect } from 'chai';
import { jsonText } from '../../../server/http/json-text.js';

describe('jsonText', () => {
  it('writes bodies without a bigint exactly as JSON.stringify does', () => {
    const cases: unknown[] = [
      { a: 1, b: 'x', c: [1, null, 'y'], d: { e: true } },
      { at: new Date('2026-10-20T00:00:00Z'), gone: undefined, f: () => 1 },
      [undefined, () => 1, 2],
      'text',
      null,
    ];
    for (const c of cases) expect(jsonText(c)).to.equal(JSON.stringify(c));
  });

  it('writes a bigint as the exact JSON integer, anywhere in the body, with the rest as JSON.stringify would', () => {
    const body = {
      inputTokens: 18_000_000_000_000_000_001n,
      at: new Date('2026-10-20T00:00:00Z'),
      gone: undefined,
      'q"uote': 'a"b\u2028',
      byDay: [{ day: '2026-10-20', n: -3n }, undefined],
    };
    const text = jsonText(body);
    expect(text).to.equal(
      `{"inputTokens":18000000000000000001,"at":"2026-10-20T00:00:00.000Z","q\\"uote":${JSON.stringify('a"b\u2028')},"byDay":[{"day":"2026-10-20","n":-3},null]}`,
    );
    expect(JSON.parse(text)).to.deep.include({ at: '2026-10-20T00:00:00.000Z', byDay: [{ day: '2026-10-20', n: -3 }, null] });
  });
});
