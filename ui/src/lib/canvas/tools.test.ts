import { describe, expect, it } from 'vitest';
import type { BoxGeometry, MaskGeometry, PolygonGeometry } from '../api/types';
import { decodeRle, encodeRle, MaskBitmap, paintDisc } from './mask';
import {
  BoxDrawTool,
  BoxEditTool,
  MaskPaintTool,
  MAX_BRUSH_RADIUS,
  PolygonDrawTool,
  PolygonEditTool,
  type ToolContext,
} from './tools';

const ctx: ToolContext = { imageWidth: 200, imageHeight: 100, scale: 1 };
const box = (x0: number, y0: number, x1: number, y1: number): BoxGeometry => ({ kind: 'box', x0, y0, x1, y1 });

describe('drawing a box', () => {
  it('previews while dragging and commits on release, normalised', () => {
    const t = new BoxDrawTool();
    t.down({ x: 50, y: 40 }, ctx);
    expect(t.active).toBe(true);
    expect(t.move({ x: 20, y: 10 }, ctx).preview).toEqual({ kind: 'geometry', geometry: box(20, 10, 50, 40) });
    const r = t.up({ x: 10, y: 5 }, ctx);
    expect(r.commit).toEqual({ type: 'create', geometry: box(10, 5, 50, 40) });
    expect(r.preview).toBeNull();
    expect(t.active).toBe(false);
  });

  it('clamps to the image', () => {
    const t = new BoxDrawTool();
    t.down({ x: -10, y: 50 }, ctx);
    expect(t.up({ x: 300, y: 500 }, ctx).commit).toEqual({ type: 'create', geometry: box(0, 50, 200, 100) });
  });

  it('ignores boxes under 2 px on a side (a click, a slip)', () => {
    const t = new BoxDrawTool();
    t.down({ x: 50, y: 40 }, ctx);
    expect(t.up({ x: 51.5, y: 80 }, ctx).commit).toEqual({ type: 'cancel' });
    // 10 image px is only 1 screen px when zoomed out 10×: still a slip.
    t.down({ x: 50, y: 40 }, { ...ctx, scale: 0.1 });
    expect(t.up({ x: 60, y: 50 }, { ...ctx, scale: 0.1 }).commit).toEqual({ type: 'cancel' });
  });

  it('Escape abandons the drag', () => {
    const t = new BoxDrawTool();
    t.down({ x: 5, y: 5 }, ctx);
    expect(t.key('Escape').commit).toEqual({ type: 'cancel' });
    expect(t.active).toBe(false);
    expect(t.up({ x: 50, y: 50 }, ctx).ignored).toBe(true);
  });
});

describe('editing a box', () => {
  it('moves by the body, stopping at the image edge without shrinking', () => {
    const t = new BoxEditTool(box(10, 10, 50, 30));
    t.down({ x: 30, y: 20 }, ctx);
    expect(t.move({ x: 40, y: 25 }, ctx).preview).toEqual({ kind: 'geometry', geometry: box(20, 15, 60, 35) });
    expect(t.up({ x: 500, y: 25 }, ctx).commit).toEqual({ type: 'update', geometry: box(160, 15, 200, 35) });
  });

  it('resizes by each of the 8 handles', () => {
    const b = box(40, 20, 80, 60);
    const cases: Array<[number, number, BoxGeometry]> = [
      [40, 20, box(30, 10, 80, 60)], // nw
      [60, 20, box(40, 10, 80, 60)], // n
      [80, 20, box(40, 10, 90, 60)], // ne
      [80, 40, box(40, 20, 90, 60)], // e
      [80, 60, box(40, 20, 90, 70)], // se
      [60, 60, box(40, 20, 80, 70)], // s
      [40, 60, box(30, 20, 80, 70)], // sw
      [40, 40, box(30, 20, 80, 60)], // w
    ];
    for (const [hx, hy, expected] of cases) {
      const t = new BoxEditTool(b);
      t.down({ x: hx, y: hy }, ctx);
      // Each handle moves by (-10, -10) or (+10, +10) outward.
      const dx = hx === 40 ? -10 : hx === 80 ? 10 : 0;
      const dy = hy === 20 ? -10 : hy === 60 ? 10 : 0;
      expect(t.up({ x: hx + dx, y: hy + dy }, ctx).commit).toEqual({ type: 'update', geometry: expected });
    }
  });

  it('keeps the grab offset: pressing near a handle does not make the edge jump', () => {
    const t = new BoxEditTool(box(40, 20, 80, 60));
    t.down({ x: 83, y: 40 }, ctx);
    expect(t.move({ x: 93, y: 40 }, ctx).preview).toEqual({ kind: 'geometry', geometry: box(40, 20, 90, 60) });
  });

  it('normalises when dragged past the opposite edge, and back', () => {
    const t = new BoxEditTool(box(40, 20, 80, 60));
    t.down({ x: 80, y: 60 }, ctx);
    expect(t.move({ x: 20, y: 10 }, ctx).preview).toEqual({ kind: 'geometry', geometry: box(20, 10, 40, 20) });
    expect(t.move({ x: 90, y: 70 }, ctx).preview).toEqual({ kind: 'geometry', geometry: box(40, 20, 90, 70) });
    expect(t.up({ x: 20, y: 10 }, ctx).commit).toEqual({ type: 'update', geometry: box(20, 10, 40, 20) });
    expect(t.geometry).toEqual(box(20, 10, 40, 20));
  });

  it('a press away from the box is not for this tool', () => {
    expect(new BoxEditTool(box(10, 10, 20, 20)).down({ x: 100, y: 90 }, ctx).ignored).toBe(true);
  });

  it('a click without a move commits nothing', () => {
    const t = new BoxEditTool(box(10, 10, 50, 50));
    t.down({ x: 30, y: 30 }, ctx);
    expect(t.up({ x: 30, y: 30 }, ctx).commit).toEqual({ type: 'cancel' });
  });

  it('Escape puts the box back', () => {
    const t = new BoxEditTool(box(10, 10, 50, 50));
    t.down({ x: 30, y: 30 }, ctx);
    t.move({ x: 60, y: 60 }, ctx);
    expect(t.key('Escape').commit).toEqual({ type: 'cancel' });
    expect(t.geometry).toEqual(box(10, 10, 50, 50));
  });
});

function click(t: PolygonDrawTool, x: number, y: number) {
  t.down({ x, y }, ctx);
  return t.up({ x, y }, ctx);
}

describe('drawing a polygon', () => {
  it('adds a vertex per click and closes on the first vertex', () => {
    const t = new PolygonDrawTool();
    click(t, 10, 10);
    click(t, 50, 10);
    const r = t.move({ x: 60, y: 60 }, ctx);
    expect(r.preview).toEqual({ kind: 'geometry', geometry: { kind: 'polygon', parts: [[[10, 10], [50, 10], [60, 60]]] }, open: true });
    click(t, 50, 50);
    expect(t.vertices).toHaveLength(3);
    const done = click(t, 11, 12);
    expect(done.commit).toEqual({ type: 'create', geometry: { kind: 'polygon', parts: [[[10, 10], [50, 10], [50, 50]]] } });
    expect(t.active).toBe(false);
  });

  it('does not close on the first vertex with fewer than 3 points', () => {
    const t = new PolygonDrawTool();
    click(t, 10, 10);
    click(t, 50, 10);
    expect(click(t, 10, 10).commit).toBeUndefined();
    expect(t.vertices).toHaveLength(3);
  });

  it('Enter closes with 3 or more points, and refuses with fewer', () => {
    const t = new PolygonDrawTool();
    click(t, 10, 10);
    click(t, 50, 10);
    expect(t.key('Enter').commit).toBeUndefined();
    click(t, 30, 40);
    expect(t.key('Enter').commit).toEqual({ type: 'create', geometry: { kind: 'polygon', parts: [[[10, 10], [50, 10], [30, 40]]] } });
  });

  it('Backspace removes the last point; the last Backspace abandons', () => {
    const t = new PolygonDrawTool();
    click(t, 10, 10);
    click(t, 50, 10);
    t.key('Backspace');
    expect(t.vertices).toEqual([[10, 10]]);
    expect(t.key('Backspace').commit).toEqual({ type: 'cancel' });
    expect(t.active).toBe(false);
  });

  it('Escape abandons', () => {
    const t = new PolygonDrawTool();
    click(t, 10, 10);
    click(t, 50, 10);
    expect(t.key('Escape')).toEqual({ preview: null, commit: { type: 'cancel' } });
    expect(t.vertices).toHaveLength(0);
  });

  it('a double click adds one point, not two', () => {
    const t = new PolygonDrawTool();
    click(t, 10, 10);
    click(t, 10.5, 10);
    expect(t.vertices).toHaveLength(1);
  });

  it('keys are not for it when idle', () => {
    expect(new PolygonDrawTool().key('Backspace').ignored).toBe(true);
  });
});

describe('editing a polygon', () => {
  const square = (): PolygonGeometry => ({ kind: 'polygon', parts: [[[10, 10], [50, 10], [50, 50], [10, 50]]] });

  it('drags a vertex', () => {
    const t = new PolygonEditTool(square());
    t.down({ x: 50, y: 50 }, ctx);
    t.move({ x: 70, y: 60 }, ctx);
    expect(t.up({ x: 70, y: 60 }, ctx).commit).toEqual({
      type: 'update',
      geometry: { kind: 'polygon', parts: [[[10, 10], [50, 10], [70, 60], [10, 50]]] },
    });
  });

  it('inserts a vertex on an edge and drags it', () => {
    const t = new PolygonEditTool(square());
    t.down({ x: 30, y: 11 }, ctx);
    expect(t.up({ x: 30, y: 0 }, ctx).commit).toEqual({
      type: 'update',
      geometry: { kind: 'polygon', parts: [[[10, 10], [30, 0], [50, 10], [50, 50], [10, 50]]] },
    });
  });

  it('a vertex inserted without moving is still a change', () => {
    const t = new PolygonEditTool(square());
    t.down({ x: 30, y: 10 }, ctx);
    expect(t.up({ x: 30, y: 10 }, ctx).commit?.type).toBe('update');
  });

  it('deletes a vertex with alt-click or Delete, never below 3', () => {
    const t = new PolygonEditTool(square());
    const r = t.down({ x: 10, y: 10, alt: true }, ctx);
    expect(r.commit).toEqual({ type: 'update', geometry: { kind: 'polygon', parts: [[[50, 10], [50, 50], [10, 50]]] } });
    t.down({ x: 50, y: 50 }, ctx);
    t.up({ x: 50, y: 50 }, ctx);
    const refused = t.key('Delete');
    expect(refused.commit).toBeUndefined();
    expect(refused.note).toMatch(/at least 3/);
    expect(t.geometry.parts[0]).toHaveLength(3);
  });

  it('moves the whole polygon from inside, within the image', () => {
    const t = new PolygonEditTool(square());
    t.down({ x: 30, y: 30 }, ctx);
    expect(t.up({ x: 30, y: 500 }, ctx).commit).toEqual({
      type: 'update',
      geometry: { kind: 'polygon', parts: [[[10, 60], [50, 60], [50, 100], [10, 100]]] },
    });
  });

  it('Escape during a drag restores the outline', () => {
    const t = new PolygonEditTool(square());
    t.down({ x: 50, y: 50 }, ctx);
    t.move({ x: 90, y: 90 }, ctx);
    t.key('Escape');
    expect(t.geometry).toEqual(square());
  });
});

describe('brush and eraser', () => {
  const maskCtx: ToolContext = { imageWidth: 64, imageHeight: 48, scale: 1 };

  it('a brush stroke creates a mask, gap-free along a fast drag', () => {
    const t = new MaskPaintTool('brush', null, 2);
    t.down({ x: 5, y: 5 }, maskCtx);
    // One big jump, as a fast pointer reports it.
    const mid = t.move({ x: 55, y: 40 });
    expect(mid.preview?.kind).toBe('mask');
    const r = t.up({ x: 55, y: 40 });
    expect(r.commit?.type).toBe('create');
    if (r.commit?.type !== 'create' || r.commit.geometry.kind !== 'mask') throw new Error('expected a mask');
    const m = decodeRle(r.commit.geometry.counts, 64, 48);
    for (let s = 0; s <= 100; s++) {
      const x = 5 + (50 * s) / 100;
      const y = 5 + (35 * s) / 100;
      expect(m.get(Math.floor(x), Math.floor(y))).toBe(1);
    }
  });

  it('each stroke on an existing mask is an update; erasing all of it deletes it', () => {
    const base = new MaskBitmap(64, 48);
    paintDisc(base, 20, 20, 4, 1);
    const existing: MaskGeometry = { kind: 'mask', width_px: 64, height_px: 48, counts: encodeRle(base) };

    const eraser = new MaskPaintTool('eraser', existing, 3);
    eraser.down({ x: 20, y: 20 }, maskCtx);
    const partly = eraser.up({ x: 20, y: 20 });
    expect(partly.commit?.type).toBe('update');

    eraser.setRadius(50);
    eraser.down({ x: 20, y: 20 }, maskCtx);
    expect(eraser.up({ x: 20, y: 20 }).commit).toEqual({ type: 'delete' });
  });

  it('a stroke that changes nothing commits nothing', () => {
    const existing: MaskGeometry = { kind: 'mask', width_px: 64, height_px: 48, counts: [64 * 48] };
    const eraser = new MaskPaintTool('eraser', existing, 3);
    eraser.down({ x: 10, y: 10 }, maskCtx);
    expect(eraser.up({ x: 10, y: 10 }).commit).toEqual({ type: 'cancel' });
  });

  it('an eraser with no mask ignores presses', () => {
    expect(new MaskPaintTool('eraser', null).down({ x: 1, y: 1 }, maskCtx).ignored).toBe(true);
  });

  it('the radius is adjustable within limits', () => {
    const t = new MaskPaintTool('brush', null, 4);
    t.setRadius(0);
    expect(t.radius).toBe(1);
    t.setRadius(1e9);
    expect(t.radius).toBe(MAX_BRUSH_RADIUS);
  });

  it('Escape undoes the stroke in progress', () => {
    const base = new MaskBitmap(64, 48);
    paintDisc(base, 20, 20, 4, 1);
    const counts = encodeRle(base);
    const t = new MaskPaintTool('brush', { kind: 'mask', width_px: 64, height_px: 48, counts }, 3);
    t.down({ x: 50, y: 40 }, maskCtx);
    t.key('Escape');
    expect(t.bitmap && encodeRle(t.bitmap)).toEqual(counts);
  });

  it('refuses a mask whose size is not the image’s', () => {
    const t = new MaskPaintTool('brush', { kind: 'mask', width_px: 2, height_px: 2, counts: [4] });
    expect(t.down({ x: 1, y: 1 }, maskCtx).note).toMatch(/2x2/);
  });
});
