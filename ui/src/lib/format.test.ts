import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatDuration, formatPercent, formatRate, fraction, labelStateText, plural } from './format';

describe('formatting', () => {
  it('counts and shares', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(Number.NaN)).toBe('–');
    expect(formatPercent(0.4321)).toBe('43.2%');
    expect(formatPercent(null)).toBe('–');
    expect(formatPercent(1, 0)).toBe('100%');
  });

  it('durations', () => {
    expect(formatDuration(44.6)).toBe('45 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(7620)).toBe('2 h 07 min');
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(-1)).toBe('–');
  });

  it('rates and sizes', () => {
    expect(formatRate(1234.5, 'files')).toBe('1,235 files/s');
    expect(formatRate(3.25)).toBe('3.3/s');
    expect(formatRate(null)).toBe('–');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });

  it('fractions', () => {
    expect(fraction(5, 10)).toBe(0.5);
    expect(fraction(5, 0)).toBeNull();
    expect(fraction(12, 10)).toBe(1);
    expect(labelStateText('labeled_empty')).toBe('labeled empty');
    expect(plural(1, 'image')).toBe('1 image');
    expect(plural(2000, 'image')).toBe('2,000 images');
  });
});
