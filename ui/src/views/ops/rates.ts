/** Rates as people read them. */

/** A VAT rate as a decimal string ("0.06") as its percentage ("6"), exactly (no floats). */
export function ratePercent(rate: string): string {
  const [i = '0', f = ''] = rate.split('.');
  const padded = f.padEnd(2, '0');
  const rest = padded.slice(2).replace(/0+$/, '');
  return `${BigInt(i + padded.slice(0, 2)).toString()}${rest ? `.${rest}` : ''}`;
}
