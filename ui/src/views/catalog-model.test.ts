import { describe, expect, it } from 'vitest';
import { client } from '../lib/client';
import type { ImageQuery, ImageSummary } from '../lib/dto';
import { catalogAnswers, FakeBackend, flush } from '../lib/testing/fake-backend';
import { imageSummary, queueEntry } from '../lib/testing/fixtures';
import { CatalogModel, CursorIndex, conditionFilters, describeFilters, filtersFromForm, formFromFilters } from './catalog-model';

/** Every third image is from camera X, the others have none. */
const everyThirdX = (id: number): ImageSummary => ({ ...imageSummary(id), camera: id % 3 === 0 ? 'X' : null });

/** A backend holding images 1..n in catalog order, paged and sought by keyset cursor `i<id>` as the Rust side does. */
function catalogBackend(n: number, image?: (id: number) => ImageSummary) {
  return new FakeBackend({
    ...catalogAnswers(n, image ? { image } : {}),
    queue: (args) => {
      const limit = (args?.request as { limit: number }).limit;
      return { run: 1, pool: n, candidates: n, labeled: 0, items: [30, 10, 20].slice(0, limit).map((id, k) => queueEntry(id, k + 1)) };
    },
    conditions_set: (args) => (args?.images as number[]).length,
    image_state_set: null,
    conditions_set_matching: () => n,
    image_state_set_matching: () => n,
  });
}

function model(b: FakeBackend, opts = {}) {
  return new CatalogModel(client(b), { pageSize: 200, maxPages: 8, walkPage: 1000, ...opts });
}

/** The calls made while `f` ran. */
async function callsDuring(b: FakeBackend, f: () => Promise<unknown>) {
  const before = b.calls.length;
  await f();
  return b.calls.slice(before);
}

describe('fake catalog', () => {
  it('seeks as images_seek does, agreeing with page walks', () => {
    const a = catalogAnswers(10, { image: everyThirdX });
    const seek = (query: ImageQuery, index: number) => a.images_seek({ query, index });
    expect(seek({}, 0)).toBeNull();
    expect(seek({}, 3)).toBe('i3');
    expect(seek({ cursor: 'i3' }, 3)).toBe('i6');
    // A page exactly at the end has a cursor (its page is empty); past the end has none.
    expect(seek({}, 10)).toBe('i10');
    expect(seek({}, 11)).toBeNull();
    expect(seek({ cursor: 'i6' }, 5)).toBeNull();
    // Filters: images 3, 6, 9 are from camera X.
    expect(a.images_count({ query: { camera: 'X' } })).toBe(3);
    expect(seek({ camera: 'X' }, 2)).toBe('i6');
    expect(seek({ camera: 'X', cursor: 'i3' }, 2)).toBe('i9');
    expect(seek({ camera: 'X' }, 4)).toBeNull();
    for (let k = 1; k < 10; k++) expect(seek({}, k)).toBe((a.images({ query: { limit: k } }) as { next_cursor: string | null }).next_cursor);
    expect(() => seek({ cursor: 'x1' }, 1)).toThrow('is not a cursor this server issued');
  });
});

describe('catalog order', () => {
  it('counts, then loads the visible pages', async () => {
    const b = catalogBackend(300_000, everyThirdX);
    const m = model(b);
    await m.setFilters({ label_state: 'unlabeled', camera: 'X' });
    expect(b.argsOf('images_count')).toEqual([{ query: { label_state: 'unlabeled', camera: 'X' } }]);
    expect(m.count).toBe(100_000);
    await m.setVisible(0, 42);
    expect(b.argsOf('images')).toEqual([{ query: { label_state: 'unlabeled', camera: 'X', limit: 200 } }]);
    expect(m.tile(41)).toMatchObject({ kind: 'catalog', image: { id: 126 } });
    expect(m.tile(300).kind).toBe('loading');
  });

  it('jumps to a far position with one images_seek, then fetches the page there', async () => {
    const b = catalogBackend(1_000_000);
    const m = model(b);
    await m.reload();
    expect(await callsDuring(b, () => m.setVisible(500_000, 500_042))).toEqual([
      ['images_seek', { query: {}, index: 500_000 }],
      ['images', { query: { cursor: 'i500000', limit: 200 } }],
    ]);
    expect(m.tile(500_000)).toMatchObject({ kind: 'catalog', image: { id: 500_001 } });
    expect(m.walking).toBeNull();
    // Coming back near there seeks no more: the next page's cursor is known.
    expect(await callsDuring(b, () => m.setVisible(500_200, 500_242))).toEqual([['images', { query: { cursor: 'i500200', limit: 200 } }]]);
    expect(m.tile(500_241)).toMatchObject({ image: { id: 500_242 } });
    // The end of a million is one more jump, from the nearest cursor known.
    expect(await callsDuring(b, () => m.setVisible(999_990, 1_000_000))).toEqual([
      ['images_seek', { query: { cursor: 'i500400' }, index: 499_400 }],
      ['images', { query: { cursor: 'i999800', limit: 200 } }],
    ]);
    expect(m.tile(999_999)).toMatchObject({ image: { id: 1_000_000 } });
  });

  it('jumps with the filters, from the nearest cursor it knows', async () => {
    const b = catalogBackend(1_000_000, everyThirdX);
    const m = model(b);
    await m.setFilters({ camera: 'X' });
    expect(m.count).toBe(333_333);
    await m.setVisible(0, 42);
    expect(await callsDuring(b, () => m.setVisible(200_000, 200_010))).toEqual([
      ['images_seek', { query: { camera: 'X', cursor: 'i600' }, index: 199_800 }],
      ['images', { query: { camera: 'X', cursor: 'i600000', limit: 200 } }],
    ]);
    expect(m.tile(200_000)).toMatchObject({ image: { id: 600_003 } });
  });

  it('walks page by page up to one walk page away, jumps beyond, and lands on any position', async () => {
    const b = catalogBackend(10_000);
    const m = model(b);
    await m.reload();
    // Exactly one walk page away: a walk.
    expect(await callsDuring(b, () => m.setVisible(1_000, 1_020))).toEqual([
      ['images', { query: { limit: 1000 } }],
      ['images', { query: { cursor: 'i1000', limit: 200 } }],
    ]);
    // 1,200 past the nearest known cursor (1,200): a jump, to a position no multiple of the walk page.
    expect(await callsDuring(b, () => m.setVisible(2_400, 2_420))).toEqual([
      ['images_seek', { query: { cursor: 'i1200' }, index: 1_200 }],
      ['images', { query: { cursor: 'i2400', limit: 200 } }],
    ]);
    expect(m.tile(2_400)).toMatchObject({ image: { id: 2_401 } });
    // 400 past the nearest known cursor (2,600): a walk of one short page.
    expect(await callsDuring(b, () => m.setVisible(3_000, 3_020))).toEqual([
      ['images', { query: { cursor: 'i2600', limit: 400 } }],
      ['images', { query: { cursor: 'i3000', limit: 200 } }],
    ]);
    expect(m.tile(3_019)).toMatchObject({ image: { id: 3_020 } });
    // Pages that are no multiple of the walk page land exactly too.
    const odd = model(catalogBackend(10_000), { pageSize: 300 });
    await odd.reload();
    await odd.setVisible(2_700, 2_710);
    expect(odd.tile(2_700)).toMatchObject({ image: { id: 2_701 } });
  });

  it('shows the jump as progress while it is under way', async () => {
    const b = catalogBackend(1_000_000);
    const m = model(b);
    await m.reload();
    b.hold('images_seek');
    const far = m.setVisible(500_000, 500_042);
    await flush();
    expect(m.walking).toEqual({ from: 0, at: 0, target: 500_000 });
    b.release('images_seek');
    await far;
    expect(m.walking).toBeNull();
    expect(m.tile(500_000)).toMatchObject({ image: { id: 500_001 } });
  });

  it('abandons a jump once the view has moved elsewhere, keeping its cursor for later', async () => {
    const b = catalogBackend(1_000_000);
    const m = model(b);
    await m.reload();
    b.hold('images_seek');
    const far = m.setVisible(500_000, 500_042);
    await flush();
    expect(b.argsOf('images_seek')).toEqual([{ query: {}, index: 500_000 }]);
    const near = m.setVisible(0, 42);
    await flush();
    b.release('images_seek');
    await Promise.all([far, near]);
    // The answer came after the view moved: its page was not fetched, only the top one.
    expect(b.argsOf('images')).toEqual([{ query: { limit: 200 } }]);
    expect(m.tile(0)).toMatchObject({ image: { id: 1 } });
    expect(m.tile(500_000).kind).toBe('loading');
    expect(m.walking).toBeNull();
    expect(m.error).toBeNull();
    // Its cursor is right for these filters, so it was kept: going back there costs no seek.
    expect(await callsDuring(b, () => m.setVisible(500_000, 500_042))).toEqual([['images', { query: { cursor: 'i500000', limit: 200 } }]]);
    expect(m.tile(500_000)).toMatchObject({ image: { id: 500_001 } });
  });

  it('drops a jump answered after the filters changed', async () => {
    const b = catalogBackend(1_000_000, everyThirdX);
    const m = model(b);
    await m.reload();
    b.hold('images_seek');
    const far = m.setVisible(200_000, 200_010);
    await flush();
    const refiltered = m.setFilters({ camera: 'X' });
    await flush();
    b.release('images_seek');
    await Promise.all([far, refiltered]);
    // The old answer (i200000, for no filter) was not used: position 200,000 of camera X is image 600,003.
    expect(b.argsOf('images_seek')).toEqual([
      { query: {}, index: 200_000 },
      { query: { camera: 'X' }, index: 200_000 },
    ]);
    expect(b.argsOf('images')).toEqual([{ query: { camera: 'X', cursor: 'i600000', limit: 200 } }]);
    expect(m.tile(200_000)).toMatchObject({ image: { id: 600_003 } });
    expect(m.error).toBeNull();
  });

  it('says when a position is past the end of a list that shrank', async () => {
    const b = catalogBackend(10_000);
    const m = model(b);
    await m.reload();
    expect(m.count).toBe(10_000);
    Object.assign(b.answers, catalogAnswers(500));
    // Far: the jump finds nothing there.
    await m.setVisible(5_000, 5_020);
    expect(b.argsOf('images_seek')).toEqual([{ query: {}, index: 5_000 }]);
    expect(m.error).toBe('position 5000 is past the end of the list (it changed meanwhile?)');
    expect(m.walking).toBeNull();
    // Near: the walk comes back short.
    m.click(800, { shift: false, ctrl: false });
    await expect(m.selectedIds()).rejects.toThrow(new RangeError('position 800 is past the end of the list (it changed meanwhile?)'));
    expect(b.argsOf('images').at(-1)).toEqual({ query: { limit: 800 } });
  });

  it('resolves a selection over pages never loaded, and caps what one action takes', async () => {
    const b = catalogBackend(100_000);
    const m = model(b);
    await m.reload();
    m.click(10, { shift: false, ctrl: false });
    m.click(12, { shift: true, ctrl: false });
    m.click(2_537, { shift: false, ctrl: true });
    m.click(90_001, { shift: false, ctrl: true });
    expect(m.selectedCount).toBe(5);
    const calls: unknown[] = [];
    const ids = await callsDuring(b, async () => calls.push(await m.selectedIds()));
    expect(calls).toEqual([[11, 12, 13, 2_538, 90_002]]);
    expect(ids).toEqual([
      // 10 is near the start: a short walk, then the range.
      ['images', { query: { limit: 10 } }],
      ['images', { query: { cursor: 'i10', limit: 3 } }],
      // 2,537 is far from the last cursor known (13): one jump, then the one image.
      ['images_seek', { query: { cursor: 'i13' }, index: 2_524 }],
      ['images', { query: { cursor: 'i2537', limit: 1 } }],
      ['images_seek', { query: { cursor: 'i2538' }, index: 87_463 }],
      ['images', { query: { cursor: 'i90001', limit: 1 } }],
    ]);
    m.selectAll();
    expect(m.selectedCount).toBe(100_000);
    await expect(m.selectedIds()).rejects.toThrow('100,000 images are selected; an action takes at most 5,000 at a time.');
  });

  it('sets a condition on and skips the selected images', async () => {
    const b = catalogBackend(1_000);
    const m = model(b);
    await m.setFilters({ label_state: 'unlabeled' });
    m.click(0, { shift: false, ctrl: false });
    m.click(2, { shift: true, ctrl: false });
    expect(await m.setCondition('weather', 'fog')).toBe(3);
    expect(b.argsOf('conditions_set')).toEqual([{ images: [1, 2, 3], key: 'weather', value: 'fog' }]);
    const counts = b.argsOf('images_count').length;
    expect(await m.markSkipped()).toBe(3);
    expect(b.argsOf('image_state_set')).toEqual([{ images: [1, 2, 3], state: 'skipped' }]);
    // Filtering on label state: the list is fetched again, the selection cleared.
    expect(b.argsOf('images_count').length).toBe(counts + 1);
    expect(m.selectedCount).toBe(0);
  });

  it('with everything selected, an action goes out as the query, however many images match', async () => {
    const b = catalogBackend(100_000);
    const m = model(b);
    await m.setFilters({ label_state: 'unlabeled' });
    expect(m.count).toBe(100_000);
    m.selectAll();
    expect(m.everythingSelected).toBe(true);
    expect(await m.markSkipped()).toBe(100_000);
    expect(b.argsOf('image_state_set_matching')).toEqual([{ query: { label_state: 'unlabeled' }, state: 'skipped' }]);
    m.selectAll();
    expect(await m.setCondition('weather', 'fog')).toBe(100_000);
    expect(b.argsOf('conditions_set_matching')).toEqual([{ query: { label_state: 'unlabeled' }, key: 'weather', value: 'fog' }]);
    expect(b.argsOf('image_state_set')).toEqual([]);
    // One image fewer than everything: ids again (and the cap).
    m.selectAll();
    m.click(5, { shift: false, ctrl: true });
    expect(m.everythingSelected).toBe(false);
    await expect(m.markSkipped()).rejects.toThrow('99,999 images are selected');
  });

  it('labels changing elsewhere refetch only a list filtered on label state or class', async () => {
    const b = catalogBackend(10);
    const m = model(b);
    await m.reload();
    await m.labelsChanged();
    expect(b.argsOf('images_count')).toHaveLength(1);
    await m.setFilters({ label_state: 'labeled' });
    await m.labelsChanged();
    expect(b.argsOf('images_count')).toHaveLength(3);
    await m.setFilters({ class: 'car' });
    await m.labelsChanged();
    expect(b.argsOf('images_count')).toHaveLength(5);
  });

  it('setting the filtered condition key on the selection refetches the list', async () => {
    const b = catalogBackend(10);
    const m = model(b);
    await m.setFilters({ condition_key: 'weather', condition_value: 'rain' });
    m.click(0, { shift: false, ctrl: false });
    await m.setCondition('light', 'night');
    expect(b.argsOf('images_count')).toHaveLength(1);
    m.click(0, { shift: false, ctrl: false });
    await m.setCondition('weather', 'fog');
    expect(b.argsOf('images_count')).toHaveLength(2);
  });

  it('shows the error of a failed count', async () => {
    const b = catalogBackend(10);
    b.answers.images_count = new Error('no project is open');
    const m = model(b);
    await m.reload();
    expect(m.error).toBe('no project is open');
    expect(m.loading).toBe(false);
  });
});

describe('queue order', () => {
  it('lists the ranked queue instead of the catalog', async () => {
    const b = catalogBackend(100);
    const m = model(b);
    await m.setOrder('queue', 500);
    expect(b.argsOf('queue')).toEqual([{ request: { weights: { uncertainty: 1, coverage: 1, diversity: 1 }, limit: 500 } }]);
    expect(m.count).toBe(3);
    expect(m.tile(0)).toMatchObject({ kind: 'queue', entry: { image: 30, rank: 1 } });
    expect(m.imageAt(1)).toBe(10);
    m.click(0, { shift: false, ctrl: false });
    m.click(2, { shift: false, ctrl: true });
    expect(await m.selectedIds()).toEqual([30, 20]);
    expect(b.argsOf('images')).toEqual([]);
  });
});

describe('cursor index', () => {
  it('finds the nearest known position below', () => {
    const c = new CursorIndex();
    expect(c.nearest(500)).toEqual([0, null]);
    c.record(1000, 'i1000');
    c.record(3000, 'i3000');
    expect(c.nearest(2999)).toEqual([1000, 'i1000']);
    expect(c.nearest(3000)).toEqual([3000, 'i3000']);
    expect(c.indexOf('i3000')).toBe(3000);
    expect(c.indexOf(null)).toBe(0);
  });
});

describe('filter form', () => {
  const blank = formFromFilters({});

  it('leaves empty fields out', () => {
    expect(filtersFromForm({ ...blank, folder: ' ', condition_key: ' ', class: '', predicted_class: ' ', score_min: '', score_max: null })).toEqual({});
    const f = filtersFromForm({ ...blank, label_state: 'skipped', folder: ' site-a/cam1 ', camera: 'Canon EOS 40D', has_duplicates: 'no', status: 'missing', captured_from: '2024-01-01' });
    expect(f).toEqual({ label_state: 'skipped', folder: 'site-a/cam1', camera: 'Canon EOS 40D', has_duplicates: false, status: 'missing', captured_from: '2024-01-01' });
    expect(describeFilters(f)).toBe('label state: skipped · folder: site-a/cam1 · camera: Canon EOS 40D · without duplicates · file missing · taken from 2024-01-01');
    expect(describeFilters({})).toBe('all images');
  });

  it('takes a condition, a class, a predicted class and a score band', () => {
    const f = filtersFromForm({ ...blank, condition_key: 'time_of_day', condition_value: ' night ', class: 'car', predicted_class: ' truck ', score_min: 0.3, score_max: '0.6' });
    expect(f).toEqual({ condition_key: 'time_of_day', condition_value: 'night', class: 'car', predicted_class: 'truck', score_min: 0.3, score_max: 0.6 });
    expect(describeFilters(f)).toBe('time_of_day = night · class: car · predicted truck with score 0.3–0.6');
    // The form shows the filters again, and gives back the same.
    expect(filtersFromForm(formFromFilters(f))).toEqual(f);
    // 0 is a bound, not an empty field; what is not a number is left out.
    expect(filtersFromForm({ ...blank, score_min: 0, score_max: 'x' })).toEqual({ score_min: 0 });
    expect(filtersFromForm({ ...blank, score_min: Number.NaN })).toEqual({});
  });

  it('describes each part of a prediction filter', () => {
    expect(describeFilters({ predicted_class: 'car' })).toBe('predicted car');
    expect(describeFilters({ score_min: 0.5 })).toBe('a prediction with score ≥ 0.5');
    expect(describeFilters({ predicted_class: 'car', score_max: 0.4 })).toBe('predicted car with score < 0.4');
    expect(describeFilters({ score_min: 0, score_max: 1 })).toBe('a prediction with score 0–1');
  });

  it('keeps half a condition, for the backend to name what is missing', () => {
    expect(filtersFromForm({ ...blank, condition_key: 'weather' })).toEqual({ condition_key: 'weather' });
    expect(describeFilters({ condition_key: 'weather' })).toBe('weather = ?');
    expect(conditionFilters('weather', 'fog_haze')).toEqual({ condition_key: 'weather', condition_value: 'fog_haze', status: 'ok' });
  });

  it('sends the new filters with every call', async () => {
    const b = catalogBackend(10);
    const m = model(b);
    await m.setFilters({ condition_key: 'weather', condition_value: 'rain', class: 'car', predicted_class: 'car', score_min: 0.2, score_max: 0.9 });
    const query = { condition_key: 'weather', condition_value: 'rain', class: 'car', predicted_class: 'car', score_min: 0.2, score_max: 0.9 };
    expect(b.argsOf('images_count')).toEqual([{ query }]);
    await m.setVisible(0, 5);
    expect(b.argsOf('images')[0]).toEqual({ query: { ...query, limit: 200 } });
  });
});
