// Plain geometry on image-pixel coordinates, and a uniform-grid spatial index so hit testing
// and culling among thousands of shapes look at a few cells, not every shape.

import type { BoxGeometry, Geometry, Point } from '../api/types';
import { rleArea, rleBBox } from './mask';

/** Axis-aligned rectangle, `x0 <= x1`, `y0 <= y1` (max edges exclusive for pixel rects). */
export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export const EMPTY_RECT: Readonly<Rect> = Object.freeze({ x0: 0, y0: 0, x1: 0, y1: 0 });

/**
 * Tight bounding rectangle: a box's corners (normalised), all polygon parts' points, a mask's
 * set pixels. Like the backend, a shape with no points or pixels gives the empty rect at 0,0.
 */
export function geometryBBox(g: Geometry): Rect {
  switch (g.kind) {
    case 'box':
      return normalizeBox(g);
    case 'polygon': {
      let x0 = Infinity;
      let y0 = Infinity;
      let x1 = -Infinity;
      let y1 = -Infinity;
      for (const part of g.parts) {
        for (const [x, y] of part) {
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
      }
      return x0 > x1 ? { ...EMPTY_RECT } : { x0, y0, x1, y1 };
    }
    case 'mask':
      return rleBBox(g.counts, g.height_px) ?? { ...EMPTY_RECT };
  }
}

/** Area in square pixels: box, polygon parts summed (shoelace, each part's absolute), mask pixels. */
export function geometryArea(g: Geometry): number {
  switch (g.kind) {
    case 'box':
      return Math.abs(g.x1 - g.x0) * Math.abs(g.y1 - g.y0);
    case 'polygon':
      return g.parts.reduce((s, p) => s + Math.abs(shoelace(p)), 0);
    case 'mask':
      return rleArea(g.counts);
  }
}

function shoelace(part: readonly Point[]): number {
  let s = 0;
  const n = part.length;
  for (let i = 0; i < n; i++) {
    const a = part[i];
    const b = part[(i + 1) % n];
    if (a && b) s += a[0] * b[1] - b[0] * a[1];
  }
  return s / 2;
}

export function rectArea(r: Rect): number {
  return Math.max(0, r.x1 - r.x0) * Math.max(0, r.y1 - r.y0);
}

/** Whether two rectangles overlap or touch (closed intervals, so zero-size shapes count). */
export function rectsIntersect(a: Rect, b: Rect): boolean {
  return a.x0 <= b.x1 && b.x0 <= a.x1 && a.y0 <= b.y1 && b.y0 <= a.y1;
}

export function rectContainsPoint(r: Rect, x: number, y: number, tolerance = 0): boolean {
  return x >= r.x0 - tolerance && x <= r.x1 + tolerance && y >= r.y0 - tolerance && y <= r.y1 + tolerance;
}

export function expandRect(r: Rect, by: number): Rect {
  return { x0: r.x0 - by, y0: r.y0 - by, x1: r.x1 + by, y1: r.y1 + by };
}

/**
 * Even-odd rule over all parts together: a point inside two overlapping parts is outside,
 * so a part drawn inside another is a hole.
 */
export function pointInPolygon(x: number, y: number, parts: readonly (readonly Point[])[]): boolean {
  let inside = false;
  for (const part of parts) {
    const n = part.length;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const pi = part[i];
      const pj = part[j];
      if (!pi || !pj) continue;
      const [xi, yi] = pi;
      const [xj, yj] = pj;
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

/** The point of segment a–b nearest to p, its parameter t in [0, 1], and the distance. */
export function closestOnSegment(
  px: number,
  py: number,
  ax: number,
  ay: number,
  bx: number,
  by: number,
): { x: number; y: number; t: number; distance: number } {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.min(1, Math.max(0, ((px - ax) * dx + (py - ay) * dy) / len2));
  const x = ax + t * dx;
  const y = ay + t * dy;
  return { x, y, t, distance: Math.hypot(px - x, py - y) };
}

export function distanceToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  return closestOnSegment(px, py, ax, ay, bx, by).distance;
}

/** The box with its corners ordered (`x0 <= x1`, `y0 <= y1`). */
export function normalizeBox<T extends Rect>(b: T): T {
  return {
    ...b,
    x0: Math.min(b.x0, b.x1),
    y0: Math.min(b.y0, b.y1),
    x1: Math.max(b.x0, b.x1),
    y1: Math.max(b.y0, b.y1),
  };
}

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** A box normalised and clamped into `0..width` × `0..height`. */
export function clampBox(b: BoxGeometry, width: number, height: number): BoxGeometry {
  const n = normalizeBox(b);
  return {
    kind: 'box',
    x0: clamp(n.x0, 0, width),
    y0: clamp(n.y0, 0, height),
    x1: clamp(n.x1, 0, width),
    y1: clamp(n.y1, 0, height),
  };
}

export function clampPoint(p: Point, width: number, height: number): Point {
  return [clamp(p[0], 0, width), clamp(p[1], 0, height)];
}

/**
 * The geometry kept inside the image: boxes clamped, polygon points clamped one by one (the
 * backend clips polygons properly; this only keeps what a drag produces inside). Masks are
 * always inside.
 */
export function clampGeometry(g: Geometry, width: number, height: number): Geometry {
  switch (g.kind) {
    case 'box':
      return clampBox(g, width, height);
    case 'polygon':
      return { kind: 'polygon', parts: g.parts.map((part) => part.map((p) => clampPoint(p, width, height))) };
    case 'mask':
      return g;
  }
}

export function boxFromRect(r: Rect): BoxGeometry {
  return { kind: 'box', x0: r.x0, y0: r.y0, x1: r.x1, y1: r.y1 };
}

/** Cells one item may occupy before it goes to the always-checked list instead. */
const MAX_CELLS_PER_ITEM = 64;
/** Cell coordinates are offset into 0..65535 so a cell key is one number. */
const CELL_OFFSET = 32768;
const CELL_SPAN = 65536;

/**
 * Uniform-grid index of rectangles by integer key (the caller's shape index). Each item is
 * listed in every cell its rectangle touches; items spanning more than a few dozen cells
 * (a box around the whole image) are kept in a short list that every query checks, so one
 * huge shape never fills thousands of cells.
 */
export class GridIndex {
  readonly cellSize: number;
  private readonly cells = new Map<number, number[]>();
  private readonly large = new Set<number>();
  private readonly rects = new Map<number, Rect>();
  // Visit stamps de-duplicate items seen in several cells without allocating a Set per query.
  private stamps = new Uint32Array(0);
  private stamp = 0;
  /** Distinct items the last query looked at (what the grid saves over a scan). */
  lastVisited = 0;

  constructor(cellSize: number) {
    if (!(cellSize > 0) || !Number.isFinite(cellSize)) throw new RangeError(`cell size ${cellSize} is not positive`);
    this.cellSize = cellSize;
  }

  /**
   * An index sized for these rectangles: cells about twice the median shape's longer side,
   * so a typical shape touches a handful of cells and a cell holds a handful of shapes.
   */
  static build(rects: readonly Rect[], minCell = 16): GridIndex {
    const sides = rects.map((r) => Math.max(r.x1 - r.x0, r.y1 - r.y0)).sort((a, b) => a - b);
    const median = sides[Math.floor(sides.length / 2)] ?? minCell;
    const index = new GridIndex(Math.max(minCell, median * 2));
    rects.forEach((r, i) => index.insert(i, r));
    return index;
  }

  get size(): number {
    return this.rects.size;
  }

  rect(key: number): Rect | undefined {
    return this.rects.get(key);
  }

  insert(key: number, rect: Rect): void {
    if (!Number.isInteger(key) || key < 0) throw new RangeError(`index keys are non-negative integers, got ${key}`);
    if (this.rects.has(key)) this.remove(key);
    const r = normalizeBox(rect);
    this.rects.set(key, r);
    const [cx0, cy0, cx1, cy1] = this.cellRange(r);
    if ((cx1 - cx0 + 1) * (cy1 - cy0 + 1) > MAX_CELLS_PER_ITEM) {
      this.large.add(key);
      return;
    }
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const k = cellKey(cx, cy);
        const list = this.cells.get(k);
        if (list) list.push(key);
        else this.cells.set(k, [key]);
      }
    }
  }

  remove(key: number): void {
    const r = this.rects.get(key);
    if (!r) return;
    this.rects.delete(key);
    if (this.large.delete(key)) return;
    const [cx0, cy0, cx1, cy1] = this.cellRange(r);
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const k = cellKey(cx, cy);
        const list = this.cells.get(k);
        if (!list) continue;
        const i = list.indexOf(key);
        if (i >= 0) {
          list[i] = list[list.length - 1] ?? key;
          list.pop();
        }
        if (list.length === 0) this.cells.delete(k);
      }
    }
  }

  update(key: number, rect: Rect): void {
    this.insert(key, rect);
  }

  /** Keys whose rectangles intersect `area` (touching counts), in no particular order. */
  query(area: Rect): number[] {
    const q = normalizeBox(area);
    const out: number[] = [];
    const stamp = this.nextStamp();
    const visit = (key: number): void => {
      if (key < this.stamps.length) {
        if (this.stamps[key] === stamp) return;
        this.stamps[key] = stamp;
      } else {
        this.growStamps(key);
        this.stamps[key] = stamp;
      }
      this.lastVisited++;
      const r = this.rects.get(key);
      if (r && rectsIntersect(r, q)) out.push(key);
    };
    this.lastVisited = 0;
    for (const key of this.large) visit(key);
    const [cx0, cy0, cx1, cy1] = this.cellRange(q);
    if ((cx1 - cx0 + 1) * (cy1 - cy0 + 1) > this.cells.size) {
      // A query wider than the occupied cells: walking the occupied ones is cheaper.
      for (const list of this.cells.values()) for (const key of list) visit(key);
    } else {
      for (let cy = cy0; cy <= cy1; cy++) {
        for (let cx = cx0; cx <= cx1; cx++) {
          const list = this.cells.get(cellKey(cx, cy));
          if (list) for (const key of list) visit(key);
        }
      }
    }
    return out;
  }

  /** Keys whose rectangles contain the point, grown by `tolerance`. */
  queryPoint(x: number, y: number, tolerance = 0): number[] {
    return this.query({ x0: x - tolerance, y0: y - tolerance, x1: x + tolerance, y1: y + tolerance });
  }

  private cellRange(r: Rect): [number, number, number, number] {
    const s = this.cellSize;
    const c = (v: number): number => clamp(Math.floor(v / s), -CELL_OFFSET, CELL_OFFSET - 1);
    return [c(r.x0), c(r.y0), c(r.x1), c(r.y1)];
  }

  private nextStamp(): number {
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
    return this.stamp;
  }

  private growStamps(key: number): void {
    const next = new Uint32Array(Math.max(key + 1, this.stamps.length * 2, 64));
    next.set(this.stamps);
    this.stamps = next;
  }
}

function cellKey(cx: number, cy: number): number {
  return (cy + CELL_OFFSET) * CELL_SPAN + (cx + CELL_OFFSET);
}
