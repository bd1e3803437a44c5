// Editing tools as small state machines. They take pointer positions in image pixels and
// keys, and answer with a preview (what to draw on the overlay while the gesture goes on)
// and, when a gesture ends, a commit: what is to be sent to the backend. No DOM here.

import type { BoxGeometry, Geometry, MaskGeometry, Point, PolygonGeometry } from '../api/types';
import { clamp, clampBox, clampPoint, normalizeBox, pointInPolygon, type Rect, rectContainsPoint } from './geometry';
import { DEFAULT_TOLERANCE_PX, type Handle, HANDLE_EDGES, hitBoxHandle, hitPolygonEdge, hitPolygonVertex, type VertexRef } from './hit';
import { decodeRle, encodeRle, MaskBitmap, paintStroke, rleArea } from './mask';

export interface ToolPointer {
  x: number;
  y: number;
  alt?: boolean;
  /** Shift: draw a new shape even where one already is. */
  shift?: boolean;
}

export interface ToolContext {
  imageWidth: number;
  imageHeight: number;
  /** Screen pixels per image pixel, to turn screen tolerances into image pixels. */
  scale: number;
  tolerancePx?: number;
}

export type Preview =
  /** `open`: a polygon still being drawn (draw it as a polyline). */
  | { kind: 'geometry'; geometry: Geometry; open?: boolean; vertex?: VertexRef | null }
  /** A mask being painted; `dirty` is the rectangle changed since the last preview. */
  | { kind: 'mask'; mask: MaskBitmap; dirty: Rect | null };

export type Commit =
  /** A new shape. */
  | { type: 'create'; geometry: Geometry }
  /** The edited shape's new geometry. */
  | { type: 'update'; geometry: Geometry }
  /** The edited shape is gone (a mask erased to nothing). */
  | { type: 'delete' }
  /** The gesture ended without a change: drop the preview, send nothing. */
  | { type: 'cancel' };

export interface ToolResult {
  /** Undefined: the preview is unchanged; null: there is none. */
  preview?: Preview | null;
  commit?: Commit;
  /** The event is not for this tool (a press away from the shape being edited, an unknown key). */
  ignored?: boolean;
  /** Something to tell the user (a refused edit). */
  note?: string;
}

export interface Tool {
  /** Mid-gesture (a drag, a polygon being drawn): keys and pointer events go to the tool first. */
  readonly active: boolean;
  down(p: ToolPointer, ctx: ToolContext): ToolResult;
  move(p: ToolPointer, ctx: ToolContext): ToolResult;
  up(p: ToolPointer, ctx: ToolContext): ToolResult;
  /** `key` is KeyboardEvent.key. */
  key(key: string, ctx: ToolContext): ToolResult;
  /** Abandon the gesture (Escape, tool switch, image change). */
  cancel(): ToolResult;
}

/** Shapes smaller than this on either side, in image and in screen pixels, are taken as a stray click. */
export const MIN_BOX_SIDE_PX = 2;

const IGNORED: ToolResult = { ignored: true };

function tolerance(ctx: ToolContext): number {
  return (ctx.tolerancePx ?? DEFAULT_TOLERANCE_PX) / ctx.scale;
}

function boxBetween(a: Point, b: Point): BoxGeometry {
  return normalizeBox({ kind: 'box', x0: a[0], y0: a[1], x1: b[0], y1: b[1] });
}

function sameGeometry(a: Geometry, b: Geometry): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Drag out a new box. */
export class BoxDrawTool implements Tool {
  private start: Point | null = null;

  get active(): boolean {
    return this.start !== null;
  }

  down(p: ToolPointer, ctx: ToolContext): ToolResult {
    this.start = clampPoint([p.x, p.y], ctx.imageWidth, ctx.imageHeight);
    return { preview: null };
  }

  move(p: ToolPointer, ctx: ToolContext): ToolResult {
    if (!this.start) return IGNORED;
    return { preview: { kind: 'geometry', geometry: this.boxTo(p, ctx) } };
  }

  up(p: ToolPointer, ctx: ToolContext): ToolResult {
    if (!this.start) return IGNORED;
    const box = this.boxTo(p, ctx);
    this.start = null;
    const w = box.x1 - box.x0;
    const h = box.y1 - box.y0;
    const tooSmall = Math.min(w, h) < MIN_BOX_SIDE_PX || Math.min(w, h) * ctx.scale < MIN_BOX_SIDE_PX;
    return { preview: null, commit: tooSmall ? { type: 'cancel' } : { type: 'create', geometry: box } };
  }

  key(key: string): ToolResult {
    return key === 'Escape' && this.start ? this.cancel() : IGNORED;
  }

  cancel(): ToolResult {
    this.start = null;
    return { preview: null, commit: { type: 'cancel' } };
  }

  private boxTo(p: ToolPointer, ctx: ToolContext): BoxGeometry {
    const end = clampPoint([p.x, p.y], ctx.imageWidth, ctx.imageHeight);
    return boxBetween(this.start ?? end, end);
  }
}

type BoxDrag =
  | { mode: 'move'; from: Point }
  | { mode: 'resize'; handle: Handle; /** pointer minus the grabbed edges, so they do not jump */ grab: Point };

/** Move a box by its body, resize it by any of its 8 handles. */
export class BoxEditTool implements Tool {
  private drag: BoxDrag | null = null;
  private current: BoxGeometry;

  constructor(private box: BoxGeometry) {
    this.current = box;
  }

  get geometry(): BoxGeometry {
    return this.current;
  }

  get active(): boolean {
    return this.drag !== null;
  }

  down(p: ToolPointer, ctx: ToolContext): ToolResult {
    const tol = tolerance(ctx);
    const handle = hitBoxHandle(this.box, p.x, p.y, tol);
    if (handle) {
      const [ex, ey] = HANDLE_EDGES[handle];
      const edgeX = ex < 0 ? this.box.x0 : ex > 0 ? this.box.x1 : p.x;
      const edgeY = ey < 0 ? this.box.y0 : ey > 0 ? this.box.y1 : p.y;
      this.drag = { mode: 'resize', handle, grab: [p.x - edgeX, p.y - edgeY] };
      return { preview: { kind: 'geometry', geometry: this.box } };
    }
    if (rectContainsPoint(this.box, p.x, p.y, tol)) {
      this.drag = { mode: 'move', from: [p.x, p.y] };
      return { preview: { kind: 'geometry', geometry: this.box } };
    }
    return IGNORED;
  }

  move(p: ToolPointer, ctx: ToolContext): ToolResult {
    if (!this.drag) return IGNORED;
    this.current = this.dragged(this.drag, p, ctx);
    return { preview: { kind: 'geometry', geometry: this.current } };
  }

  up(p: ToolPointer, ctx: ToolContext): ToolResult {
    if (!this.drag) return IGNORED;
    const next = this.dragged(this.drag, p, ctx);
    this.drag = null;
    const changed = !sameGeometry(next, this.box);
    // A resize that collapses the box to nothing is refused rather than sent.
    const empty = next.x1 - next.x0 <= 0 || next.y1 - next.y0 <= 0;
    if (!changed || empty) {
      this.current = this.box;
      return { preview: null, commit: { type: 'cancel' } };
    }
    this.box = next;
    this.current = next;
    return { preview: null, commit: { type: 'update', geometry: next } };
  }

  key(key: string): ToolResult {
    return key === 'Escape' && this.drag ? this.cancel() : IGNORED;
  }

  cancel(): ToolResult {
    this.drag = null;
    this.current = this.box;
    return { preview: null, commit: { type: 'cancel' } };
  }

  private dragged(drag: BoxDrag, p: ToolPointer, ctx: ToolContext): BoxGeometry {
    const b = this.box;
    if (drag.mode === 'move') {
      // The whole box moves, stopping at the image's edges rather than shrinking.
      const dx = clamp(p.x - drag.from[0], -b.x0, ctx.imageWidth - b.x1);
      const dy = clamp(p.y - drag.from[1], -b.y0, ctx.imageHeight - b.y1);
      return { kind: 'box', x0: b.x0 + dx, y0: b.y0 + dy, x1: b.x1 + dx, y1: b.y1 + dy };
    }
    const [ex, ey] = HANDLE_EDGES[drag.handle];
    const x = clamp(p.x - drag.grab[0], 0, ctx.imageWidth);
    const y = clamp(p.y - drag.grab[1], 0, ctx.imageHeight);
    // Always from the box as it was at the press, so dragging past the opposite edge and
    // back flips and unflips cleanly.
    const moved: BoxGeometry = {
      kind: 'box',
      x0: ex < 0 ? x : b.x0,
      x1: ex > 0 ? x : b.x1,
      y0: ey < 0 ? y : b.y0,
      y1: ey > 0 ? y : b.y1,
    };
    return clampBox(moved, ctx.imageWidth, ctx.imageHeight);
  }
}

/**
 * Click to add vertices; click the first vertex or press Enter to close (3 or more),
 * Backspace to take back the last one, Escape to abandon.
 */
export class PolygonDrawTool implements Tool {
  private points: Point[] = [];
  private cursor: Point | null = null;

  get active(): boolean {
    return this.points.length > 0;
  }

  get vertices(): readonly Point[] {
    return this.points;
  }

  down(p: ToolPointer, ctx: ToolContext): ToolResult {
    this.cursor = clampPoint([p.x, p.y], ctx.imageWidth, ctx.imageHeight);
    return { preview: this.preview() };
  }

  move(p: ToolPointer, ctx: ToolContext): ToolResult {
    if (!this.active) return IGNORED;
    this.cursor = clampPoint([p.x, p.y], ctx.imageWidth, ctx.imageHeight);
    return { preview: this.preview() };
  }

  up(p: ToolPointer, ctx: ToolContext): ToolResult {
    const q = clampPoint([p.x, p.y], ctx.imageWidth, ctx.imageHeight);
    const tol = tolerance(ctx);
    const first = this.points[0];
    if (first && this.points.length >= 3 && Math.hypot(q[0] - first[0], q[1] - first[1]) <= tol) return this.close();
    const last = this.points[this.points.length - 1];
    // A double click, or a click on the last vertex, adds nothing.
    if (!last || Math.hypot(q[0] - last[0], q[1] - last[1]) > tol / 2) this.points.push(q);
    this.cursor = q;
    return { preview: this.preview() };
  }

  key(key: string): ToolResult {
    if (!this.active) return IGNORED;
    switch (key) {
      case 'Enter':
        return this.points.length >= 3 ? this.close() : { note: 'A polygon needs at least 3 points.' };
      case 'Backspace':
        this.points.pop();
        return this.active ? { preview: this.preview() } : this.cancel();
      case 'Escape':
        return this.cancel();
      default:
        return IGNORED;
    }
  }

  cancel(): ToolResult {
    this.points = [];
    this.cursor = null;
    return { preview: null, commit: { type: 'cancel' } };
  }

  private close(): ToolResult {
    const geometry: PolygonGeometry = { kind: 'polygon', parts: [this.points] };
    this.points = [];
    this.cursor = null;
    return { preview: null, commit: { type: 'create', geometry } };
  }

  private preview(): Preview | null {
    if (!this.active) return null;
    const pts = this.cursor ? [...this.points, this.cursor] : [...this.points];
    return { kind: 'geometry', geometry: { kind: 'polygon', parts: [pts] }, open: true };
  }
}

/** Fewest vertices a polygon part may have. */
export const MIN_POLYGON_VERTICES = 3;

type PolygonDrag = { mode: 'vertex'; ref: VertexRef } | { mode: 'move'; from: Point };

/**
 * Drag a vertex; press on an edge to insert a vertex there (and drag it); alt-click a vertex,
 * or select it and press Delete, to remove it (never below 3 per part); drag inside to move
 * the whole polygon.
 */
export class PolygonEditTool implements Tool {
  private drag: PolygonDrag | null = null;
  private parts: Point[][];
  private committed: Point[][];
  /** The vertex last pressed: what Delete removes. */
  selectedVertex: VertexRef | null = null;

  constructor(polygon: PolygonGeometry) {
    this.committed = polygon.parts.map((part) => part.map(([x, y]): Point => [x, y]));
    this.parts = this.copy(this.committed);
  }

  get geometry(): PolygonGeometry {
    return { kind: 'polygon', parts: this.parts };
  }

  get active(): boolean {
    return this.drag !== null;
  }

  down(p: ToolPointer, ctx: ToolContext): ToolResult {
    const tol = tolerance(ctx);
    const v = hitPolygonVertex(this.parts, p.x, p.y, tol);
    if (v) {
      this.selectedVertex = v;
      if (p.alt) return this.deleteVertex(v);
      this.drag = { mode: 'vertex', ref: v };
      return { preview: this.preview() };
    }
    const e = hitPolygonEdge(this.parts, p.x, p.y, tol);
    if (e) {
      const part = this.parts[e.part];
      if (!part) return IGNORED;
      const at = e.index + 1;
      part.splice(at, 0, clampPoint(e.point, ctx.imageWidth, ctx.imageHeight));
      const ref = { part: e.part, index: at };
      this.selectedVertex = ref;
      this.drag = { mode: 'vertex', ref };
      return { preview: this.preview() };
    }
    if (pointInPolygon(p.x, p.y, this.parts)) {
      this.selectedVertex = null;
      this.drag = { mode: 'move', from: [p.x, p.y] };
      return { preview: this.preview() };
    }
    return IGNORED;
  }

  move(p: ToolPointer, ctx: ToolContext): ToolResult {
    const drag = this.drag;
    if (!drag) return IGNORED;
    if (drag.mode === 'vertex') {
      const part = this.parts[drag.ref.part];
      if (part) part[drag.ref.index] = clampPoint([p.x, p.y], ctx.imageWidth, ctx.imageHeight);
    } else {
      this.parts = this.translated(p.x - drag.from[0], p.y - drag.from[1], ctx);
    }
    return { preview: this.preview() };
  }

  up(p: ToolPointer, ctx: ToolContext): ToolResult {
    if (!this.drag) return IGNORED;
    this.move(p, ctx);
    this.drag = null;
    return this.commitIfChanged();
  }

  key(key: string): ToolResult {
    if (key === 'Escape' && this.drag) return this.cancel();
    if ((key === 'Delete' || key === 'Backspace') && this.selectedVertex && !this.drag) {
      return this.deleteVertex(this.selectedVertex);
    }
    return IGNORED;
  }

  cancel(): ToolResult {
    this.drag = null;
    this.parts = this.copy(this.committed);
    return { preview: null, commit: { type: 'cancel' } };
  }

  /** Removes a vertex unless its part would drop below 3. */
  deleteVertex(v: VertexRef): ToolResult {
    const part = this.parts[v.part];
    if (!part || v.index >= part.length) return IGNORED;
    if (part.length <= MIN_POLYGON_VERTICES) {
      return { note: `A polygon part needs at least ${MIN_POLYGON_VERTICES} points.` };
    }
    part.splice(v.index, 1);
    this.selectedVertex = null;
    return this.commitIfChanged();
  }

  private commitIfChanged(): ToolResult {
    const geometry: PolygonGeometry = { kind: 'polygon', parts: this.copy(this.parts) };
    if (sameGeometry(geometry, { kind: 'polygon', parts: this.committed })) {
      return { preview: null, commit: { type: 'cancel' } };
    }
    this.committed = this.copy(this.parts);
    return { preview: null, commit: { type: 'update', geometry } };
  }

  /** The committed outline moved by (dx, dy), stopped at the image's edges as a whole. */
  private translated(dx: number, dy: number, ctx: ToolContext): Point[][] {
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (const [x, y] of this.committed.flat()) {
      minX = Math.min(minX, x);
      minY = Math.min(minY, y);
      maxX = Math.max(maxX, x);
      maxY = Math.max(maxY, y);
    }
    const cx = clamp(dx, -minX, ctx.imageWidth - maxX);
    const cy = clamp(dy, -minY, ctx.imageHeight - maxY);
    return this.committed.map((part) => part.map(([x, y]): Point => [x + cx, y + cy]));
  }

  private copy(parts: Point[][]): Point[][] {
    return parts.map((part) => part.map(([x, y]): Point => [x, y]));
  }

  private preview(): Preview {
    return { kind: 'geometry', geometry: { kind: 'polygon', parts: this.parts }, vertex: this.selectedVertex };
  }
}

/** Brush radius limits, image pixels. */
export const MIN_BRUSH_RADIUS = 1;
export const MAX_BRUSH_RADIUS = 1000;

/**
 * Paint (brush) or erase (eraser) a mask with a disc of adjustable radius. Each stroke
 * (press to release) is one commit. Consecutive pointer positions are joined by a swept disc,
 * so a fast drag leaves no gaps.
 */
export class MaskPaintTool implements Tool {
  private mask: MaskBitmap | null;
  private committedCounts: number[] | null;
  private last: Point | null = null;
  radius: number;

  /**
   * `existing`: the mask annotation being edited, or null to start a new mask (a brush only;
   * an eraser with nothing to erase ignores presses).
   */
  constructor(
    readonly mode: 'brush' | 'eraser',
    existing: MaskGeometry | null,
    radius = 8,
  ) {
    this.radius = clamp(radius, MIN_BRUSH_RADIUS, MAX_BRUSH_RADIUS);
    this.committedCounts = existing ? [...existing.counts] : null;
    this.mask = existing ? decodeRle(existing.counts, existing.width_px, existing.height_px) : null;
  }

  get active(): boolean {
    return this.last !== null;
  }

  get bitmap(): MaskBitmap | null {
    return this.mask;
  }

  setRadius(radius: number): void {
    this.radius = clamp(radius, MIN_BRUSH_RADIUS, MAX_BRUSH_RADIUS);
  }

  down(p: ToolPointer, ctx: ToolContext): ToolResult {
    if (!this.mask) {
      if (this.mode === 'eraser') return IGNORED;
      this.mask = new MaskBitmap(ctx.imageWidth, ctx.imageHeight);
    }
    if (this.mask.width !== ctx.imageWidth || this.mask.height !== ctx.imageHeight) {
      return { ignored: true, note: `The mask is ${this.mask.width}x${this.mask.height}, the image ${ctx.imageWidth}x${ctx.imageHeight}.` };
    }
    this.last = [p.x, p.y];
    return this.paintTo(p);
  }

  move(p: ToolPointer): ToolResult {
    if (!this.last) return IGNORED;
    return this.paintTo(p);
  }

  up(p: ToolPointer): ToolResult {
    if (!this.last || !this.mask) return IGNORED;
    this.paintTo(p);
    this.last = null;
    const counts = encodeRle(this.mask);
    if (this.committedCounts && counts.length === this.committedCounts.length && counts.every((c, i) => c === this.committedCounts?.[i])) {
      return { preview: null, commit: { type: 'cancel' } };
    }
    if (rleArea(counts) === 0) {
      const existed = this.committedCounts !== null;
      this.mask = null;
      this.committedCounts = null;
      return { preview: null, commit: existed ? { type: 'delete' } : { type: 'cancel' } };
    }
    const isNew = this.committedCounts === null;
    this.committedCounts = counts;
    const geometry: MaskGeometry = { kind: 'mask', height_px: this.mask.height, width_px: this.mask.width, counts };
    return { preview: null, commit: isNew ? { type: 'create', geometry } : { type: 'update', geometry } };
  }

  key(key: string): ToolResult {
    return key === 'Escape' && this.last ? this.cancel() : IGNORED;
  }

  /** Undo the stroke in progress: back to the last committed mask. */
  cancel(): ToolResult {
    this.last = null;
    const prev = this.mask;
    this.mask =
      this.committedCounts && prev ? decodeRle(this.committedCounts, prev.width, prev.height) : null;
    return { preview: null, commit: { type: 'cancel' } };
  }

  private paintTo(p: ToolPointer): ToolResult {
    const mask = this.mask;
    const from = this.last;
    if (!mask || !from) return IGNORED;
    const dirty = paintStroke(mask, from[0], from[1], p.x, p.y, this.radius, this.mode === 'brush' ? 1 : 0);
    this.last = [p.x, p.y];
    return { preview: { kind: 'mask', mask, dirty } };
  }
}
