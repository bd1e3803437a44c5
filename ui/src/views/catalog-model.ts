// The catalog view without the DOM: filters, the two orders (catalog order, pages of `images`
// by keyset cursor; queue order, the ranked `queue`), the selection over positions, and the
// actions on the selected images.
//
// A keyset cursor is learned only from the page before it, so reaching position k the first
// time means finding it: `seek` starts from the nearest cursor it knows; for more than one walk
// page past it, it asks the backend for the cursor at k in one call (`images_seek`, which walks
// ids only, in large steps), for less it walks page by page. It remembers every cursor it
// learns, gives up as soon as the view has moved elsewhere (a jump answered after that is still
// remembered, being right for the same filters, but its page is not fetched; one answered after
// the filters changed is dropped), and reports its progress.

import type { ImageId, ImageLabelState } from '../lib/api/types';
import type { Client } from '../lib/client';
import type { ImageQuery, ImageSummary, QueueEntry, QueueResult } from '../lib/dto';
import { KeysetPageCache } from '../lib/grid';
import { clickSelect, EMPTY_SELECTION, type PointerMods, positions, type Range, selectAll, type SelectionState, size } from '../lib/selection';

export type CatalogOrder = 'catalog' | 'queue';

/** The filters the catalog offers: the fields of `ImageQuery` other than paging. */
export interface CatalogFilters {
  label_state?: ImageLabelState;
  folder?: string;
  camera?: string;
  has_duplicates?: boolean;
  status?: 'ok' | 'missing';
  captured_from?: string;
  captured_before?: string;
  /** With `condition_value`: images whose effective value of this condition key is that value. */
  condition_key?: string;
  condition_value?: string;
  /** A label class name: images with a non-rejected annotation of it. */
  class?: string;
  /** A class name of the newest pre-labeling run's model: images it predicted it on. */
  predicted_class?: string;
  /** Prediction score band, 0..1: at least `score_min`, below `score_max`. */
  score_min?: number;
  score_max?: number;
}

/** One tile: what is known about the image at a position. */
export type Tile =
  | { kind: 'catalog'; index: number; image: ImageSummary }
  | { kind: 'queue'; index: number; entry: QueueEntry }
  | { kind: 'loading'; index: number };

/** Most images one action is sent for. */
export const MAX_ACTION_IMAGES = 5_000;
/** The largest page `images` gives. */
export const MAX_PAGE = 1_000;

export class Superseded extends Error {
  constructor() {
    super('superseded');
    this.name = 'Superseded';
  }
}

/** Cursors by position: position 0 starts with no cursor; each page teaches the next one. */
export class CursorIndex {
  private readonly byIndex = new Map<number, string | null>([[0, null]]);
  private readonly byCursor = new Map<string, number>();

  record(index: number, cursor: string): void {
    this.byIndex.set(index, cursor);
    this.byCursor.set(cursor, index);
  }

  /** Position a cursor starts at (null starts at 0). */
  indexOf(cursor: string | null): number | undefined {
    return cursor === null ? 0 : this.byCursor.get(cursor);
  }

  has(index: number): boolean {
    return this.byIndex.has(index);
  }

  get(index: number): string | null | undefined {
    return this.byIndex.get(index);
  }

  /** The known position at or below `index` nearest to it, and its cursor. */
  nearest(index: number): [number, string | null] {
    let best = 0;
    for (const i of this.byIndex.keys()) if (i <= index && i > best) best = i;
    return [best, this.byIndex.get(best) ?? null];
  }

  get size(): number {
    return this.byIndex.size;
  }
}

export interface CatalogModelOptions {
  pageSize?: number;
  maxPages?: number;
  /** Items per `images` call while walking to a position; a position farther than this from
   * the nearest known cursor is reached by one `images_seek` instead (at most MAX_PAGE). */
  walkPage?: number;
  queueLimit?: number;
}

export interface WalkProgress {
  from: number;
  at: number;
  target: number;
}

export class CatalogModel {
  filters: CatalogFilters = {};
  order: CatalogOrder = 'catalog';
  queueLimit: number;
  /** Items in the current order and filters; null until counted. */
  count: number | null = null;
  queue: QueueResult | null = null;
  selection: SelectionState = EMPTY_SELECTION;
  /** Kept across visits to the view. */
  scrollTop = 0;
  walking: WalkProgress | null = null;
  loading = false;
  error: string | null = null;

  readonly pageSize: number;
  private readonly walkPage: number;
  private readonly cache: KeysetPageCache<ImageSummary>;
  private cursors = new CursorIndex();
  private generation = 0;
  private visible: [number, number] = [0, 0];
  private seekChain: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly api: Pick<Client, 'images' | 'imagesCount' | 'imagesSeek' | 'queue' | 'conditionsSet' | 'imageStateSet' | 'conditionsSetMatching' | 'imageStateSetMatching'>,
    opts: CatalogModelOptions = {},
  ) {
    this.pageSize = opts.pageSize ?? 200;
    this.walkPage = Math.min(MAX_PAGE, opts.walkPage ?? MAX_PAGE);
    this.queueLimit = opts.queueLimit ?? 500;
    this.cache = new KeysetPageCache<ImageSummary>({
      pageSize: this.pageSize,
      maxPages: opts.maxPages ?? 40,
      fetchPage: (cursor, limit) => this.fetchPage(cursor, limit),
      seek: (index) => this.seek(index, false),
      onChange: () => this.changed(),
    });
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The query for the current filters (no paging). */
  query(): ImageQuery {
    return { ...this.filters };
  }

  /** New filters: everything is fetched again, the selection cleared. */
  async setFilters(filters: CatalogFilters): Promise<void> {
    this.filters = { ...filters };
    await this.reload();
  }

  async setOrder(order: CatalogOrder, queueLimit = this.queueLimit): Promise<void> {
    this.order = order;
    this.queueLimit = queueLimit;
    await this.reload();
  }

  /** Forgets every page and cursor, counts again and loads what is visible. */
  async reload(): Promise<void> {
    this.generation++;
    const gen = this.generation;
    this.cache.invalidate();
    this.cursors = new CursorIndex();
    this.selection = EMPTY_SELECTION;
    this.count = null;
    this.queue = null;
    this.walking = null;
    this.error = null;
    this.loading = true;
    this.changed();
    try {
      if (this.order === 'queue') {
        const q = await this.api.queue(this.queueLimit);
        if (gen !== this.generation) return;
        this.queue = q;
        this.count = q.items.length;
      } else {
        const n = await this.api.imagesCount(this.query());
        if (gen !== this.generation) return;
        this.count = n;
      }
    } catch (e) {
      if (gen === this.generation) this.error = e instanceof Error ? e.message : String(e);
    } finally {
      if (gen === this.generation) {
        this.loading = false;
        this.changed();
      }
    }
    if (gen === this.generation) await this.setVisible(this.visible[0], this.visible[1]);
  }

  /** The positions on screen: their pages are loaded, walks elsewhere are given up. */
  async setVisible(first: number, end: number): Promise<void> {
    this.visible = [first, end];
    if (this.order !== 'catalog' || this.count === null || end <= first) return;
    try {
      await this.cache.ensure(first, Math.min(end, this.count));
    } catch (e) {
      if (e instanceof Superseded) return;
      this.error = e instanceof Error ? e.message : String(e);
      this.changed();
    }
  }

  tile(index: number): Tile {
    if (this.order === 'queue') {
      const entry = this.queue?.items[index];
      return entry ? { kind: 'queue', index, entry } : { kind: 'loading', index };
    }
    const image = this.cache.get(index);
    return image ? { kind: 'catalog', index, image } : { kind: 'loading', index };
  }

  /** The image at a position, if loaded. */
  imageAt(index: number): ImageId | null {
    const t = this.tile(index);
    return t.kind === 'catalog' ? t.image.id : t.kind === 'queue' ? t.entry.image : null;
  }

  click(index: number, mods: PointerMods): void {
    this.selection = clickSelect(this.selection, index, mods);
    this.changed();
  }

  selectAll(): void {
    this.selection = selectAll(this.count ?? 0);
    this.changed();
  }

  clearSelection(): void {
    this.selection = EMPTY_SELECTION;
    this.changed();
  }

  get selectedCount(): number {
    return size(this.selection.ranges);
  }

  /** The ids of the selected images, in order; refuses more than `max`. */
  async selectedIds(max = MAX_ACTION_IMAGES): Promise<ImageId[]> {
    const n = this.selectedCount;
    if (n === 0) return [];
    if (n > max) throw new RangeError(`${n.toLocaleString('en-US')} images are selected; an action takes at most ${max.toLocaleString('en-US')} at a time.`);
    if (this.order === 'queue') {
      return positions(this.selection.ranges).flatMap((i) => {
        const e = this.queue?.items[i];
        return e ? [e.image] : [];
      });
    }
    const ids: ImageId[] = [];
    for (const r of this.selection.ranges) ids.push(...(await this.idsIn(r)));
    return ids;
  }

  /**
   * Whether the selection is everything the filters match (Ctrl+A in catalog order): then an
   * action goes to the backend as the query itself, however many images that is.
   */
  get everythingSelected(): boolean {
    const r = this.selection.ranges;
    return this.order === 'catalog' && this.count !== null && this.count > 0 && r.length === 1 && r[0]![0] === 0 && r[0]![1] >= this.count;
  }

  /** `conditions_set` on the selection; returns how many images got it. The list is fetched again when it filters on that key. */
  async setCondition(key: string, value: string): Promise<number> {
    let n: number;
    if (this.everythingSelected) n = await this.api.conditionsSetMatching(this.query(), key, value);
    else {
      const ids = await this.selectedIds();
      if (ids.length === 0) return 0;
      n = await this.api.conditionsSet(ids, key, value);
    }
    if (this.filters.condition_key === key) await this.reload();
    return n;
  }

  /** Marks the selection skipped; the list is fetched again when it filters on label state. */
  async markSkipped(): Promise<number> {
    let n: number;
    if (this.everythingSelected) n = await this.api.imageStateSetMatching(this.query(), 'skipped');
    else {
      const ids = await this.selectedIds();
      if (ids.length === 0) return 0;
      await this.api.imageStateSet(ids, 'skipped');
      n = ids.length;
    }
    if (this.filters.label_state !== undefined || this.order === 'queue') await this.reload();
    return n;
  }

  /** Labels changed somewhere: only a label-state or class filter makes the list stale. */
  async labelsChanged(): Promise<void> {
    if (this.filters.label_state !== undefined || this.filters.class !== undefined) await this.reload();
  }

  /** Cursors known so far (for tests and diagnostics). */
  get knownCursors(): number {
    return this.cursors.size;
  }

  private async fetchPage(cursor: string | null, limit: number): Promise<{ items: ImageSummary[]; nextCursor: string | null }> {
    const gen = this.generation;
    const start = this.cursors.indexOf(cursor);
    const page = await this.api.images({ ...this.query(), ...(cursor !== null ? { cursor } : {}), limit });
    if (gen === this.generation && start !== undefined && page.next_cursor !== null) this.cursors.record(start + page.items.length, page.next_cursor);
    return { items: page.items, nextCursor: page.next_cursor };
  }

  /**
   * The cursor that starts at `index`, from the nearest known one: one `images_seek` when that
   * is more than a walk page away, a walk of `images` pages otherwise. Seeks run one at a time
   * (a second one then starts from where the first got). Unless `force`, a seek stops
   * (Superseded) once `index` is no longer near what is on screen; a jump whose answer comes
   * back after that still records its cursor (right for the same filters), not after a reload.
   */
  private seek(index: number, force: boolean): Promise<string | null> {
    const gen = this.generation;
    const run = async (): Promise<string | null> => {
      const [from] = this.cursors.nearest(index);
      try {
        for (;;) {
          if (gen !== this.generation) throw new Superseded();
          if (!force && !this.wanted(index)) throw new Superseded();
          const [at, cursor] = this.cursors.nearest(index);
          if (at === index) return cursor;
          if (at - from >= this.walkPage || index - at > this.walkPage) {
            this.walking = { from, at, target: index };
            this.changed();
          }
          if (index - at > this.walkPage) {
            const jumped = await this.api.imagesSeek({ ...this.query(), ...(cursor !== null ? { cursor } : {}) }, index - at);
            if (gen !== this.generation) throw new Superseded();
            if (jumped === null) throw new RangeError(`position ${index} is past the end of the list (it changed meanwhile?)`);
            this.cursors.record(index, jumped);
            continue;
          }
          const limit = Math.min(this.walkPage, index - at);
          const page = await this.api.images({ ...this.query(), ...(cursor !== null ? { cursor } : {}), limit });
          if (gen !== this.generation) throw new Superseded();
          if (page.next_cursor === null || page.items.length < limit) throw new RangeError(`position ${index} is past the end of the list (it changed meanwhile?)`);
          this.cursors.record(at + page.items.length, page.next_cursor);
        }
      } finally {
        if (this.walking?.target === index) {
          this.walking = null;
          this.changed();
        }
      }
    };
    const p = this.seekChain.then(run, run);
    this.seekChain = p.catch(() => undefined);
    return p;
  }

  /** Whether a position is within a few pages of what is on screen. */
  private wanted(index: number): boolean {
    const [first, end] = this.visible;
    const margin = this.pageSize * 2;
    return index >= first - margin && index < end + margin;
  }

  /** Ids at positions [a, b), read straight from the backend (not through the page cache). */
  private async idsIn([a, b]: Range): Promise<ImageId[]> {
    const ids: ImageId[] = [];
    let cursor = await this.seek(a, true);
    let at = a;
    while (at < b) {
      const limit = Math.min(MAX_PAGE, b - at);
      const page = await this.api.images({ ...this.query(), ...(cursor !== null ? { cursor } : {}), limit });
      ids.push(...page.items.map((i) => i.id));
      at += page.items.length;
      if (page.next_cursor === null || page.items.length === 0) break;
      this.cursors.record(at, page.next_cursor);
      cursor = page.next_cursor;
    }
    return ids;
  }

  private changed(): void {
    for (const l of [...this.listeners]) l();
  }
}

/** The catalog's filter form: text as typed; a number input's value may also come as a number or null. */
export interface FilterForm {
  label_state: string;
  folder: string;
  camera: string;
  has_duplicates: string;
  status: string;
  captured_from: string;
  captured_before: string;
  condition_key: string;
  condition_value: string;
  class: string;
  predicted_class: string;
  score_min: string | number | null;
  score_max: string | number | null;
}

/** A score typed in a number input: undefined when empty or not a number (the input only lets numbers through). */
function scoreFrom(v: string | number | null | undefined): number | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  const t = v.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The query a filter form makes: empty fields left out. A condition key without a value (or a
 * value without a key) is kept, so the backend says what is missing rather than the filter
 * silently not applying.
 */
export function filtersFromForm(form: FilterForm): CatalogFilters {
  const f: CatalogFilters = {};
  if (form.label_state) f.label_state = form.label_state as ImageLabelState;
  if (form.folder.trim()) f.folder = form.folder.trim();
  if (form.camera) f.camera = form.camera;
  if (form.has_duplicates === 'yes') f.has_duplicates = true;
  if (form.has_duplicates === 'no') f.has_duplicates = false;
  if (form.status === 'ok' || form.status === 'missing') f.status = form.status;
  if (form.captured_from.trim()) f.captured_from = form.captured_from.trim();
  if (form.captured_before.trim()) f.captured_before = form.captured_before.trim();
  if (form.condition_key.trim()) f.condition_key = form.condition_key.trim();
  if (form.condition_value.trim()) f.condition_value = form.condition_value.trim();
  if (form.class.trim()) f.class = form.class.trim();
  if (form.predicted_class.trim()) f.predicted_class = form.predicted_class.trim();
  const min = scoreFrom(form.score_min);
  const max = scoreFrom(form.score_max);
  if (min !== undefined) f.score_min = min;
  if (max !== undefined) f.score_max = max;
  return f;
}

/** The form showing `f` (the inverse of `filtersFromForm`). */
export function formFromFilters(f: CatalogFilters): FilterForm {
  return {
    label_state: f.label_state ?? '',
    folder: f.folder ?? '',
    camera: f.camera ?? '',
    has_duplicates: f.has_duplicates === undefined ? '' : f.has_duplicates ? 'yes' : 'no',
    status: f.status ?? '',
    captured_from: f.captured_from ?? '',
    captured_before: f.captured_before ?? '',
    condition_key: f.condition_key ?? '',
    condition_value: f.condition_value ?? '',
    class: f.class ?? '',
    predicted_class: f.predicted_class ?? '',
    score_min: f.score_min ?? null,
    score_max: f.score_max ?? null,
  };
}

/** The condition filter that lists one coverage bar's images: present files whose effective `key` is `value` (what the bar counts). */
export function conditionFilters(key: string, value: string): CatalogFilters {
  return { condition_key: key, condition_value: value, status: 'ok' };
}

/** "predicted car with score 0.3–0.6", "a prediction with score ≥ 0.5", "predicted car". */
function describePrediction(f: CatalogFilters): string | null {
  const { predicted_class: cls, score_min: min, score_max: max } = f;
  if (cls === undefined && min === undefined && max === undefined) return null;
  const what = cls !== undefined ? `predicted ${cls}` : 'a prediction';
  if (min !== undefined && max !== undefined) return `${what} with score ${min}–${max}`;
  if (min !== undefined) return `${what} with score ≥ ${min}`;
  if (max !== undefined) return `${what} with score < ${max}`;
  return what;
}

/** Plain words for the active filters ("label state: labeled · camera: X"). */
export function describeFilters(f: CatalogFilters): string {
  const parts: string[] = [];
  if (f.label_state) parts.push(`label state: ${f.label_state.replace(/_/g, ' ')}`);
  if (f.folder) parts.push(`folder: ${f.folder}`);
  if (f.camera) parts.push(`camera: ${f.camera}`);
  if (f.has_duplicates !== undefined) parts.push(f.has_duplicates ? 'with duplicates' : 'without duplicates');
  if (f.status) parts.push(`file ${f.status}`);
  if (f.captured_from) parts.push(`taken from ${f.captured_from}`);
  if (f.captured_before) parts.push(`taken before ${f.captured_before}`);
  if (f.condition_key || f.condition_value) parts.push(`${f.condition_key ?? '?'} = ${f.condition_value ?? '?'}`);
  if (f.class) parts.push(`class: ${f.class}`);
  const predicted = describePrediction(f);
  if (predicted) parts.push(predicted);
  return parts.length ? parts.join(' · ') : 'all images';
}
