import { describe, expect, it } from 'vitest';
import { formatDecimal, formatMoney, formatNumber, formatPercent } from '../src/format';

describe('formatting', () => {
  it('money keeps every digit of its decimal string, grouped per locale', () => {
    expect(formatMoney('11600.00', 'en')).toBe('¥11,600.00');
    expect(formatMoney('11600.00', 'zh-CN')).toBe('¥11,600.00');
    expect(formatMoney('0.012500', 'en')).toBe('¥0.012500');
    expect(formatMoney('7', 'en')).toBe('¥7.00');
    expect(formatMoney('-3.5', 'en')).toBe('-¥3.50');
    // Past what a double holds exactly: no digit is lost.
    expect(formatMoney('12345678901234567890.01', 'en')).toBe('¥12,345,678,901,234,567,890.01');
  });

  it('exact decimals (standard tokens) keep their fraction', () => {
    expect(formatDecimal('1234567.125', 'en')).toBe('1,234,567.125');
    expect(formatDecimal('not a number', 'en')).toBe('not a number');
  });

  it('numbers and shares per locale', () => {
    expect(formatNumber(864000, 'en')).toBe('864,000');
    expect(formatPercent(0.186, 'zh-CN')).toBe('18.6%');
    expect(formatPercent(Number.NaN, 'en')).toBe('0%');
  });
});
