// Binary masks: painting, COCO uncompressed RLE (exactly pycocotools' order), and drawing
// only the part of the image a mask covers.

import type { Rect } from './geometry';

/**
 * A width × height bitmap, row-major (`y * width + x`), one byte per pixel (0 or 1).
 * Row-major matches ImageData; the RLE is column-major, so encode and decode transpose.
 */
export class MaskBitmap {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
  /**
   * A rectangle (integer pixels, exclusive max) containing every set pixel; null when nothing
   * has been set. Erasing does not shrink it: it is a bound, kept so encoding and drawing
   * touch only this part of a 50-megapixel image.
   */
  bounds: Rect | null = null;

  constructor(width: number, height: number, data?: Uint8Array) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
      throw new RangeError(`mask size ${width}x${height} is not a pair of non-negative integers`);
    }
    this.width = width;
    this.height = height;
    if (data && data.length !== width * height) {
      throw new RangeError(`mask data has ${data.length} bytes, ${width}x${height} needs ${width * height}`);
    }
    this.data = data ?? new Uint8Array(width * height);
    if (data) this.bounds = tightBounds(this, { x0: 0, y0: 0, x1: width, y1: height });
  }

  get(x: number, y: number): number {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return 0;
    return this.data[y * this.width + x] ?? 0;
  }

  set(x: number, y: number, value: 0 | 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.data[y * this.width + x] = value;
    if (value) this.bounds = unionRect(this.bounds, { x0: x, y0: y, x1: x + 1, y1: y + 1 });
  }

  clone(): MaskBitmap {
    const m = new MaskBitmap(this.width, this.height);
    m.data.set(this.data);
    m.bounds = this.bounds && { ...this.bounds };
    return m;
  }

  /** Number of set pixels (scans only `bounds`). */
  area(): number {
    const b = this.bounds;
    if (!b) return 0;
    let n = 0;
    for (let y = b.y0; y < b.y1; y++) {
      const row = y * this.width;
      for (let x = b.x0; x < b.x1; x++) n += this.data[row + x] ?? 0;
    }
    return n;
  }
}

function unionRect(a: Rect | null, b: Rect): Rect {
  if (!a) return { ...b };
  return { x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1) };
}

/** The tight rectangle of set pixels within `within`, or null. */
function tightBounds(mask: MaskBitmap, within: Rect): Rect | null {
  const { width, data } = mask;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let y = within.y0; y < within.y1; y++) {
    const row = y * width;
    for (let x = within.x0; x < within.x1; x++) {
      if (data[row + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/** The tight bounding rectangle of the set pixels (integer, exclusive max), or null if empty. */
export function maskBBox(mask: MaskBitmap): Rect | null {
  return mask.bounds ? tightBounds(mask, mask.bounds) : null;
}

/**
 * Paints (value 1) or erases (value 0) every pixel whose centre lies within `radius` of the
 * segment a–b: a disc swept along the segment, so a fast drag reported as two far-apart
 * pointer positions leaves no gap. A disc is the segment a–a. Returns the rectangle of pixels
 * touched (clipped to the mask), or null when it misses the mask.
 */
export function paintStroke(
  mask: MaskBitmap,
  ax: number,
  ay: number,
  bx: number,
  by: number,
  radius: number,
  value: 0 | 1,
): Rect | null {
  const r = Math.max(radius, 0.5);
  const { width, height, data } = mask;
  const yStart = Math.max(0, Math.floor(Math.min(ay, by) - r));
  const yEnd = Math.min(height, Math.ceil(Math.max(ay, by) + r));
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const len = Math.sqrt(len2);
  let dirty: Rect | null = null;
  for (let y = yStart; y < yEnd; y++) {
    const yc = y + 0.5;
    // The capsule is convex, so its cut by the row's centre line is one interval: the union
    // of the two end discs' chords and the band between them.
    let lo = Infinity;
    let hi = -Infinity;
    for (const [cx, cy] of [
      [ax, ay],
      [bx, by],
    ] as const) {
      const h = r * r - (yc - cy) * (yc - cy);
      if (h >= 0) {
        const s = Math.sqrt(h);
        lo = Math.min(lo, cx - s);
        hi = Math.max(hi, cx + s);
      }
    }
    if (len2 > 0) {
      // Band: |cross(P - A, d)| <= r|d| and 0 <= dot(P - A, d) <= |d|², both linear in x.
      const band = intersect(
        linearRange(dy, -(yc - ay) * dx, -r * len, r * len),
        linearRange(dx, (yc - ay) * dy, 0, len2),
      );
      if (band) {
        lo = Math.min(lo, ax + band[0]);
        hi = Math.max(hi, ax + band[1]);
      }
    }
    if (lo > hi) continue;
    const x0 = Math.max(0, Math.ceil(lo - 0.5));
    const x1 = Math.min(width - 1, Math.floor(hi - 0.5));
    if (x0 > x1) continue;
    data.fill(value, y * width + x0, y * width + x1 + 1);
    dirty = unionRect(dirty, { x0, y0: y, x1: x1 + 1, y1: y + 1 });
  }
  if (dirty && value) mask.bounds = unionRect(mask.bounds, dirty);
  return dirty;
}

/** Paints or erases a disc (see `paintStroke`). */
export function paintDisc(mask: MaskBitmap, cx: number, cy: number, radius: number, value: 0 | 1): Rect | null {
  return paintStroke(mask, cx, cy, cx, cy, radius, value);
}

/** The u (relative x) where `lo <= k·u + c <= hi`: an interval, everything, or nothing. */
function linearRange(k: number, c: number, lo: number, hi: number): [number, number] | null {
  if (k === 0) return c >= lo && c <= hi ? [-Infinity, Infinity] : null;
  const a = (lo - c) / k;
  const b = (hi - c) / k;
  return a < b ? [a, b] : [b, a];
}

function intersect(a: [number, number] | null, b: [number, number] | null): [number, number] | null {
  if (!a || !b) return null;
  const lo = Math.max(a[0], b[0]);
  const hi = Math.min(a[1], b[1]);
  return lo <= hi ? [lo, hi] : null;
}

/**
 * COCO uncompressed RLE counts: runs over pixels in column-major order (down each column,
 * columns left to right), alternating 0s and 1s and starting with a run of 0s (possibly of
 * length 0). Identical to pycocotools' `rleEncode` and to the backend's `Rle::from_mask`,
 * including `[0]` for an empty (0-pixel) mask.
 */
export function encodeRle(mask: MaskBitmap): number[] {
  const { width: w, height: h, data } = mask;
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  const zeros = (n: number): void => {
    if (n <= 0) return;
    if (current === 1) {
      counts.push(run);
      run = 0;
      current = 0;
    }
    run += n;
  };
  const b = mask.bounds;
  if (!b) {
    zeros(w * h);
  } else {
    // Everything outside the bounds is 0, so only the bounds are read pixel by pixel.
    zeros(b.x0 * h);
    for (let x = b.x0; x < b.x1; x++) {
      zeros(b.y0);
      for (let y = b.y0; y < b.y1; y++) {
        const v = data[y * w + x] ? 1 : 0;
        if (v !== current) {
          counts.push(run);
          run = 0;
          current = v;
        }
        run++;
      }
      zeros(h - b.y1);
    }
    zeros((w - b.x1) * h);
  }
  counts.push(run);
  return counts;
}

/** Decodes COCO uncompressed RLE counts; throws when they do not add up to width × height. */
export function decodeRle(counts: readonly number[], width: number, height: number): MaskBitmap {
  const mask = new MaskBitmap(width, height);
  const total = counts.reduce((s, c) => s + c, 0);
  if (total !== width * height || counts.some((c) => !Number.isInteger(c) || c < 0)) {
    throw new RangeError(`RLE counts add up to ${total}, the mask has ${width * height} pixels`);
  }
  const { data } = mask;
  let i = 0;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let k = 0; k < counts.length; k++) {
    let c = counts[k] ?? 0;
    if (k % 2 === 1) {
      while (c > 0) {
        const x = Math.floor(i / height);
        const y = i - x * height;
        const n = Math.min(c, height - y);
        for (let j = 0; j < n; j++) data[(y + j) * width + x] = 1;
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x + 1);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y + n);
        i += n;
        c -= n;
      }
    } else {
      i += c;
    }
  }
  mask.bounds = x1 < 0 ? null : { x0, y0, x1, y1 };
  return mask;
}

/** Pixels set in RLE counts. */
export function rleArea(counts: readonly number[]): number {
  let n = 0;
  for (let k = 1; k < counts.length; k += 2) n += counts[k] ?? 0;
  return n;
}

/**
 * Tight bounding rectangle of the set pixels of RLE counts, computed from the runs alone
 * (no decode), as the backend's `rle_bbox`. Null when no pixel is set.
 */
export function rleBBox(counts: readonly number[], height: number): Rect | null {
  const h = Math.max(height, 1);
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  let i = 0;
  for (let k = 0; k < counts.length; k++) {
    const c = counts[k] ?? 0;
    if (k % 2 === 1 && c > 0) {
      const first = i;
      const last = i + c - 1;
      const fx = Math.floor(first / h);
      const lx = Math.floor(last / h);
      x0 = Math.min(x0, fx);
      x1 = Math.max(x1, lx);
      if (fx === lx) {
        y0 = Math.min(y0, first % h);
        y1 = Math.max(y1, last % h);
      } else {
        // The run wraps into a later column: its rows span the whole height.
        y0 = 0;
        y1 = h - 1;
      }
    }
    i += c;
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/** `#rrggbb` → [r, g, b]; black for anything else. */
export function parseHexColor(color: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!m) return [0, 0, 0];
  return [parseInt(m[1] ?? '0', 16), parseInt(m[2] ?? '0', 16), parseInt(m[3] ?? '0', 16)];
}

/** RGBA pixels of `rect` of the mask: set pixels in `rgba`, the rest transparent. */
export function maskRgba(mask: MaskBitmap, rect: Rect, rgba: readonly [number, number, number, number]): Uint8ClampedArray {
  const w = rect.x1 - rect.x0;
  const h = rect.y1 - rect.y0;
  const out = new Uint8ClampedArray(w * h * 4);
  const [r, g, b, a] = rgba;
  for (let y = 0; y < h; y++) {
    const src = (rect.y0 + y) * mask.width + rect.x0;
    let dst = y * w * 4;
    for (let x = 0; x < w; x++, dst += 4) {
      if (mask.data[src + x]) {
        out[dst] = r;
        out[dst + 1] = g;
        out[dst + 2] = b;
        out[dst + 3] = a;
      }
    }
  }
  return out;
}

/** The part of a 2D context a mask surface needs. */
export interface SurfaceContext {
  createImageData(width: number, height: number): ImageData;
  putImageData(image: ImageData, dx: number, dy: number): void;
}

/** An offscreen canvas (OffscreenCanvas or a detached <canvas>) and its context. */
export interface Surface {
  readonly source: CanvasImageSource;
  readonly ctx: SurfaceContext;
}

export type SurfaceFactory = (width: number, height: number) => Surface;

/** Offscreen surfaces in a browser (OffscreenCanvas where there is one). */
export const browserSurface: SurfaceFactory = (width, height) => {
  if (typeof OffscreenCanvas !== 'undefined') {
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2D context for an offscreen canvas');
    return { source: canvas, ctx };
  }
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D context for a canvas');
  return { source: canvas, ctx };
};

/**
 * A mask drawn once into an offscreen surface covering only its bounds (not the whole
 * image), then blitted with drawImage. While painting, `update(dirty)` re-uploads only the
 * touched rectangle; the surface grows (with slack, so a stroke does not reallocate every
 * frame) when a stroke leaves it.
 */
export class MaskLayer {
  surface: Surface | null = null;
  /** The image-pixel rectangle the surface covers. */
  rect: Rect | null = null;
  private readonly rgba: [number, number, number, number];

  constructor(
    readonly mask: MaskBitmap,
    color: string,
    alpha: number,
    private readonly createSurface: SurfaceFactory,
  ) {
    const [r, g, b] = parseHexColor(color);
    this.rgba = [r, g, b, Math.round(Math.min(1, Math.max(0, alpha)) * 255)];
    this.refresh();
  }

  /** Redraws the whole surface, sized to the mask's current bounds. */
  refresh(): void {
    const b = this.mask.bounds;
    if (!b) {
      this.surface = null;
      this.rect = null;
      return;
    }
    this.allocate(b);
  }

  /** Re-uploads the pixels of `dirty` (as returned by `paintStroke`). */
  update(dirty: Rect | null): void {
    if (!dirty) return;
    const r = this.rect;
    if (!r || dirty.x0 < r.x0 || dirty.y0 < r.y0 || dirty.x1 > r.x1 || dirty.y1 > r.y1) {
      const u = r ? unionRect(r, dirty) : dirty;
      const padX = Math.ceil((u.x1 - u.x0) / 4);
      const padY = Math.ceil((u.y1 - u.y0) / 4);
      this.allocate({
        x0: Math.max(0, u.x0 - padX),
        y0: Math.max(0, u.y0 - padY),
        x1: Math.min(this.mask.width, u.x1 + padX),
        y1: Math.min(this.mask.height, u.y1 + padY),
      });
      return;
    }
    this.upload(dirty);
  }

  private allocate(rect: Rect): void {
    this.rect = rect;
    this.surface = this.createSurface(rect.x1 - rect.x0, rect.y1 - rect.y0);
    this.upload(rect);
  }

  private upload(part: Rect): void {
    const s = this.surface;
    const r = this.rect;
    if (!s || !r) return;
    const w = part.x1 - part.x0;
    const h = part.y1 - part.y0;
    if (w <= 0 || h <= 0) return;
    const img = s.ctx.createImageData(w, h);
    img.data.set(maskRgba(this.mask, part, this.rgba));
    s.ctx.putImageData(img, part.x0 - r.x0, part.y0 - r.y0);
  }
}
