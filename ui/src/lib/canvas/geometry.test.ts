import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/fake-canvas';
import type { Geometry } from '../api/types';
import {
  clampBox,
  clampGeometry,
  closestOnSegment,
  distanceToSegment,
  geometryArea,
  geometryBBox,
  GridIndex,
  normalizeBox,
  pointInPolygon,
  type Rect,
  rectsIntersect,
} from './geometry';

describe('bounding boxes and areas', () => {
  it('of a box (normalised)', () => {
    const g: Geometry = { kind: 'box', x0: 10, y0: 20, x1: 4, y1: 2 };
    expect(geometryBBox(g)).toEqual({ kind: 'box', x0: 4, y0: 2, x1: 10, y1: 20 });
    expect(geometryArea(g)).toBe(108);
  });

  it('of a polygon, all parts', () => {
    const g: Geometry = {
      kind: 'polygon',
      parts: [
        [[0, 0], [4, 0], [4, 3]],
        [[10, 10], [12, 10], [12, 12], [10, 12]],
      ],
    };
    expect(geometryBBox(g)).toEqual({ x0: 0, y0: 0, x1: 12, y1: 12 });
    // Triangle 6 + square 4, whatever the winding.
    expect(geometryArea(g)).toBe(10);
    expect(geometryArea({ kind: 'polygon', parts: [[[0, 0], [0, 2], [2, 2], [2, 0]]] })).toBe(4);
  });

  it('of a polygon with no points is the empty rect at the origin, like the backend', () => {
    expect(geometryBBox({ kind: 'polygon', parts: [] })).toEqual({ x0: 0, y0: 0, x1: 0, y1: 0 });
  });

  it('of a mask, from its runs', () => {
    // 3×2 mask (w=3, h=2): pixels (1,0), (2,0), (2,1).
    const g: Geometry = { kind: 'mask', width_px: 3, height_px: 2, counts: [2, 1, 1, 2] };
    expect(geometryBBox(g)).toEqual({ x0: 1, y0: 0, x1: 3, y1: 2 });
    expect(geometryArea(g)).toBe(3);
  });
});

describe('point in polygon (even-odd)', () => {
  const square: [number, number][] = [[0, 0], [10, 0], [10, 10], [0, 10]];
  const hole: [number, number][] = [[3, 3], [7, 3], [7, 7], [3, 7]];
  const far: [number, number][] = [[20, 20], [30, 20], [25, 30]];

  it('inside and outside one part', () => {
    expect(pointInPolygon(5, 5, [square])).toBe(true);
    expect(pointInPolygon(15, 5, [square])).toBe(false);
    expect(pointInPolygon(-1, 5, [square])).toBe(false);
  });

  it('a part inside another is a hole', () => {
    expect(pointInPolygon(5, 5, [square, hole])).toBe(false);
    expect(pointInPolygon(1, 1, [square, hole])).toBe(true);
  });

  it('separate parts each count', () => {
    expect(pointInPolygon(25, 24, [square, far])).toBe(true);
    expect(pointInPolygon(15, 15, [square, far])).toBe(false);
  });

  it('concave outlines', () => {
    const u: [number, number][] = [[0, 0], [3, 0], [3, 10], [7, 10], [7, 0], [10, 0], [10, 12], [0, 12]];
    expect(pointInPolygon(5, 5, [u])).toBe(false);
    expect(pointInPolygon(1, 5, [u])).toBe(true);
    expect(pointInPolygon(5, 11, [u])).toBe(true);
  });
});

describe('segments', () => {
  it('distance to the interior, the ends, and a degenerate segment', () => {
    expect(distanceToSegment(5, 3, 0, 0, 10, 0)).toBe(3);
    expect(distanceToSegment(-3, 4, 0, 0, 10, 0)).toBe(5);
    expect(distanceToSegment(13, 4, 0, 0, 10, 0)).toBe(5);
    expect(distanceToSegment(3, 4, 0, 0, 0, 0)).toBe(5);
  });

  it('closest point and parameter', () => {
    expect(closestOnSegment(4, 9, 0, 0, 10, 0)).toEqual({ x: 4, y: 0, t: 0.4, distance: 9 });
  });
});

describe('normalising and clamping', () => {
  it('orders corners', () => {
    expect(normalizeBox({ x0: 5, y0: 1, x1: 2, y1: 0 })).toEqual({ x0: 2, y0: 0, x1: 5, y1: 1 });
  });

  it('clamps a box into the image', () => {
    expect(clampBox({ kind: 'box', x0: -5, y0: 90, x1: 30, y1: 120 }, 100, 100)).toEqual({ kind: 'box', x0: 0, y0: 90, x1: 30, y1: 100 });
  });

  it('clamps polygon points, leaves masks alone', () => {
    expect(clampGeometry({ kind: 'polygon', parts: [[[-1, 5], [50, 200], [10, 10]]] }, 100, 100)).toEqual({
      kind: 'polygon',
      parts: [[[0, 5], [50, 100], [10, 10]]],
    });
    const mask: Geometry = { kind: 'mask', width_px: 1, height_px: 1, counts: [1] };
    expect(clampGeometry(mask, 100, 100)).toBe(mask);
  });
});

describe('GridIndex', () => {
  function randomRects(rand: () => number, n: number, w: number, h: number): Rect[] {
    return Array.from({ length: n }, () => {
      // Mostly small shapes, a few huge ones (they take the always-checked path).
      const big = rand() < 0.02;
      const sw = big ? rand() * w : 2 + rand() * 80;
      const sh = big ? rand() * h : 2 + rand() * 80;
      const x0 = rand() * w - (big ? w / 4 : 10);
      const y0 = rand() * h - (big ? h / 4 : 10);
      return { x0, y0, x1: x0 + sw, y1: y0 + sh };
    });
  }

  const brute = (rects: Rect[], q: Rect): number[] =>
    rects.flatMap((r, i) => (rectsIntersect(r, normalizeBox(q)) ? [i] : [])).sort((a, b) => a - b);

  it('returns exactly what a brute-force scan returns, on random shapes and queries', () => {
    const rand = seededRandom(42);
    const rects = randomRects(rand, 1500, 4000, 3000);
    const index = GridIndex.build(rects);
    for (let q = 0; q < 500; q++) {
      const x = rand() * 4400 - 200;
      const y = rand() * 3400 - 200;
      const s = q % 10 === 0 ? rand() * 3000 : rand() * 60;
      const area = { x0: x, y0: y, x1: x + s, y1: y + s * (0.5 + rand()) };
      expect(index.query(area).sort((a, b) => a - b)).toEqual(brute(rects, area));
    }
  });

  it('point queries with tolerance match brute force', () => {
    const rand = seededRandom(7);
    const rects = randomRects(rand, 1200, 2000, 2000);
    const index = GridIndex.build(rects);
    for (let q = 0; q < 500; q++) {
      const x = rand() * 2000;
      const y = rand() * 2000;
      const expected = brute(rects, { x0: x - 3, y0: y - 3, x1: x + 3, y1: y + 3 });
      expect(index.queryPoint(x, y, 3).sort((a, b) => a - b)).toEqual(expected);
    }
  });

  it('stays correct through updates and removals', () => {
    const rand = seededRandom(3);
    const rects = randomRects(rand, 1000, 3000, 3000);
    const index = GridIndex.build(rects);
    const live = new Map(rects.map((r, i) => [i, r]));
    for (let k = 0; k < 300; k++) {
      const i = Math.floor(rand() * rects.length);
      if (rand() < 0.3) {
        index.remove(i);
        live.delete(i);
      } else {
        const moved = randomRects(rand, 1, 3000, 3000)[0] as Rect;
        index.update(i, moved);
        live.set(i, moved);
      }
    }
    for (let q = 0; q < 200; q++) {
      const x = rand() * 3000;
      const y = rand() * 3000;
      const area = { x0: x, y0: y, x1: x + 100, y1: y + 100 };
      const expected = [...live].filter(([, r]) => rectsIntersect(r, area)).map(([i]) => i).sort((a, b) => a - b);
      expect(index.query(area).sort((a, b) => a - b)).toEqual(expected);
    }
    expect(index.size).toBe(live.size);
  });

  it('looks at a few cells, not every shape, for a small query', () => {
    // 10,000 10-px boxes on a 100 × 100 lattice; a point query can only meet a handful.
    const rects: Rect[] = [];
    for (let y = 0; y < 100; y++) for (let x = 0; x < 100; x++) rects.push({ x0: x * 20, y0: y * 20, x1: x * 20 + 10, y1: y * 20 + 10 });
    const index = GridIndex.build(rects);
    expect(index.queryPoint(1005, 1005)).toEqual([50 * 100 + 50]);
    expect(index.lastVisited).toBeLessThanOrEqual(9);
    expect(index.queryPoint(1015, 1015)).toEqual([]);
    expect(index.query({ x0: 0, y0: 0, x1: 95, y1: 95 })).toHaveLength(25);
    expect(index.lastVisited).toBeLessThan(100);
  });

  it('refuses keys that are not non-negative integers', () => {
    expect(() => new GridIndex(10).insert(-1, { x0: 0, y0: 0, x1: 1, y1: 1 })).toThrow(RangeError);
  });
});
