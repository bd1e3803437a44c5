// Next / previous in the annotation view follow the labeling queue (`queue`), and the next
// images are fetched before they are asked for: their pixels (an Image whose src is set) and
// their labels (kept in a small cache that backend events invalidate).

import type { ImageId } from '../lib/api/types';
import type { QueueEntry, QueueResult } from '../lib/dto';

/** How many images ahead the view prefetches. */
export const PREFETCH_AHEAD = 2;
/** How many queue entries one `queue` call asks for. */
export const QUEUE_PAGE = 50;

/**
 * A walk through the queue. Entries already visited stay (previous goes back through them);
 * reaching the end asks the backend for the queue again and appends what was not visited
 * (images labeled meanwhile have left it).
 */
export class QueueNavigator {
  entries: QueueEntry[] = [];
  /** Index of the current image in `entries`; -1 when it was opened from elsewhere. */
  pos = -1;
  current: ImageId | null = null;
  /** The last answer's pool numbers. */
  info: Pick<QueueResult, 'pool' | 'candidates' | 'labeled'> | null = null;
  loaded = false;
  /** The last refill brought nothing new. */
  exhausted = false;
  private refilling: Promise<void> | null = null;

  /**
   * `fetchQueue(limit)`: the queue's first `limit` entries. Each refill asks for what was
   * visited plus a page, so skipping a page of images (without labeling them) still finds more.
   */
  constructor(
    private readonly fetchQueue: (limit: number) => Promise<QueueResult>,
    private readonly page = QUEUE_PAGE,
  ) {}

  /** Asks for the queue again, keeping what was visited. */
  refill(): Promise<void> {
    if (this.refilling) return this.refilling;
    this.refilling = (async () => {
      try {
        const visitedCount = this.pos + 1;
        const result = await this.fetchQueue(visitedCount + this.page);
        const visited = this.entries.slice(0, visitedCount);
        const seen = new Set(visited.map((e) => e.image));
        if (this.current !== null) seen.add(this.current);
        const fresh = result.items.filter((e) => !seen.has(e.image));
        this.entries = [...visited, ...fresh];
        this.info = { pool: result.pool, candidates: result.candidates, labeled: result.labeled };
        this.loaded = true;
        this.exhausted = fresh.length === 0;
      } finally {
        this.refilling = null;
      }
    })();
    return this.refilling;
  }

  /** An image opened from elsewhere (catalog, review, the id field). */
  open(id: ImageId): void {
    this.current = id;
    this.pos = this.entries.findIndex((e) => e.image === id);
  }

  /** The next image in queue order (asking the backend when the list runs out), or null at the end. */
  async next(): Promise<ImageId | null> {
    if (!this.loaded || this.pos + 1 >= this.entries.length) await this.refill();
    // From an image opened elsewhere, the first queue image that is not it.
    let k = this.pos + 1;
    while (k < this.entries.length && this.entries[k]!.image === this.current) k++;
    const e = this.entries[k];
    if (!e) return null;
    this.pos = k;
    this.current = e.image;
    return e.image;
  }

  /** The image before this one in the queue, or null. */
  previous(): ImageId | null {
    if (this.pos <= 0) return null;
    this.pos--;
    const e = this.entries[this.pos]!;
    this.current = e.image;
    return e.image;
  }

  /** The queue entry of the current image, when it came from the queue. */
  currentEntry(): QueueEntry | null {
    const e = this.pos >= 0 ? this.entries[this.pos] : undefined;
    return e && e.image === this.current ? e : null;
  }

  /** The `n` images after the current one. */
  upcoming(n: number): ImageId[] {
    return this.entries
      .slice(this.pos + 1)
      .filter((e) => e.image !== this.current)
      .slice(0, n)
      .map((e) => e.image);
  }

  /** "3 of 50" for the status line. */
  positionText(): string {
    if (!this.loaded) return 'Queue not loaded';
    if (this.pos < 0) return `Not from the queue (${this.entries.length} queued)`;
    return `${this.pos + 1} of ${this.entries.length}${this.exhausted ? '' : '+'} in the queue`;
  }
}

/** Loaded labels per image, most recently used last; a failed load is not kept. */
export class LabelCache<T> {
  private readonly map = new Map<ImageId, Promise<T>>();

  constructor(
    private readonly load: (id: ImageId) => Promise<T>,
    private readonly max = 6,
  ) {}

  get(id: ImageId): Promise<T> {
    let p = this.map.get(id);
    if (p) {
      this.map.delete(id);
      this.map.set(id, p);
      return p;
    }
    p = this.load(id);
    this.map.set(id, p);
    p.catch(() => {
      if (this.map.get(id) === p) this.map.delete(id);
    });
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next().value as ImageId;
      this.map.delete(oldest);
    }
    return p;
  }

  has(id: ImageId): boolean {
    return this.map.has(id);
  }

  /** Forget some images (null: all of them). */
  invalidate(ids: readonly ImageId[] | null): void {
    if (ids === null) this.map.clear();
    else for (const id of ids) this.map.delete(id);
  }
}

export interface ImageLike {
  src: string;
  decoding?: string;
  /** HTMLImageElement.decode: resolves once the pixels are decoded. */
  decode?: () => Promise<void>;
}

/**
 * Starts the download and decode of images about to be shown (an Image with its src set);
 * keeps the last few, so the browser does not drop them and the view can draw them at once.
 */
export class ImagePrefetcher<T extends ImageLike = ImageLike> {
  private readonly kept: Array<{ url: string; img: T; decoded: Promise<T | null> }> = [];

  constructor(
    private readonly make: () => T,
    private readonly max = 4,
  ) {}

  prefetch(urls: readonly string[]): void {
    for (const url of urls) {
      if (this.kept.some((k) => k.url === url)) continue;
      const img = this.make();
      img.decoding = 'async';
      img.src = url;
      // A failed decode is the view's to report when it opens the image; here it only means "not ready".
      const decoded = img.decode ? img.decode().then(() => img, () => null) : Promise.resolve(null);
      this.kept.push({ url, img, decoded });
      while (this.kept.length > this.max) this.kept.shift();
    }
  }

  /** The prefetched image of `url` once decoded; null when there is none or its decode failed. */
  async decoded(url: string): Promise<T | null> {
    const k = this.kept.find((x) => x.url === url);
    return k ? k.decoded : null;
  }

  urls(): string[] {
    return this.kept.map((k) => k.url);
  }
}
