// A virtualized thumbnail grid for up to millions of images: which tiles to render for a
// scroll position, and a cache of keyset-paginated pages that fetches only what is missing.

export interface GridInput {
  scrollTop: number;
  viewportHeight: number;
  containerWidth: number;
  /** Tile side, px. */
  tileSize: number;
  /** Space between tiles, px. */
  gap: number;
  itemCount: number;
  /** Rows rendered above and below the visible ones, so fast scrolling shows no holes. */
  overscanRows?: number;
  /**
   * Tallest scroll content to create. Browsers cap element heights (Firefox near 17.9M px,
   * Chrome near 33.5M px); 1,000,000 tiles of 160 px in 6 columns need 27M px. Past this
   * cap the scrollbar maps proportionally onto the true height.
   */
  maxScrollHeight?: number;
}

export interface GridLayout {
  columns: number;
  rows: number;
  /** Tile plus gap. */
  rowHeight: number;
  /** Height of all rows, px. */
  totalHeight: number;
  /** Height to give the scroll content: `totalHeight`, or the cap. */
  scrollHeight: number;
  /** Rows and items to render: `[firstRow, endRow)`, `[firstIndex, endIndex)`. */
  firstRow: number;
  endRow: number;
  firstIndex: number;
  endIndex: number;
  /** Where, inside the scroll content, the top of `firstRow` goes. */
  offsetY: number;
}

export const DEFAULT_MAX_SCROLL_HEIGHT = 10_000_000;
const DEFAULT_OVERSCAN_ROWS = 2;

export function columnsFor(containerWidth: number, tileSize: number, gap: number): number {
  return Math.max(1, Math.floor((containerWidth + gap) / (tileSize + gap)));
}

function measure(input: GridInput): { columns: number; rows: number; rowHeight: number; totalHeight: number; scrollHeight: number } {
  const columns = columnsFor(input.containerWidth, input.tileSize, input.gap);
  const rows = Math.ceil(Math.max(0, input.itemCount) / columns);
  const rowHeight = input.tileSize + input.gap;
  const totalHeight = rows > 0 ? rows * rowHeight - input.gap : 0;
  const scrollHeight = Math.min(totalHeight, input.maxScrollHeight ?? DEFAULT_MAX_SCROLL_HEIGHT);
  return { columns, rows, rowHeight, totalHeight, scrollHeight };
}

/** True content offset for a scroll position (they differ only past the height cap). */
function trueTop(scrollTop: number, viewportHeight: number, totalHeight: number, scrollHeight: number): number {
  if (scrollHeight >= totalHeight) return scrollTop;
  const range = scrollHeight - viewportHeight;
  if (range <= 0) return 0;
  return (Math.min(Math.max(0, scrollTop), range) / range) * (totalHeight - viewportHeight);
}

export function gridLayout(input: GridInput): GridLayout {
  const { columns, rows, rowHeight, totalHeight, scrollHeight } = measure(input);
  const overscan = input.overscanRows ?? DEFAULT_OVERSCAN_ROWS;
  const scrollTop = Math.max(0, input.scrollTop);
  const top = trueTop(scrollTop, input.viewportHeight, totalHeight, scrollHeight);
  const firstVisible = Math.floor(top / rowHeight);
  const endVisible = Math.ceil((top + input.viewportHeight) / rowHeight);
  const firstRow = Math.min(rows, Math.max(0, firstVisible - overscan));
  const endRow = Math.min(rows, Math.max(firstRow, endVisible + overscan));
  return {
    columns,
    rows,
    rowHeight,
    totalHeight,
    scrollHeight,
    firstRow,
    endRow,
    firstIndex: firstRow * columns,
    endIndex: Math.min(input.itemCount, endRow * columns),
    // Rows sit at their true offset minus how far the scaled scrollbar lags behind it.
    offsetY: firstRow * rowHeight - (top - scrollTop),
  };
}

/** The scrollTop that brings item `index`'s row to the top of the view. */
export function scrollTopForIndex(index: number, input: Omit<GridInput, 'scrollTop'>): number {
  const { columns, rowHeight, totalHeight, scrollHeight } = measure({ ...input, scrollTop: 0 });
  const top = Math.floor(Math.max(0, index) / columns) * rowHeight;
  if (scrollHeight >= totalHeight) return top;
  const range = scrollHeight - input.viewportHeight;
  const trueRange = totalHeight - input.viewportHeight;
  if (range <= 0 || trueRange <= 0) return 0;
  return (Math.min(top, trueRange) / trueRange) * range;
}

/** One page of a keyset-paginated list: `nextCursor` starts the next page, null after the last. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageCacheOptions<T> {
  pageSize: number;
  /** Most pages kept; the least recently used pages outside the visible range go first. */
  maxPages: number;
  /** Fetch `limit` items after `cursor` (null: from the start). */
  fetchPage: (cursor: string | null, limit: number) => Promise<Page<T>>;
  /**
   * The cursor that starts at item `index` (the backend counts once through its index).
   * Without it, reaching page k the first time walks pages 0..k, since a keyset cursor is
   * only learned from the page before; with it, a scrollbar jump costs one seek and one page.
   */
  seek?: (index: number) => Promise<string | null>;
  /** Called when a page arrives (re-render). */
  onChange?: () => void;
}

/**
 * Pages of a keyset-paginated list, keyed by the cursor that starts them (the previous
 * page's last id). Cursors are kept for every page ever seen (a string per page: for
 * 1,000,000 items in pages of 200, 5,000 strings), the pages themselves only up to
 * `maxPages`.
 */
export class KeysetPageCache<T> {
  private readonly pages = new Map<number, T[]>();
  /** The cursor that starts page p; page 0 starts at null. */
  private readonly cursors = new Map<number, string | null>([[0, null]]);
  private readonly inflight = new Map<number, Promise<void>>();
  /** Index of the last page, once a page came back without a next cursor. */
  private lastPage: number | null = null;
  private pinned: [number, number] = [0, -1];
  private generation = 0;
  /** Pages fetched (for tests and diagnostics). */
  fetches = 0;

  constructor(private readonly opts: PageCacheOptions<T>) {
    if (opts.pageSize < 1 || opts.maxPages < 1) throw new RangeError('pageSize and maxPages must be at least 1');
  }

  get pageCount(): number {
    return this.pages.size;
  }

  /** The item at `index` if its page is loaded. */
  get(index: number): T | undefined {
    const page = this.pages.get(Math.floor(index / this.opts.pageSize));
    return page?.[index % this.opts.pageSize];
  }

  hasPage(page: number): boolean {
    return this.pages.has(page);
  }

  /** Loads whatever pages of `[firstIndex, endIndex)` are missing; visible pages are never evicted. */
  async ensure(firstIndex: number, endIndex: number): Promise<void> {
    if (endIndex <= firstIndex) return;
    const p0 = Math.floor(firstIndex / this.opts.pageSize);
    const p1 = Math.floor((endIndex - 1) / this.opts.pageSize);
    this.pinned = [p0, p1];
    const loads: Promise<void>[] = [];
    for (let p = p0; p <= p1; p++) {
      if (this.lastPage !== null && p > this.lastPage) break;
      const page = this.pages.get(p);
      if (page) {
        // Most recently used: re-insert at the end of the Map's order.
        this.pages.delete(p);
        this.pages.set(p, page);
      } else {
        loads.push(this.load(p));
      }
    }
    await Promise.all(loads);
    this.evict();
  }

  /** Forget everything (the filter or the data changed); pages still in flight are dropped. */
  invalidate(): void {
    this.generation++;
    this.pages.clear();
    this.cursors.clear();
    this.cursors.set(0, null);
    this.inflight.clear();
    this.lastPage = null;
  }

  private load(p: number): Promise<void> {
    const existing = this.inflight.get(p);
    if (existing) return existing;
    const gen = this.generation;
    const promise = this.cursorFor(p, gen)
      .then(async (cursor) => {
        if (cursor === undefined || gen !== this.generation) return;
        this.fetches++;
        const page = await this.opts.fetchPage(cursor, this.opts.pageSize);
        if (gen !== this.generation) return;
        this.pages.set(p, page.items);
        if (page.nextCursor === null) this.lastPage = p;
        else this.cursors.set(p + 1, page.nextCursor);
        this.evict();
        this.opts.onChange?.();
      })
      .finally(() => {
        if (this.inflight.get(p) === promise) this.inflight.delete(p);
      });
    this.inflight.set(p, promise);
    return promise;
  }

  /** The cursor starting page p; undefined when p lies past the end. */
  private async cursorFor(p: number, gen: number): Promise<string | null | undefined> {
    if (this.cursors.has(p)) return this.cursors.get(p);
    if (this.opts.seek) {
      const cursor = await this.opts.seek(p * this.opts.pageSize);
      if (gen === this.generation) this.cursors.set(p, cursor);
      return cursor;
    }
    // Walk from the nearest page whose cursor is known.
    let q = p - 1;
    while (q > 0 && !this.cursors.has(q)) q--;
    for (let k = q; k < p; k++) {
      if (!this.cursors.has(k + 1)) await this.load(k);
      if (gen !== this.generation) return undefined;
      if (this.lastPage !== null && k >= this.lastPage) return undefined;
    }
    return this.cursors.get(p);
  }

  private evict(): void {
    const [p0, p1] = this.pinned;
    for (const p of this.pages.keys()) {
      if (this.pages.size <= this.opts.maxPages) break;
      if (p >= p0 && p <= p1) continue;
      this.pages.delete(p);
    }
  }
}
