// A Backend for tests: records every call, answers from a table (a value, an Error to throw,
// or a function of the arguments), and lets a test emit events. `catalogAnswers` gives the
// table entries of a fake catalog (`images`, `images_count`, `images_seek`).

import type { Backend } from '../api/backend';
import type { ImageQuery, ImageSummary } from '../dto';
import { imageSummary } from './fixtures';

export type Handler = (args: Record<string, unknown> | undefined) => unknown;
export type Answer = Handler | Error | object | string | number | boolean | null | undefined;

export class FakeBackend implements Backend {
  readonly calls: Array<[string, Record<string, unknown> | undefined]> = [];
  private readonly handlers = new Map<string, Set<(payload: unknown) => void>>();
  /** Calls held until `release`: command -> resolvers. */
  private readonly held = new Map<string, Array<() => void>>();
  private readonly holding = new Set<string>();

  constructor(public answers: Record<string, Answer> = {}) {}

  async call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
    this.calls.push([command, args]);
    if (this.holding.has(command)) {
      await new Promise<void>((resolve) => {
        const list = this.held.get(command) ?? [];
        list.push(resolve);
        this.held.set(command, list);
      });
    }
    if (!(command in this.answers)) throw new Error(`fake backend: no answer for ${command}`);
    const a = this.answers[command];
    const value = typeof a === 'function' ? (a as Handler)(args) : a;
    if (value instanceof Error) throw value;
    return (await value) as T;
  }

  /** Calls of `command` wait until `release(command)`. */
  hold(command: string): void {
    this.holding.add(command);
  }

  /** Lets the held calls of `command` go on (and stops holding it). */
  release(command: string): void {
    this.holding.delete(command);
    const list = this.held.get(command) ?? [];
    this.held.delete(command);
    for (const r of list) r();
  }

  subscribe(event: string, handler: (payload: unknown) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(handler);
    return () => set.delete(handler);
  }

  emit(event: string, payload: unknown): void {
    for (const h of [...(this.handlers.get(event) ?? [])]) h(payload);
  }

  listeners(event: string): number {
    return this.handlers.get(event)?.size ?? 0;
  }

  imageUrl(id: number): string {
    return `img/${id}`;
  }

  thumbUrl(id: number): string {
    return `thumb/${id}`;
  }

  /** The commands called, in order. */
  commands(): string[] {
    return this.calls.map(([c]) => c);
  }

  /** The arguments of every call of `command`. */
  argsOf(command: string): Array<Record<string, unknown> | undefined> {
    return this.calls.filter(([c]) => c === command).map(([, a]) => a);
  }
}

/** Lets pending promise callbacks run. */
export async function flush(times = 5): Promise<void> {
  for (let i = 0; i < times; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}

/** The keyset cursor of the page after image `id`, spelled as crates/api's `make_cursor` does. */
export function cursorAfter(id: number): string {
  return `i${id}`;
}

/** The id a cursor names (0 for none); refuses what the backend would not have issued. */
function afterId(cursor: string | null | undefined): number {
  if (!cursor) return 0;
  const m = /^i(\d+)$/.exec(cursor);
  if (!m) throw new Error(`cursor: "${cursor}" is not a cursor this server issued`);
  return Number(m[1]);
}

/** Whether `q` sets any filter (a field other than paging). */
function filters(q: ImageQuery): boolean {
  return Object.entries(q).some(([k, v]) => k !== 'cursor' && k !== 'limit' && v !== undefined && v !== null && v !== '');
}

/**
 * Whether an image passes the filters of `q`, read as crates/catalog's `ImageFilter` reads them:
 * exact status, camera and label state; a folder matches itself and everything below it (a
 * relative folder against the path, an absolute one against root + path); capture bounds
 * [from, before) leave out images without a capture time; `has_duplicates` on duplicate_count.
 */
export function matchesQuery(image: ImageSummary, q: ImageQuery): boolean {
  if (q.status != null && image.status !== q.status) return false;
  if (q.camera != null && image.camera !== q.camera) return false;
  if (q.label_state != null && image.label_state !== q.label_state) return false;
  if (q.has_duplicates != null && image.duplicate_count > 0 !== q.has_duplicates) return false;
  if (q.folder != null) {
    const folder = q.folder.replace(/^\/+|\/+$/g, '');
    const path = q.folder.startsWith('/') ? `${image.root.replace(/^\/+|\/+$/g, '')}/${image.path}` : image.path;
    if (folder !== '' && !path.startsWith(`${folder}/`)) return false;
  }
  const t = image.captured_at?.replace(' ', 'T') ?? null;
  if (q.captured_from != null && (t === null || t < q.captured_from.replace(' ', 'T'))) return false;
  if (q.captured_before != null && (t === null || t >= q.captured_before.replace(' ', 'T'))) return false;
  return true;
}

export interface FakeCatalogOptions {
  /** The image with a given id (default `imageSummary(id)`). */
  image?: (id: number) => ImageSummary;
}

/**
 * Table entries for a catalog of images 1..n in id order, filtered by `matchesQuery` and paged by
 * keyset cursor (`cursorAfter` of a page's last image) as the Rust side does:
 * - `images {query}`: up to `limit` (default 100) images after `query.cursor`; `next_cursor`
 *   only when the page is full;
 * - `images_count {query}`: how many images pass the filters;
 * - `images_seek {query, index}`: the cursor of the page that starts `index` images after
 *   `query.cursor` (after the start when none); null for index 0 or when fewer than `index`
 *   images follow (a page exactly at the end gets a cursor: its page is empty).
 * Images are summarised only when a filter needs them, so a million is cheap.
 */
export function catalogAnswers(n: number, opts: FakeCatalogOptions = {}): Record<'images' | 'images_count' | 'images_seek', Handler> {
  const image = opts.image ?? imageSummary;
  const queryOf = (args: Record<string, unknown> | undefined) => (args?.query ?? {}) as ImageQuery;
  /** Ids after `after` that pass the filters of `q`, in order, at most `max` of them. */
  function* passing(q: ImageQuery, after: number, max = Infinity): Generator<number> {
    const filtered = filters(q);
    let found = 0;
    for (let id = after + 1; id <= n && found < max; id++) {
      if (filtered && !matchesQuery(image(id), q)) continue;
      found++;
      yield id;
    }
  }
  return {
    images: (args) => {
      const q = queryOf(args);
      const limit = q.limit ?? 100;
      const items = [...passing(q, afterId(q.cursor), limit)].map(image);
      const last = items[items.length - 1];
      return { items, next_cursor: items.length === limit && last ? cursorAfter(last.id) : null };
    },
    images_count: (args) => {
      const ids = passing(queryOf(args), 0);
      let count = 0;
      while (!ids.next().done) count++;
      return count;
    },
    images_seek: (args) => {
      const q = queryOf(args);
      const index = args?.index as number;
      if (!Number.isInteger(index) || index < 0) throw new Error(`index: ${String(index)} is not a position`);
      if (index === 0) return null;
      let last: number | null = null;
      let found = 0;
      for (const id of passing(q, afterId(q.cursor), index)) {
        last = id;
        found++;
      }
      return found === index && last !== null ? cursorAfter(last) : null;
    },
  };
}
