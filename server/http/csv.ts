/**
 * CSV downloads, with the UI's rules (ui/src/csv.ts; test/unit/csv.test.ts holds both to one table): RFC 4180 quoting of every cell, CRLF line
 * ends after a UTF-8 BOM, and cells a spreadsheet would run as a formula neutralized (OWASP "CSV
 * Injection"): a text cell starting with = + - @, a tab or a carriage return gets a leading
 * apostrophe. Numbers, negative ones included, stay numbers.
 */

const FORMULA_START = /^[=+\-@\t\r]/;
const NUMBER = /^[+-]?\d+(?:\.\d+)?$/;

/** What a cell may hold. */
export type CsvValue = string | number | bigint | boolean | null | undefined;

/** One cell's text, neutralized when a spreadsheet would read it as a formula. */
export function csvCell(value: CsvValue): string {
  const text = value === null || value === undefined ? '' : String(value);
  return FORMULA_START.test(text) && !NUMBER.test(text) ? `'${text}` : text;
}

/** The rows as CSV text: every cell quoted, CRLF line ends, a BOM so spreadsheets read UTF-8. */
export function csvText(rows: readonly (readonly CsvValue[])[]): string {
  const quote = (value: CsvValue): string => `"${csvCell(value).replace(/"/g, '""')}"`;
  return `\ufeff${rows.map((row) => row.map(quote).join(',')).join('\r\n')}\r\n`;
}
