import { describe, expect, it } from 'vitest';
import { client, filterOnly } from './client';
import { FakeBackend } from './testing/fake-backend';

describe('client', () => {
  it('sends each command the arguments the command table decodes', async () => {
    const b = new FakeBackend(new Proxy({}, { has: () => true, get: () => null }));
    const api = client(b);
    await api.appInfo();
    await api.projectsRecent();
    await api.projectOpen('/p');
    await api.projectCreate('/q');
    await api.images({ label_state: 'unlabeled', cursor: 'i9', limit: 200, folder: '' });
    await api.imagesCount({ camera: 'X', cursor: 'i9', limit: 5 });
    await api.problems();
    await api.problems(7);
    await api.importStart(['/a', '/b']);
    await api.jobCancel(3);
    await api.coverageTargetSet('light', 'night', 0.2);
    await api.coverageTargetSet('light', 'night', null);
    await api.conditionsSet([1, 2], 'weather', 'fog');
    await api.reviewQueue([0.3, 0.6], 100);
    await api.versionFreeze({ notes: '', split: '80,10,10' });
    await api.versionsDiff('v1', 'v2');
    await api.exportStart({ version: 'v1', format: 'coco', out_dir: '/o', images: 'none', overwrite: false });
    await api.annotationsReview([4], 'rejected');
    await api.classCreate('car');
    expect(b.calls).toEqual([
      ['app_info', undefined],
      ['projects_recent', undefined],
      ['project_open', { path: '/p' }],
      ['project_create', { path: '/q' }],
      ['images', { query: { label_state: 'unlabeled', cursor: 'i9', limit: 200 } }],
      ['images_count', { query: { camera: 'X' } }],
      ['problems', {}],
      ['problems', { job: 7 }],
      ['import_start', { paths: ['/a', '/b'] }],
      ['job_cancel', { job: 3 }],
      ['coverage_target_set', { key: 'light', value: 'night', share: 0.2 }],
      ['coverage_target_set', { key: 'light', value: 'night' }],
      ['conditions_set', { images: [1, 2], key: 'weather', value: 'fog' }],
      ['review_queue', { request: { band: [0.3, 0.6], limit: 100 } }],
      ['version_freeze', { notes: '', split: '80,10,10' }],
      ['versions_diff', { from: 'v1', to: 'v2' }],
      ['export_start', { request: { version: 'v1', format: 'coco', out_dir: '/o', images: 'none', overwrite: false } }],
      ['annotations_review', { ids: [4], state: 'rejected' }],
      ['class_create', { name: 'car' }],
    ]);
  });

  it('keeps only set filters', () => {
    expect(filterOnly({ status: 'ok', has_duplicates: false, folder: '', cursor: 'i1', limit: 3 })).toEqual({ status: 'ok', has_duplicates: false });
  });
});
