// Hit testing with a tolerance in screen pixels (so handles are as easy to grab at any zoom).
// All coordinates are image pixels; `tolerance` arguments are image pixels too, the scene
// test converts from screen pixels with the viewport scale.

import type { BoxGeometry, Geometry, Point } from '../api/types';
import {
  closestOnSegment,
  geometryArea,
  type GridIndex,
  normalizeBox,
  pointInPolygon,
  rectContainsPoint,
} from './geometry';
import type { MaskBitmap } from './mask';

export type Handle = 'nw' | 'n' | 'ne' | 'e' | 'se' | 's' | 'sw' | 'w';

/** Which box edges a handle moves: -1 the min edge (x0/y0), 1 the max edge (x1/y1), 0 neither. */
export const HANDLE_EDGES: Readonly<Record<Handle, readonly [-1 | 0 | 1, -1 | 0 | 1]>> = {
  nw: [-1, -1],
  n: [0, -1],
  ne: [1, -1],
  e: [1, 0],
  se: [1, 1],
  s: [0, 1],
  sw: [-1, 1],
  w: [-1, 0],
};

export const HANDLES: readonly Handle[] = ['nw', 'n', 'ne', 'e', 'se', 's', 'sw', 'w'];

/** Screen pixels within which a handle, vertex or edge counts as hit. */
export const DEFAULT_TOLERANCE_PX = 6;

/** The 8 handle positions of a box: corners and edge midpoints. */
export function boxHandlePoints(box: BoxGeometry): Array<{ handle: Handle; x: number; y: number }> {
  const b = normalizeBox(box);
  const xs = { [-1]: b.x0, 0: (b.x0 + b.x1) / 2, 1: b.x1 } as Record<number, number>;
  const ys = { [-1]: b.y0, 0: (b.y0 + b.y1) / 2, 1: b.y1 } as Record<number, number>;
  return HANDLES.map((handle) => {
    const [ex, ey] = HANDLE_EDGES[handle];
    return { handle, x: xs[ex] ?? b.x0, y: ys[ey] ?? b.y0 };
  });
}

/**
 * The handle nearest to (x, y) within `tolerance`. Corners win over edge midpoints at equal
 * distance (on a tiny box they overlap, and corners resize both ways).
 */
export function hitBoxHandle(box: BoxGeometry, x: number, y: number, tolerance: number): Handle | null {
  let best: Handle | null = null;
  let bestD = Infinity;
  for (const { handle, x: hx, y: hy } of boxHandlePoints(box)) {
    const d = Math.max(Math.abs(hx - x), Math.abs(hy - y));
    const corner = handle.length === 2;
    if (d <= tolerance && (d < bestD || (d === bestD && corner))) {
      best = handle;
      bestD = d;
    }
  }
  return best;
}

export interface VertexRef {
  part: number;
  index: number;
}

/** The vertex nearest to (x, y) within `tolerance`. */
export function hitPolygonVertex(parts: readonly (readonly Point[])[], x: number, y: number, tolerance: number): VertexRef | null {
  let best: VertexRef | null = null;
  let bestD = tolerance;
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p] ?? [];
    for (let i = 0; i < part.length; i++) {
      const v = part[i];
      if (!v) continue;
      const d = Math.hypot(v[0] - x, v[1] - y);
      if (d <= bestD) {
        best = { part: p, index: i };
        bestD = d;
      }
    }
  }
  return best;
}

export interface EdgeRef {
  part: number;
  /** The edge runs from vertex `index` to vertex `index + 1` (wrapping); insert at `index + 1`. */
  index: number;
  /** The nearest point on the edge: where a new vertex goes. */
  point: Point;
}

/** The polygon edge nearest to (x, y) within `tolerance`. */
export function hitPolygonEdge(parts: readonly (readonly Point[])[], x: number, y: number, tolerance: number): EdgeRef | null {
  let best: EdgeRef | null = null;
  let bestD = tolerance;
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p] ?? [];
    const n = part.length;
    for (let i = 0; i < n; i++) {
      const a = part[i];
      const b = part[(i + 1) % n];
      if (!a || !b) continue;
      const c = closestOnSegment(x, y, a[0], a[1], b[0], b[1]);
      if (c.distance <= bestD) {
        best = { part: p, index: i, point: [c.x, c.y] };
        bestD = c.distance;
      }
    }
  }
  return best;
}

/** Whether (x, y) is within `tolerance` of any polygon outline. */
function nearOutline(parts: readonly (readonly Point[])[], x: number, y: number, tolerance: number): boolean {
  return hitPolygonEdge(parts, x, y, tolerance) !== null;
}

/** A shape as hit testing sees it. `mask` is the decoded bitmap of a mask geometry, if at hand. */
export interface HitShape {
  geometry: Geometry;
  mask?: MaskBitmap | null;
}

export type Hit =
  | { kind: 'handle'; shape: number; handle: Handle }
  | { kind: 'vertex'; shape: number; part: number; index: number }
  | { kind: 'edge'; shape: number; part: number; index: number; point: Point }
  | { kind: 'body'; shape: number }
  | { kind: 'inside'; shape: number };

export interface HitOptions {
  /** Screen pixels per image pixel (Viewport.scale). */
  scale: number;
  tolerancePx?: number;
  /** Index of the selected shape: only its handles, vertices and edges are live. */
  selected?: number | null;
}

/**
 * What is under (x, y). Handles, vertices and edges belong to the selected shape only (one
 * selects first, then edits), and win over everything. Otherwise the shape hit is the one
 * with the smallest area (a small box inside a big one stays reachable), then the topmost
 * (highest index = drawn last). Shapes are `shapes[k]` for keys `k` of `index`.
 */
export function hitTest(
  shapes: readonly HitShape[],
  index: GridIndex,
  x: number,
  y: number,
  opts: HitOptions,
): Hit | null {
  const tol = (opts.tolerancePx ?? DEFAULT_TOLERANCE_PX) / opts.scale;
  const sel = opts.selected ?? null;
  const selShape = sel === null ? undefined : shapes[sel];
  if (sel !== null && selShape) {
    const g = selShape.geometry;
    if (g.kind === 'box') {
      const handle = hitBoxHandle(g, x, y, tol);
      if (handle) return { kind: 'handle', shape: sel, handle };
    } else if (g.kind === 'polygon') {
      const v = hitPolygonVertex(g.parts, x, y, tol);
      if (v) return { kind: 'vertex', shape: sel, ...v };
      const e = hitPolygonEdge(g.parts, x, y, tol);
      if (e) return { kind: 'edge', shape: sel, ...e };
    }
  }
  let best: Hit | null = null;
  let bestArea = Infinity;
  for (const k of index.queryPoint(x, y, tol)) {
    const shape = shapes[k];
    if (!shape) continue;
    const hit = hitShape(shape, k, x, y, tol);
    if (!hit) continue;
    const area = geometryArea(shape.geometry);
    if (area < bestArea || (area === bestArea && best !== null && k > best.shape)) {
      best = hit;
      bestArea = area;
    }
  }
  return best;
}

function hitShape(shape: HitShape, k: number, x: number, y: number, tol: number): Hit | null {
  const g = shape.geometry;
  switch (g.kind) {
    case 'box':
      return rectContainsPoint(normalizeBox(g), x, y, tol) ? { kind: 'body', shape: k } : null;
    case 'polygon':
      if (pointInPolygon(x, y, g.parts)) return { kind: 'inside', shape: k };
      return nearOutline(g.parts, x, y, tol) ? { kind: 'body', shape: k } : null;
    case 'mask':
      if (shape.mask) return shape.mask.get(Math.floor(x), Math.floor(y)) ? { kind: 'inside', shape: k } : null;
      // Not decoded: the index already matched its bounding box.
      return { kind: 'body', shape: k };
  }
}
