// Image ↔ screen transforms for one image shown on a canvas. Screen coordinates are CSS
// pixels from the canvas's top-left corner (what pointer events give as offsetX/offsetY);
// the canvas backing store is `dpr` times larger. Viewports are immutable values.

import type { Point } from '../api/types';
import { clamp, type Rect } from './geometry';

export interface Viewport {
  /** Screen (CSS) pixels per image pixel. */
  readonly scale: number;
  /** Screen position of the image's origin. */
  readonly offsetX: number;
  readonly offsetY: number;
  /** Canvas size in CSS pixels. */
  readonly viewWidth: number;
  readonly viewHeight: number;
  /** Device pixels per CSS pixel (window.devicePixelRatio). */
  readonly dpr: number;
  readonly imageWidth: number;
  readonly imageHeight: number;
  readonly minScale: number;
  readonly maxScale: number;
}

/** Gap kept around the image by fit-to-view, CSS px. */
export const FIT_PADDING = 16;
/** Deepest zoom: one image pixel as this many CSS pixels. */
export const MAX_SCALE = 32;
/** How far past fit one may zoom out. */
const MIN_SCALE_OF_FIT = 0.5;
/** Panning stops with at least this much of the image (CSS px) still on screen. */
const KEEP_VISIBLE = 48;

export interface ViewportInit {
  viewWidth: number;
  viewHeight: number;
  imageWidth: number;
  imageHeight: number;
  dpr?: number;
}

/** A viewport showing the whole image, centred. */
export function createViewport(init: ViewportInit): Viewport {
  return fitToView({
    scale: 1,
    offsetX: 0,
    offsetY: 0,
    viewWidth: init.viewWidth,
    viewHeight: init.viewHeight,
    dpr: init.dpr ?? 1,
    imageWidth: init.imageWidth,
    imageHeight: init.imageHeight,
    minScale: 0,
    maxScale: Infinity,
  });
}

/** The scale at which the whole image fits the view with `padding` around it. */
export function fitScale(vp: Viewport, padding = FIT_PADDING): number {
  const w = Math.max(1, vp.viewWidth - 2 * padding);
  const h = Math.max(1, vp.viewHeight - 2 * padding);
  if (vp.imageWidth <= 0 || vp.imageHeight <= 0) return 1;
  return Math.min(w / vp.imageWidth, h / vp.imageHeight);
}

function limits(vp: Viewport): { minScale: number; maxScale: number } {
  const fit = fitScale(vp);
  return { minScale: Math.min(fit, 1) * MIN_SCALE_OF_FIT, maxScale: Math.max(MAX_SCALE, fit) };
}

/** Whole image visible and centred; the zoom range is re-derived from the fit. */
export function fitToView(vp: Viewport, padding = FIT_PADDING): Viewport {
  const scale = fitScale(vp, padding);
  return {
    ...vp,
    ...limits(vp),
    scale,
    offsetX: (vp.viewWidth - vp.imageWidth * scale) / 2,
    offsetY: (vp.viewHeight - vp.imageHeight * scale) / 2,
  };
}

/** The canvas changed size (or moved to a screen with another dpr); the image point at the centre stays. */
export function resizeView(vp: Viewport, viewWidth: number, viewHeight: number, dpr = vp.dpr): Viewport {
  const [cx, cy] = screenToImage(vp, vp.viewWidth / 2, vp.viewHeight / 2);
  const next: Viewport = { ...vp, viewWidth, viewHeight, dpr };
  const withLimits: Viewport = { ...next, ...limits(next) };
  const scale = clamp(vp.scale, withLimits.minScale, withLimits.maxScale);
  return clampOffset({ ...withLimits, scale, offsetX: viewWidth / 2 - cx * scale, offsetY: viewHeight / 2 - cy * scale });
}

export function imageToScreen(vp: Viewport, x: number, y: number): Point {
  return [x * vp.scale + vp.offsetX, y * vp.scale + vp.offsetY];
}

export function screenToImage(vp: Viewport, sx: number, sy: number): Point {
  return [(sx - vp.offsetX) / vp.scale, (sy - vp.offsetY) / vp.scale];
}

/** Zoom by `factor` keeping the image point under the screen point (sx, sy) where it is. */
export function zoomAt(vp: Viewport, factor: number, sx: number, sy: number): Viewport {
  return setScaleAt(vp, vp.scale * factor, sx, sy);
}

/** Set the scale (clamped to the zoom range) keeping the image point under (sx, sy) fixed. */
export function setScaleAt(vp: Viewport, scale: number, sx: number, sy: number): Viewport {
  const s = clamp(scale, vp.minScale, vp.maxScale);
  const [ix, iy] = screenToImage(vp, sx, sy);
  return clampOffset({ ...vp, scale: s, offsetX: sx - ix * s, offsetY: sy - iy * s });
}

/** Zoom around the centre of the view (keyboard + / -). */
export function zoomCentered(vp: Viewport, factor: number): Viewport {
  return zoomAt(vp, factor, vp.viewWidth / 2, vp.viewHeight / 2);
}

/** Move the image by (dx, dy) screen pixels. */
export function pan(vp: Viewport, dx: number, dy: number): Viewport {
  return clampOffset({ ...vp, offsetX: vp.offsetX + dx, offsetY: vp.offsetY + dy });
}

/** Keeps some of the image on screen so it cannot be panned out of reach. */
function clampOffset(vp: Viewport): Viewport {
  const w = vp.imageWidth * vp.scale;
  const h = vp.imageHeight * vp.scale;
  const keepX = Math.min(KEEP_VISIBLE, w, vp.viewWidth / 2);
  const keepY = Math.min(KEEP_VISIBLE, h, vp.viewHeight / 2);
  return {
    ...vp,
    offsetX: clamp(vp.offsetX, keepX - w, vp.viewWidth - keepX),
    offsetY: clamp(vp.offsetY, keepY - h, vp.viewHeight - keepY),
  };
}

/** The image area on screen, in image pixels (not rounded, not clipped to the image). */
export function viewRectInImage(vp: Viewport): Rect {
  const [x0, y0] = screenToImage(vp, 0, 0);
  const [x1, y1] = screenToImage(vp, vp.viewWidth, vp.viewHeight);
  return { x0, y0, x1, y1 };
}

/**
 * The whole image pixels that are on screen, clipped to the image: the source rectangle for
 * `drawImage(img, sx, sy, sw, sh, dx, dy, dw, dh)`, so a zoomed-in 50-megapixel image is
 * resampled only where it shows. Null when no part of the image is on screen.
 */
export function visibleImageRect(vp: Viewport): Rect | null {
  const v = viewRectInImage(vp);
  const x0 = clamp(Math.floor(v.x0), 0, vp.imageWidth);
  const y0 = clamp(Math.floor(v.y0), 0, vp.imageHeight);
  const x1 = clamp(Math.ceil(v.x1), 0, vp.imageWidth);
  const y1 = clamp(Math.ceil(v.y1), 0, vp.imageHeight);
  return x1 > x0 && y1 > y0 ? { x0, y0, x1, y1 } : null;
}

/** Source and destination rectangles (destination in device pixels) for drawing the visible image. */
export function imageDrawRects(vp: Viewport): { sx: number; sy: number; sw: number; sh: number; dx: number; dy: number; dw: number; dh: number } | null {
  const r = visibleImageRect(vp);
  if (!r) return null;
  const k = vp.scale * vp.dpr;
  return {
    sx: r.x0,
    sy: r.y0,
    sw: r.x1 - r.x0,
    sh: r.y1 - r.y0,
    dx: (r.x0 * vp.scale + vp.offsetX) * vp.dpr,
    dy: (r.y0 * vp.scale + vp.offsetY) * vp.dpr,
    dw: (r.x1 - r.x0) * k,
    dh: (r.y1 - r.y0) * k,
  };
}

/** Backing-store size of a canvas filling the view, in device pixels. */
export function canvasPixelSize(vp: Viewport): { width: number; height: number } {
  return { width: Math.max(1, Math.round(vp.viewWidth * vp.dpr)), height: Math.max(1, Math.round(vp.viewHeight * vp.dpr)) };
}
