import { describe, expect, it } from 'vitest';
import { ApiError, type Backend } from '../lib/api/backend';
import { annotateActions } from './annotate-actions';

function fakeBackend(answers: Record<string, unknown>): Backend & { calls: Array<[string, unknown]> } {
  const calls: Array<[string, unknown]> = [];
  return {
    calls,
    async call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
      calls.push([command, args]);
      const a = answers[command];
      if (a instanceof Error) throw a;
      return a as T;
    },
    subscribe: () => () => {},
    imageUrl: (id) => `img/${id}`,
    thumbUrl: (id) => `thumb/${id}`,
  };
}

describe('annotate actions', () => {
  it('load reads annotations, classes and predictions; predictions may be missing', async () => {
    const b = fakeBackend({ annotations: [], classes: [], image_predictions: new ApiError('not_found', 'no run') });
    const labels = await annotateActions(b).load(4);
    expect(labels.predictions).toEqual([]);
    expect(labels.predictionsError).toBe('no run');
    expect(b.calls.map(([c]) => c).sort()).toEqual(['annotations', 'classes', 'image_predictions']);
  });

  it('sends edits in the shapes of the API DTOs', async () => {
    const b = fakeBackend({});
    const act = annotateActions(b);
    const box = { kind: 'box', x0: 1, y0: 2, x1: 3, y1: 4 } as const;
    await act.add(4, 'car', box);
    await act.editGeometry(9, box);
    await act.changeClass(9, 'person');
    await act.remove([9]);
    await act.review([9], 'accepted');
    await act.acceptPrediction(4, { id: 1, class_id: 0, class_name: 'car', score: 0.5, bbox_xyxy_px: [1, 2, 3, 4] }, 'car');
    await act.undo();
    await act.redo();
    expect(b.calls).toEqual([
      ['add_annotations', { inputs: [{ image: 4, class: 'car', geometry: box }] }],
      ['edit_annotation', { id: 9, edit: { geometry: box } }],
      ['edit_annotation', { id: 9, edit: { class: 'person' } }],
      ['delete_annotations', { ids: [9] }],
      ['review', { ids: [9], state: 'accepted' }],
      ['add_annotations', { inputs: [{ image: 4, class: 'car', geometry: box }] }],
      ['undo', undefined],
      ['redo', undefined],
    ]);
  });
});
