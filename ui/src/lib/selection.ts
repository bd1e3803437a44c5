// Multi-select over positions in a list that may hold a million items: the selection is kept
// as sorted, disjoint half-open ranges of positions, so "everything from here to there" costs
// one range whatever its length. Click, Ctrl-click and Shift-click behave as in file managers.

/** `[start, end)`: positions start..end-1. */
export type Range = readonly [number, number];

export interface PointerMods {
  shift: boolean;
  /** Ctrl, or Cmd on macOS. */
  ctrl: boolean;
}

/** Sorted, merged copy of `ranges` (empty ranges dropped). */
export function normalize(ranges: readonly Range[]): Range[] {
  const sorted = ranges.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

export function union(a: readonly Range[], b: readonly Range[]): Range[] {
  return normalize([...a, ...b]);
}

/** `ranges` without position `i`. */
export function without(ranges: readonly Range[], i: number): Range[] {
  const out: Range[] = [];
  for (const [a, b] of ranges) {
    if (i < a || i >= b) out.push([a, b]);
    else {
      if (a < i) out.push([a, i]);
      if (i + 1 < b) out.push([i + 1, b]);
    }
  }
  return out;
}

export function contains(ranges: readonly Range[], i: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = ranges[mid]!;
    if (i < a) hi = mid - 1;
    else if (i >= b) lo = mid + 1;
    else return true;
  }
  return false;
}

export function size(ranges: readonly Range[]): number {
  let n = 0;
  for (const [a, b] of ranges) n += b - a;
  return n;
}

export interface SelectionState {
  ranges: Range[];
  /** Where the last plain or Ctrl click was: Shift-click extends from here. */
  anchor: number | null;
  /** The selection as it was when the anchor was set (Ctrl-Shift-click adds to it). */
  base: Range[];
}

export const EMPTY_SELECTION: SelectionState = { ranges: [], anchor: null, base: [] };

/**
 * The selection after a click on position `i`:
 * - click: only `i`;
 * - Ctrl-click: `i` toggled, the rest kept;
 * - Shift-click: anchor..i only;
 * - Ctrl-Shift-click: anchor..i added to what was selected when the anchor was set.
 */
export function clickSelect(s: SelectionState, i: number, mods: PointerMods): SelectionState {
  if (mods.shift && s.anchor !== null) {
    const span: Range = [Math.min(s.anchor, i), Math.max(s.anchor, i) + 1];
    return { ...s, ranges: mods.ctrl ? union(s.base, [span]) : [span] };
  }
  if (mods.ctrl) {
    const ranges = contains(s.ranges, i) ? without(s.ranges, i) : union(s.ranges, [[i, i + 1]]);
    return { ranges, anchor: i, base: ranges };
  }
  return { ranges: [[i, i + 1]], anchor: i, base: [] };
}

export function selectAll(count: number): SelectionState {
  return count > 0 ? { ranges: [[0, count]], anchor: 0, base: [] } : EMPTY_SELECTION;
}

/** The first `max` selected positions, in order. */
export function positions(ranges: readonly Range[], max = Infinity): number[] {
  const out: number[] = [];
  for (const [a, b] of ranges) {
    for (let i = a; i < b && out.length < max; i++) out.push(i);
    if (out.length >= max) break;
  }
  return out;
}
