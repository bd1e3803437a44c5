import { describe, expect, it } from 'vitest';
import type { ImportCountsDto, ImportProgress } from './dto';
import { exportView, filesDone, importView, JobTracker, type JobState, parseFinishedEvent } from './jobs';
import { FakeBackend } from './testing/fake-backend';

const counts = (over: Partial<ImportCountsDto> = {}): ImportCountsDto => ({
  files_found: 1000,
  added: 300,
  updated: 10,
  moved: 5,
  unchanged: 100,
  duplicates: 20,
  marked_missing: 0,
  problems: 7,
  ignored: 3,
  ...over,
});

const progress = (over: Partial<ImportProgress> = {}): ImportProgress => ({
  job: 12,
  phase: 'importing',
  scan_complete: true,
  counts: counts(),
  elapsed_ms: 4000,
  rate_files_per_s: 110.5,
  eta_s: 5.2,
  ...over,
});

describe('job tracker', () => {
  it('follows progress and the end of jobs, newest first, from events alone', async () => {
    const b = new FakeBackend({ jobs_running: [{ job: 1, kind: 'export', started_at_unix_s: 0, progress: { done: 3, total: 9 }, cancelling: false }], job_cancel: true });
    const t = new JobTracker(b);
    const seen: JobState[][] = [];
    t.subscribe((jobs) => seen.push(jobs));
    await t.seed();
    expect(t.get(1)?.progress).toEqual({ done: 3, total: 9 });
    b.emit('job_progress', { job: 2, kind: 'import', progress: progress() });
    expect(t.latest('import')?.job).toBe(2);
    expect(t.list().map((j) => j.job)).toEqual([2, 1]);
    expect(await t.cancel(2)).toBe(true);
    expect(b.argsOf('job_cancel')).toEqual([{ job: 2 }]);
    expect(t.get(2)?.cancelling).toBe(true);
    b.emit('job_finished', { job: 2, kind: 'import', ok: true, cancelled: true, summary: { job: 12, status: 'cancelled', counts: counts(), elapsed_ms: 5000, rate_files_per_s: 100 } });
    // A late progress event does not reopen it.
    b.emit('job_progress', { job: 2, kind: 'import', progress: progress({ elapsed_ms: 9 }) });
    expect(t.get(2)?.finished?.cancelled).toBe(true);
    expect(seen.length).toBeGreaterThanOrEqual(5);
    t.stop();
    expect(b.listeners('job_progress')).toBe(0);
  });

  it('reads finished events with an error', () => {
    expect(parseFinishedEvent({ job: 3, kind: 'export', ok: false, cancelled: false, error: { code: 'io', message: 'disk full' } })).toEqual({ job: 3, kind: 'export', ok: false, cancelled: false, error: { code: 'io', message: 'disk full' } });
    expect(parseFinishedEvent({ nope: 1 })).toBeNull();
  });
});

describe('import progress', () => {
  const state = (over: Partial<JobState>): JobState => ({ job: 2, kind: 'import', progress: null, finished: null, cancelling: false, ...over });

  it('counts files done as the backend does', () => {
    expect(filesDone(counts())).toBe(442);
  });

  it('while walking: no total, no ETA yet', () => {
    const v = importView(state({ progress: progress({ scan_complete: false, eta_s: null }) }))!;
    expect(v.running).toBe(true);
    expect(v.fraction).toBeNull();
    expect(v.doneText).toBe('442 of 1,000+ (still walking) files');
    expect(v.etaText).toBe('time left: known once every folder is walked');
    expect(v.catalogJob).toBe(12);
    expect(v.phase).toBe('Walking folders and reading files');
  });

  it('once walked: fraction, rate, ETA and problems', () => {
    const v = importView(state({ progress: progress() }))!;
    expect(v.fraction).toBeCloseTo(0.442);
    expect(v.doneText).toBe('442 of 1,000 files');
    expect(v.rateText).toBe('111 files/s');
    expect(v.etaText).toBe('about 5 s left');
    expect(v.problems).toBe(7);
  });

  it('finished: the summary', () => {
    const v = importView(state({ progress: progress(), finished: { ok: true, cancelled: false, summary: { job: 12, status: 'finished_with_problems', counts: counts({ files_found: 442 }), elapsed_ms: 125_000, rate_files_per_s: 3.5 }, error: null } }))!;
    expect(v.running).toBe(false);
    expect(v.fraction).toBe(1);
    expect(v.outcome).toBe('Finished, with files that could not be read');
    expect(v.etaText).toBe('took 2 min 05 s');
    expect(v.rateText).toBe('3.5 files/s');
  });

  it('failed: the error', () => {
    const v = importView(state({ finished: { ok: false, cancelled: false, summary: null, error: { code: 'path_not_found', message: 'no such folder /x' } } }))!;
    expect(v.outcome).toBe('Failed');
    expect(v.error).toBe('no such folder /x');
    expect(importView(null)).toBeNull();
  });
});

describe('export progress', () => {
  const state = (over: Partial<JobState>): JobState => ({ job: 4, kind: 'export', progress: null, finished: null, cancelling: false, ...over });

  it('done of total, then the summary or why not', () => {
    expect(exportView(state({ progress: { done: 250, total: 1000 } }))).toMatchObject({ running: true, fraction: 0.25, text: '250 of 1,000 images' });
    const summary = { out_dir: '/o', format: 'coco', images: 1000, annotations: 5000, files: 1002, bytes: 1e9, skipped: {}, link_fallbacks: 0, manifest: '/o/manifest.json' };
    expect(exportView(state({ finished: { ok: true, cancelled: false, summary, error: null } }))).toMatchObject({ running: false, fraction: 1, outcome: 'Finished', summary });
    expect(exportView(state({ cancelling: true, finished: { ok: false, cancelled: true, summary: null, error: { code: 'cancelled', message: 'cancelled' } } }))).toMatchObject({ outcome: 'Cancelled: nothing was left behind', error: null, cancelling: false });
    expect(exportView(state({ finished: { ok: false, cancelled: false, summary: null, error: { code: 'io', message: 'disk full' } } }))).toMatchObject({ outcome: 'Failed', error: 'disk full' });
  });
});
