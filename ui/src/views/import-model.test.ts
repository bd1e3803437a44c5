import { describe, expect, it } from 'vitest';
import type { JobState } from '../lib/jobs';
import { currentImport, parsePaths } from './import-model';
import { baseName, checkPath, sortRecent, statusLine } from './projects-model';

describe('import paths', () => {
  it('one a line, trimmed, unquoted, once each', () => {
    expect(parsePaths('  /data/a \n\n"/data/b c"\r\n/data/a\n\'/x\'')).toEqual(['/data/a', '/data/b c', '/x']);
    expect(parsePaths('   \n')).toEqual([]);
  });

  it('shows the import this view started, else the newest', () => {
    const j = (job: number, kind = 'import'): JobState => ({ job, kind, progress: null, finished: null, cancelling: false });
    expect(currentImport([j(3), j(5, 'export'), j(2)], null)?.job).toBe(3);
    expect(currentImport([j(3), j(2)], 2)?.job).toBe(2);
    expect(currentImport([j(5, 'export')], null)).toBeNull();
  });
});

describe('projects', () => {
  it('lists existing projects first, newest first', () => {
    const r = (path: string, t: number, exists = true) => ({ path, name: baseName(path), opened_at_unix_s: t, exists });
    expect(sortRecent([r('/a', 1), r('/b', 3, false), r('/c', 2)]).map((p) => p.path)).toEqual(['/c', '/a', '/b']);
  });

  it('checks a typed path', () => {
    expect(checkPath('  /p ')).toEqual({ path: '/p' });
    expect(checkPath(' ')).toHaveProperty('error');
    expect(baseName('C:\\data\\proj\\')).toBe('proj');
    expect(baseName('/home/me/proj')).toBe('proj');
  });

  it('sums up a project', () => {
    expect(
      statusLine({
        project: '/p',
        schema_version: 6,
        folders: ['/d'],
        images: 1234,
        images_ok: 1230,
        images_missing: 4,
        duplicate_files: 0,
        problems_last_import: 2,
        cameras: [{ camera: 'A', images: 1000 }, { camera: null, images: 234 }],
        last_import: null,
      }),
    ).toBe('1,234 images · 4 missing · 1 folder · 1 camera · 2 problems in the last import');
  });
});
