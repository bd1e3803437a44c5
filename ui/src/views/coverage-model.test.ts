import { describe, expect, it } from 'vitest';
import type { CoverageRow } from '../lib/dto';
import { catalogFilterFor, chartLayout, gapLevel, groupByKey, niceMax, parseTargetPercent, ticks } from './coverage-model';

const row = (key: string, value: string, pool_share: number, labeled_share: number, target_share: number, over: Partial<CoverageRow> = {}): CoverageRow => ({
  key,
  value,
  pool: 100,
  labeled: 10,
  pool_share,
  labeled_share,
  target_share,
  target_is_pool: false,
  gap: 0,
  low_confidence_rate: null,
  mean_confidence: null,
  ...over,
});

describe('coverage charts', () => {
  it('groups rows by key in the backend’s order', () => {
    const g = groupByKey([row('camera', 'A', 0.6, 0.5, 0.6), row('camera', 'B', 0.4, 0.5, 0.4), row('light', 'day', 0.9, 1, 0.9)]);
    expect(g.map((x) => [x.key, x.rows.map((r) => r.value)])).toEqual([
      ['camera', ['A', 'B']],
      ['light', ['day']],
    ]);
  });

  it('picks a round axis end at or above the largest share', () => {
    expect(niceMax(0)).toBe(0.1);
    expect(niceMax(0.008)).toBe(0.01);
    expect(niceMax(0.07)).toBe(0.1);
    expect(niceMax(0.1)).toBe(0.1);
    expect(niceMax(0.23)).toBe(0.25);
    expect(niceMax(0.43)).toBe(0.5);
    expect(niceMax(0.51)).toBe(1);
    expect(ticks(0.5)).toEqual([0, 0.125, 0.25, 0.375, 0.5]);
  });

  it('scales every bar of a key to the same axis', () => {
    const rows = [row('time_of_day', 'day', 0.4, 0.2, 0.3), row('time_of_day', 'night', 0.1, 0, 0.25)];
    const c = chartLayout(rows, { width: 460, labelWidth: 100, bar: 10, barGap: 2, rowGap: 8, axis: 20, gapWidth: 0 });
    expect(c.max).toBe(0.5);
    expect(c.plotWidth).toBe(352);
    const day = c.rows[0]!;
    expect(day.bars.map((b) => [b.kind, b.x, b.y, Math.round(b.width)])).toEqual([
      ['pool', 100, 20, 282],
      ['labeled', 100, 32, 141],
      ['target', 100, 44, 211],
    ]);
    expect(c.rows[1]!.y).toBe(20 + 34 + 8);
    expect(c.rows[1]!.bars[1]!.width).toBe(0);
    expect(c.height).toBe(20 + 2 * (34 + 8));
    expect(c.ticks.at(-1)).toEqual({ share: 0.5, x: 452 });
    expect(c.gapX).toBe(456);
    expect(chartLayout(rows, { width: 460, labelWidth: 100, bar: 10, barGap: 2, rowGap: 8, axis: 20, gapWidth: 52 }).plotWidth).toBe(300);
  });

  it('parses a target typed as a percentage', () => {
    expect(parseTargetPercent('25')).toEqual({ share: 0.25 });
    expect(parseTargetPercent(' 12.5 % ')).toEqual({ share: 0.125 });
    expect(parseTargetPercent('')).toEqual({ share: null });
    expect(parseTargetPercent('120')).toHaveProperty('error');
    expect(parseTargetPercent('lots')).toHaveProperty('error');
  });

  it('lists the images of any bar by its condition', () => {
    expect(catalogFilterFor('camera', 'Canon EOS 40D').filters).toEqual({ condition_key: 'camera', condition_value: 'Canon EOS 40D', status: 'ok' });
    expect(catalogFilterFor('weather', 'fog_haze').filters).toEqual({ condition_key: 'weather', condition_value: 'fog_haze', status: 'ok' });
    expect(catalogFilterFor('weather', 'fog_haze').note).toContain('weather is fog_haze');
  });

  it('grades gaps', () => {
    expect(gapLevel(0)).toBe('ok');
    expect(gapLevel(0.3)).toBe('some');
    expect(gapLevel(1)).toBe('large');
  });
});
