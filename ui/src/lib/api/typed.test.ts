import { describe, expect, it } from 'vitest';
import type { Backend } from './backend';
import { callCommand, onEvent } from './typed';
import type { Annotation, ImagePage, LabelsChanged } from './types';

function fakeBackend(answer: unknown): Backend & { calls: Array<[string, unknown]>; emit: (event: string, payload: unknown) => void } {
  const calls: Array<[string, unknown]> = [];
  const handlers = new Map<string, (payload: unknown) => void>();
  return {
    calls,
    emit: (event, payload) => handlers.get(event)?.(payload),
    async call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
      calls.push([command, args]);
      return answer as T;
    },
    subscribe(event, handler) {
      handlers.set(event, handler);
      return () => handlers.delete(event);
    },
    imageUrl: (id) => `img/${id}`,
    thumbUrl: (id) => `thumb/${id}`,
  };
}

describe('typed calls', () => {
  it('pass the command and its arguments through and type the answer', async () => {
    const b = fakeBackend([]);
    const made: Annotation[] = await callCommand(b, 'annotations_add', {
      inputs: [{ image: 4, class: 'car', geometry: { kind: 'box', x0: 1, y0: 2, x1: 3, y1: 4 } }],
    });
    const page: ImagePage = await callCommand(b, 'images', { query: { label_state: 'unlabeled', limit: 5 } });
    await callCommand(b, 'undo');
    await callCommand(b, 'status', {});
    expect(made).toEqual([]);
    expect(page).toEqual([]);
    expect(b.calls).toEqual([
      ['annotations_add', { inputs: [{ image: 4, class: 'car', geometry: { kind: 'box', x0: 1, y0: 2, x1: 3, y1: 4 } }] }],
      ['images', { query: { label_state: 'unlabeled', limit: 5 } }],
      ['undo', undefined],
      ['status', {}],
    ]);
  });

  it('refuse what the command table does not accept (checked by svelte-check)', () => {
    const b = fakeBackend(null);
    const never = async () => {
      // @ts-expect-error: no such command (it is `annotations_add`).
      void callCommand(b, 'add_annotations', { inputs: [] });
      // @ts-expect-error: `image` is required.
      void callCommand(b, 'annotations');
      // @ts-expect-error: `ids` are numbers.
      void callCommand(b, 'annotations_delete', { ids: ['1'] });
      // @ts-expect-error: unknown argument (the backend refuses unknown fields).
      void callCommand(b, 'status', { verbose: true });
      // @ts-expect-error: the answer of `undo` is an ActionSummary or null, not a list.
      const wrong: Annotation[] = await callCommand(b, 'undo');
      return wrong;
    };
    expect(typeof never).toBe('function');
  });

  it('types event payloads', () => {
    const b = fakeBackend(null);
    const seen: LabelsChanged[] = [];
    const stop = onEvent(b, 'labels_changed', (p) => seen.push(p));
    b.emit('labels_changed', { images: [3, 4] });
    stop();
    b.emit('labels_changed', { images: [5] });
    expect(seen).toEqual([{ images: [3, 4] }]);
  });
});
