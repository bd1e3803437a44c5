import { describe, expect, it } from 'vitest';
import { recordingSurfaces, seededRandom } from '../../test/fake-canvas';
import {
  decodeRle,
  encodeRle,
  MaskBitmap,
  MaskLayer,
  maskBBox,
  maskRgba,
  paintDisc,
  paintStroke,
  rleArea,
  rleBBox,
} from './mask';

/** A mask from rows of '#' (set) and '.' (clear). */
function fromRows(rows: string[]): MaskBitmap {
  const h = rows.length;
  const w = rows[0]?.length ?? 0;
  const data = new Uint8Array(w * h);
  rows.forEach((row, y) => [...row].forEach((c, x) => (data[y * w + x] = c === '#' ? 1 : 0)));
  return new MaskBitmap(w, h, data);
}

function toRows(m: MaskBitmap): string[] {
  const rows: string[] = [];
  for (let y = 0; y < m.height; y++) {
    let r = '';
    for (let x = 0; x < m.width; x++) r += m.get(x, y) ? '#' : '.';
    rows.push(r);
  }
  return rows;
}

describe('COCO uncompressed RLE', () => {
  // Expected counts written by hand from the rule (down each column, columns left to right,
  // runs alternate starting with zeros), and each checked against pycocotools 2.0.11:
  // mask.frPyObjects({size: [h, w], counts}) == mask.encode(np.asfortranarray(m)).
  const cases: Array<[string, string[], number[]]> = [
    ['first pixel set: a zero-length run of zeros comes first', ['#.', '..'], [0, 1, 3]],
    ['last pixel set', ['..', '.#'], [3, 1]],
    ['all set', ['##', '##'], [0, 4]],
    ['all clear', ['...', '...'], [6]],
    // Columns: (0,0) | (1,0) | (1,1) → 0 0 1 0 1 1.
    ['column-major, not row-major', ['.##', '..#'], [2, 1, 1, 2]],
    [
      'a 6×4 pattern',
      ['.##..#', '##..##', '.#.##.', '...#.#'],
      [1, 1, 2, 3, 1, 1, 5, 2, 1, 2, 1, 2, 1, 1],
    ],
  ];

  for (const [name, rows, counts] of cases) {
    it(`encodes: ${name}`, () => {
      expect(encodeRle(fromRows(rows))).toEqual(counts);
    });
    it(`decodes: ${name}`, () => {
      const w = rows[0]?.length ?? 0;
      expect(toRows(decodeRle(counts, w, rows.length))).toEqual(rows);
    });
  }

  it('matches pycocotools on a random 13×9 mask', () => {
    // rng = np.random.default_rng(7); m = (rng.random((9, 13)) < 0.4); counts decoded from
    // pycocotools' mask.encode string (and re-encoded by frPyObjects to the same string).
    const rows = [
      '...##.#...###',
      '.......##.##.',
      '.....###.###.',
      '##.....#...#.',
      '####.#.....#.',
      '#.#.#.#..#...',
      '.##..#...#.##',
      '...#.####....',
      '.#..#...#.#..',
    ];
    const counts = [
      3, 3, 6, 2, 1, 1, 1, 1, 4, 3, 2, 1, 3, 1, 2, 1, 1, 1, 4, 1, 2, 1, 2, 1, 1, 1, 1, 2, 1, 1, 1, 1, 2, 1, 1, 1, 2, 3, 3,
      1, 2, 1, 5, 2, 2, 1, 2, 2, 2, 3, 5, 6, 1, 1, 2, 1, 5, 1, 2,
    ];
    expect(encodeRle(fromRows(rows))).toEqual(counts);
    expect(toRows(decodeRle(counts, 13, 9))).toEqual(rows);
    expect(rleArea(counts)).toBe(rows.join('').split('#').length - 1);
    expect(rleBBox(counts, 9)).toEqual({ x0: 0, y0: 0, x1: 13, y1: 9 });
  });

  it('gives [0] for a mask with no pixels, as pycocotools and the backend do', () => {
    expect(encodeRle(new MaskBitmap(0, 0))).toEqual([0]);
  });

  it('round-trips random masks of many shapes', () => {
    const rand = seededRandom(1);
    for (let n = 0; n < 200; n++) {
      const w = 1 + Math.floor(rand() * 20);
      const h = 1 + Math.floor(rand() * 20);
      const density = rand();
      const m = new MaskBitmap(w, h);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (rand() < density) m.set(x, y, 1);
      const counts = encodeRle(m);
      expect(counts.reduce((s, c) => s + c, 0)).toBe(w * h);
      // Runs after the first are never empty.
      expect(counts.slice(1).every((c) => c > 0)).toBe(true);
      const back = decodeRle(counts, w, h);
      expect(back.data).toEqual(m.data);
      expect(encodeRle(back)).toEqual(counts);
    }
  });

  it('encodes only by the painted bounds and still covers the whole image', () => {
    const m = new MaskBitmap(50, 40);
    paintDisc(m, 25, 20, 3, 1);
    paintDisc(m, 25, 20, 3, 0);
    // Erased to nothing; the bounds are stale but the encoding must be all zeros.
    expect(encodeRle(m)).toEqual([2000]);
  });

  it('refuses counts that do not add up to the size', () => {
    expect(() => decodeRle([1, 2], 2, 2)).toThrow(/add up to 3/);
  });
});

describe('mask bounding boxes', () => {
  it('from runs alone matches the decoded mask', () => {
    const rand = seededRandom(2);
    for (let n = 0; n < 100; n++) {
      const w = 1 + Math.floor(rand() * 15);
      const h = 1 + Math.floor(rand() * 15);
      const m = new MaskBitmap(w, h);
      const k = Math.floor(rand() * 4);
      for (let i = 0; i < k; i++) m.set(Math.floor(rand() * w), Math.floor(rand() * h), 1);
      expect(rleBBox(encodeRle(m), h)).toEqual(maskBBox(m));
    }
  });

  it('of a run that wraps into the next column spans the whole height', () => {
    // 3 rows: (0,2) and (1,0) are one run in column-major order.
    expect(rleBBox([2, 2, 2], 3)).toEqual({ x0: 0, y0: 0, x1: 2, y1: 3 });
  });

  it('is null for an empty mask', () => {
    expect(rleBBox([6], 2)).toBeNull();
    expect(maskBBox(new MaskBitmap(3, 2))).toBeNull();
  });
});

describe('painting', () => {
  it('paints the pixels whose centres are within the radius', () => {
    const m = new MaskBitmap(7, 7);
    const dirty = paintDisc(m, 3.5, 3.5, 1.5, 1);
    expect(toRows(m)).toEqual(['.......', '.......', '..###..', '..###..', '..###..', '.......', '.......']);
    expect(dirty).toEqual({ x0: 2, y0: 2, x1: 5, y1: 5 });
    expect(m.bounds).toEqual(dirty);
  });

  it('erases', () => {
    const m = fromRows(['###', '###', '###']);
    paintDisc(m, 1.5, 1.5, 0.5, 0);
    expect(toRows(m)).toEqual(['###', '#.#', '###']);
  });

  it('leaves no gap along a fast stroke (two far-apart samples)', () => {
    const m = new MaskBitmap(100, 60);
    paintStroke(m, 5.5, 10.5, 94.5, 50.5, 2, 1);
    // Every pixel centre on the segment is painted…
    for (let t = 0; t <= 1; t += 0.001) {
      const x = Math.floor(5.5 + t * 89);
      const y = Math.floor(10.5 + t * 40);
      expect(m.get(x, y)).toBe(1);
    }
    // …and every painted pixel's centre is within the radius of it (the capsule, exactly).
    for (let y = 0; y < 60; y++) {
      for (let x = 0; x < 100; x++) {
        const px = x + 0.5;
        const py = y + 0.5;
        const t = Math.max(0, Math.min(1, ((px - 5.5) * 89 + (py - 10.5) * 40) / (89 * 89 + 40 * 40)));
        const d = Math.hypot(px - (5.5 + t * 89), py - (10.5 + t * 40));
        if (d < 1.99) expect(m.get(x, y)).toBe(1);
        if (d > 2.01) expect(m.get(x, y)).toBe(0);
      }
    }
  });

  it('clips strokes at the edges', () => {
    const m = new MaskBitmap(4, 4);
    const dirty = paintStroke(m, -10, -10, 1, 1, 1, 1);
    expect(m.get(0, 0)).toBe(1);
    expect(dirty?.x0).toBe(0);
    expect(paintDisc(m, 50, 50, 2, 1)).toBeNull();
  });

  it('counts area within the bounds', () => {
    const m = new MaskBitmap(10, 10);
    paintDisc(m, 5, 5, 2, 1);
    expect(m.area()).toBe(rleArea(encodeRle(m)));
  });
});

describe('drawing masks', () => {
  it('makes RGBA for a rectangle only', () => {
    const m = fromRows(['#.', '.#']);
    const rgba = maskRgba(m, { x0: 1, y0: 0, x1: 2, y1: 2 }, [10, 20, 30, 40]);
    expect([...rgba]).toEqual([0, 0, 0, 0, 10, 20, 30, 40]);
  });

  it('allocates a surface of the mask’s bounds, not the image', () => {
    const { factory, created } = recordingSurfaces();
    const m = new MaskBitmap(8000, 6000);
    paintDisc(m, 100, 200, 10, 1);
    const layer = new MaskLayer(m, '#ff0000', 0.5, factory);
    expect(created).toHaveLength(1);
    expect(created[0]?.width).toBe(20);
    expect(created[0]?.height).toBe(20);
    expect(layer.rect).toEqual(m.bounds);
  });

  it('re-uploads only what a stroke changed, and grows with slack when it leaves the surface', () => {
    const { factory, created } = recordingSurfaces();
    const m = new MaskBitmap(1000, 1000);
    paintDisc(m, 500, 500, 50, 1);
    const layer = new MaskLayer(m, '#00ff00', 0.5, factory);
    const inside = paintDisc(m, 500, 500, 5, 0);
    layer.update(inside);
    expect(created).toHaveLength(1);
    const put = created[0]?.puts.at(-1);
    expect(put).toMatchObject({ width: 10, height: 10, dx: 45, dy: 45 });

    const outside = paintDisc(m, 700, 500, 5, 1);
    layer.update(outside);
    expect(created).toHaveLength(2);
    const rect = layer.rect;
    expect(rect && rect.x1 > 705).toBe(true);
    // Slack: a stroke continuing a little further does not reallocate again.
    layer.update(paintDisc(m, 710, 500, 5, 1));
    expect(created).toHaveLength(2);
  });
});
