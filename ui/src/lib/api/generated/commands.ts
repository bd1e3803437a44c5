// Generated from the Rust types by scripts/gen-ts-types.sh (crates/app/src/ts.rs). Do not edit.

import type {
  ActionSummary,
  AddArgs,
  Annotation,
  AppInfo,
  CancelArgs,
  ClassCreateArgs,
  ClassDto,
  ClassUpdateArgs,
  CommandInfo,
  ConditionArgs,
  CoverageReport,
  DecideArgs,
  DiffArgs,
  EditArgs,
  EventRow,
  ExportStartArgs,
  FreezeArgs,
  FreezeResult,
  HistoryArgs,
  IdArgs,
  IdsArgs,
  ImageArgs,
  ImageConditions,
  ImageDetails,
  ImagePage,
  ImagePrediction,
  ImportRequest,
  JobArgs,
  JobFinished,
  JobProgress,
  LabelClass,
  LabelStateCount,
  LabelsChanged,
  MatchingConditionArgs,
  MatchingStateArgs,
  NoArgs,
  PathArgs,
  PrelabelStartArgs,
  ProblemDto,
  ProjectOpened,
  ProjectStatus,
  QueryArgs,
  QueueArgs,
  QueueResult,
  RecentProject,
  ReviewArgs,
  ReviewItem,
  ReviewQueueArgs,
  RunDto,
  RunningJob,
  SeekArgs,
  Started,
  StateArgs,
  TargetArgs,
  VersionDiffDto,
  VersionDto,
} from './types';

/** Every command of the table (crates/app/src/commands.rs): its arguments and its answer. */
export interface Commands {
  /** this list */
  commands: { args: NoArgs; answer: Array<CommandInfo> };
  /** version, acting person and the open project */
  app_info: { args: NoArgs; answer: AppInfo };
  /** open the project in {path} */
  project_open: { args: PathArgs; answer: ProjectStatus };
  /** create a project in {path} and open it */
  project_create: { args: PathArgs; answer: ProjectStatus };
  /** recently opened projects, newest first */
  projects_recent: { args: NoArgs; answer: Array<RecentProject> };
  /** counts, cameras and jobs of the open project */
  status: { args: NoArgs; answer: ProjectStatus };
  /** a page of images ({query}: filters, cursor, limit) */
  images: { args: QueryArgs; answer: ImagePage };
  /** how many images match {query} */
  images_count: { args: QueryArgs; answer: number };
  /** the cursor of the page starting at position {index} of {query} (null: the first page or past the end) */
  images_seek: { args: SeekArgs; answer: string | null };
  /** one image's details ({id}) */
  image: { args: IdArgs; answer: ImageDetails };
  /** import problems ({job}, default: the last import) */
  problems: { args: JobArgs; answer: Array<ProblemDto> };
  /** import {paths} in the background (progress events; cancel with job_cancel) */
  import_start: { args: ImportRequest; answer: Started };
  /** pre-label ({request}) in the background */
  prelabel_start: { args: PrelabelStartArgs; answer: Started };
  /** export a version ({request}) in the background */
  export_start: { args: ExportStartArgs; answer: Started };
  /** jobs started here that are still running */
  jobs_running: { args: NoArgs; answer: Array<RunningJob> };
  /** ask job {job} to stop (what it committed stays) */
  job_cancel: { args: CancelArgs; answer: boolean };
  /** pre-labeling runs, newest first */
  runs: { args: NoArgs; answer: Array<RunDto> };
  /** label classes with annotation counts */
  classes: { args: NoArgs; answer: Array<ClassDto> };
  /** create a class ({name}, {color}, {hotkey}) */
  class_create: { args: ClassCreateArgs; answer: LabelClass };
  /** rename / recolour / set the hotkey of {class} ({edit}) */
  class_update: { args: ClassUpdateArgs; answer: LabelClass };
  /** the annotations of {image} */
  annotations: { args: ImageArgs; answer: Array<Annotation> };
  /** draw annotations ({inputs}); one undo step */
  annotations_add: { args: AddArgs; answer: Array<Annotation> };
  /** change annotation {id} ({edit}) */
  annotation_edit: { args: EditArgs; answer: Annotation };
  /** delete annotations {ids} */
  annotations_delete: { args: IdsArgs; answer: null };
  /** accept / reject / reset annotations {ids} ({state}) */
  annotations_review: { args: ReviewArgs; answer: null };
  /** set the label state of {images} ({state}: labeled, skipped, ...) */
  image_state_set: { args: StateArgs; answer: null };
  /** set the label state of every image {query} matches ({state}); one undo step */
  image_state_set_matching: { args: MatchingStateArgs; answer: number };
  /** image counts per label state */
  label_states: { args: NoArgs; answer: Array<LabelStateCount> };
  /** revert the acting person's latest action */
  undo: { args: NoArgs; answer: ActionSummary | null };
  /** re-apply the acting person's latest undone action */
  redo: { args: NoArgs; answer: ActionSummary | null };
  /** journal events ({image}, {limit}) */
  history: { args: HistoryArgs; answer: Array<EventRow> };
  /** the open predictions of {image} ({run}: default the newest) */
  image_predictions: { args: ImageArgs; answer: Array<ImagePrediction> };
  /** accept / reject / change class of predictions ({decisions}) */
  predictions_decide: { args: DecideArgs; answer: Array<Annotation> };
  /** claims and resolved conditions of {image} */
  image_conditions: { args: ImageArgs; answer: ImageConditions };
  /** a person's condition {key}={value} on {images} */
  conditions_set: { args: ConditionArgs; answer: number };
  /** a person's condition {key}={value} on every image {query} matches */
  conditions_set_matching: { args: MatchingConditionArgs; answer: number };
  /** remove a person's condition {key} from {images} */
  conditions_clear: { args: ConditionArgs; answer: number };
  /** the coverage table (pool vs labeled vs target) */
  coverage: { args: NoArgs; answer: CoverageReport };
  /** set (or clear without {share}) the target share of {key}={value} */
  coverage_target_set: { args: TargetArgs; answer: null };
  /** the ranked labeling queue ({request}); assigns to the acting person with {assign: true} */
  queue: { args: QueueArgs; answer: QueueResult };
  /** predictions and disagreements for experts ({request}) */
  review_queue: { args: ReviewQueueArgs; answer: Array<ReviewItem> };
  /** frozen versions, newest first */
  versions: { args: NoArgs; answer: Array<VersionDto> };
  /** freeze a version ({request}) */
  version_freeze: { args: FreezeArgs; answer: FreezeResult };
  /** what changed between versions {from} and {to} */
  versions_diff: { args: DiffArgs; answer: VersionDiffDto };
}

/** Every event a subscriber may receive, with its payload. */
export interface Events {
  project_opened: ProjectOpened;
  labels_changed: LabelsChanged;
  job_progress: JobProgress;
  job_finished: JobFinished;
}

export type CommandName = keyof Commands;
export type CommandArgs<C extends CommandName> = Commands[C]['args'];
export type CommandAnswer<C extends CommandName> = Commands[C]['answer'];
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = Events[E];
