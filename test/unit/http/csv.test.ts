import { expect } from 'chai';

import { csvCell, csvText } from '../../../server/http/csv.js';

describe('server CSV downloads (http/csv.ts)', () => {
  it('neutralizes every cell a spreadsheet would run as a formula', () => {
    for (const attack of ['=HYPERLINK("http://x","y")', '+1+cmd|" /C calc"!A0', '-2+3', '@SUM(A1:A9)', '\t=1', '\r=1']) {
      expect(csvCell(attack), attack).to.equal(`'${attack}`);
    }
  });

  it('keeps numbers, negative ones included, and plain text as they are', () => {
    for (const value of ['-12.50', '+3', '11600.00', '0.012500', 'gov-standard: fee', 'a=b', '']) {
      expect(csvCell(value), value).to.equal(value);
    }
    expect(csvCell(42)).to.equal('42');
    expect(csvCell(null)).to.equal('');
  });

  it('quotes every cell, doubles quotes, ends lines with CRLF after a BOM (as the console does)', () => {
    expect(
      csvText([
        ['a"b', '=1'],
        ['-5', 'x'],
      ]),
    ).to.equal('\ufeff"a""b","\'=1"\r\n"-5","x"\r\n');
  });
});
