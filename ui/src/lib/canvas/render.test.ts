import { describe, expect, it } from 'vitest';
import { RecordingContext, recordingSurfaces } from '../../test/fake-canvas';
import type { Geometry } from '../api/types';
import { expandRect, geometryBBox, GridIndex, rectsIntersect } from './geometry';
import { encodeRle, MaskBitmap, paintDisc } from './mask';
import { buildLevels, drawBase, LayeredRenderer, MaskCache, pickLevel, type Scene, type SceneShape, visibleShapes, withAlpha } from './render';
import { createViewport, setScaleAt, type Viewport, viewRectInImage, visibleImageRect } from './viewport';

function makeScene(geoms: Geometry[], style: SceneShape['style'] = 'annotation'): Scene {
  const shapes: SceneShape[] = geoms.map((geometry, i) => ({ geometry, color: '#ff0000', style, label: `s${i}`, score: style === 'prediction' ? 0.87 : null }));
  return { shapes, index: GridIndex.build(geoms.map(geometryBBox)) };
}

/** 1,000 boxes spread over a 10,000 × 10,000 image. */
function thousandBoxes(): Geometry[] {
  const geoms: Geometry[] = [];
  for (let i = 0; i < 1000; i++) {
    const x = (i % 40) * 250 + 10;
    const y = Math.floor(i / 40) * 400 + 10;
    geoms.push({ kind: 'box', x0: x, y0: y, x1: x + 100, y1: y + 80 });
  }
  return geoms;
}

const image = { source: {} as CanvasImageSource, width: 10000, height: 10000 };
const fitted = (): Viewport => createViewport({ viewWidth: 1000, viewHeight: 800, imageWidth: 10000, imageHeight: 10000, dpr: 1 });

describe('base layer', () => {
  it('culls: draws only shapes that reach the view, found through the index', () => {
    const geoms = thousandBoxes();
    const scene = makeScene(geoms);
    const vp = setScaleAt(fitted(), 1, 0, 0);
    const ctx = new RecordingContext();
    const drawn = drawBase(ctx, vp, image, scene, new MaskCache(recordingSurfaces().factory), null);

    const view = expandRect(viewRectInImage(vp), 10);
    const expected = geoms.filter((g) => rectsIntersect(geometryBBox(g), view)).length;
    expect(drawn).toBe(expected);
    expect(drawn).toBeLessThan(60);
    expect(ctx.count('rect')).toBe(drawn);
    expect(scene.index.lastVisited).toBeLessThan(200);
  });

  it('draws every shape when the whole image is in view', () => {
    const scene = makeScene(thousandBoxes());
    const ctx = new RecordingContext();
    expect(drawBase(ctx, fitted(), image, scene, new MaskCache(recordingSurfaces().factory), null)).toBe(1000);
  });

  it('draws the image from its visible source rectangle only', () => {
    const vp = setScaleAt(fitted(), 2, 500, 400);
    const ctx = new RecordingContext();
    drawBase(ctx, vp, image, makeScene([]), new MaskCache(recordingSurfaces().factory), null);
    const call = ctx.calls.find((c) => c.name === 'drawImage');
    const r = visibleImageRect(vp);
    expect(call?.args.slice(1, 5)).toEqual(r && [r.x0, r.y0, r.x1 - r.x0, r.y1 - r.y0]);
    // 1000 × 800 CSS px at 2× shows about 500 × 400 of the 10,000 × 10,000 image.
    expect(r && (r.x1 - r.x0) * (r.y1 - r.y0)).toBeLessThan(502 * 402);
  });

  it('leaves the excluded (selected) shape to the overlay', () => {
    const scene = makeScene([{ kind: 'box', x0: 0, y0: 0, x1: 10, y1: 10 }, { kind: 'box', x0: 20, y0: 0, x1: 30, y1: 10 }]);
    const ctx = new RecordingContext();
    expect(drawBase(ctx, fitted(), null, scene, new MaskCache(recordingSurfaces().factory), 1)).toBe(1);
  });

  it('draws predictions dashed, translucent, with class and score', () => {
    const scene = makeScene([{ kind: 'box', x0: 100, y0: 100, x1: 3000, y1: 3000 }], 'prediction');
    scene.shapes.forEach((s) => Object.assign(s, { label: 'car' }));
    const ctx = new RecordingContext();
    drawBase(ctx, fitted(), null, scene, new MaskCache(recordingSurfaces().factory), null);
    expect(ctx.calls).toContainEqual({ name: 'setLineDash', args: [[6, 4]] });
    expect(ctx.calls.some((c) => c.name === 'fillText' && c.args[0] === 'car 0.87')).toBe(true);
    // No fill for a prediction: the image under it stays visible.
    expect(ctx.count('fill')).toBe(0);
  });

  it('draws masks from a surface the size of the mask, not the image', () => {
    const m = new MaskBitmap(10000, 10000);
    paintDisc(m, 5000, 5000, 20, 1);
    const { factory, created } = recordingSurfaces();
    const g: Geometry = { kind: 'mask', width_px: 10000, height_px: 10000, counts: encodeRle(m) };
    const ctx = new RecordingContext();
    drawBase(ctx, fitted(), null, makeScene([g]), new MaskCache(factory), null);
    expect(created).toHaveLength(1);
    expect(created[0]?.width).toBe(40);
    expect(ctx.count('drawImage')).toBe(1);
  });
});

describe('two layers', () => {
  function setup(): { base: RecordingContext; top: RecordingContext; r: LayeredRenderer; scene: Scene } {
    const base = new RecordingContext();
    const top = new RecordingContext();
    const scene = makeScene(thousandBoxes());
    const r = new LayeredRenderer(base, top, fitted(), scene, { createSurface: recordingSurfaces().factory });
    r.setImage(image);
    r.flush();
    base.reset();
    top.reset();
    return { base, top, r, scene };
  }

  it('a drag frame redraws the overlay only: not the image, not the other 999 boxes', () => {
    const { base, top, r } = setup();
    r.setOverlay({ selected: 5 });
    r.flush();
    base.reset();
    top.reset();

    for (let frame = 0; frame < 10; frame++) {
      r.setOverlay({ selected: 5, editing: { kind: 'box', x0: 100 + frame, y0: 100, x1: 300, y1: 200 } });
      expect(r.flush()).toEqual({ base: false, overlay: true });
    }
    expect(base.calls).toHaveLength(0);
    expect(top.count('drawImage')).toBe(0);
    // One box per frame plus its 8 handles.
    expect(top.count('rect')).toBe(10);
    expect(top.count('strokeRect')).toBe(80);
  });

  it('changing the selection redraws the base without the selected shape', () => {
    const { base, r } = setup();
    r.setOverlay({ selected: 3 });
    expect(r.flush()).toEqual({ base: true, overlay: true });
    expect(r.stats.shapesDrawn).toBe(999);
    expect(base.count('drawImage')).toBe(1);
  });

  it('reports each drawn frame to onFrame, and nothing when nothing was out of date', () => {
    const frames: Array<{ base: boolean; overlay: boolean; shapes: number; ms: number }> = [];
    const r = new LayeredRenderer(new RecordingContext(), new RecordingContext(), fitted(), makeScene(thousandBoxes()), {
      createSurface: recordingSurfaces().factory,
      onFrame: (f) => frames.push(f),
    });
    r.setImage(image);
    r.flush();
    r.flush();
    r.setOverlay({ selected: 5, editing: { kind: 'box', x0: 100, y0: 100, x1: 300, y1: 200 } });
    r.flush();
    expect(frames.map((f) => [f.base, f.overlay, f.shapes])).toEqual([
      [true, true, 1000],
      [true, true, 999],
    ]);
    r.setOverlay({ selected: 5, editing: { kind: 'box', x0: 101, y0: 100, x1: 300, y1: 200 } });
    r.flush();
    expect(frames[2]).toMatchObject({ base: false, overlay: true, shapes: 0 });
    expect(frames.every((f) => f.ms >= 0)).toBe(true);
  });

  it('zoom and pan redraw both layers', () => {
    const { r } = setup();
    r.setViewport(setScaleAt(fitted(), 1, 0, 0));
    expect(r.flush()).toEqual({ base: true, overlay: true });
  });

  it('draws at most once per animation frame', () => {
    const frames: Array<() => void> = [];
    const base = new RecordingContext();
    const top = new RecordingContext();
    const r = new LayeredRenderer(base, top, fitted(), makeScene([]), { requestFrame: (cb) => frames.push(cb), createSurface: recordingSurfaces().factory });
    for (let i = 0; i < 5; i++) r.setOverlay({ selected: null, brush: { x: i, y: i, radius: 4 } });
    expect(frames).toHaveLength(1);
    frames[0]?.();
    expect(r.stats.overlayFrames).toBe(1);
  });

  it('uploads each brush segment as it comes, then blits the mask surface', () => {
    const { factory, created } = recordingSurfaces();
    const base = new RecordingContext();
    const top = new RecordingContext();
    const r = new LayeredRenderer(base, top, fitted(), makeScene([]), { createSurface: factory });
    const m = new MaskBitmap(10000, 10000);
    r.setOverlay({ selected: null, preview: { kind: 'mask', mask: m, dirty: paintDisc(m, 500, 500, 50, 1) } });
    // Two segments before the next frame: both reach the surface.
    r.setOverlay({ selected: null, preview: { kind: 'mask', mask: m, dirty: paintDisc(m, 520, 500, 10, 1) } });
    r.setOverlay({ selected: null, preview: { kind: 'mask', mask: m, dirty: paintDisc(m, 480, 500, 10, 1) } });
    expect(created).toHaveLength(1);
    expect(created[0]?.puts).toHaveLength(3);
    expect(created[0]?.puts[1]).toMatchObject({ width: 20, height: 20 });
    r.flush();
    expect(top.count('drawImage')).toBe(1);
  });

  it('visibleShapes is in drawing order', () => {
    const scene = makeScene(thousandBoxes());
    const ks = visibleShapes(scene, fitted());
    expect(ks).toEqual([...ks].sort((a, b) => a - b));
  });
});

describe('colours', () => {
  it('adds alpha to #rrggbb', () => {
    expect(withAlpha('#ff8000', 0.5)).toBe('rgba(255, 128, 0, 0.5)');
    expect(withAlpha('red', 0.5)).toBe('red');
  });
});

describe('reduced copies of large images', () => {
  const big = { source: {} as CanvasImageSource, width: 8192, height: 6144 };

  it('halves down to about 1,024 px, and makes none for small images', async () => {
    const made: Array<[number, number]> = [];
    const levels = await buildLevels(big, async (_from, w, h) => {
      made.push([w, h]);
      return {} as CanvasImageSource;
    });
    expect(made).toEqual([
      [4096, 3072],
      [2048, 1536],
      [1024, 768],
    ]);
    expect(levels.map((l) => l.width)).toEqual([4096, 2048, 1024]);
    expect(await buildLevels({ ...big, width: 1920, height: 1080 }, async () => ({}) as CanvasImageSource)).toEqual([]);
  });

  it('draws from the smallest copy that keeps a pixel per screen pixel', async () => {
    const levels = await buildLevels(big, async () => ({}) as CanvasImageSource);
    const image = { ...big, levels };
    expect(pickLevel(image, 1).factor).toBe(1);
    expect(pickLevel(image, 0.6).factor).toBe(1);
    expect(pickLevel(image, 0.5).factor).toBe(0.5);
    expect(pickLevel(image, 0.17).factor).toBe(0.25);
    expect(pickLevel(image, 0.01).factor).toBe(0.125);
    expect(pickLevel(big, 0.1).factor).toBe(1);
  });

  it('draws the visible part from the copy, its source rectangle scaled', () => {
    const base = new RecordingContext();
    const r = new LayeredRenderer(base, new RecordingContext(), fitted(), makeScene([]), { createSurface: recordingSurfaces().factory });
    const half = { source: {} as CanvasImageSource, width: image.width / 2, height: image.height / 2 };
    r.setImage(image);
    r.setImageLevels([half]);
    r.flush();
    const draws = base.calls.filter((c) => c.name === 'drawImage');
    expect(draws).toHaveLength(1);
    // The fitted view shows all of it, far below one screen pixel per image pixel: the half-size copy, whole.
    expect(draws[0]!.args[0]).toBe(half.source);
    expect(draws[0]!.args.slice(1, 5)).toEqual([0, 0, 5000, 5000]);
  });
});

