// Background jobs (import, pre-label, export) as the views see them: one tracker for the app's
// lifetime listens to `job_progress` / `job_finished`, so a view opened after a job started (or
// finished) still shows it. What it holds comes from those events and `jobs_running` only.

import type { Backend } from './api/backend';
import type { ApiErrorBody, ExportProgress, ExportSummary, ImportCountsDto, ImportProgress, ImportSummary, RunningJob } from './dto';
import { formatCount, formatDuration, formatRate, fraction } from './format';

export const JOB_PROGRESS_EVENT = 'job_progress';
export const JOB_FINISHED_EVENT = 'job_finished';

export interface JobState {
  /** The app's job id (what `job_cancel` takes). */
  job: number;
  kind: string;
  /** The latest progress payload, as the backend sent it. */
  progress: unknown;
  finished: { ok: boolean; cancelled: boolean; summary: unknown; error: ApiErrorBody | null } | null;
  /** A cancel was asked for. */
  cancelling: boolean;
}

/** A `job_progress` payload as read here (the progress checked by whoever uses it). */
export interface ProgressEvent {
  job: number;
  kind: string;
  progress: unknown;
}

/** A `job_finished` payload as read here. */
export interface FinishedEvent {
  job: number;
  kind: string;
  ok: boolean;
  cancelled: boolean;
  summary?: unknown;
  error?: ApiErrorBody;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

export function parseProgressEvent(payload: unknown): ProgressEvent | null {
  if (!isObject(payload) || typeof payload.job !== 'number' || typeof payload.kind !== 'string') return null;
  return { job: payload.job, kind: payload.kind, progress: payload.progress };
}

export function parseFinishedEvent(payload: unknown): FinishedEvent | null {
  if (!isObject(payload) || typeof payload.job !== 'number' || typeof payload.kind !== 'string') return null;
  const error = isObject(payload.error) && typeof payload.error.message === 'string' ? ({ code: String(payload.error.code ?? 'internal'), message: payload.error.message } as ApiErrorBody) : undefined;
  return {
    job: payload.job,
    kind: payload.kind,
    ok: payload.ok === true,
    cancelled: payload.cancelled === true,
    ...(payload.summary !== undefined ? { summary: payload.summary } : {}),
    ...(error ? { error } : {}),
  };
}

/**
 * Job states by id, fed by events. Implements the Svelte store contract: `subscribe(run)` calls
 * `run` now and after every change with a fresh array of the jobs, newest first.
 */
export class JobTracker {
  private readonly jobs = new Map<number, JobState>();
  private readonly listeners = new Set<(jobs: JobState[]) => void>();
  private readonly stops: Array<() => void> = [];

  constructor(private readonly backend: Backend) {
    this.stops.push(
      backend.subscribe(JOB_PROGRESS_EVENT, (p) => {
        const e = parseProgressEvent(p);
        if (!e) return;
        const s = this.entry(e.job, e.kind);
        // A late progress event never reopens a finished job.
        if (!s.finished) s.progress = e.progress;
        this.changed();
      }),
      backend.subscribe(JOB_FINISHED_EVENT, (p) => {
        const e = parseFinishedEvent(p);
        if (!e) return;
        const s = this.entry(e.job, e.kind);
        s.finished = { ok: e.ok, cancelled: e.cancelled, summary: e.summary ?? null, error: e.error ?? null };
        this.changed();
      }),
    );
  }

  /** Adds the jobs already running (started before this tracker, or by another window). */
  async seed(): Promise<void> {
    const running = await this.backend.call<RunningJob[]>('jobs_running');
    for (const r of running) {
      const s = this.entry(r.job, r.kind);
      if (s.finished) continue;
      if (s.progress === null || s.progress === undefined) s.progress = r.progress;
      s.cancelling = s.cancelling || r.cancelling;
    }
    this.changed();
  }

  /** A job this UI just started (its events may already have come). */
  started(job: number, kind: string): JobState {
    const s = this.entry(job, kind);
    this.changed();
    return s;
  }

  /** Asks the backend to stop a job; returns whether it was still running. */
  async cancel(job: number): Promise<boolean> {
    const s = this.jobs.get(job);
    if (s) s.cancelling = true;
    this.changed();
    return this.backend.call<boolean>('job_cancel', { job });
  }

  get(job: number): JobState | null {
    return this.jobs.get(job) ?? null;
  }

  /** The newest job of a kind, or null. */
  latest(kind: string): JobState | null {
    let best: JobState | null = null;
    for (const s of this.jobs.values()) if (s.kind === kind && (!best || s.job > best.job)) best = s;
    return best;
  }

  list(): JobState[] {
    return [...this.jobs.values()].sort((a, b) => b.job - a.job).map((s) => ({ ...s }));
  }

  subscribe(run: (jobs: JobState[]) => void): () => void {
    this.listeners.add(run);
    run(this.list());
    return () => this.listeners.delete(run);
  }

  stop(): void {
    for (const s of this.stops.splice(0)) s();
    this.listeners.clear();
  }

  private entry(job: number, kind: string): JobState {
    let s = this.jobs.get(job);
    if (!s) {
      s = { job, kind, progress: null, finished: null, cancelling: false };
      this.jobs.set(job, s);
    }
    return s;
  }

  private changed(): void {
    const list = this.list();
    for (const l of [...this.listeners]) l(list);
  }
}

// ---- import ------------------------------------------------------------------------------------

/** Files dealt with so far (as `ImportCountsDto::files_done` in Rust). */
export function filesDone(c: ImportCountsDto): number {
  return c.added + c.updated + c.moved + c.unchanged + c.duplicates + c.problems;
}

export function asImportProgress(v: unknown): ImportProgress | null {
  if (!isObject(v) || !isObject(v.counts) || typeof v.job !== 'number') return null;
  return v as unknown as ImportProgress;
}

export function asImportSummary(v: unknown): ImportSummary | null {
  if (!isObject(v) || !isObject(v.counts) || typeof v.status !== 'string') return null;
  return v as unknown as ImportSummary;
}

export interface ImportView {
  running: boolean;
  cancelling: boolean;
  /** The catalog's import job (for `problems`), once known. */
  catalogJob: number | null;
  phase: string;
  done: number;
  found: number;
  /** Whether `found` is the final total. */
  totalKnown: boolean;
  /** 0..1 when the total is known. */
  fraction: number | null;
  doneText: string;
  rateText: string;
  etaText: string;
  problems: number;
  counts: ImportCountsDto | null;
  /** How it ended, once it did. */
  outcome: string | null;
  error: string | null;
}

const PHASES: Record<string, string> = {
  importing: 'Walking folders and reading files',
  finishing: 'Marking vanished files missing and recording the outcome',
};

const OUTCOMES: Record<string, string> = {
  finished: 'Finished',
  finished_with_problems: 'Finished, with files that could not be read',
  cancelled: 'Cancelled: what was imported stays, and importing again resumes',
};

/** What the import panel shows for a job's state. */
export function importView(s: JobState | null): ImportView | null {
  if (!s) return null;
  const p = asImportProgress(s.progress);
  const sum = s.finished?.ok ? asImportSummary(s.finished.summary) : null;
  const counts = sum?.counts ?? p?.counts ?? null;
  const done = counts ? filesDone(counts) : 0;
  const found = counts?.files_found ?? 0;
  const finished = s.finished !== null;
  const totalKnown = finished || (p?.scan_complete ?? false);
  const rate = sum?.rate_files_per_s ?? p?.rate_files_per_s ?? null;
  let outcome: string | null = null;
  if (sum) outcome = OUTCOMES[sum.status] ?? sum.status;
  else if (s.finished) outcome = s.finished.cancelled ? OUTCOMES.cancelled! : 'Failed';
  const elapsed = sum?.elapsed_ms ?? p?.elapsed_ms ?? null;
  return {
    running: !finished,
    cancelling: s.cancelling && !finished,
    catalogJob: sum?.job ?? p?.job ?? null,
    phase: finished ? 'Done' : p ? (PHASES[p.phase] ?? p.phase) : 'Starting',
    done,
    found,
    totalKnown,
    fraction: totalKnown ? (fraction(done, found) ?? (finished ? 1 : null)) : null,
    doneText: `${formatCount(done)} of ${formatCount(found)}${totalKnown ? '' : '+ (still walking)'} files`,
    rateText: formatRate(rate, 'files'),
    etaText: finished ? (elapsed !== null ? `took ${formatDuration(elapsed / 1000)}` : '') : p?.eta_s !== null && p?.eta_s !== undefined ? `about ${formatDuration(p.eta_s)} left` : 'time left: known once every folder is walked',
    problems: counts?.problems ?? 0,
    counts,
    outcome,
    error: s.finished && !s.finished.ok ? (s.finished.error?.message ?? 'The import failed.') : null,
  };
}

// ---- export ------------------------------------------------------------------------------------

export function asExportProgress(v: unknown): ExportProgress | null {
  if (!isObject(v) || typeof v.done !== 'number' || typeof v.total !== 'number') return null;
  return { done: v.done, total: v.total };
}

export function asExportSummary(v: unknown): ExportSummary | null {
  if (!isObject(v) || typeof v.out_dir !== 'string' || typeof v.images !== 'number') return null;
  return v as unknown as ExportSummary;
}

export interface ExportView {
  running: boolean;
  cancelling: boolean;
  fraction: number | null;
  text: string;
  summary: ExportSummary | null;
  outcome: string | null;
  error: string | null;
}

export function exportView(s: JobState | null): ExportView | null {
  if (!s) return null;
  const p = asExportProgress(s.progress);
  const summary = s.finished?.ok ? asExportSummary(s.finished.summary) : null;
  const finished = s.finished !== null;
  let outcome: string | null = null;
  if (summary) outcome = 'Finished';
  else if (s.finished?.cancelled) outcome = 'Cancelled: nothing was left behind';
  else if (s.finished) outcome = 'Failed';
  return {
    running: !finished,
    cancelling: s.cancelling && !finished,
    fraction: summary ? 1 : p ? fraction(p.done, p.total) : null,
    text: summary ? `${formatCount(summary.images)} images written` : p ? `${formatCount(p.done)} of ${formatCount(p.total)} images` : 'Starting',
    summary,
    outcome,
    // A cancelled export ends with an error too (`cancelled`): the outcome says it.
    error: s.finished && !s.finished.ok && !s.finished.cancelled ? (s.finished.error?.message ?? 'The export failed.') : null,
  };
}
