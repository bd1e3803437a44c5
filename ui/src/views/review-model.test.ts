import { describe, expect, it } from 'vitest';
import { ApiError } from '../lib/api/backend';
import { client } from '../lib/client';
import type { ClassDto, ReviewItem } from '../lib/dto';
import { FakeBackend, flush } from '../lib/testing/fake-backend';
import { cropRect, decisionRequest, decisionsPerMinute, moveFocus, placeCrop, ReviewModel } from './review-model';

const item = (prediction: number, over: Partial<ReviewItem> = {}): ReviewItem => ({
  image: 100 + prediction,
  path: `img/${prediction}.jpg`,
  kind: 'uncertain_prediction',
  prediction,
  annotation: null,
  class: 'car',
  score: 0.45,
  bbox_xyxy_px: [10, 20, 50, 60],
  importance: 0.9,
  reason: 'car at 45%: accept or reject',
  ...over,
});

const classes: ClassDto[] = [
  { id: 2, name: 'truck', color: '#00ff00', hotkey: null, position: 1, annotations: 0 },
  { id: 1, name: 'car', color: '#ff0000', hotkey: null, position: 0, annotations: 0 },
];

function setup(items: ReviewItem[], answers: Record<string, unknown> = {}) {
  let t = 0;
  const b = new FakeBackend({ classes, review_queue: items, predictions_decide: [], annotation_edit: {}, ...answers });
  const m = new ReviewModel(client(b), () => t);
  return { b, m, tick: (ms: number) => (t += ms) };
}

describe('decision requests', () => {
  it('accepts, rejects or re-classes a prediction in one predictions_decide call', () => {
    const i = item(7);
    expect(decisionRequest(i, { kind: 'accept' })).toEqual({ command: 'predictions_decide', args: { decisions: [{ prediction: 7, accept: true }] } });
    expect(decisionRequest(i, { kind: 'reject' })).toEqual({ command: 'predictions_decide', args: { decisions: [{ prediction: 7, accept: false }] } });
    expect(decisionRequest(i, { kind: 'class', className: 'truck' })).toEqual({ command: 'predictions_decide', args: { decisions: [{ prediction: 7, accept: true, class: 'truck' }] } });
    expect(decisionRequest(i, { kind: 'class', className: 'Car' })).toEqual({ command: 'predictions_decide', args: { decisions: [{ prediction: 7, accept: true }] } });
  });

  it('settles a class disagreement on the annotation, never adding a second one', () => {
    const i = item(7, { kind: 'class_disagreement', annotation: 55, class: 'truck' });
    expect(decisionRequest(i, { kind: 'accept' })).toEqual({ command: 'annotation_edit', args: { id: 55, edit: { class: 'truck' } } });
    expect(decisionRequest(i, { kind: 'class', className: 'bus' })).toEqual({ command: 'annotation_edit', args: { id: 55, edit: { class: 'bus' } } });
    expect(decisionRequest(i, { kind: 'reject' })).toEqual({ command: 'predictions_decide', args: { decisions: [{ prediction: 7, accept: false }] } });
  });
});

describe('review grid', () => {
  it('loads with the default band and limit', async () => {
    const { b, m } = setup([item(1)]);
    await m.start();
    expect(b.argsOf('review_queue')).toEqual([{ request: { band: [0.3, 0.6], limit: 100 } }]);
    expect(m.classes.map((c) => c.name)).toEqual(['car', 'truck']);
    expect(m.items).toHaveLength(1);
  });

  it('one key, one call: the decided item leaves the grid and is counted', async () => {
    const items = Array.from({ length: 30 }, (_, k) => item(k + 1));
    const { b, m, tick } = setup(items);
    await m.start();
    m.setFocus(1);
    const p = m.decide({ kind: 'accept' });
    expect(m.items.map((i) => i.prediction).slice(0, 3)).toEqual([1, 3, 4]);
    expect(m.focus).toBe(1);
    tick(30_000);
    await p;
    expect(b.argsOf('predictions_decide')).toEqual([{ decisions: [{ prediction: 2, accept: true }] }]);
    expect(m.decided).toBe(1);
    await m.decide({ kind: 'reject' });
    expect(b.argsOf('predictions_decide')[1]).toEqual({ decisions: [{ prediction: 3, accept: false }] });
    expect(m.decided).toBe(2);
    expect(m.rate()).toBe(2);
  });

  it('c then a digit accepts as that class (classes in their order)', async () => {
    const { b, m } = setup([item(1)]);
    await m.start();
    expect(m.pickClass(2)).toBeNull();
    m.startClassChoice();
    expect(m.choosingClass).toBe(true);
    await m.pickClass(2);
    expect(b.argsOf('predictions_decide')).toEqual([{ decisions: [{ prediction: 1, accept: true, class: 'truck' }] }]);
  });

  it('a digit with no class behind it decides nothing', async () => {
    const { b, m } = setup([item(1)]);
    await m.start();
    m.startClassChoice();
    expect(m.pickClass(9)).toBeNull();
    expect(m.message).toBe('There is no class 9.');
    expect(b.argsOf('predictions_decide')).toEqual([]);
    expect(m.items).toHaveLength(1);
  });

  it('a failed decision puts the item back with the error', async () => {
    const { m } = setup([item(1), item(2)], { predictions_decide: new Error('disk I/O error') });
    await m.start();
    await m.decide({ kind: 'accept' });
    expect(m.items.map((i) => i.prediction)).toEqual([1, 2]);
    expect(m.error).toBe('Not saved (img/1.jpg): disk I/O error');
    expect(m.decided).toBe(0);
    expect(m.failed).toBe(1);
  });

  it('a prediction decided already (conflict) leaves the grid for good', async () => {
    const { m } = setup([item(1), item(2)], { predictions_decide: new ApiError('conflict', 'prediction 1: already accepted or rejected') });
    await m.start();
    await m.decide({ kind: 'accept' });
    expect(m.items.map((i) => i.prediction)).toEqual([2]);
    expect(m.alreadyDecided).toBe(1);
    expect(m.error).toBeNull();
    expect(m.message).toContain('Already decided before');
  });

  it('tops the grid up as it empties, without bringing decided items back', async () => {
    const { b, m } = setup([item(1), item(2)]);
    await m.start();
    await m.decide({ kind: 'accept' });
    await flush();
    // The backend still lists prediction 1 (decided): it is not shown again.
    expect(b.argsOf('review_queue').length).toBeGreaterThanOrEqual(2);
    expect(m.items.map((i) => i.prediction)).toEqual([2]);
    expect(m.exhausted).toBe(true);
  });
});

describe('focus and rate', () => {
  it('arrows move within the grid', () => {
    expect(moveFocus(0, 10, 4, 'right')).toBe(1);
    expect(moveFocus(0, 10, 4, 'left')).toBe(0);
    expect(moveFocus(1, 10, 4, 'down')).toBe(5);
    expect(moveFocus(7, 10, 4, 'down')).toBe(7);
    expect(moveFocus(5, 10, 4, 'up')).toBe(1);
    expect(moveFocus(2, 10, 4, 'up')).toBe(2);
    expect(moveFocus(9, 10, 4, 'right')).toBe(9);
  });

  it('decisions per minute over the last five minutes', () => {
    expect(decisionsPerMinute([], 0)).toBe(0);
    // Three in the first 30 s count as three a minute (the span is at least a minute).
    expect(decisionsPerMinute([0, 10_000, 30_000], 30_000)).toBe(3);
    // Twenty over two minutes: ten a minute.
    const times = Array.from({ length: 20 }, (_, k) => k * 6_000);
    expect(decisionsPerMinute(times, 120_000)).toBeCloseTo(10, 5);
    // Old ones drop out of the window.
    expect(decisionsPerMinute([0, 1_000], 10 * 60_000)).toBe(0);
  });
});

describe('crops', () => {
  it('adds a margin, squares up and stays inside the image', () => {
    expect(cropRect([100, 100, 140, 120], 1000, 800)).toEqual({ sx: 90, sy: 80, sw: 60, sh: 60 });
    expect(cropRect([10, 10, 12, 12], 1000, 800)).toEqual({ sx: 0, sy: 0, sw: 48, sh: 48 });
    const edge = cropRect([0, 0, 200, 100], 1000, 800);
    expect(edge).toEqual({ sx: 0, sy: 0, sw: 300, sh: 300 });
    const big = cropRect([0, 0, 1000, 800], 1000, 800);
    expect(big).toEqual({ sx: 0, sy: 0, sw: 1000, sh: 800 });
  });

  it('places the crop and the box on the canvas', () => {
    const crop = { sx: 0, sy: 0, sw: 1000, sh: 500 };
    const p = placeCrop(crop, [100, 100, 200, 300], 200);
    expect(p).toMatchObject({ dx: 0, dy: 50, dw: 200, dh: 100 });
    expect(p.box).toEqual({ x: 20, y: 70, w: 20, h: 40 });
  });
});
