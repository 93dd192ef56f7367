// CSV for downloads (invoices): RFC 4180 quoting, and cells a spreadsheet would run as a formula
// neutralized (OWASP "CSV Injection"): a text cell starting with = + - @, a tab or a carriage
// return gets a leading apostrophe, so it shows as text. Numbers, negative ones included, stay numbers.

const FORMULA_START = /^[=+\-@\t\r]/;
const NUMBER = /^[+-]?\d+(?:\.\d+)?$/;

/** One cell's text, neutralized when a spreadsheet would read it as a formula. */
export function csvCell(value) {
  const text = value === null || value === undefined ? '' : String(value);
  return FORMULA_START.test(text) && !NUMBER.test(text) ? `'${text}` : text;
}

/** The rows as CSV text: every cell quoted, CRLF line ends, a BOM so spreadsheets read UTF-8. */
export function csvText(rows) {
  const quote = (value) => `"${csvCell(value).replace(/"/g, '""')}"`;
  return `\ufeff${rows.map((row) => row.map(quote).join(',')).join('\r\n')}\r\n`;
}
