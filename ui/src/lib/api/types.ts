// Hand-written mirrors of the backend's serde types (crates/core/src/annotation.rs,
// crates/api/src/{error,labels}.rs). They live in this one file so they can be replaced
// wholesale by types generated from the Rust definitions.

/** Row ids are i64 in Rust; they stay well inside 2^53. */
export type ImageId = number;
export type AnnotationId = number;
export type ClassId = number;
export type RunId = number;
export type ActionId = number;

/** `[x, y]` in image pixels. */
export type Point = [number, number];

/** Axis-aligned box, image pixels, origin top-left, `x1`/`y1` exclusive (`x0 <= x1`, `y0 <= y1`). */
export interface BoxGeometry {
  kind: 'box';
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** One object as one or more closed outlines (an occluded object may have several parts). */
export interface PolygonGeometry {
  kind: 'polygon';
  parts: Point[][];
}

/** COCO uncompressed RLE at the image's size: column-major runs, zeros first. */
export interface MaskGeometry {
  kind: 'mask';
  height_px: number;
  width_px: number;
  counts: number[];
}

export type Geometry = BoxGeometry | PolygonGeometry | MaskGeometry;
export type GeometryKind = Geometry['kind'];

/** Flags; absent means false / no tags (serde skips the defaults). */
export interface Attributes {
  occluded?: boolean;
  truncated?: boolean;
  crowd?: boolean;
  tags?: string[];
}

/** `AnnotationSource`, flattened into the annotation with `source` as its tag. */
export type AnnotationSource =
  | { source: 'human' }
  | { source: 'model'; run: RunId; prediction: number | null }
  | { source: 'imported' };

export type ReviewState = 'unreviewed' | 'accepted' | 'rejected' | 'corrected';

export type ImageLabelState =
  | 'unlabeled'
  | 'in_progress'
  | 'labeled'
  | 'labeled_empty'
  | 'reviewed'
  | 'skipped';

export type Annotation = {
  id: AnnotationId;
  image: ImageId;
  class: ClassId;
  geometry: Geometry;
  attributes: Attributes;
  /** The model's score, for annotations adopted from a prediction. */
  score: number | null;
  author: string;
  review_state: ReviewState;
  reviewer: string | null;
  created_at_unix_s: number;
  updated_at_unix_s: number;
} & AnnotationSource;

/** A model's predicted box on one image. */
export interface Prediction {
  id: number;
  class_id: number;
  /** Null when the model's card names no class for this index. */
  class_name: string | null;
  score: number;
  bbox_xyxy_px: [number, number, number, number];
}

export interface LabelClass {
  id: ClassId;
  name: string;
  /** `#rrggbb`, lower case. */
  color: string;
  hotkey: string | null;
  /** Order in the class list and in exports. */
  position: number;
}

/** `ClassDto` (classes): the class with how many annotations use it. */
export type ClassWithCount = LabelClass & { annotations: number };

/** `AnnotationInput` (add_annotations): the class is named, not numbered. */
export interface AnnotationInput {
  image: ImageId;
  class: string;
  geometry: Geometry;
  attributes?: Attributes;
}

/** `AnnotationEdit` (edit_annotation): absent fields stay as they are. */
export interface AnnotationEdit {
  class?: string;
  geometry?: Geometry;
  attributes?: Attributes;
}

/** What undo / redo did; the backend returns null when there was nothing to do. */
export interface ActionSummary {
  action: ActionId;
  target: ActionId;
  label: string;
  events: number;
}

/** `ErrorCode`: the UI branches on these, never on message text. */
export type ErrorCode =
  | 'project_not_found'
  | 'project_exists'
  | 'catalog_too_new'
  | 'catalog_corrupt'
  | 'path_not_found'
  | 'invalid_input'
  | 'not_found'
  | 'model_not_found'
  | 'model_invalid'
  | 'out_of_memory'
  | 'conflict'
  | 'job_running'
  | 'cancelled'
  | 'io'
  | 'internal';

/** The body of a failed call. */
export interface ApiErrorBody {
  code: ErrorCode;
  message: string;
}
