import { describe, expect, it } from 'vitest';
import type { BoxGeometry, Geometry } from '../api/types';
import { geometryBBox, GridIndex } from './geometry';
import { boxHandlePoints, hitBoxHandle, hitPolygonEdge, hitPolygonVertex, type HitShape, hitTest } from './hit';
import { decodeRle } from './mask';

const box = (x0: number, y0: number, x1: number, y1: number): BoxGeometry => ({ kind: 'box', x0, y0, x1, y1 });

function scene(geoms: Geometry[]): { shapes: HitShape[]; index: GridIndex } {
  const shapes = geoms.map((geometry) => ({ geometry }));
  return { shapes, index: GridIndex.build(geoms.map(geometryBBox)) };
}

describe('box handles', () => {
  it('has 8: corners and edge midpoints', () => {
    const pts = boxHandlePoints(box(0, 0, 10, 20));
    expect(pts.map((p) => [p.handle, p.x, p.y])).toEqual([
      ['nw', 0, 0],
      ['n', 5, 0],
      ['ne', 10, 0],
      ['e', 10, 10],
      ['se', 10, 20],
      ['s', 5, 20],
      ['sw', 0, 20],
      ['w', 0, 10],
    ]);
  });

  it('hits the nearest handle within tolerance', () => {
    const b = box(0, 0, 100, 100);
    expect(hitBoxHandle(b, 2, -1, 3)).toBe('nw');
    expect(hitBoxHandle(b, 52, 101, 3)).toBe('s');
    expect(hitBoxHandle(b, 101, 50, 3)).toBe('e');
    expect(hitBoxHandle(b, 50, 50, 3)).toBeNull();
    expect(hitBoxHandle(b, 20, 0, 3)).toBeNull();
  });

  it('prefers the corner when handles overlap on a tiny box', () => {
    expect(hitBoxHandle(box(0, 0, 2, 2), 0, 0, 5)).toBe('nw');
  });
});

describe('polygon vertices and edges', () => {
  const parts: [number, number][][] = [[[0, 0], [100, 0], [100, 100], [0, 100]]];

  it('finds the nearest vertex', () => {
    expect(hitPolygonVertex(parts, 98, 3, 5)).toEqual({ part: 0, index: 1 });
    expect(hitPolygonVertex(parts, 50, 3, 5)).toBeNull();
  });

  it('finds an edge and the point to insert a vertex at', () => {
    expect(hitPolygonEdge(parts, 50, 3, 5)).toEqual({ part: 0, index: 0, point: [50, 0] });
    // The closing edge (last vertex back to the first).
    expect(hitPolygonEdge(parts, -2, 40, 5)).toEqual({ part: 0, index: 3, point: [0, 40] });
    expect(hitPolygonEdge(parts, 50, 50, 5)).toBeNull();
  });
});

describe('hitTest', () => {
  it('uses a tolerance in screen pixels: wider in image pixels when zoomed out', () => {
    const s = scene([box(0, 0, 100, 100)]);
    expect(hitTest(s.shapes, s.index, 108, 50, { scale: 1, selected: 0 })).toBeNull();
    expect(hitTest(s.shapes, s.index, 108, 50, { scale: 0.5, selected: 0 })).toEqual({ kind: 'handle', shape: 0, handle: 'e' });
  });

  it('gives handles of the selected shape only', () => {
    const s = scene([box(0, 0, 100, 100)]);
    expect(hitTest(s.shapes, s.index, 100, 100, { scale: 1 })).toEqual({ kind: 'body', shape: 0 });
    expect(hitTest(s.shapes, s.index, 100, 100, { scale: 1, selected: 0 })).toEqual({ kind: 'handle', shape: 0, handle: 'se' });
  });

  it('the smallest shape wins, then the topmost', () => {
    const s = scene([box(0, 0, 100, 100), box(40, 40, 60, 60), box(0, 0, 100, 100)]);
    expect(hitTest(s.shapes, s.index, 50, 50, { scale: 1 })).toEqual({ kind: 'body', shape: 1 });
    expect(hitTest(s.shapes, s.index, 10, 10, { scale: 1 })).toEqual({ kind: 'body', shape: 2 });
  });

  it('selected handles win over a smaller shape underneath', () => {
    const s = scene([box(0, 0, 100, 100), box(95, 95, 105, 105)]);
    expect(hitTest(s.shapes, s.index, 100, 100, { scale: 1, selected: 0 })).toEqual({ kind: 'handle', shape: 0, handle: 'se' });
  });

  it('polygons: vertex, then edge, then inside', () => {
    const tri: Geometry = { kind: 'polygon', parts: [[[0, 0], [100, 0], [0, 100]]] };
    const s = scene([tri]);
    expect(hitTest(s.shapes, s.index, 99, 1, { scale: 1, selected: 0 })).toEqual({ kind: 'vertex', shape: 0, part: 0, index: 1 });
    expect(hitTest(s.shapes, s.index, 50, 51, { scale: 1, selected: 0 })).toMatchObject({ kind: 'edge', shape: 0, part: 0, index: 1 });
    expect(hitTest(s.shapes, s.index, 20, 20, { scale: 1, selected: 0 })).toEqual({ kind: 'inside', shape: 0 });
    // Inside the bounding box but outside the triangle.
    expect(hitTest(s.shapes, s.index, 80, 80, { scale: 1 })).toBeNull();
  });

  it('masks by pixel when decoded', () => {
    // 3×2: pixels (1,0), (2,0), (2,1).
    const g: Geometry = { kind: 'mask', width_px: 3, height_px: 2, counts: [2, 1, 1, 2] };
    const shapes: HitShape[] = [{ geometry: g, mask: decodeRle(g.counts, 3, 2) }];
    const index = GridIndex.build([geometryBBox(g)]);
    expect(hitTest(shapes, index, 2.5, 1.5, { scale: 1, tolerancePx: 0 })).toEqual({ kind: 'inside', shape: 0 });
    expect(hitTest(shapes, index, 1.5, 1.5, { scale: 1, tolerancePx: 0 })).toBeNull();
  });

  it('agrees with testing every shape, among 2,000', () => {
    const geoms: Geometry[] = [];
    for (let i = 0; i < 2000; i++) {
      const x = (i * 37) % 1900;
      const y = (i * 91) % 1900;
      geoms.push(box(x, y, x + 10 + (i % 50), y + 10 + (i % 30)));
    }
    const s = scene(geoms);
    for (let q = 0; q < 300; q++) {
      const x = (q * 53) % 2000;
      const y = (q * 29) % 2000;
      const hit = hitTest(s.shapes, s.index, x, y, { scale: 1 });
      const brute = geoms
        .map((g, i) => ({ g, i }))
        .filter(({ g }) => g.kind === 'box' && x >= g.x0 - 6 && x <= g.x1 + 6 && y >= g.y0 - 6 && y <= g.y1 + 6);
      if (brute.length === 0) {
        expect(hit).toBeNull();
        continue;
      }
      const area = (g: Geometry): number => (g.kind === 'box' ? (g.x1 - g.x0) * (g.y1 - g.y0) : 0);
      const best = brute.reduce((a, b) => (area(b.g) < area(a.g) || (area(b.g) === area(a.g) && b.i > a.i) ? b : a));
      expect(hit).toEqual({ kind: 'body', shape: best.i });
    }
  });
});
