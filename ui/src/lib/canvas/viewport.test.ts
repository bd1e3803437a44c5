import { describe, expect, it } from 'vitest';
import {
  canvasPixelSize,
  createViewport,
  fitScale,
  fitToView,
  FIT_PADDING,
  imageDrawRects,
  imageToScreen,
  MAX_SCALE,
  pan,
  resizeView,
  screenToImage,
  setScaleAt,
  type Viewport,
  visibleImageRect,
  zoomAt,
  zoomCentered,
} from './viewport';

const big = (): Viewport => createViewport({ viewWidth: 1000, viewHeight: 800, imageWidth: 8000, imageHeight: 6000, dpr: 2 });

describe('viewport', () => {
  it('fits the whole image, centred, with padding', () => {
    const vp = big();
    expect(vp.scale).toBeCloseTo(Math.min((1000 - 2 * FIT_PADDING) / 8000, (800 - 2 * FIT_PADDING) / 6000));
    const [x0, y0] = imageToScreen(vp, 0, 0);
    const [x1, y1] = imageToScreen(vp, 8000, 6000);
    expect(x0).toBeGreaterThanOrEqual(FIT_PADDING - 1e-9);
    expect(x0 + x1).toBeCloseTo(1000);
    expect(y0 + y1).toBeCloseTo(800);
  });

  it('maps screen to image and back', () => {
    const vp = zoomAt(big(), 3.7, 123, 456);
    for (const [x, y] of [[0, 0], [4000.5, 17.25], [8000, 6000]] as const) {
      const [sx, sy] = imageToScreen(vp, x, y);
      const [ix, iy] = screenToImage(vp, sx, sy);
      expect(ix).toBeCloseTo(x, 9);
      expect(iy).toBeCloseTo(y, 9);
    }
  });

  it('zooms around the cursor: the image point under it stays put', () => {
    let vp = big();
    const before = screenToImage(vp, 300, 200);
    vp = zoomAt(vp, 4, 300, 200);
    const after = screenToImage(vp, 300, 200);
    expect(after[0]).toBeCloseTo(before[0], 9);
    expect(after[1]).toBeCloseTo(before[1], 9);
  });

  it('clamps the zoom range', () => {
    let vp = big();
    for (let i = 0; i < 100; i++) vp = zoomAt(vp, 2, 500, 400);
    expect(vp.scale).toBe(MAX_SCALE);
    for (let i = 0; i < 200; i++) vp = zoomAt(vp, 0.5, 500, 400);
    expect(vp.scale).toBe(vp.minScale);
    expect(vp.minScale).toBeCloseTo(fitScale(vp) / 2);
    expect(setScaleAt(vp, 1e9, 0, 0).scale).toBe(MAX_SCALE);
  });

  it('a small image may be zoomed out to half of 1:1, not just half of fit', () => {
    const vp = createViewport({ viewWidth: 1000, viewHeight: 800, imageWidth: 100, imageHeight: 50 });
    expect(vp.scale).toBeGreaterThan(1);
    expect(vp.minScale).toBeCloseTo(0.5);
  });

  it('pans, and stops before the image leaves the view', () => {
    const vp = big();
    const moved = pan(vp, 10, -20);
    expect(moved.offsetX).toBeCloseTo(vp.offsetX + 10);
    expect(moved.offsetY).toBeCloseTo(vp.offsetY - 20);
    const far = pan(vp, 1e6, 1e6);
    expect(far.offsetX).toBeLessThan(1000);
    expect(far.offsetY).toBeLessThan(800);
    const [right, bottom] = imageToScreen(pan(vp, -1e6, -1e6), 8000, 6000);
    expect(right).toBeGreaterThan(0);
    expect(bottom).toBeGreaterThan(0);
  });

  it('keeps the centre when the view is resized', () => {
    const vp = zoomAt(big(), 5, 100, 100);
    const centre = screenToImage(vp, 500, 400);
    const r = resizeView(vp, 1400, 600);
    const c2 = screenToImage(r, 700, 300);
    expect(c2[0]).toBeCloseTo(centre[0], 6);
    expect(c2[1]).toBeCloseTo(centre[1], 6);
  });

  it('zooms around the centre for the keyboard', () => {
    const vp = big();
    const c = screenToImage(vp, 500, 400);
    const z = zoomCentered(vp, 1.25);
    expect(z.scale).toBeCloseTo(vp.scale * 1.25);
    expect(screenToImage(z, 500, 400)[0]).toBeCloseTo(c[0]);
  });

  it('fit undoes zoom and pan', () => {
    const vp = big();
    const back = fitToView(pan(zoomAt(vp, 10, 0, 0), 50, 50));
    expect(back.scale).toBeCloseTo(vp.scale);
    expect(back.offsetX).toBeCloseTo(vp.offsetX);
  });
});

describe('visible part of the image', () => {
  it('is the whole image when it fits', () => {
    expect(visibleImageRect(big())).toEqual({ x0: 0, y0: 0, x1: 8000, y1: 6000 });
  });

  it('is a small source rectangle when zoomed in (only that part is resampled)', () => {
    const vp = setScaleAt(big(), 4, 500, 400);
    const r = visibleImageRect(vp);
    expect(r).not.toBeNull();
    if (!r) return;
    // 1000 × 800 CSS px at 4 px per image px: about 250 × 200 image px (whole pixels, rounded out).
    expect(r.x1 - r.x0).toBeLessThanOrEqual(252);
    expect(r.y1 - r.y0).toBeLessThanOrEqual(202);
    const d = imageDrawRects(vp);
    expect(d).not.toBeNull();
    if (!d) return;
    expect(d.sw).toBe(r.x1 - r.x0);
    // Destination in device pixels (dpr 2): the source rect scaled by scale × dpr.
    expect(d.dw).toBeCloseTo(d.sw * 8);
    const [sx] = imageToScreen(vp, r.x0, r.y0);
    expect(d.dx).toBeCloseTo(sx * 2);
    expect(d.dx).toBeLessThanOrEqual(0);
  });

  it('is clipped to the image near its corner', () => {
    const vp = pan(setScaleAt(big(), 2, 0, 0), 5000, 5000);
    const r = visibleImageRect(vp);
    expect(r?.x0).toBe(0);
    expect(r?.y0).toBe(0);
  });

  it('sizes the backing store in device pixels', () => {
    expect(canvasPixelSize(big())).toEqual({ width: 2000, height: 1600 });
  });
});
