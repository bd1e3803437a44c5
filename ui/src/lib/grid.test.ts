import { describe, expect, it } from 'vitest';
import { columnsFor, gridLayout, type GridInput, KeysetPageCache, type Page, scrollTopForIndex } from './grid';

const million: Omit<GridInput, 'scrollTop'> = {
  viewportHeight: 900,
  containerWidth: 1200,
  tileSize: 160,
  gap: 8,
  itemCount: 1_000_000,
  overscanRows: 1,
};

describe('grid layout', () => {
  it('fits as many columns as the width allows', () => {
    expect(columnsFor(1200, 160, 8)).toBe(7); // 7 × 168 − 8 = 1168
    expect(columnsFor(1168, 160, 8)).toBe(7);
    expect(columnsFor(1167, 160, 8)).toBe(6);
    expect(columnsFor(10, 160, 8)).toBe(1);
  });

  it('at the top of a million items renders a few rows', () => {
    const g = gridLayout({ ...million, scrollTop: 0 });
    expect(g.columns).toBe(7);
    expect(g.rows).toBe(Math.ceil(1_000_000 / 7));
    expect(g.totalHeight).toBe(g.rows * 168 - 8);
    expect(g.firstIndex).toBe(0);
    // ceil(900 / 168) = 6 visible rows + 1 overscan.
    expect(g.endRow).toBe(7);
    expect(g.endIndex).toBe(49);
    expect(g.offsetY).toBe(0);
  });

  it('caps the scroll height and maps the scrollbar onto the true height', () => {
    const g0 = gridLayout({ ...million, scrollTop: 0 });
    expect(g0.totalHeight).toBeGreaterThan(20_000_000);
    expect(g0.scrollHeight).toBe(10_000_000);

    const end = gridLayout({ ...million, scrollTop: g0.scrollHeight - million.viewportHeight });
    expect(end.endIndex).toBe(1_000_000);
    expect(end.firstIndex).toBeGreaterThan(999_900);

    const mid = gridLayout({ ...million, scrollTop: (g0.scrollHeight - 900) / 2 });
    const midRow = Math.floor(((g0.totalHeight - 900) / 2) / 168);
    expect(mid.firstRow).toBe(midRow - 1);
  });

  it('places rendered rows where the viewport is, even past the cap', () => {
    for (const scrollTop of [0, 12_345, 5_000_000, 9_999_100]) {
      const g = gridLayout({ ...million, scrollTop });
      // The row under the viewport's top edge, from the true (uncapped) offset…
      const trueTop = (scrollTop * (g.totalHeight - 900)) / (g.scrollHeight - 900);
      const row = Math.floor(trueTop / 168);
      expect(row).toBeGreaterThanOrEqual(g.firstRow);
      expect(row).toBeLessThan(g.endRow);
      // …is placed in the scroll content so that it covers the viewport's top edge.
      const placed = g.offsetY + (row - g.firstRow) * 168;
      expect(placed).toBeLessThanOrEqual(scrollTop + 1e-6);
      expect(placed + 168).toBeGreaterThan(scrollTop);
    }
  });

  it('scrollTopForIndex brings an item to the top', () => {
    for (const index of [0, 7, 500_000, 999_999]) {
      const top = scrollTopForIndex(index, million);
      const g = gridLayout({ ...million, scrollTop: top, overscanRows: 0 });
      expect(g.firstIndex).toBeLessThanOrEqual(index);
      expect(g.endIndex).toBeGreaterThan(index);
    }
  });

  it('handles an empty list and a partly filled last row', () => {
    expect(gridLayout({ ...million, itemCount: 0, scrollTop: 0 })).toMatchObject({ rows: 0, totalHeight: 0, firstIndex: 0, endIndex: 0 });
    const g = gridLayout({ ...million, itemCount: 10, scrollTop: 0 });
    expect(g.rows).toBe(2);
    expect(g.endIndex).toBe(10);
  });
});

/** A keyset-paginated backend over ids with gaps, like `list_images` (cursor `i<last id>`). */
function fakeBackend(n: number) {
  const ids = Array.from({ length: n }, (_, i) => i * 3 + 1);
  const calls: Array<string | null> = [];
  const fetchPage = async (cursor: string | null, limit: number): Promise<Page<number>> => {
    calls.push(cursor);
    await Promise.resolve();
    const after = cursor === null ? -Infinity : Number(cursor.slice(1));
    const start = ids.findIndex((id) => id > after);
    const items = start < 0 ? [] : ids.slice(start, start + limit);
    const last = items[items.length - 1];
    return { items, nextCursor: items.length === limit && last !== undefined ? `i${last}` : null };
  };
  const seek = async (index: number): Promise<string | null> => {
    const prev = ids[index - 1];
    return index === 0 || prev === undefined ? null : `i${prev}`;
  };
  return { ids, calls, fetchPage, seek };
}

describe('keyset page cache', () => {
  it('fetches only the pages missing for a visible range', async () => {
    const b = fakeBackend(10_000);
    const cache = new KeysetPageCache({ pageSize: 100, maxPages: 10, fetchPage: b.fetchPage });
    await cache.ensure(0, 250);
    expect(b.calls).toEqual([null, 'i298', 'i598']);
    expect(cache.get(0)).toBe(1);
    expect(cache.get(249)).toBe(b.ids[249]);
    await cache.ensure(150, 350);
    expect(b.calls).toHaveLength(4);
    expect(cache.get(349)).toBe(b.ids[349]);
  });

  it('de-duplicates pages already in flight', async () => {
    const b = fakeBackend(1000);
    const cache = new KeysetPageCache({ pageSize: 100, maxPages: 10, fetchPage: b.fetchPage });
    await Promise.all([cache.ensure(0, 300), cache.ensure(100, 300), cache.ensure(0, 100)]);
    expect(b.calls).toHaveLength(3);
  });

  it('keeps memory bounded, evicting least recently used pages outside the view', async () => {
    const b = fakeBackend(100_000);
    const cache = new KeysetPageCache({ pageSize: 100, maxPages: 5, fetchPage: b.fetchPage });
    for (let first = 0; first < 5000; first += 100) {
      await cache.ensure(first, first + 200);
      expect(cache.pageCount).toBeLessThanOrEqual(5);
      expect(cache.get(first)).toBe(b.ids[first]);
      expect(cache.get(first + 199)).toBe(b.ids[first + 199]);
    }
    expect(cache.hasPage(0)).toBe(false);
    expect(cache.hasPage(49)).toBe(true);
  });

  it('a page used again recently survives eviction', async () => {
    const b = fakeBackend(10_000);
    const cache = new KeysetPageCache({ pageSize: 100, maxPages: 3, fetchPage: b.fetchPage });
    await cache.ensure(0, 100); // page 0
    await cache.ensure(100, 200); // page 1
    await cache.ensure(0, 100); // page 0 used again
    await cache.ensure(200, 300); // page 2
    await cache.ensure(300, 400); // page 3: evicts page 1, the least recently used
    expect(cache.hasPage(0)).toBe(true);
    expect(cache.hasPage(1)).toBe(false);
    // Scrolling back refetches page 1 with the cursor it remembered, without walking.
    const before = b.calls.length;
    await cache.ensure(100, 200);
    expect(b.calls.slice(before)).toEqual(['i298']);
  });

  it('never evicts pages of the visible range, even over the budget', async () => {
    const b = fakeBackend(10_000);
    const cache = new KeysetPageCache({ pageSize: 10, maxPages: 2, fetchPage: b.fetchPage });
    await cache.ensure(0, 50);
    for (let i = 0; i < 50; i++) expect(cache.get(i)).toBe(b.ids[i]);
  });

  it('without seek, a jump walks from the nearest known cursor', async () => {
    const b = fakeBackend(100_000);
    const cache = new KeysetPageCache({ pageSize: 100, maxPages: 4, fetchPage: b.fetchPage });
    await cache.ensure(1000, 1100);
    expect(b.calls).toHaveLength(11);
    expect(cache.get(1000)).toBe(b.ids[1000]);
    expect(cache.pageCount).toBeLessThanOrEqual(4);
    // A further jump continues from the last cursor it learned, not from the start.
    await cache.ensure(1500, 1600);
    expect(b.calls).toHaveLength(16);
  });

  it('with seek, a jump to the middle of a million costs one seek and one page', async () => {
    const b = fakeBackend(1_000_000);
    const cache = new KeysetPageCache({ pageSize: 200, maxPages: 8, fetchPage: b.fetchPage, seek: b.seek });
    await cache.ensure(500_000, 500_150);
    expect(b.calls).toHaveLength(1);
    expect(cache.get(500_000)).toBe(b.ids[500_000]);
    expect(cache.get(500_149)).toBe(b.ids[500_149]);
  });

  it('stops at the last page', async () => {
    const b = fakeBackend(250);
    const cache = new KeysetPageCache({ pageSize: 100, maxPages: 10, fetchPage: b.fetchPage });
    await cache.ensure(0, 1000);
    expect(b.calls).toHaveLength(3);
    expect(cache.get(249)).toBe(b.ids[249]);
    expect(cache.get(250)).toBeUndefined();
    await cache.ensure(300, 400);
    expect(b.calls).toHaveLength(3);
  });

  it('drops pages that arrive after an invalidation', async () => {
    const b = fakeBackend(1000);
    let changes = 0;
    const cache = new KeysetPageCache({ pageSize: 100, maxPages: 10, fetchPage: b.fetchPage, onChange: () => changes++ });
    const pending = cache.ensure(0, 100);
    cache.invalidate();
    await pending;
    expect(cache.pageCount).toBe(0);
    expect(changes).toBe(0);
    await cache.ensure(0, 100);
    expect(cache.pageCount).toBe(1);
    expect(changes).toBe(1);
  });
});
