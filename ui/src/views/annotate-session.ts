// What the annotation view keeps between images, without the canvas: the queue walk, the
// labels cache and image prefetch, and the ordered, tracked writes behind the "saved" indicator.

import type { Backend } from '../lib/api/backend';
import type { ImageId } from '../lib/api/types';
import { client } from '../lib/client';
import { SaveTracker } from '../lib/save-status';
import { type AnnotateActions, annotateActions, changedImages, type ImageLabels } from './annotate-actions';
import { type ImageLike, ImagePrefetcher, LabelCache, PREFETCH_AHEAD, QueueNavigator } from './annotate-queue';

export interface AnnotateSessionOptions<T extends ImageLike = ImageLike> {
  /** Makes the Image objects that prefetch pixels (`() => new Image()` in a browser). */
  makeImage: () => T;
  now?: () => number;
}

export class AnnotateSession<T extends ImageLike = ImageLike> {
  readonly actions: AnnotateActions;
  readonly nav: QueueNavigator;
  readonly labels: LabelCache<ImageLabels>;
  readonly images: ImagePrefetcher<T>;
  readonly saver: SaveTracker;
  private chain: Promise<void> = Promise.resolve();
  private inflight = 0;

  constructor(
    private readonly backend: Backend,
    opts: AnnotateSessionOptions<T>,
  ) {
    this.actions = annotateActions(backend);
    const api = client(backend);
    this.nav = new QueueNavigator((limit) => api.queue(limit));
    this.labels = new LabelCache((id) => this.actions.load(id), 6);
    this.images = new ImagePrefetcher(opts.makeImage, PREFETCH_AHEAD + 2);
    this.saver = new SaveTracker(opts.now);
  }

  /** An image's labels: from the cache when prefetched, else loaded now. */
  load(id: ImageId): Promise<ImageLabels> {
    return this.labels.get(id);
  }

  /** Fresh labels for an image (the cached ones dropped first). */
  reload(id: ImageId): Promise<ImageLabels> {
    this.labels.invalidate([id]);
    return this.labels.get(id);
  }

  /**
   * Starts loading the next images of the queue (pixels and labels). When fewer than that are
   * queued (or the queue was never asked for), asks the backend for more first. Resolves when
   * the queue is as known as it will get (for the position shown).
   */
  async prefetchAhead(): Promise<void> {
    for (let round = 0; round < 3; round++) {
      const ids = this.nav.upcoming(PREFETCH_AHEAD);
      this.images.prefetch(ids.map((id) => this.backend.imageUrl(id)));
      for (const id of ids) this.labels.get(id).catch(() => {});
      if (ids.length >= PREFETCH_AHEAD || (this.nav.loaded && this.nav.exhausted)) return;
      try {
        await this.nav.refill();
      } catch {
        return;
      }
    }
  }

  /**
   * Runs a write after the ones before it (the backend sees edits in the order they were made),
   * through the saved indicator. The image's cached labels are dropped once it is done.
   */
  write<T>(image: ImageId | null, run: () => Promise<T>): Promise<T> {
    this.inflight++;
    // Tracked from now: a write waiting its turn already counts as "saving…".
    const result = this.saver.track(this.chain.then(run));
    this.chain = result.then(
      () => undefined,
      () => undefined,
    );
    void this.chain.then(() => {
      this.inflight--;
      this.labels.invalidate(image === null ? null : [image]);
    });
    return result;
  }

  /** Whether writes are queued or in flight. */
  get writing(): boolean {
    return this.inflight > 0;
  }

  /** Resolves once every write made so far has returned. */
  idle(): Promise<void> {
    return this.chain;
  }

  /** Drops what a `labels_changed` event made stale; says whether `current` is among it. */
  labelsChanged(payload: unknown, current: ImageId | null): boolean {
    const images = changedImages(payload);
    this.labels.invalidate(images);
    return current !== null && (images === null || images.includes(current));
  }
}
