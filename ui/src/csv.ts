/**
 * CSV made in the page (an invoice's lines, the statements listed), with the server's rules
 * (server/http/csv.ts; test/unit/csv.test.ts holds both to one table): every cell quoted, CRLF
 * line ends after a BOM so spreadsheets read UTF-8, and a text cell a spreadsheet would run as a
 * formula (starting with = + - @, a tab or a carriage return) neutralized with a leading
 * apostrophe (OWASP "CSV Injection"); numbers, negative ones too, stay numbers.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const NUMBER = /^[+-]?\d+(?:\.\d+)?$/;

export type CsvValue = string | number | null | undefined;

/** One cell's text, neutralized when a spreadsheet would read it as a formula. */
export function csvCell(value: CsvValue): string {
  const text = value === null || value === undefined ? '' : String(value);
  return FORMULA_START.test(text) && !NUMBER.test(text) ? `'${text}` : text;
}

/** The rows as CSV text. */
export function csvText(rows: readonly (readonly CsvValue[])[]): string {
  const quote = (v: CsvValue) => `"${csvCell(v).replace(/"/g, '""')}"`;
  return `\ufeff${rows.map((r) => r.map(quote).join(',')).join('\r\n')}\r\n`;
}
