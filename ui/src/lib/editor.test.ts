import { describe, expect, it } from 'vitest';
import type { Annotation, Geometry, LabelClass, Prediction } from './api/types';
import { encodeRle, MaskBitmap, paintDisc } from './canvas/mask';
import { AnnotationEditor } from './editor';

const classes: LabelClass[] = [
  { id: 11, name: 'car', color: '#ff0000', hotkey: null, position: 1 },
  { id: 10, name: 'person', color: '#00ff00', hotkey: null, position: 0 },
];

function ann(id: number, geometry: Geometry, extra: Partial<Annotation> = {}): Annotation {
  return {
    id,
    image: 1,
    class: 10,
    geometry,
    attributes: {},
    source: 'human',
    score: null,
    author: 'ana',
    review_state: 'unreviewed',
    reviewer: null,
    created_at_unix_s: 0,
    updated_at_unix_s: 0,
    ...extra,
  } as Annotation;
}

const prediction: Prediction = { id: 500, class_id: 2, class_name: 'car', score: 0.9, bbox_xyxy_px: [300, 300, 400, 400] };

function editor(annotations: Annotation[] = [], predictions: Prediction[] = []): AnnotationEditor {
  const e = new AnnotationEditor(1000, 800);
  e.setData(annotations, predictions, classes);
  return e;
}

describe('annotation editor', () => {
  it('orders classes by position and picks the first', () => {
    const e = editor();
    expect(e.classes.map((c) => c.name)).toEqual(['person', 'car']);
    expect(e.currentClass).toBe(10);
    e.pickClass(2);
    expect(e.currentClass).toBe(11);
    expect(e.pickClass(9).note).toMatch(/no class 9/);
  });

  it('drawing a box on empty space asks to create it in the current class', () => {
    const e = editor();
    e.pointerDown({ x: 10, y: 10 }, 1);
    expect(e.pointerMove({ x: 60, y: 50 }, 1).redraw).toBe('overlay');
    const u = e.pointerUp({ x: 60, y: 50 }, 1);
    expect(u.request).toEqual({ kind: 'create', geometry: { kind: 'box', x0: 10, y0: 10, x1: 60, y1: 50 }, classId: 10 });
  });

  it('a press on a box selects it and a drag moves it: one update, shown at once', () => {
    const e = editor([ann(1, { kind: 'box', x0: 100, y0: 100, x1: 200, y1: 200 })]);
    expect(e.pointerDown({ x: 150, y: 150 }, 1).redraw).toBe('all');
    expect(e.selected).toBe(0);
    // While dragging only the overlay changes.
    expect(e.pointerMove({ x: 160, y: 150 }, 1).redraw).toBe('overlay');
    expect(e.overlayState().editing).toEqual({ kind: 'box', x0: 110, y0: 100, x1: 210, y1: 200 });
    const u = e.pointerUp({ x: 170, y: 150 }, 1);
    expect(u.request).toEqual({ kind: 'update', annotationId: 1, geometry: { kind: 'box', x0: 120, y0: 100, x1: 220, y1: 200 } });
    expect(e.annotationList[0]?.geometry).toEqual({ kind: 'box', x0: 120, y0: 100, x1: 220, y1: 200 });
    expect(e.selected).toBe(0);
  });

  it('shift-drag draws a new box over an existing one instead of moving it', () => {
    const e = editor([ann(1, { kind: 'box', x0: 100, y0: 100, x1: 200, y1: 200 })]);
    e.pointerDown({ x: 120, y: 120, shift: true }, 1);
    const u = e.pointerUp({ x: 150, y: 160, shift: true }, 1);
    expect(u.request).toEqual({ kind: 'create', geometry: { kind: 'box', x0: 120, y0: 120, x1: 150, y1: 160 }, classId: 10 });
    expect(e.annotationList[0]?.geometry).toEqual({ kind: 'box', x0: 100, y0: 100, x1: 200, y1: 200 });
  });

  it('resizes the selected box by a handle', () => {
    const e = editor([ann(1, { kind: 'box', x0: 100, y0: 100, x1: 200, y1: 200 })]);
    e.pointerDown({ x: 150, y: 150 }, 1);
    e.pointerUp({ x: 150, y: 150 }, 1);
    e.pointerDown({ x: 200, y: 200 }, 1);
    const u = e.pointerUp({ x: 250, y: 230 }, 1);
    expect(u.request).toMatchObject({ kind: 'update', geometry: { x1: 250, y1: 230 } });
  });

  it('polygon drawing takes Enter / Backspace / Escape in its own scope', () => {
    const e = editor();
    e.selectTool('polygon');
    expect(e.scopes()).toEqual(['annotate', 'global']);
    for (const [x, y] of [[10, 10], [100, 10], [100, 100]] as const) {
      e.pointerDown({ x, y }, 1);
      e.pointerUp({ x, y }, 1);
    }
    expect(e.scopes()).toEqual(['drawing', 'annotate', 'global']);
    const u = e.toolKey('Enter');
    expect(u.request).toMatchObject({ kind: 'create', geometry: { kind: 'polygon', parts: [[[10, 10], [100, 10], [100, 100]]] } });
    expect(e.scopes()).toEqual(['annotate', 'global']);
  });

  it('Delete removes the selected shape', () => {
    const e = editor([ann(1, { kind: 'box', x0: 0, y0: 0, x1: 50, y1: 50 }), ann(2, { kind: 'box', x0: 100, y0: 0, x1: 150, y1: 50 })]);
    e.pointerDown({ x: 120, y: 20 }, 1);
    e.pointerUp({ x: 120, y: 20 }, 1);
    expect(e.deleteSelection().request).toEqual({ kind: 'delete', annotationIds: [2] });
    expect(e.annotationList.map((a) => a.id)).toEqual([1]);
    expect(e.selected).toBeNull();
  });

  it('Delete removes the selected polygon point first', () => {
    const e = editor([ann(1, { kind: 'polygon', parts: [[[0, 0], [100, 0], [100, 100], [0, 100]]] })]);
    e.pointerDown({ x: 50, y: 50 }, 1);
    e.pointerUp({ x: 50, y: 50 }, 1);
    e.pointerDown({ x: 100, y: 100 }, 1);
    e.pointerUp({ x: 100, y: 100 }, 1);
    const u = e.deleteSelection();
    expect(u.request).toEqual({ kind: 'update', annotationId: 1, geometry: { kind: 'polygon', parts: [[[0, 0], [100, 0], [0, 100]]] } });
  });

  it('c then a digit changes the selected shape’s class', () => {
    const e = editor([ann(1, { kind: 'box', x0: 0, y0: 0, x1: 50, y1: 50 })]);
    e.pointerDown({ x: 20, y: 20 }, 1);
    e.pointerUp({ x: 20, y: 20 }, 1);
    e.startChangeClass();
    expect(e.pickClass(2).request).toEqual({ kind: 'changeClass', annotationId: 1, classId: 11 });
    // The class for new shapes is unchanged.
    expect(e.currentClass).toBe(10);
  });

  it('accepting and rejecting go from prediction to prediction', () => {
    const pending = ann(7, { kind: 'box', x0: 500, y0: 500, x1: 600, y1: 600 }, { source: 'model', run: 1, prediction: 3, score: 0.4 } as Partial<Annotation>);
    const e = editor([pending], [prediction]);
    // Predictions are drawn dashed.
    expect(e.scene.shapes.map((s) => s.style)).toEqual(['prediction', 'prediction']);
    e.pointerDown({ x: 350, y: 350 }, 1);
    e.pointerUp({ x: 350, y: 350 }, 1);
    const a = e.acceptPrediction();
    expect(a.request).toEqual({ kind: 'acceptPrediction', prediction, classId: 11 });
    // The next proposal (the model's annotation) is selected.
    expect(e.selectedAnnotation()?.id).toBe(7);
    const r = e.rejectPrediction();
    expect(r.request).toEqual({ kind: 'review', annotationIds: [7], state: 'rejected' });
    expect(e.scene.shapes).toHaveLength(0);
  });

  it('a segmentation prediction is drawn as its mask, dashed, and accepted like a box', () => {
    const m = new MaskBitmap(1000, 800);
    paintDisc(m, 200, 200, 20, 1);
    const mask = { kind: 'mask', width_px: 1000, height_px: 800, counts: encodeRle(m) } as const;
    const seg: Prediction = { ...prediction, id: 501, bbox_xyxy_px: [180, 180, 221, 221], geometry: mask };
    const e = editor([], [seg]);
    expect(e.scene.shapes.map((s) => [s.style, s.geometry.kind])).toEqual([['prediction', 'mask']]);
    e.cycleProposal(1);
    expect(e.acceptPrediction().request).toEqual({ kind: 'acceptPrediction', prediction: seg, classId: 11 });
  });

  it('dragging a selected prediction’s corner accepts it with the fixed box; a click alone changes nothing', () => {
    const e = editor([], [prediction]);
    e.cycleProposal(1);
    // A click inside: no accept.
    e.pointerDown({ x: 350, y: 350 }, 1);
    expect(e.pointerUp({ x: 350, y: 350 }, 1).request).toBeUndefined();
    // The bottom-right corner dragged out by 50 px.
    e.pointerDown({ x: 400, y: 400 }, 1);
    e.pointerMove({ x: 430, y: 440 }, 1);
    const u = e.pointerUp({ x: 450, y: 450 }, 1);
    expect(u.request).toEqual({ kind: 'acceptPrediction', prediction, classId: 11, geometry: { kind: 'box', x0: 300, y0: 300, x1: 450, y1: 450 } });
    // The prediction left the view (the accepted annotation comes back from the backend).
    expect(e.scene.shapes).toHaveLength(0);
  });

  it('with a big prediction selected, a press on a smaller one inside it selects the smaller one', () => {
    const big: Prediction = { ...prediction, id: 600, bbox_xyxy_px: [0, 0, 900, 700] };
    const e = editor([], [big, prediction]);
    e.cycleProposal(1);
    const s0 = e.selectedShape();
    expect(s0?.type === 'prediction' && s0.prediction.id).toBe(600);
    e.pointerDown({ x: 350, y: 350 }, 1);
    e.pointerUp({ x: 350, y: 350 }, 1);
    const s1 = e.selectedShape();
    expect(s1?.type === 'prediction' && s1.prediction.id).toBe(500);
  });

  it('Shift+A accepts every proposal on the image in one request', () => {
    const human = ann(1, { kind: 'box', x0: 10, y0: 10, x1: 50, y1: 50 });
    const pending = ann(7, { kind: 'box', x0: 500, y0: 500, x1: 600, y1: 600 }, { source: 'model', run: 1, prediction: 3, score: 0.4 } as Partial<Annotation>);
    const e = editor([human, pending], [prediction]);
    const u = e.acceptAll();
    expect(u.request).toEqual({ kind: 'acceptAll', predictions: [prediction], annotationIds: [7] });
    expect(u.note).toBe('Accepted 2 predictions.');
    // Nothing left to propose: the model annotation is drawn as accepted, the raw prediction waits for the backend's annotation.
    expect(e.scene.shapes.map((s) => s.style)).toEqual(['annotation', 'annotation']);
    expect(e.acceptAll()).toEqual({ redraw: 'none', note: 'No predictions to accept on this image.' });
  });

  it('Tab cycles through the proposals only, both ways, wrapping around', () => {
    const human = ann(1, { kind: 'box', x0: 10, y0: 10, x1: 50, y1: 50 });
    const pending = ann(7, { kind: 'box', x0: 500, y0: 500, x1: 600, y1: 600 }, { source: 'model', run: 1, prediction: 3, score: 0.4 } as Partial<Annotation>);
    const e = editor([human, pending], [prediction]);
    const picked = () => {
      const s = e.selectedShape();
      return s?.type === 'prediction' ? `p${s.prediction.id}` : s ? `a${s.annotation.id}` : null;
    };
    const order: Array<string | null> = [];
    for (let i = 0; i < 3; i++) {
      expect(e.cycleProposal(1).redraw).toBe('all');
      order.push(picked());
    }
    expect(new Set(order.slice(0, 2))).toEqual(new Set(['a7', 'p500']));
    expect(order[2]).toBe(order[0]);
    e.cycleProposal(-1);
    expect(picked()).toBe(order[1]);
    // From a human shape, the next proposal after it.
    e.pointerDown({ x: 20, y: 20 }, 1);
    e.pointerUp({ x: 20, y: 20 }, 1);
    expect(picked()).toBe('a1');
    e.cycleProposal(1);
    expect(picked()).not.toBe('a1');
    expect(editor([human]).cycleProposal(1)).toEqual({ redraw: 'none', note: 'No predictions to review on this image.' });
  });

  it('a brush stroke on nothing creates a mask in the current class', () => {
    const e = editor();
    e.selectTool('brush');
    e.pointerDown({ x: 10, y: 10 }, 1);
    e.pointerMove({ x: 40, y: 10 }, 1);
    const u = e.pointerUp({ x: 40, y: 10 }, 1);
    expect(u.request).toMatchObject({ kind: 'create', classId: 10, geometry: { kind: 'mask', width_px: 1000, height_px: 800 } });
  });

  it('the eraser takes the mask under the pointer, and erasing all of it deletes it', () => {
    const m = new MaskBitmap(1000, 800);
    paintDisc(m, 100, 100, 5, 1);
    const e = editor([ann(3, { kind: 'mask', width_px: 1000, height_px: 800, counts: encodeRle(m) })]);
    e.selectTool('eraser');
    expect(e.pointerDown({ x: 500, y: 500 }, 1).note).toMatch(/Select a mask/);
    e.changeBrush(1);
    for (let i = 0; i < 10; i++) e.changeBrush(1);
    expect(e.pointerDown({ x: 100, y: 100 }, 1).redraw).toBe('all');
    expect(e.selectedAnnotation()?.id).toBe(3);
    expect(e.pointerUp({ x: 100, y: 100 }, 1).request).toEqual({ kind: 'delete', annotationIds: [3] });
  });

  it('the brush paints on the selected mask: an update of that annotation', () => {
    const m = new MaskBitmap(1000, 800);
    paintDisc(m, 100, 100, 5, 1);
    const e = editor([ann(3, { kind: 'mask', width_px: 1000, height_px: 800, counts: encodeRle(m) })]);
    // Selected with the box tool (a press on it), then painted on with the brush.
    e.pointerDown({ x: 100, y: 100 }, 1);
    e.pointerUp({ x: 100, y: 100 }, 1);
    expect(e.selectedAnnotation()?.id).toBe(3);
    e.selectTool('brush');
    e.pointerDown({ x: 130, y: 100 }, 1);
    const u = e.pointerUp({ x: 130, y: 100 }, 1);
    expect(u.request).toMatchObject({ kind: 'update', annotationId: 3, geometry: { kind: 'mask' } });
    // The stroke stays on screen from the tool's bitmap, not a re-decode.
    expect(e.overlayState().preview?.kind).toBe('mask');
  });

  it('brush size steps and stays in range', () => {
    const e = editor();
    const r0 = e.brushRadius;
    e.changeBrush(1);
    expect(e.brushRadius).toBeGreaterThan(r0);
    for (let i = 0; i < 100; i++) e.changeBrush(-1);
    expect(e.brushRadius).toBe(1);
  });

  it('refuses to create shapes when the project has no class', () => {
    const e = new AnnotationEditor(100, 100);
    e.setData([], [], []);
    e.pointerDown({ x: 10, y: 10 }, 1);
    const u = e.pointerUp({ x: 60, y: 60 }, 1);
    expect(u.request).toBeUndefined();
    expect(u.note).toMatch(/class/);
  });

  it('keeps the selection across a reload by id', () => {
    const e = editor([ann(1, { kind: 'box', x0: 0, y0: 0, x1: 50, y1: 50 }), ann(2, { kind: 'box', x0: 100, y0: 0, x1: 150, y1: 50 })]);
    e.pointerDown({ x: 120, y: 20 }, 1);
    e.pointerUp({ x: 120, y: 20 }, 1);
    e.setData([ann(2, { kind: 'box', x0: 100, y0: 0, x1: 150, y1: 50 })], [], classes);
    expect(e.selectedAnnotation()?.id).toBe(2);
  });
});
