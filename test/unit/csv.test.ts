import { expect } from 'chai';

interface CsvModule {
  readonly csvCell: (value: unknown) => string;
  readonly csvText: (rows: unknown[][]) => string;
}
// The UI's module (CSV made in the page: invoices, statements) and the server's (settlement report
// downloads): one set of rules, held by one table.
const modules: readonly (readonly [string, CsvModule])[] = [
  ['CSV made in the page (ui/src/csv.ts)', (await import('../../ui/src/csv.js')) as CsvModule],
  ['server CSV downloads (server/http/csv.ts)', (await import('../../server/http/csv.js')) as CsvModule],
];

for (const [name, { csvCell, csvText }] of modules)
  describe(name, () => {
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

    it('quotes every cell, doubles quotes, ends lines with CRLF after a BOM', () => {
      expect(
        csvText([
          ['a"b', '=1'],
          ['-5', 'x'],
        ]),
      ).to.equal('\ufeff"a""b","\'=1"\r\n"-5","x"\r\n');
    });
  });
