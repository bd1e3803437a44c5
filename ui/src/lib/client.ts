// Every command the views call, with its argument shape as crates/app/src/commands.rs decodes
// it (arguments are `deny_unknown_fields`: nothing extra is sent, and absent optionals are left
// out rather than sent as null where the Rust field is not an Option).

import type { Backend } from './api/backend';
import type { CommandAnswer, CommandName } from './api/types';
import { type CallArgs, callCommand } from './api/typed';
import {
  type AnnotationEdit,
  type AnnotationInput,
  DEFAULT_WEIGHTS,
  type ExportVersionRequest,
  type FreezeArgs,
  type ImageId,
  type ImageLabelState,
  type ImageQuery,
  type PredictionDecision,
} from './dto';

/** Review states `annotations_review` takes. */
export type ReviewDecisionState = 'unreviewed' | 'accepted' | 'rejected' | 'corrected';

/** Copy of `q` without paging fields and without unset ones. */
export function filterOnly(q: ImageQuery): ImageQuery {
  const out: ImageQuery = {};
  for (const [k, v] of Object.entries(q) as [keyof ImageQuery, unknown][]) {
    if (k === 'cursor' || k === 'limit' || v === undefined || v === null || v === '') continue;
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

export function client(backend: Backend) {
  // Typed by the generated command table: a wrong name, argument or answer does not compile.
  const call = <C extends CommandName>(command: C, ...args: CallArgs<C>): Promise<CommandAnswer<C>> => callCommand(backend, command, ...args);
  return {
    backend,

    appInfo: () => call('app_info'),
    projectsRecent: () => call('projects_recent'),
    projectOpen: (path: string) => call('project_open', { path }),
    projectCreate: (path: string) => call('project_create', { path }),
    status: () => call('status'),

    images: (query: ImageQuery) => call('images', { query: { ...filterOnly(query), ...(query.cursor ? { cursor: query.cursor } : {}), ...(query.limit ? { limit: query.limit } : {}) } }),
    imagesCount: (query: ImageQuery) => call('images_count', { query: filterOnly(query) }),
    /** The cursor `index` images after `query.cursor` (or the start): one call instead of a walk. */
    imagesSeek: (query: ImageQuery, index: number) =>
      call('images_seek', { query: { ...filterOnly(query), ...(query.cursor ? { cursor: query.cursor } : {}) }, index }),
    labelStates: () => call('label_states'),

    /** Problems of a catalog import job (the `job` of ImportProgress / ImportSummary); default the last import. */
    problems: (job?: number) => call('problems', job === undefined ? {} : { job }),
    importStart: (paths: string[]) => call('import_start', { paths }),
    exportStart: (request: ExportVersionRequest) => call('export_start', { request }),
    jobsRunning: () => call('jobs_running'),
    /** False when no such job is running any more. */
    jobCancel: (job: number) => call('job_cancel', { job }),

    classes: () => call('classes'),
    /** A new class; the backend picks its colour. */
    classCreate: (name: string) => call('class_create', { name }),
    annotations: (image: ImageId) => call('annotations', { image }),
    annotationsAdd: (inputs: AnnotationInput[]) => call('annotations_add', { inputs }),
    annotationEdit: (id: number, edit: AnnotationEdit) => call('annotation_edit', { id, edit }),
    annotationsDelete: (ids: number[]) => call('annotations_delete', { ids }),
    annotationsReview: (ids: number[], state: ReviewDecisionState) => call('annotations_review', { ids, state }),
    imageStateSet: (images: ImageId[], state: ImageLabelState) => call('image_state_set', { images, state }),
    /** Every image `query` matches (the catalog's "select all" under filters); returns how many. */
    imageStateSetMatching: (query: ImageQuery, state: ImageLabelState) => call('image_state_set_matching', { query: filterOnly(query), state }),
    undo: () => call('undo'),
    redo: () => call('redo'),
    imagePredictions: (image: ImageId) => call('image_predictions', { image }),
    predictionsDecide: (decisions: PredictionDecision[]) => call('predictions_decide', { decisions }),

    /** Returns how many images got the condition. */
    conditionsSet: (images: ImageId[], key: string, value: string) => call('conditions_set', { images, key, value }),
    /** On every image `query` matches; returns how many. */
    conditionsSetMatching: (query: ImageQuery, key: string, value: string) => call('conditions_set_matching', { query: filterOnly(query), key, value }),
    coverage: () => call('coverage'),
    /** `share` 0..1; null clears the target. */
    coverageTargetSet: (key: string, value: string, share: number | null) => call('coverage_target_set', share === null ? { key, value } : { key, value, share }),
    queue: (limit: number) => call('queue', { request: { weights: DEFAULT_WEIGHTS, limit } }),
    reviewQueue: (band: [number, number], limit: number) => call('review_queue', { request: { band, limit } }),

    versions: () => call('versions'),
    versionFreeze: (args: FreezeArgs) => call('version_freeze', { ...args }),
    versionsDiff: (from: string, to: string) => call('versions_diff', { from, to }),
  };
}

export type Client = ReturnType<typeof client>;

/** A plain-language message for anything a call threw. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e);
}
