// The coverage charts without the DOM: rows grouped by condition key, a share axis that fits
// the largest share of the key, bar geometry for plain SVG, target input parsing, and which
// catalog filter lists a bar's images.

import type { CoverageRow } from '../lib/dto';
import { type CatalogFilters, conditionFilters } from './catalog-model';

export type BarKind = 'pool' | 'labeled' | 'target';
export const BAR_KINDS: readonly BarKind[] = ['pool', 'labeled', 'target'];

export interface KeyGroup {
  key: string;
  rows: CoverageRow[];
}

/** Rows by key, keys and rows in the backend's order (by key, then largest pool first). */
export function groupByKey(rows: readonly CoverageRow[]): KeyGroup[] {
  const groups: KeyGroup[] = [];
  for (const r of rows) {
    let g = groups[groups.length - 1];
    if (!g || g.key !== r.key) {
      g = groups.find((x) => x.key === r.key);
      if (!g) {
        g = { key: r.key, rows: [] };
        groups.push(g);
      }
    }
    g.rows.push(r);
  }
  return groups;
}

/** The axis end for shares up to `v`: a round number at or above it, at most 1. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 0.1;
  if (v >= 1) return 1;
  const steps = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1];
  for (const s of steps) if (v <= s) return s;
  return 1;
}

/** Ticks from 0 to `max`, four or five of them. */
export function ticks(max: number): number[] {
  const step = max / 4;
  return [0, 1, 2, 3, 4].map((k) => Math.round(k * step * 10_000) / 10_000);
}

export function shareOf(row: CoverageRow, kind: BarKind): number {
  return kind === 'pool' ? row.pool_share : kind === 'labeled' ? row.labeled_share : row.target_share;
}

export interface ChartOptions {
  width: number;
  labelWidth: number;
  /** Height of one bar. */
  bar: number;
  /** Space between the bars of one value. */
  barGap: number;
  /** Space between values. */
  rowGap: number;
  /** Space for the axis at the top. */
  axis: number;
  /** Column on the right for the gap. */
  gapWidth: number;
}

export const CHART: ChartOptions = { width: 620, labelWidth: 150, bar: 9, barGap: 1, rowGap: 10, axis: 22, gapWidth: 64 };

export interface BarRect {
  kind: BarKind;
  x: number;
  y: number;
  width: number;
  height: number;
  share: number;
}

export interface RowLayout {
  row: CoverageRow;
  /** Top of the row's bars. */
  y: number;
  /** Middle of the row (for its label). */
  labelY: number;
  bars: BarRect[];
}

export interface ChartLayout {
  width: number;
  height: number;
  max: number;
  ticks: Array<{ share: number; x: number }>;
  rows: RowLayout[];
  /** Share → x. */
  x0: number;
  plotWidth: number;
  /** Where the gap column's text ends. */
  gapX: number;
}

/** Where every bar of one key's chart goes. */
export function chartLayout(rows: readonly CoverageRow[], o: ChartOptions = CHART): ChartLayout {
  const max = niceMax(Math.max(0, ...rows.flatMap((r) => BAR_KINDS.map((k) => shareOf(r, k)))));
  const x0 = o.labelWidth;
  const plotWidth = Math.max(1, o.width - o.labelWidth - o.gapWidth - 8);
  const scale = (s: number) => (Math.min(Math.max(0, s), max) / max) * plotWidth;
  const rowHeight = BAR_KINDS.length * o.bar + (BAR_KINDS.length - 1) * o.barGap;
  const out: RowLayout[] = rows.map((row, i) => {
    const y = o.axis + i * (rowHeight + o.rowGap);
    return {
      row,
      y,
      labelY: y + rowHeight / 2,
      bars: BAR_KINDS.map((kind, k) => ({ kind, x: x0, y: y + k * (o.bar + o.barGap), width: scale(shareOf(row, kind)), height: o.bar, share: shareOf(row, kind) })),
    };
  });
  return {
    width: o.width,
    height: o.axis + rows.length * (rowHeight + o.rowGap),
    max,
    ticks: ticks(max).map((share) => ({ share, x: x0 + scale(share) })),
    rows: out,
    x0,
    plotWidth,
    gapX: o.width - 4,
  };
}

/**
 * What the catalog lists for a bar: the present images whose effective value of `key` (the
 * most trusted source's) is `value`, the same images the bar's pool counts.
 */
export function catalogFilterFor(key: string, value: string): { filters: CatalogFilters; note: string } {
  return { filters: conditionFilters(key, value), note: `From coverage: the present images whose ${key} is ${value} (the most trusted source’s value).` };
}

/**
 * A target typed as a percentage ("25", "25%", "12.5 %") → a share 0..1; empty → null (clear
 * the target); anything else → an error message.
 */
export function parseTargetPercent(text: string): { share: number | null } | { error: string } {
  const t = text.trim().replace(/%$/, '').trim();
  if (t === '') return { share: null };
  const v = Number(t);
  if (!Number.isFinite(v) || v < 0 || v > 100) return { error: 'A target is a percentage from 0 to 100 (empty: no target).' };
  return { share: v / 100 };
}

/** How urgent a gap is, for colouring. */
export function gapLevel(gap: number): 'ok' | 'some' | 'large' {
  return gap <= 0.1 ? 'ok' : gap <= 0.5 ? 'some' : 'large';
}
