// Drawing on two stacked canvases.
//
// The base layer holds the image and every shape that is not being edited; it is redrawn
// when the view moves (zoom, pan, resize) or the set of shapes changes. The overlay holds
// the selected shape, its handles, the shape being drawn and the brush cursor; it is redrawn
// on every pointer frame of a drag. So dragging one box among a thousand redraws one box,
// not the image and the other 999.

import type { Geometry, Point } from '../api/types';
import { expandRect, geometryBBox, type GridIndex, normalizeBox, type Rect } from './geometry';
import { boxHandlePoints, type VertexRef } from './hit';
import type { Preview } from './tools';
import { browserSurface, decodeRle, type MaskBitmap, MaskLayer, type SurfaceFactory } from './mask';
import { canvasPixelSize, imageDrawRects, imageToScreen, type Viewport, viewRectInImage } from './viewport';

/** The part of CanvasRenderingContext2D the renderer uses (so tests can record calls). */
export type Ctx2D = Pick<
  CanvasRenderingContext2D,
  | 'save'
  | 'restore'
  | 'setTransform'
  | 'clearRect'
  | 'drawImage'
  | 'beginPath'
  | 'moveTo'
  | 'lineTo'
  | 'closePath'
  | 'rect'
  | 'arc'
  | 'stroke'
  | 'fill'
  | 'fillRect'
  | 'strokeRect'
  | 'fillText'
  | 'measureText'
  | 'setLineDash'
  | 'lineWidth'
  | 'strokeStyle'
  | 'fillStyle'
  | 'globalAlpha'
  | 'font'
  | 'textBaseline'
  | 'imageSmoothingEnabled'
>;

export interface SceneShape {
  geometry: Geometry;
  /** `#rrggbb` of its class. */
  color: string;
  /** 'prediction': a model's proposal awaiting a decision — dashed, translucent, with its score. */
  style: 'annotation' | 'prediction';
  /** Class name shown in labels. */
  label?: string;
  score?: number | null;
}

/** Shapes in drawing order (later on top), and a spatial index whose keys are their positions. */
export interface Scene {
  shapes: readonly SceneShape[];
  index: GridIndex;
}

export interface OverlayState {
  /** Index of the selected shape: drawn here, with handles, and left out of the base layer. */
  selected: number | null;
  /** The selected shape's geometry while it is being edited (else its stored one is drawn). */
  editing?: Geometry | null;
  /** A shape being drawn, or a mask being painted. */
  preview?: Preview | null;
  /** Colour of the class new shapes get. */
  previewColor?: string;
  hover?: number | null;
  /** The polygon vertex Delete would remove. */
  vertex?: VertexRef | null;
  /** Brush outline at the pointer, image pixels. */
  brush?: { x: number; y: number; radius: number } | null;
}

const LINE_WIDTH = 1.5;
const SELECTED_LINE_WIDTH = 2;
const HANDLE_SIZE = 7;
const VERTEX_RADIUS = 4;
const FILL_ALPHA = 0.12;
const MASK_ALPHA = 0.45;
const PREDICTION_ALPHA = 0.75;
const PREDICTION_DASH = [6, 4];
const LABEL_FONT = '12px system-ui, sans-serif';
/** Predictions smaller than this on screen get no label (it would cover the box). */
const MIN_LABELLED_SIDE = 24;

/** `#rrggbb` with an alpha, as an rgba() colour. */
export function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!m) return color;
  return `rgba(${parseInt(m[1] ?? '0', 16)}, ${parseInt(m[2] ?? '0', 16)}, ${parseInt(m[3] ?? '0', 16)}, ${alpha})`;
}

/** Device-pixel transform with CSS-pixel units: shapes are drawn in screen coordinates. */
function screenSpace(ctx: Ctx2D, vp: Viewport): void {
  ctx.setTransform(vp.dpr, 0, 0, vp.dpr, 0, 0);
}

function clear(ctx: Ctx2D, vp: Viewport): void {
  const { width, height } = canvasPixelSize(vp);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, width, height);
}

/**
 * Indexes of the shapes whose bounding boxes reach the view, in drawing order: the grid is
 * asked for the view rectangle, so shapes far off screen are never even looked at.
 */
export function visibleShapes(scene: Scene, vp: Viewport): number[] {
  // A little slack so outlines and handles at the edge are not clipped away.
  const slack = (HANDLE_SIZE + LINE_WIDTH) / vp.scale;
  return scene.index.query(expandRect(viewRectInImage(vp), slack)).sort((a, b) => a - b);
}

/** Caches what is expensive to redo per frame: decoded masks drawn into offscreen surfaces. */
export class MaskCache {
  private readonly layers = new WeakMap<Geometry | MaskBitmap, MaskLayer>();

  constructor(private readonly createSurface: SurfaceFactory = browserSurface) {}

  /** The layer of a stored mask geometry (decoded once per geometry object). */
  forGeometry(g: Geometry & { kind: 'mask' }, color: string): MaskLayer {
    let layer = this.layers.get(g);
    if (!layer) {
      layer = new MaskLayer(decodeRle(g.counts, g.width_px, g.height_px), color, MASK_ALPHA, this.createSurface);
      this.layers.set(g, layer);
    }
    return layer;
  }

  /** The layer of a bitmap being painted; `dirty` re-uploads just what a stroke changed. */
  forBitmap(mask: MaskBitmap, color: string, dirty: Rect | null): MaskLayer {
    let layer = this.layers.get(mask);
    if (!layer) {
      layer = new MaskLayer(mask, color, MASK_ALPHA, this.createSurface);
      this.layers.set(mask, layer);
    } else {
      layer.update(dirty);
    }
    return layer;
  }
}

function drawMaskLayer(ctx: Ctx2D, vp: Viewport, layer: MaskLayer): void {
  const r = layer.rect;
  const s = layer.surface;
  if (!r || !s) return;
  ctx.save();
  ctx.setTransform(vp.dpr * vp.scale, 0, 0, vp.dpr * vp.scale, vp.dpr * vp.offsetX, vp.dpr * vp.offsetY);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(s.source, r.x0, r.y0, r.x1 - r.x0, r.y1 - r.y0);
  ctx.restore();
}

function tracePolygon(ctx: Ctx2D, vp: Viewport, parts: readonly (readonly Point[])[], close: boolean): void {
  ctx.beginPath();
  for (const part of parts) {
    part.forEach(([x, y], i) => {
      const [sx, sy] = imageToScreen(vp, x, y);
      if (i === 0) ctx.moveTo(sx, sy);
      else ctx.lineTo(sx, sy);
    });
    if (close) ctx.closePath();
  }
}

function traceBox(ctx: Ctx2D, vp: Viewport, g: Geometry & { kind: 'box' }): void {
  const b = normalizeBox(g);
  const [x0, y0] = imageToScreen(vp, b.x0, b.y0);
  const [x1, y1] = imageToScreen(vp, b.x1, b.y1);
  ctx.beginPath();
  ctx.rect(x0, y0, x1 - x0, y1 - y0);
}

/** One shape, in screen space. */
function drawShape(
  ctx: Ctx2D,
  vp: Viewport,
  shape: SceneShape,
  masks: MaskCache,
  opts: { selected?: boolean; geometry?: Geometry; hover?: boolean } = {},
): void {
  const g = opts.geometry ?? shape.geometry;
  const prediction = shape.style === 'prediction';
  ctx.save();
  ctx.globalAlpha = prediction ? PREDICTION_ALPHA : 1;
  ctx.lineWidth = opts.selected || opts.hover ? SELECTED_LINE_WIDTH : LINE_WIDTH;
  ctx.strokeStyle = shape.color;
  ctx.fillStyle = withAlpha(shape.color, opts.selected ? FILL_ALPHA * 2 : FILL_ALPHA);
  ctx.setLineDash(prediction ? PREDICTION_DASH : []);
  switch (g.kind) {
    case 'box':
      traceBox(ctx, vp, g);
      if (!prediction) ctx.fill();
      ctx.stroke();
      break;
    case 'polygon':
      tracePolygon(ctx, vp, g.parts, true);
      if (!prediction) ctx.fill('evenodd');
      ctx.stroke();
      break;
    case 'mask': {
      drawMaskLayer(ctx, vp, masks.forGeometry(g, shape.color));
      if (opts.selected || opts.hover) {
        // A mask has no outline of its own; its bounding box shows what is selected.
        const b = geometryBBox(g);
        traceBox(ctx, vp, { kind: 'box', ...b });
        ctx.setLineDash([3, 3]);
        ctx.stroke();
      }
      break;
    }
  }
  ctx.restore();
  if (prediction || opts.selected) drawLabel(ctx, vp, shape, g, prediction);
}

function drawLabel(ctx: Ctx2D, vp: Viewport, shape: SceneShape, g: Geometry, prediction: boolean): void {
  const name = shape.label ?? '';
  const score = shape.score;
  const text = score === undefined || score === null ? name : `${name} ${score.toFixed(2)}`;
  if (!text) return;
  const b = geometryBBox(g);
  const [x0, y0] = imageToScreen(vp, b.x0, b.y0);
  const [x1, y1] = imageToScreen(vp, b.x1, b.y1);
  if (prediction && Math.min(x1 - x0, y1 - y0) < MIN_LABELLED_SIDE) return;
  ctx.save();
  ctx.font = LABEL_FONT;
  ctx.textBaseline = 'bottom';
  const w = ctx.measureText(text).width + 6;
  const h = 16;
  const top = y0 - h >= 0 ? y0 - h : y0;
  ctx.globalAlpha = prediction ? PREDICTION_ALPHA : 1;
  ctx.fillStyle = shape.color;
  ctx.fillRect(x0, top, w, h);
  ctx.fillStyle = '#000000';
  ctx.fillText(text, x0 + 3, top + h - 2);
  ctx.restore();
}

export interface ImageSource {
  source: CanvasImageSource;
  width: number;
  height: number;
  /**
   * Reduced copies, each half the size of the one before (largest first): a view showing the
   * image smaller draws from the smallest copy that still has a pixel per screen pixel, so a
   * zoomed-out 50-megapixel image is not resampled from all its pixels every frame.
   */
  levels?: readonly ImageLevel[];
}

export interface ImageLevel {
  source: CanvasImageSource;
  width: number;
  height: number;
}

/** What to draw from at `screenPerImagePx` screen pixels per image pixel, and its scale factor. */
export function pickLevel(image: ImageSource, screenPerImagePx: number): { source: CanvasImageSource; factor: number } {
  let best = { source: image.source, factor: 1 };
  for (const level of image.levels ?? []) {
    const factor = level.width / image.width;
    if (factor < screenPerImagePx) break;
    best = { source: level.source, factor };
  }
  return best;
}

/** Images at least this large (pixels) get reduced copies. */
export const LEVELS_FROM_PIXELS = 4_000_000;
/** Reduced copies stop at this width or height. */
const SMALLEST_LEVEL_SIDE = 1024;

/**
 * The reduced copies of an image, halving each time (`resize` is `createImageBitmap` with
 * resize options in a browser), down to about SMALLEST_LEVEL_SIDE; none for small images.
 */
export async function buildLevels(
  image: ImageSource,
  resize: (source: CanvasImageSource, width: number, height: number) => Promise<CanvasImageSource>,
): Promise<ImageLevel[]> {
  const levels: ImageLevel[] = [];
  if (image.width * image.height < LEVELS_FROM_PIXELS) return levels;
  let from: ImageLevel = image;
  while (Math.max(from.width, from.height) / 2 >= SMALLEST_LEVEL_SIDE) {
    const width = Math.max(1, Math.round(from.width / 2));
    const height = Math.max(1, Math.round(from.height / 2));
    const level = { source: await resize(from.source, width, height), width, height };
    levels.push(level);
    from = level;
  }
  return levels;
}

/**
 * The base layer: the visible part of the image (drawImage's source-rectangle form, so a
 * zoomed-in 50-megapixel image is resampled only where it shows) and every visible shape
 * except `exclude`. Returns how many shapes were drawn.
 */
export function drawBase(
  ctx: Ctx2D,
  vp: Viewport,
  image: ImageSource | null,
  scene: Scene,
  masks: MaskCache,
  exclude: number | null,
): number {
  clear(ctx, vp);
  if (image) {
    const r = imageDrawRects(vp);
    if (r) {
      ctx.save();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      // Smooth when shrinking; show crisp pixels when zoomed in far enough to see them.
      ctx.imageSmoothingEnabled = vp.scale * vp.dpr < 2;
      const { source, factor: f } = pickLevel(image, vp.scale * vp.dpr);
      ctx.drawImage(source, r.sx * f, r.sy * f, r.sw * f, r.sh * f, r.dx, r.dy, r.dw, r.dh);
      ctx.restore();
    }
  }
  screenSpace(ctx, vp);
  let drawn = 0;
  for (const k of visibleShapes(scene, vp)) {
    if (k === exclude) continue;
    const shape = scene.shapes[k];
    if (!shape) continue;
    drawShape(ctx, vp, shape, masks);
    drawn++;
  }
  return drawn;
}

/** The overlay: selected shape with handles, the shape being drawn, hover, brush. */
export function drawOverlay(ctx: Ctx2D, vp: Viewport, scene: Scene, state: OverlayState, masks: MaskCache): void {
  clear(ctx, vp);
  screenSpace(ctx, vp);
  const color = state.previewColor ?? '#ffffff';
  const hover = state.hover ?? null;
  if (hover !== null && hover !== state.selected) {
    const shape = scene.shapes[hover];
    if (shape && shape.geometry.kind !== 'mask') {
      // Only the outline: the shape itself is already on the base layer.
      ctx.save();
      ctx.lineWidth = SELECTED_LINE_WIDTH;
      ctx.strokeStyle = shape.color;
      ctx.setLineDash([]);
      if (shape.geometry.kind === 'box') traceBox(ctx, vp, shape.geometry);
      else tracePolygon(ctx, vp, shape.geometry.parts, true);
      ctx.stroke();
      ctx.restore();
    }
  }
  const preview = state.preview ?? null;
  const sel = state.selected === null ? undefined : scene.shapes[state.selected];
  if (sel) {
    const painting = preview?.kind === 'mask';
    if (!painting) {
      const g = state.editing ?? sel.geometry;
      drawShape(ctx, vp, sel, masks, { selected: true, geometry: g });
      drawHandles(ctx, vp, g, sel.color, state.vertex ?? null);
    }
  }
  if (preview) {
    if (preview.kind === 'mask') {
      // The stroke's pixels were uploaded when the preview arrived (LayeredRenderer.setOverlay).
      drawMaskLayer(ctx, vp, masks.forBitmap(preview.mask, sel?.color ?? color, null));
    } else if (preview.open && preview.geometry.kind === 'polygon') {
      drawOpenPolygon(ctx, vp, preview.geometry.parts[0] ?? [], color);
    } else {
      drawShape(ctx, vp, { geometry: preview.geometry, color, style: 'annotation' }, masks, { selected: true });
    }
  }
  if (state.brush) {
    const [sx, sy] = imageToScreen(vp, state.brush.x, state.brush.y);
    ctx.save();
    ctx.setLineDash([]);
    ctx.lineWidth = 1;
    ctx.strokeStyle = '#ffffff';
    ctx.beginPath();
    ctx.arc(sx, sy, Math.max(1, state.brush.radius * vp.scale), 0, Math.PI * 2);
    ctx.stroke();
    ctx.restore();
  }
}

function drawHandles(ctx: Ctx2D, vp: Viewport, g: Geometry, color: string, vertex: VertexRef | null): void {
  ctx.save();
  ctx.setLineDash([]);
  ctx.lineWidth = 1;
  ctx.strokeStyle = color;
  ctx.fillStyle = '#ffffff';
  if (g.kind === 'box') {
    for (const { x, y } of boxHandlePoints(g)) {
      const [sx, sy] = imageToScreen(vp, x, y);
      const h = HANDLE_SIZE;
      ctx.fillRect(sx - h / 2, sy - h / 2, h, h);
      ctx.strokeRect(sx - h / 2, sy - h / 2, h, h);
    }
  } else if (g.kind === 'polygon') {
    g.parts.forEach((part, p) =>
      part.forEach(([x, y], i) => {
        const [sx, sy] = imageToScreen(vp, x, y);
        const chosen = vertex !== null && vertex.part === p && vertex.index === i;
        ctx.fillStyle = chosen ? color : '#ffffff';
        ctx.beginPath();
        ctx.arc(sx, sy, VERTEX_RADIUS, 0, Math.PI * 2);
        ctx.fill();
        ctx.stroke();
      }),
    );
  }
  ctx.restore();
}

function drawOpenPolygon(ctx: Ctx2D, vp: Viewport, points: readonly Point[], color: string): void {
  ctx.save();
  ctx.setLineDash([]);
  ctx.lineWidth = LINE_WIDTH;
  ctx.strokeStyle = color;
  tracePolygon(ctx, vp, [points], false);
  ctx.stroke();
  ctx.fillStyle = '#ffffff';
  // The last point is the cursor, not a vertex.
  points.slice(0, -1).forEach(([x, y], i) => {
    const [sx, sy] = imageToScreen(vp, x, y);
    ctx.beginPath();
    // The first vertex is larger: clicking it closes the polygon.
    ctx.arc(sx, sy, i === 0 ? VERTEX_RADIUS + 2 : VERTEX_RADIUS, 0, Math.PI * 2);
    ctx.fill();
    ctx.stroke();
  });
  ctx.restore();
}

export type Layer = 'base' | 'overlay';

export interface RendererOptions {
  createSurface?: SurfaceFactory;
  /** requestAnimationFrame; frames are drawn on the next one. Omit to draw only on flush(). */
  requestFrame?: (callback: () => void) => unknown;
  /** Told after each frame: which layers were drawn and how long it took (for measurements). */
  onFrame?: (frame: FrameInfo) => void;
}

/** One drawn frame. */
export interface FrameInfo {
  base: boolean;
  overlay: boolean;
  /** performance.now() when drawing began. */
  start: number;
  /** Milliseconds spent drawing. */
  ms: number;
  /** Shapes drawn on the base layer (when it was drawn). */
  shapes: number;
}

/**
 * Owns the two layers, remembers which are out of date, and redraws only those, at most once
 * per animation frame.
 */
export class LayeredRenderer {
  private dirtyBase = true;
  private dirtyOverlay = true;
  private scheduled = false;
  private readonly masks: MaskCache;
  private readonly requestFrame: ((callback: () => void) => unknown) | undefined;
  private readonly onFrame: ((frame: FrameInfo) => void) | undefined;
  viewport: Viewport;
  image: ImageSource | null = null;
  scene: Scene;
  overlay: OverlayState = { selected: null };
  /** Frames drawn per layer and shapes on the last base frame (for tests and diagnostics). */
  readonly stats = { baseFrames: 0, overlayFrames: 0, shapesDrawn: 0 };

  constructor(
    private readonly base: Ctx2D,
    private readonly top: Ctx2D,
    viewport: Viewport,
    scene: Scene,
    opts: RendererOptions = {},
  ) {
    this.viewport = viewport;
    this.scene = scene;
    this.masks = new MaskCache(opts.createSurface ?? browserSurface);
    this.requestFrame = opts.requestFrame;
    this.onFrame = opts.onFrame;
  }

  setViewport(vp: Viewport): void {
    this.viewport = vp;
    this.invalidate('base');
    this.invalidate('overlay');
  }

  setImage(image: ImageSource | null): void {
    this.image = image;
    this.invalidate('base');
  }

  /** Reduced copies of the image shown (see ImageSource.levels), once they are made. */
  setImageLevels(levels: readonly ImageLevel[]): void {
    if (!this.image) return;
    this.image = { ...this.image, levels };
    this.invalidate('base');
  }

  setScene(scene: Scene): void {
    this.scene = scene;
    this.invalidate('base');
    this.invalidate('overlay');
  }

  /** A new overlay state; the base is redrawn only if the selection changed (it leaves the selected shape out). */
  setOverlay(state: OverlayState): void {
    if (state.selected !== this.overlay.selected) this.invalidate('base');
    const p = state.preview;
    if (p?.kind === 'mask') {
      // Upload each stroke segment as it arrives: several may come between two frames.
      const sel = state.selected === null ? undefined : this.scene.shapes[state.selected];
      this.masks.forBitmap(p.mask, sel?.color ?? state.previewColor ?? '#ffffff', p.dirty);
    }
    this.overlay = state;
    this.invalidate('overlay');
  }

  invalidate(layer: Layer): void {
    if (layer === 'base') this.dirtyBase = true;
    else this.dirtyOverlay = true;
    if (this.requestFrame && !this.scheduled) {
      this.scheduled = true;
      this.requestFrame(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Draws the layers that are out of date now; says which were drawn. */
  flush(): { base: boolean; overlay: boolean } {
    const drawn = { base: this.dirtyBase, overlay: this.dirtyOverlay };
    const start = this.onFrame && (drawn.base || drawn.overlay) ? performance.now() : 0;
    if (this.dirtyBase) {
      this.stats.shapesDrawn = drawBase(this.base, this.viewport, this.image, this.scene, this.masks, this.overlay.selected);
      this.stats.baseFrames++;
      this.dirtyBase = false;
    }
    if (this.dirtyOverlay) {
      drawOverlay(this.top, this.viewport, this.scene, this.overlay, this.masks);
      this.stats.overlayFrames++;
      this.dirtyOverlay = false;
    }
    if (this.onFrame && (drawn.base || drawn.overlay)) {
      this.onFrame({ ...drawn, start, ms: performance.now() - start, shapes: drawn.base ? this.stats.shapesDrawn : 0 });
    }
    return drawn;
  }
}
