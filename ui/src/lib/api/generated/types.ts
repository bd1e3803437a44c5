// Generated from the Rust types by scripts/gen-ts-types.sh (crates/app/src/ts.rs). Do not edit.

/**
 * One user action in the edit journal (one or many events committed together).
 */
export type ActionId = number;

/**
 * What an undo or redo did.
 */
export type ActionSummary = { 
/**
 * The new undo/redo action.
 */
action: ActionId, 
/**
 * The action it reverted or re-applied.
 */
target: ActionId, label: string, events: number, };

/**
 * `annotations_add`: annotations to draw, in one undo step.
 */
export type AddArgs = { inputs: Array<AnnotationInput>, };

/**
 * An annotation as stored.
 */
export type Annotation = { id: AnnotationId, image: ImageId, class: ClassId, geometry: Geometry, attributes: Attributes, 
/**
 * The model's score, for annotations adopted from a prediction.
 */
score: number | null, author: string, review_state: ReviewState, reviewer: string | null, created_at_unix_s: number, updated_at_unix_s: number, } & ({ "source": "human" } | { "source": "model", run: RunId, prediction: number | null, } | { "source": "imported" });

/**
 * How one annotation changed between versions.
 */
export type AnnotationChange = { path: string, before: FrozenAnnotation, after: FrozenAnnotation, 
/**
 * IoU of the two bounding boxes.
 */
iou: number, class_changed: boolean, geometry_changed: boolean, attributes_changed: boolean, };

/**
 * A change to an annotation; `None` fields stay.
 */
export type AnnotationEdit = { class?: string | null, geometry?: Geometry | null, attributes?: Attributes | null, };

/**
 * Row id of an annotation. Never reused: undoing a delete brings the same id back.
 */
export type AnnotationId = number;

/**
 * An annotation to create; the class by name or id.
 */
export type AnnotationInput = { image: ImageId, class: string, geometry: Geometry, attributes?: Attributes, };

/**
 * An annotation only one side has.
 */
export type AnnotationOnly = { path: string, annotation: FrozenAnnotation, };

/**
 * Where an annotation came from.
 */
export type AnnotationSource = { "source": "human" } | { "source": "model", run: RunId, prediction: number | null, } | { "source": "imported" };

/**
 * An error that reaches a user: a stable code and a plain-language message that names the
 * file or field involved.
 */
export type ApiError = { code: ErrorCode, message: string, };

/**
 * `app_info`.
 */
export type AppInfo = { 
/**
 * Lacuna's version.
 */
version: string, 
/**
 * The acting person (recorded as the author of every edit).
 */
author: string, 
/**
 * The open project's folder, if one is open.
 */
project: string | null, };

/**
 * Flags on an annotation (CVAT's and COCO's usual ones, plus free tags).
 */
export type Attributes = { occluded?: boolean, truncated?: boolean, 
/**
 * COCO `iscrowd`: the region covers a group of objects.
 */
crowd?: boolean, 
/**
 * Free tags, kept sorted and without duplicates.
 */
tags?: Array<string>, };

/**
 * An axis-aligned box, corners in image pixels (`x0 <= x1`, `y0 <= y1`).
 */
export type BoxXyxy = { x0: number, y0: number, x1: number, y1: number, };

export type CameraCount = { 
/**
 * `None`: no camera in EXIF.
 */
camera: string | null, images: number, };

/**
 * `job_cancel`: a job id as `Started` and the job events give it.
 */
export type CancelArgs = { job: number, };

/**
 * `class_create`: a new class (colour from the palette and no hotkey unless given).
 */
export type ClassCreateArgs = { name: string, 
/**
 * `#rrggbb`.
 */
color?: string | null, hotkey?: string | null, };

/**
 * A class with its annotation count.
 */
export type ClassDto = { annotations: number, id: ClassId, name: string, 
/**
 * `#rrggbb`.
 */
color: string, 
/**
 * A single key that picks the class while annotating.
 */
hotkey: string | null, 
/**
 * Order in the class list and in exports (class index = rank by position).
 */
position: number, };

/**
 * A change to a class; `None` fields stay (`hotkey: Some("")` clears the hotkey).
 */
export type ClassEdit = { name?: string | null, color?: string | null, hotkey?: string | null, position?: number | null, };

/**
 * Row id of a label class. Never reused, so a journal entry can always name its class.
 */
export type ClassId = number;

/**
 * `class_update`: a class by name or id, and what changes.
 */
export type ClassUpdateArgs = { class: string, edit: ClassEdit, };

/**
 * A command's name and what it does (listed by `commands`, and by `lacuna serve --help`).
 */
export type CommandInfo = { name: string, summary: string, };

/**
 * One claim about an image: `key = value`, from `source`, with a confidence in 0..=1.
 */
export type Condition = { key: string, value: string, source: ConditionSource, confidence: number, };

/**
 * `conditions_set` (`value` required), `conditions_clear` (no `value`): a person's condition
 * `key` on images.
 */
export type ConditionArgs = { images: Array<ImageId>, key: string, value?: string | null, };

/**
 * Where a condition comes from.
 */
export type ConditionSource = "human" | "sidecar" | "path" | "exif" | "estimated";

/**
 * The coverage table.
 */
export type CoverageReport = { pool: number, labeled: number, rows: Array<CoverageRow>, };

/**
 * One row of the coverage table.
 */
export type CoverageRow = { key: string, value: string, pool: number, labeled: number, pool_share: number, labeled_share: number, target_share: number, 
/**
 * True when no target was set and the pool's share is the target.
 */
target_is_pool: boolean, 
/**
 * How far the labeled share falls short of the target, relative to the target: 0 when
 * the target is met, 1 when nothing with this value is labeled.
 */
gap: number, 
/**
 * Share of this value's predicted images the model is unsure about.
 */
low_confidence_rate: number | null, 
/**
 * Mean model confidence over this value's predicted images.
 */
mean_confidence: number | null, };

/**
 * `predictions_decide`: decisions on predictions, in one undo step.
 */
export type DecideArgs = { decisions: Array<PredictionDecision>, };

/**
 * `versions_diff`: two version references (name, id or unique id prefix).
 */
export type DiffArgs = { from: string, to: string, 
/**
 * Entries per detail list (default 1000; counts are always complete).
 */
max_details?: number | null, };

/**
 * Counts of a diff.
 */
export type DiffCounts = { images_added: number, images_removed: number, images_split_changed: number, images_changed: number, annotations_added: number, annotations_removed: number, annotations_changed: number, annotations_class_changed: number, annotations_unchanged: number, };

/**
 * `annotation_edit`: one annotation and what changes.
 */
export type EditArgs = { id: AnnotationId, edit: AnnotationEdit, };

/**
 * Stable error codes: the UI and scripts branch on these, never on message text.
 */
export type ErrorCode = "project_not_found" | "project_exists" | "catalog_too_new" | "catalog_corrupt" | "path_not_found" | "invalid_input" | "not_found" | "model_not_found" | "model_invalid" | "out_of_memory" | "conflict" | "job_running" | "cancelled" | "io" | "internal";

/**
 * One journal entry, for history views and audits.
 */
export type EventRow = { seq: number, action: ActionId, 
/**
 * `do` | `undo` | `redo`
 */
action_kind: string, action_label: string, author: string, entity: string, entity_id: number, op: string, image: ImageId | null, before_json: string | null, after_json: string | null, at_unix_s: number, };

export type ExifDto = { camera_make: string | null, camera_model: string | null, body_serial: string | null, lens_model: string | null, 
/**
 * RFC 3339 when the offset is known, local time otherwise.
 */
captured_at: string | null, gps: GpsDto | null, orientation: number, };

/**
 * The `progress` of an export job: images of the version written so far, and all of them.
 */
export type ExportProgress = { done: number, total: number, };

/**
 * `export_start`: which version, where and in which format.
 */
export type ExportStartArgs = { request: ExportVersionRequest, };

/**
 * What an export wrote.
 */
export type ExportSummary = { out_dir: string, format: Format, images: number, annotations: number, 
/**
 * Files listed in the manifest (written, linked or referenced), and their total size.
 */
files: number, bytes: number, 
/**
 * Annotations the format could not express, by reason.
 */
skipped: { [key in string]: number }, 
/**
 * Images copied because a hard link was refused (another file system).
 */
link_fallbacks: number, manifest: string, };

/**
 * `lacuna export`.
 */
export type ExportVersionRequest = { version: string, format: Format, out_dir: string, images: ImageMode, overwrite: boolean, };

/**
 * A dataset format Lacuna reads and writes.
 */
export type Format = "coco" | "yolo" | "yolo-seg" | "voc" | "masks";

/**
 * `version_freeze`: a new version of the finished images (the acting person is its author).
 */
export type FreezeArgs = { 
/**
 * Default `v<N>`.
 */
name?: string | null, notes?: string, 
/**
 * `train,val,test` ratios; default `0.8,0.1,0.1`.
 */
split?: string | null, 
/**
 * `image` (default) | `camera` | `capture_day` | `folder`.
 */
group_by?: string | null, };

/**
 * What a freeze did.
 */
export type FreezeResult = { version: VersionDto, 
/**
 * False when a version with exactly this content existed already (it is returned).
 */
created: boolean, 
/**
 * Images per split.
 */
split_counts: Array<[Split, number]>, 
/**
 * Finished images left out because their file is missing.
 */
images_missing: number, };

/**
 * An annotation as a version keeps it: the class by name, plus who made and reviewed it.
 */
export type FrozenAnnotation = { class: string, geometry: Geometry, attributes: Attributes, 
/**
 * `human` | `model` | `imported`.
 */
source: string, 
/**
 * The model run it was adopted from.
 */
run?: number | null, score?: number | null, author: string, review_state: ReviewState, reviewer?: string | null, };

/**
 * The shape of an annotation.
 */
export type Geometry = { "kind": "box" } & BoxXyxy | { "kind": "polygon", parts: Array<Array<[number, number]>>, } | { "kind": "mask" } & Rle;

export type GpsDto = { latitude_deg: number, longitude_deg: number, altitude_m: number | null, };

/**
 * What images are grouped by when splits are assigned: a group never straddles splits.
 */
export type GroupBy = "image" | "camera" | "capture_day" | "folder";

/**
 * `history`: journal events, newest first.
 */
export type HistoryArgs = { 
/**
 * Only this image's events.
 */
image?: ImageId | null, 
/**
 * Default 100.
 */
limit?: number | null, };

/**
 * `image`: one image by id.
 */
export type IdArgs = { id: number, };

/**
 * `annotations_delete`: annotations by id.
 */
export type IdsArgs = { ids: Array<AnnotationId>, };

/**
 * `annotations`, `image_predictions`, `image_conditions`: one image.
 */
export type ImageArgs = { image: ImageId, 
/**
 * `image_predictions` only: the run whose predictions (default: the newest).
 */
run?: RunId | null, };

/**
 * `image_conditions`: every claim about an image, and what each key resolves to.
 */
export type ImageConditions = { 
/**
 * All claims, every source.
 */
claims: Array<Condition>, 
/**
 * The winning claim of each key.
 */
resolved: Array<Condition>, };

/**
 * Everything about one image.
 */
export type ImageDetails = { 
/**
 * Absolute path of the file.
 */
abs_path: string, content_hash: string, file_size_bytes: number, mtime_ns: number, exif: ExifDto, stats: ImageStatsDto, 
/**
 * Absolute paths of files with exactly the same content (not imported twice).
 */
duplicates: Array<string>, id: number, 
/**
 * Path relative to its imported folder, `/`-separated.
 */
path: string, root: string, status: string, format: string, width_px: number, height_px: number, camera: string | null, captured_at: string | null, duplicate_count: number, 
/**
 * Where its labeling stands (`unlabeled` when nobody touched it).
 */
label_state: ImageLabelState, };

/**
 * Row id of an image in the catalog. Stable for the life of the catalog: a moved or
 * changed file keeps its id, and with it everything attached to it.
 */
export type ImageId = number;

/**
 * Where a whole image stands in labeling.
 */
export type ImageLabelState = "unlabeled" | "in_progress" | "labeled" | "labeled_empty" | "reviewed" | "skipped";

/**
 * How image files reach an export.
 */
export type ImageMode = "copy" | "hardlink" | "reference" | "none";

/**
 * One page of images.
 */
export type ImagePage = { items: Array<ImageSummary>, 
/**
 * Pass as `cursor` to get the next page; `None` on the last page.
 */
next_cursor: string | null, };

/**
 * A model's box or mask on one image, not yet accepted or rejected by anyone.
 */
export type ImagePrediction = { id: number, run: RunId, image: ImageId, 
/**
 * The model's class name.
 */
class: string, score: number, 
/**
 * A box, or a mask for segmentation models.
 */
geometry: Geometry, };

/**
 * Filters and paging for [`crate::Project::list_images`]. Every field set narrows the result.
 */
export type ImageQuery = { 
/**
 * `ok` or `missing`.
 */
status?: string | null, 
/**
 * A folder: absolute (inside an imported folder) or relative to an imported folder.
 * Matches the folder and everything below it.
 */
folder?: string | null, 
/**
 * Exact camera id as `lacuna status` lists it.
 */
camera?: string | null, 
/**
 * Capture time lower bound, inclusive: `YYYY-MM-DD[THH:MM:SS]`.
 */
captured_from?: string | null, 
/**
 * Capture time upper bound, exclusive.
 */
captured_before?: string | null, 
/**
 * Only images that have (true) or have not (false) exact duplicates.
 */
has_duplicates?: boolean | null, 
/**
 * Only images in this label state: `unlabeled` (never touched included), `in_progress`,
 * `labeled`, `labeled_empty`, `reviewed`, `skipped`.
 */
label_state?: string | null, 
/**
 * A condition key (`time_of_day`, `weather`, `camera`, ...); with `condition_value`, only
 * images whose effective value of the key is that value: the claim of the most trusted
 * source (human, sidecar, path, EXIF, estimated), as the coverage table counts it. One
 * without the other is an error.
 */
condition_key?: string | null, 
/**
 * The value `condition_key` must have (`night`, `fog_haze`, ...).
 */
condition_value?: string | null, 
/**
 * A label class name (any case): only images with an annotation of that class that review
 * has not rejected.
 */
class?: string | null, 
/**
 * A class name of the newest pre-labeling run's model (any case): only images that run
 * predicted it on (unflipped boxes; with `score_min` / `score_max`, within the band).
 */
predicted_class?: string | null, 
/**
 * Only images with a prediction of the newest run (of `predicted_class` when given) whose
 * score is at least this, 0..=1.
 */
score_min?: number | null, 
/**
 * ... and below this (exclusive), 0..=1, not below `score_min`.
 */
score_max?: number | null, 
/**
 * Opaque cursor from the previous page's `next_cursor`.
 */
cursor?: string | null, 
/**
 * Page size, 1..=1000 (default 100).
 */
limit?: number | null, };

export type ImageStatsDto = { luma_mean: number, luma_p05: number, luma_p50: number, luma_p95: number, contrast: number, saturation_mean: number, sharpness: number, };

/**
 * An image as the grid shows it.
 */
export type ImageSummary = { id: number, 
/**
 * Path relative to its imported folder, `/`-separated.
 */
path: string, root: string, status: string, format: string, width_px: number, height_px: number, camera: string | null, captured_at: string | null, duplicate_count: number, 
/**
 * Where its labeling stands (`unlabeled` when nobody touched it).
 */
label_state: ImageLabelState, };

/**
 * Counts of what an import did so far.
 */
export type ImportCountsDto = { files_found: number, added: number, updated: number, moved: number, unchanged: number, duplicates: number, marked_missing: number, problems: number, ignored: number, };

/**
 * Knobs of an import. Defaults suit a laptop.
 */
export type ImportOptions = { 
/**
 * Images whose header claims more pixels than this are refused (never allocated).
 */
max_pixels?: number, 
/**
 * Worker threads for probing; 0 means one per core.
 */
threads?: number, 
/**
 * Rows per catalog transaction.
 */
batch_size?: number, };

export type ImportPhase = "importing" | "finishing";

/**
 * A progress event of a running import.
 */
export type ImportProgress = { job: number, phase: ImportPhase, 
/**
 * True once every folder has been walked, so `counts.files_found` is the total.
 */
scan_complete: boolean, counts: ImportCountsDto, elapsed_ms: number, 
/**
 * Files dealt with per second so far.
 */
rate_files_per_s: number, 
/**
 * Estimated time left; only once the walk is complete.
 */
eta_s: number | null, };

/**
 * What to import.
 */
export type ImportRequest = { 
/**
 * Folders (walked recursively) and single files.
 */
paths: Array<string>, options?: ImportOptions, };

export type ImportStatus = "finished" | "finished_with_problems" | "cancelled";

/**
 * How an import ended.
 */
export type ImportSummary = { job: number, status: ImportStatus, counts: ImportCountsDto, elapsed_ms: number, rate_files_per_s: number, };

/**
 * `problems`: the import job (default: the last import).
 */
export type JobArgs = { job?: number | null, };

/**
 * One past or running job.
 */
export type JobDto = { id: number, kind: string, status: string, counts: ImportCountsDto, error: string | null, started_at_unix_s: number, finished_at_unix_s: number | null, };

/**
 * `job_finished`: how a job ended: `summary` when `ok`, `error` otherwise.
 */
export type JobFinished = { job: number, 
/**
 * `import` | `prelabel` | `export`
 */
kind: string, ok: boolean, 
/**
 * Whether the job was asked to stop (what it committed stays).
 */
cancelled: boolean, 
/**
 * By kind: `ImportSummary`, `PrelabelSummary` or `ExportSummary`.
 */
summary?: ImportSummary | PrelabelSummary | ExportSummary, error?: ApiError, };

/**
 * `job_progress`: how far a job started through the command table is.
 */
export type JobProgress = { job: number, 
/**
 * `import` | `prelabel` | `export`
 */
kind: string, 
/**
 * By kind: `ImportProgress`, `PrelabelProgress` or [`ExportProgress`].
 */
progress: ImportProgress | PrelabelProgress | ExportProgress, };

/**
 * A label class of the project.
 */
export type LabelClass = { id: ClassId, name: string, 
/**
 * `#rrggbb`.
 */
color: string, 
/**
 * A single key that picks the class while annotating.
 */
hotkey: string | null, 
/**
 * Order in the class list and in exports (class index = rank by position).
 */
position: number, };

/**
 * The label states of the project's images.
 */
export type LabelStateCount = { state: ImageLabelState, images: number, };

/**
 * `labels_changed`: annotations or label states of these images changed (empty after an undo
 * or redo: any image may have).
 */
export type LabelsChanged = { 
/**
 * Sorted, without duplicates.
 */
images: Array<ImageId>, };

/**
 * `conditions_set_matching`: a person's condition `key` = `value` on every image `query`
 * matches, in one transaction.
 */
export type MatchingConditionArgs = { query: ImageQuery, key: string, value: string, };

/**
 * `image_state_set_matching`: the label state of every image `query` matches (the catalog's
 * "select all" under filters, however many), in one undo step.
 */
export type MatchingStateArgs = { query: ImageQuery, state: ImageLabelState, };

/**
 * No arguments: `{}` (or `null`).
 */
export type NoArgs = Record<string, never>;

/**
 * `project_open`, `project_create`: the project's folder.
 */
export type PathArgs = { path: string, };

/**
 * An expert's decision on one prediction.
 */
export type PredictionDecision = { prediction: number, 
/**
 * Accept (it becomes an annotation) or reject (kept as a rejected annotation, so it is not
 * asked again and never exported).
 */
accept: boolean, 
/**
 * Accept it as this class instead of the model's (recorded as corrected).
 */
class?: string | null, };

/**
 * A progress event of a running pre-label job.
 */
export type PrelabelProgress = { run: number, 
/**
 * Images this job has to do (finished ones of an earlier attempt excluded).
 */
images_total: number, 
/**
 * Images committed so far by this job.
 */
images_done: number, problems: number, 
/**
 * Boxes at or above the display threshold so far.
 */
detections_shown: number, elapsed_ms: number, rate_images_per_s: number, eta_s: number | null, };

/**
 * What to pre-label and how.
 */
export type PrelabelRequest = { 
/**
 * An Ultralytics ONNX export, or safetensors with its model card. `None`: the default model.
 */
model?: string | null, 
/**
 * Which images (filters of [`ImageQuery`]; paging fields are ignored). Missing files are
 * always skipped.
 */
images?: ImageQuery, batch_size?: number, 
/**
 * `f32`, `f16` or `bf16`.
 */
precision?: string, 
/**
 * `cpu`, `cuda` or `cuda:N`.
 */
device?: string, 
/**
 * Also run on the horizontally flipped image and store those boxes (for uncertainty).
 */
flip_tta?: boolean, keep_threshold?: number, display_threshold?: number, iou_threshold?: number, max_detections?: number, 
/**
 * Decode threads; 0: one per core.
 */
decode_threads?: number, };

/**
 * Where a pre-label job's time went. The decode threads work in parallel with the model, so
 * their figures are summed over the threads; the others are the job thread's own (model,
 * decoding its output, storing, and waiting for decoded images).
 */
export type PrelabelStages = { decode_threads: number, 
/**
 * Reading and decoding files (DCT-scaled), summed over the decode threads.
 */
decode_ms: number, 
/**
 * Resizing into the model's letterbox, summed over the decode threads.
 */
letterbox_ms: number, 
/**
 * The model's forward passes (flip TTA included).
 */
forward_ms: number, 
/**
 * Boxes, NMS, masks and embeddings from the model's output.
 */
postprocess_ms: number, 
/**
 * Committing results to the catalog.
 */
store_ms: number, 
/**
 * The job thread waiting for decoded images: how long the model had nothing to do.
 */
wait_ms: number, 
/**
 * CPU time of the whole process (every thread, user + system) during the job.
 */
cpu_ms: number, 
/**
 * Cores available to the process.
 */
cores: number, 
/**
 * `cpu_ms / (elapsed_ms * cores)`: 1.0 when every core was busy all the time; `None`
 * where the system does not report process CPU time.
 */
cpu_utilisation: number | null, };

/**
 * `prelabel_start`: what to pre-label and how (default: every image, the default model).
 */
export type PrelabelStartArgs = { request?: PrelabelRequest | null, };

export type PrelabelStatus = "finished" | "finished_with_problems" | "cancelled";

/**
 * How a pre-label job ended.
 */
export type PrelabelSummary = { run: number, model: string, weights_hash: string, status: PrelabelStatus, 
/**
 * True when the run existed and this job continued it.
 */
resumed: boolean, 
/**
 * Images already finished by the run before this job.
 */
already_done: number, images_done: number, problems: number, detections_shown: number, elapsed_ms: number, rate_images_per_s: number, 
/**
 * Where the time went.
 */
stages: PrelabelStages, };

/**
 * A file an import could not take.
 */
export type ProblemDto = { job: number, path: string, 
/**
 * Stable code, e.g. `corrupt`, `too_large`, `not_an_image`.
 */
kind: string, message: string, };

/**
 * `project_opened`: a project was opened or created (views reload everything).
 */
export type ProjectOpened = { path: string, };

/**
 * What `lacuna status` shows.
 */
export type ProjectStatus = { project: string, schema_version: number, folders: Array<string>, images: number, images_ok: number, images_missing: number, duplicate_files: number, problems_last_import: number, cameras: Array<CameraCount>, last_import: JobDto | null, };

/**
 * `images`, `images_count`: which images (default: all, first page).
 */
export type QueryArgs = { query?: ImageQuery, };

/**
 * `queue`: the ranked labeling queue (default request: equal weights, 50 items).
 */
export type QueueArgs = { request?: QueueRequest | null, 
/**
 * Hand the picks to the acting person.
 */
assign?: boolean, };

/**
 * One image of the labeling queue.
 */
export type QueueEntry = { rank: number, image: ImageId, 
/**
 * Relative to its import root.
 */
path: string, root: string, score: number, reasons: Array<string>, uncertainty: number, coverage: number, diversity: number, 
/**
 * The condition value whose gap gave the coverage component.
 */
coverage_key: string | null, coverage_value: string | null, labeled_share: number | null, target_share: number | null, pool_share: number | null, nearest_labeled_distance: number | null, uncertainty_rank: number | null, entropy_max: number | null, tta_disagreement: number | null, missed_objects: number | null, };

/**
 * `lacuna queue`.
 */
export type QueueRequest = { weights: Weights, limit: number, 
/**
 * Hand the picks to this person (skipping images someone else holds).
 */
assign_to?: string | null, 
/**
 * The run whose predictions and embeddings count (default: the newest).
 */
run?: RunId | null, };

/**
 * The labeling queue with the coverage it was computed from.
 */
export type QueueResult = { run: RunId | null, pool: number, candidates: number, labeled: number, items: Array<QueueEntry>, };

/**
 * A project opened before.
 */
export type RecentProject = { path: string, 
/**
 * The folder's name.
 */
name: string, opened_at_unix_s: number, 
/**
 * Whether the project is still there (checked when listed).
 */
exists: boolean, };

/**
 * `annotations_review`: annotations by id and their new review state.
 */
export type ReviewArgs = { ids: Array<AnnotationId>, state: ReviewState, };

/**
 * One decision for an expert.
 */
export type ReviewItem = { image: ImageId, path: string, 
/**
 * `uncertain_prediction` | `class_disagreement` | `unlabeled_object`
 */
kind: string, prediction: number | null, annotation: number | null, class: string, score: number, bbox_xyxy_px: [number, number, number, number], 
/**
 * How much the decision matters, 0..1 (what the list is ordered by).
 */
importance: number, reason: string, };

/**
 * `review_queue`: the score band and size (default: 0.3..0.6, 50 items).
 */
export type ReviewQueueArgs = { request?: ReviewRequest | null, };

/**
 * `lacuna review-queue`.
 */
export type ReviewRequest = { 
/**
 * Predictions scoring in `low..high` are worth an expert's look.
 */
band: [number, number], limit: number, assign_to?: string | null, run?: RunId | null, };

/**
 * Where an annotation stands in review.
 */
export type ReviewState = "unreviewed" | "accepted" | "rejected" | "corrected";

/**
 * COCO run-length encoding of a mask.
 */
export type Rle = { height_px: number, width_px: number, 
/**
 * Alternating run lengths, zeros first, column-major.
 */
counts: Array<number>, };

/**
 * A pre-labeling run as listed.
 */
export type RunDto = { id: number, model: string, weights_hash: string, status: string, device: string, precision: string, batch_size: number, keep_threshold: number, display_threshold: number, iou_threshold: number, flip_tta: boolean, images_done: number, problems: number, error: string | null, started_at_unix_s: number, finished_at_unix_s: number | null, };

/**
 * Row id of a pre-labeling run: a model with fixed parameters.
 */
export type RunId = number;

/**
 * A job as listed by `jobs_running`.
 */
export type RunningJob = { job: number, 
/**
 * `import` | `prelabel` | `export`
 */
kind: string, started_at_unix_s: number, 
/**
 * The latest progress event's payload.
 */
progress: ImportProgress | PrelabelProgress | ExportProgress | null, cancelling: boolean, };

/**
 * `images_seek`: where the page at position `index` of `query`'s ordering starts.
 */
export type SeekArgs = { query?: ImageQuery, 
/**
 * 0-based position of the page's first image.
 */
index: number, };

/**
 * A dataset split.
 */
export type Split = "train" | "val" | "test";

/**
 * An image whose split differs.
 */
export type SplitChange = { path: string, before: Split, after: Split, };

/**
 * Split ratios and grouping of a version.
 */
export type SplitConfig = { train: number, val: number, test: number, group_by: GroupBy, };

/**
 * The id of a job just started (its events carry it; `job_cancel` takes it).
 */
export type Started = { job: number, };

/**
 * `image_state_set`: images and their new label state.
 */
export type StateArgs = { images: Array<ImageId>, state: ImageLabelState, };

/**
 * `coverage_target_set`: the target share of `key = value` (no `share`: back to the pool's).
 */
export type TargetArgs = { key: string, value: string, share?: number | null, };

/**
 * `lacuna version diff A B`.
 */
export type VersionDiffDto = { from: VersionDto, to: VersionDto, counts: DiffCounts, 
/**
 * Class-change counts: `(before, after) -> n`.
 */
class_changes: { [key in string]: number }, images_added: Array<string>, images_removed: Array<string>, split_changes: Array<SplitChange>, annotations_added: Array<AnnotationOnly>, annotations_removed: Array<AnnotationOnly>, annotations_changed: Array<AnnotationChange>, 
/**
 * True when some lists were cut at `max_details`.
 */
truncated: boolean, };

/**
 * A version as shown to users.
 */
export type VersionDto = { id: string, 
/**
 * The first 12 hex digits (what lists show; any unique prefix works as a reference).
 */
short_id: string, name: string, parent: string | null, notes: string, split: SplitConfig, classes: Array<string>, images: number, annotations: number, created_by: string, created_at_unix_s: number, };

/**
 * How much each signal counts (any non-negative numbers; they are normalised).
 */
export type Weights = { uncertainty: number, coverage: number, diversity: number, };
