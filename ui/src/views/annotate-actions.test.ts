import { describe, expect, it } from 'vitest';
import { ApiError } from '../lib/api/backend';
import type { Annotation } from '../lib/api/types';
import type { ClassDto, ImagePrediction } from '../lib/dto';
import { FakeBackend } from '../lib/testing/fake-backend';
import { acceptClass, annotateActions, changedImages, sameClassList, sameLabels, toEditorPrediction } from './annotate-actions';

const car: ClassDto = { id: 3, name: 'Car', color: '#ff0000', hotkey: null, position: 0, annotations: 0 };
const pred = (over: Partial<ImagePrediction> = {}): ImagePrediction => ({
  id: 11,
  run: 1,
  image: 4,
  class: 'car',
  score: 0.5,
  geometry: { kind: 'box', x0: 1, y0: 2, x1: 3, y1: 4 },
  ...over,
});

function ann(id: number, over: Partial<Annotation> = {}): Annotation {
  return {
    id,
    image: 4,
    class: 3,
    geometry: { kind: 'box', x0: 0, y0: 0, x1: 5, y1: 5 },
    attributes: {},
    score: null,
    author: 'me',
    review_state: 'unreviewed',
    reviewer: null,
    created_at_unix_s: 1,
    updated_at_unix_s: 1,
    source: 'human',
    ...over,
  } as Annotation;
}

describe('annotate actions', () => {
  it('load reads annotations, classes and predictions; predictions may be missing', async () => {
    const b = new FakeBackend({ annotations: [], classes: [], image_predictions: new ApiError('not_found', 'no run') });
    const labels = await annotateActions(b).load(4);
    expect(labels.predictions).toEqual([]);
    expect(labels.predictionsError).toBe('no run');
    expect(b.commands().sort()).toEqual(['annotations', 'classes', 'image_predictions']);
    expect(b.argsOf('annotations')).toEqual([{ image: 4 }]);
    expect(b.argsOf('image_predictions')).toEqual([{ image: 4 }]);
  });

  it('turns image predictions into the editor’s shapes (a mask or outline kept as it is), named by the project’s class', async () => {
    const b = new FakeBackend({ annotations: [], classes: [car], image_predictions: [pred(), pred({ id: 12, class: 'bus', geometry: { kind: 'polygon', parts: [[[0, 0], [10, 0], [10, 6]]] } })] });
    const labels = await annotateActions(b).load(4);
    expect(labels.predictions).toEqual([
      { id: 11, class_id: 3, class_name: 'Car', score: 0.5, bbox_xyxy_px: [1, 2, 3, 4] },
      { id: 12, class_id: -1, class_name: 'bus', score: 0.5, bbox_xyxy_px: [0, 0, 10, 6], geometry: { kind: 'polygon', parts: [[[0, 0], [10, 0], [10, 6]]] } },
    ]);
  });

  it('sends edits in the shapes of the command table', async () => {
    const b = new FakeBackend({ annotations_add: [], annotation_edit: {}, annotations_delete: null, annotations_review: null, predictions_decide: [], image_state_set: null, undo: null, redo: null, class_create: {} });
    const act = annotateActions(b);
    const box = { kind: 'box', x0: 1, y0: 2, x1: 3, y1: 4 } as const;
    const p = toEditorPrediction(pred(), [car]);
    await act.add(4, 'car', box);
    await act.editGeometry(9, box);
    await act.changeClass(9, 'person');
    await act.remove([9]);
    await act.review([9], 'accepted');
    await act.acceptPrediction(p, 'Car');
    await act.acceptPrediction(p, 'truck');
    await act.acceptPrediction(p, null);
    await act.rejectPrediction(11);
    await act.markDone(4);
    await act.createClass('bus');
    await act.undo();
    await act.redo();
    expect(b.calls).toEqual([
      ['annotations_add', { inputs: [{ image: 4, class: 'car', geometry: box }] }],
      ['annotation_edit', { id: 9, edit: { geometry: box } }],
      ['annotation_edit', { id: 9, edit: { class: 'person' } }],
      ['annotations_delete', { ids: [9] }],
      ['annotations_review', { ids: [9], state: 'accepted' }],
      ['predictions_decide', { decisions: [{ prediction: 11, accept: true }] }],
      ['predictions_decide', { decisions: [{ prediction: 11, accept: true, class: 'truck' }] }],
      ['predictions_decide', { decisions: [{ prediction: 11, accept: true }] }],
      ['predictions_decide', { decisions: [{ prediction: 11, accept: false }] }],
      ['image_state_set', { images: [4], state: 'labeled' }],
      ['class_create', { name: 'bus' }],
      ['undo', undefined],
      ['redo', undefined],
    ]);
  });

  it('sends a class with an accept only when it is not the model’s', () => {
    const p = toEditorPrediction(pred(), [car]);
    expect(acceptClass(p, 'car')).toBeNull();
    expect(acceptClass(p, null)).toBeNull();
    expect(acceptClass(p, 'Truck')).toBe('Truck');
  });

  it('reads labels_changed payloads; an empty list means any image', () => {
    expect(changedImages({ images: [4, 5] })).toEqual([4, 5]);
    expect(changedImages({ images: [] })).toBeNull();
    expect(changedImages(null)).toBeNull();
  });

  it('tells when a reload shows nothing new', () => {
    const p = toEditorPrediction(pred(), [car]);
    const a = { annotations: [ann(1), ann(2)], predictions: [p] };
    expect(sameLabels(a, { annotations: [ann(2), ann(1)], predictions: [p] })).toBe(true);
    expect(sameLabels(a, { annotations: [ann(1), ann(2, { updated_at_unix_s: 9 })], predictions: [p] })).toBe(false);
    expect(sameLabels(a, { annotations: [ann(1), ann(2)], predictions: [] })).toBe(false);
    expect(sameLabels(a, { annotations: [ann(1), ann(2, { review_state: 'accepted' })], predictions: [p] })).toBe(false);
  });

  it('tells when the class list changed', () => {
    const bus = { ...car, id: 4, name: 'bus', position: 1 };
    expect(sameClassList([car, bus], [bus, car])).toBe(true);
    expect(sameClassList([car], [car, bus])).toBe(false);
    expect(sameClassList([car], [{ ...car, color: '#000000' }])).toBe(false);
  });
});
