import { describe, expect, it } from 'vitest';
import type { FrozenAnnotation, VersionDiffDto, VersionDto } from '../lib/dto';
import { classChanges, diffEntries, diffRows, exportRequest, freezeArgs } from './versions-model';

const version = (name: string): VersionDto => ({
  id: `${name}-id`,
  short_id: name,
  name,
  parent: null,
  notes: '',
  split: { train: 0.8, val: 0.1, test: 0.1, group_by: 'image' },
  classes: ['car'],
  images: 10,
  annotations: 20,
  created_by: 'me',
  created_at_unix_s: 0,
});

const frozen = (cls: string): FrozenAnnotation => ({ class: cls, geometry: { kind: 'box', x0: 0, y0: 0, x1: 1, y1: 1 }, attributes: {}, source: 'human', author: 'me', review_state: 'accepted' });

describe('freeze form', () => {
  it('leaves defaults out and checks the split', () => {
    expect(freezeArgs({ name: '', notes: '', split: '', group_by: '' })).toEqual({ args: { notes: '' } });
    expect(freezeArgs({ name: ' v3 ', notes: 'night added', split: '80, 10, 10', group_by: 'camera' })).toEqual({ args: { name: 'v3', notes: 'night added', split: '80,10,10', group_by: 'camera' } });
    expect(freezeArgs({ name: '', notes: '', split: '0.8,0.2', group_by: '' })).toHaveProperty('error');
    expect(freezeArgs({ name: '', notes: '', split: '0,0,0', group_by: '' })).toHaveProperty('error');
  });
});

describe('export form', () => {
  it('makes the request and refuses what the backend would', () => {
    expect(exportRequest({ version: 'abc', format: 'yolo', images: 'hardlink', out_dir: ' /tmp/out ', overwrite: false })).toEqual({
      request: { version: 'abc', format: 'yolo', images: 'hardlink', out_dir: '/tmp/out', overwrite: false },
    });
    expect(exportRequest({ version: '', format: 'coco', images: 'copy', out_dir: '/x', overwrite: false })).toHaveProperty('error');
    expect(exportRequest({ version: 'a', format: 'coco', images: 'copy', out_dir: '  ', overwrite: false })).toHaveProperty('error');
    expect(exportRequest({ version: 'a', format: 'yolo', images: 'reference', out_dir: '/x', overwrite: false })).toHaveProperty('error');
    expect(exportRequest({ version: 'a', format: 'voc', images: 'reference', out_dir: '/x', overwrite: true })).toHaveProperty('request');
  });
});

describe('diff', () => {
  const d: VersionDiffDto = {
    from: version('v1'),
    to: version('v2'),
    counts: { images_added: 1, images_removed: 1, images_split_changed: 1, images_changed: 2, annotations_added: 1, annotations_removed: 0, annotations_changed: 1, annotations_class_changed: 1, annotations_unchanged: 1234 },
    class_changes: { 'car -> truck': 1, 'bus -> car': 3 },
    images_added: ['a.jpg'],
    images_removed: ['b.jpg'],
    split_changes: [{ path: 'c.jpg', before: 'train', after: 'val' }],
    annotations_added: [{ path: 'a.jpg', annotation: frozen('car') }],
    annotations_removed: [],
    annotations_changed: [{ path: 'd.jpg', before: frozen('car'), after: frozen('truck'), iou: 0.9, class_changed: true, geometry_changed: true, attributes_changed: false }],
    truncated: false,
  };

  it('counts as rows', () => {
    expect(diffRows(d).find((r) => r.label === 'Annotations unchanged')?.value).toBe('1,234');
  });

  it('lists every change', () => {
    expect(diffEntries(d)).toEqual([
      { kind: 'image added', path: 'a.jpg', detail: '' },
      { kind: 'image removed', path: 'b.jpg', detail: '' },
      { kind: 'split changed', path: 'c.jpg', detail: 'train → val' },
      { kind: 'annotation added', path: 'a.jpg', detail: 'car (box)' },
      { kind: 'annotation changed', path: 'd.jpg', detail: 'class car → truck, shape moved (IoU 0.90)' },
    ]);
    expect(classChanges(d)).toEqual([
      { pair: 'bus -> car', count: 3 },
      { pair: 'car -> truck', count: 1 },
    ]);
  });
});
