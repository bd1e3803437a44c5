import { describe, expect, it, vi } from 'vitest';
import type { QueueResult } from '../lib/dto';
import { queueEntry as entry } from '../lib/testing/fixtures';
import { FakeBackend, flush } from '../lib/testing/fake-backend';
import { ImagePrefetcher, LabelCache, QueueNavigator } from './annotate-queue';
import { AnnotateSession } from './annotate-session';

const result = (images: number[]): QueueResult => ({ run: 1, pool: 100, candidates: 100, labeled: 0, items: images.map((i) => entry(i)) });

describe('queue navigation', () => {
  it('walks the queue forward and back', async () => {
    const fetch = vi.fn(async () => result([1, 2, 3]));
    const nav = new QueueNavigator(fetch, 50);
    expect(nav.positionText()).toBe('Queue not loaded');
    expect(await nav.next()).toBe(1);
    expect(fetch).toHaveBeenCalledWith(50);
    expect(nav.currentEntry()?.reasons).toEqual(['reason 1']);
    expect(await nav.next()).toBe(2);
    expect(nav.upcoming(2)).toEqual([3]);
    expect(nav.previous()).toBe(1);
    expect(nav.previous()).toBeNull();
    expect(await nav.next()).toBe(2);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(nav.positionText()).toBe('2 of 3+ in the queue');
  });

  it('asks again at the end, for what was visited plus a page, and keeps only what is new', async () => {
    const answers = [result([1, 2]), result([1, 2, 3, 4]), result([1, 2, 3, 4])];
    const fetch = vi.fn(async () => answers.shift()!);
    const nav = new QueueNavigator(fetch, 2);
    await nav.next();
    await nav.next();
    expect(await nav.next()).toBe(3);
    expect(fetch).toHaveBeenLastCalledWith(4);
    expect(nav.entries.map((e) => e.image)).toEqual([1, 2, 3, 4]);
    expect(await nav.next()).toBe(4);
    expect(await nav.next()).toBeNull();
    expect(nav.exhausted).toBe(true);
    expect(nav.current).toBe(4);
  });

  it('an image opened elsewhere is not a queue position; next goes to the queue, skipping it', async () => {
    const nav = new QueueNavigator(async () => result([7, 8, 9]), 50);
    nav.open(7);
    expect(nav.currentEntry()).toBeNull();
    expect(await nav.next()).toBe(8);
    nav.open(42);
    expect(nav.pos).toBe(-1);
    // The image opened before the queue was loaded is left out of it.
    expect(nav.upcoming(2)).toEqual([8, 9]);
    nav.open(9);
    expect(nav.currentEntry()?.image).toBe(9);
    expect(nav.pos).toBe(1);
  });

  it('one refill at a time', async () => {
    const fetch = vi.fn(async () => result([1]));
    const nav = new QueueNavigator(fetch, 50);
    await Promise.all([nav.refill(), nav.refill()]);
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe('labels cache', () => {
  it('loads once, forgets the oldest, and drops failures', async () => {
    const load = vi.fn(async (id: number) => {
      if (id === 99) throw new Error('gone');
      return `labels ${id}`;
    });
    const cache = new LabelCache(load, 2);
    expect(await cache.get(1)).toBe('labels 1');
    expect(await cache.get(1)).toBe('labels 1');
    expect(load).toHaveBeenCalledTimes(1);
    await cache.get(2);
    await cache.get(3);
    expect(cache.has(1)).toBe(false);
    await expect(cache.get(99)).rejects.toThrow('gone');
    await flush();
    expect(cache.has(99)).toBe(false);
    cache.invalidate([3]);
    expect(cache.has(3)).toBe(false);
    cache.invalidate(null);
    expect(cache.has(2)).toBe(false);
  });
});

describe('image prefetch', () => {
  it('sets src on new images and keeps a few', () => {
    const made: Array<{ src: string; decoding?: string }> = [];
    const pre = new ImagePrefetcher(() => {
      const img = { src: '' };
      made.push(img);
      return img;
    }, 2);
    pre.prefetch(['a', 'b']);
    pre.prefetch(['b', 'c']);
    expect(made.map((m) => m.src)).toEqual(['a', 'b', 'c']);
    expect(made[0]?.decoding).toBe('async');
    expect(pre.urls()).toEqual(['b', 'c']);
  });
});

describe('decoded prefetch', () => {
  it('hands over a prefetched image once decoded, null for a failed decode or an unknown url', async () => {
    const pre = new ImagePrefetcher(() => {
      const img = { src: '', decode: () => (img.src === 'bad' ? Promise.reject(new Error('EncodingError')) : Promise.resolve()) };
      return img;
    });
    pre.prefetch(['good', 'bad']);
    expect((await pre.decoded('good'))?.src).toBe('good');
    expect(await pre.decoded('bad')).toBeNull();
    expect(await pre.decoded('other')).toBeNull();
  });
});

describe('annotate session', () => {
  function setup(queue = [1, 2, 3, 4]) {
    const b = new FakeBackend({
      queue: result(queue),
      annotations: (a) => [{ id: 100 + Number(a?.image), image: a?.image }],
      classes: [],
      image_predictions: [],
      image_state_set: null,
      annotations_add: [],
    });
    const srcs: string[] = [];
    const ses = new AnnotateSession(b, {
      makeImage: () => {
        const img = { src: '' };
        queueMicrotask(() => srcs.push(img.src));
        return img;
      },
    });
    return { b, ses, srcs };
  }

  it('asks for the queue with the default weights and a limit of 50', async () => {
    const { b, ses } = setup();
    await ses.nav.next();
    expect(b.argsOf('queue')).toEqual([{ request: { weights: { uncertainty: 1, coverage: 1, diversity: 1 }, limit: 50 } }]);
  });

  it('prefetches the next two images and their labels', async () => {
    const { b, ses, srcs } = setup();
    const first = await ses.nav.next();
    await ses.load(first!);
    await ses.prefetchAhead();
    await flush();
    expect(srcs).toEqual(['img/2', 'img/3']);
    expect(b.argsOf('annotations')).toEqual([{ image: 1 }, { image: 2 }, { image: 3 }]);
    // Opening the next image uses what was preloaded.
    const next = await ses.nav.next();
    const before = b.calls.length;
    await ses.load(next!);
    expect(b.calls.length).toBe(before);
  });

  it('asks for more of the queue when fewer than two images are ahead', async () => {
    const { b, ses } = setup([1, 2]);
    await ses.nav.next();
    await ses.nav.next();
    await ses.prefetchAhead();
    expect(b.argsOf('queue')).toHaveLength(2);
    expect(ses.nav.exhausted).toBe(true);
  });

  it('an image opened from elsewhere loads the queue in the background and prefetches its head', async () => {
    const { b, ses, srcs } = setup([5, 6, 7]);
    ses.nav.open(42);
    await ses.prefetchAhead();
    await flush();
    expect(b.argsOf('queue')).toHaveLength(1);
    expect(ses.nav.positionText()).toBe('Not from the queue (3 queued)');
    expect(srcs).toEqual(['img/5', 'img/6']);
  });

  it('writes in order through the saved indicator, and drops stale labels', async () => {
    const { b, ses } = setup();
    const states: string[] = [];
    ses.saver.subscribe((s) => states.push(s.kind));
    await ses.load(1);
    b.hold('annotations_add');
    const w1 = ses.write(1, () => ses.actions.add(1, 'car', { kind: 'box', x0: 0, y0: 0, x1: 1, y1: 1 }));
    const w2 = ses.write(1, () => ses.actions.markDone(1));
    await flush();
    expect(ses.writing).toBe(true);
    expect(b.commands().filter((c) => c !== 'annotations' && c !== 'classes' && c !== 'image_predictions')).toEqual(['annotations_add']);
    b.release('annotations_add');
    await Promise.all([w1, w2]);
    await ses.idle();
    await flush();
    expect(b.commands().slice(-2)).toEqual(['annotations_add', 'image_state_set']);
    expect(ses.writing).toBe(false);
    expect(ses.labels.has(1)).toBe(false);
    expect(states).toEqual(['idle', 'saving', 'saving', 'saving', 'saved']);
  });

  it('a failed write shows its error and does not stop the next one', async () => {
    const { b, ses } = setup();
    b.answers.annotations_add = new Error('disk full');
    await expect(ses.write(1, () => ses.actions.add(1, 'car', { kind: 'box', x0: 0, y0: 0, x1: 1, y1: 1 }))).rejects.toThrow('disk full');
    expect(ses.saver.state).toEqual({ kind: 'error', message: 'disk full', pending: 0 });
    await ses.write(1, () => ses.actions.markDone(1));
    expect(ses.saver.state.kind).toBe('saved');
  });

  it('labels_changed drops the named images, or all of them', async () => {
    const { ses } = setup();
    await ses.load(1);
    await ses.load(2);
    expect(ses.labelsChanged({ images: [2] }, 1)).toBe(false);
    expect(ses.labels.has(2)).toBe(false);
    expect(ses.labels.has(1)).toBe(true);
    expect(ses.labelsChanged({ images: [] }, 1)).toBe(true);
    expect(ses.labels.has(1)).toBe(false);
  });
});
