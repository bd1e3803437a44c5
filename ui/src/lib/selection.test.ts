import { describe, expect, it } from 'vitest';
import { clickSelect, contains, EMPTY_SELECTION, normalize, positions, selectAll, size, without } from './selection';

const plain = { shift: false, ctrl: false };
const ctrl = { shift: false, ctrl: true };
const shift = { shift: true, ctrl: false };
const both = { shift: true, ctrl: true };

describe('ranges', () => {
  it('merge, split and search', () => {
    expect(normalize([[5, 7], [0, 2], [2, 3], [6, 9], [4, 4]])).toEqual([[0, 3], [5, 9]]);
    expect(without([[0, 5]], 2)).toEqual([[0, 2], [3, 5]]);
    expect(without([[0, 1]], 0)).toEqual([]);
    const r = normalize([[0, 3], [10, 20], [1_000_000, 1_000_001]]);
    expect(contains(r, 15)).toBe(true);
    expect(contains(r, 3)).toBe(false);
    expect(contains(r, 1_000_000)).toBe(true);
    expect(size(r)).toBe(14);
    expect(positions(r, 5)).toEqual([0, 1, 2, 10, 11]);
  });
});

describe('click selection', () => {
  it('click selects one, shift-click a range from the anchor, either way', () => {
    let s = clickSelect(EMPTY_SELECTION, 5, plain);
    expect(s.ranges).toEqual([[5, 6]]);
    s = clickSelect(s, 8, shift);
    expect(s.ranges).toEqual([[5, 9]]);
    s = clickSelect(s, 2, shift);
    expect(s.ranges).toEqual([[2, 6]]);
  });

  it('ctrl-click toggles and moves the anchor', () => {
    let s = clickSelect(EMPTY_SELECTION, 1, plain);
    s = clickSelect(s, 4, ctrl);
    expect(s.ranges).toEqual([[1, 2], [4, 5]]);
    s = clickSelect(s, 1, ctrl);
    expect(s.ranges).toEqual([[4, 5]]);
    expect(s.anchor).toBe(1);
  });

  it('ctrl-shift-click adds a range to what was selected', () => {
    let s = clickSelect(EMPTY_SELECTION, 0, plain);
    s = clickSelect(s, 10, ctrl);
    s = clickSelect(s, 13, both);
    expect(s.ranges).toEqual([[0, 1], [10, 14]]);
    // Another ctrl-shift-click from the same anchor replaces the added range.
    s = clickSelect(s, 11, both);
    expect(s.ranges).toEqual([[0, 1], [10, 12]]);
    // Plain shift-click keeps only the range.
    s = clickSelect(s, 12, shift);
    expect(s.ranges).toEqual([[10, 13]]);
  });

  it('shift-click without an anchor acts as a click', () => {
    expect(clickSelect(EMPTY_SELECTION, 3, shift).ranges).toEqual([[3, 4]]);
  });

  it('select all is one range however many items', () => {
    expect(selectAll(1_000_000).ranges).toEqual([[0, 1_000_000]]);
    expect(selectAll(0)).toBe(EMPTY_SELECTION);
  });
});
