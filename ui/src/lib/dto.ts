// The backend's answers and arguments as the views use them: the types generated from Rust
// (re-exported by api/types.ts, named as in Rust), plus a few names and constants the UI adds.

import type { ApiErrorBody, Format, JobFinished, JobProgress, LabelsChanged, ProjectOpened, Weights } from './api/types';

export type {
  ActionSummary,
  Annotation,
  AnnotationChange,
  AnnotationEdit,
  AnnotationInput,
  AnnotationOnly,
  ApiErrorBody,
  AppInfo,
  CameraCount,
  ClassDto,
  CoverageReport,
  CoverageRow,
  DiffCounts,
  ExportProgress,
  ExportSummary,
  ExportVersionRequest,
  FreezeArgs,
  FreezeResult,
  FrozenAnnotation,
  Geometry,
  GroupBy,
  ImageId,
  ImageLabelState,
  ImageMode,
  ImagePage,
  ImagePrediction,
  ImageQuery,
  ImageSummary,
  ImportCountsDto,
  ImportPhase,
  ImportProgress,
  ImportStatus,
  ImportSummary,
  JobDto,
  LabelClass,
  LabelStateCount,
  PredictionDecision,
  ProblemDto,
  ProjectStatus,
  QueueEntry,
  QueueRequest,
  QueueResult,
  RecentProject,
  ReviewItem,
  ReviewRequest,
  ReviewState,
  RunId,
  RunningJob,
  Split,
  SplitChange,
  SplitConfig,
  Started,
  VersionDiffDto,
  VersionDto,
  Weights,
} from './api/types';

/** The backend's defaults (`Weights::default()`); `QueueRequest.weights` has no serde default. */
export const DEFAULT_WEIGHTS: Weights = { uncertainty: 1, coverage: 1, diversity: 1 };

export type JobKind = 'import' | 'prelabel' | 'export';

/** `ReviewItem.kind` (a string in Rust). */
export type ReviewKind = 'uncertain_prediction' | 'class_disagreement' | 'unlabeled_object';

/** An export format (`Format` in Rust). */
export type ExportFormat = Format;

/** Payloads of the backend's events. */
export type JobProgressEvent = JobProgress;
export type JobFinishedEvent = JobFinished;
/** An empty list means "any image" (undo / redo). */
export type LabelsChangedEvent = LabelsChanged;
export type ProjectOpenedEvent = ProjectOpened;

export type { ApiErrorBody as ErrorBody };
