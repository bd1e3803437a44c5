// The backend's serde types as the UI names them. Every type the Rust side defines comes from
// ./generated (written from the Rust types by scripts/gen-ts-types.sh: never edit those files;
// scripts/check-ts-types.sh fails when they are stale). This file re-exports them all, adds the
// names the UI used before they were generated, and keeps the few UI-only helper types.
//
// Note: the generated `ApiError` is the error *body* `{ code, message }` (also `ApiErrorBody`
// here); the `ApiError` class the backend calls throw is in ./backend.

import type { ApiError, ClassDto, Geometry } from './generated';

export type * from './generated';

/** `ClassDto` (`classes`): a class with how many annotations use it. */
export type ClassWithCount = ClassDto;

/** The body of a failed call: `ApiError` as the backend serialises it. */
export type ApiErrorBody = ApiError;

/** `[x, y]` in image pixels. */
export type Point = [number, number];

/** Axis-aligned box, image pixels, origin top-left (`x0 <= x1`, `y0 <= y1`). */
export type BoxGeometry = Extract<Geometry, { kind: 'box' }>;

/** One object as one or more closed outlines (an occluded object may have several parts). */
export type PolygonGeometry = Extract<Geometry, { kind: 'polygon' }>;

/** COCO uncompressed RLE at the image's size: column-major runs, zeros first. */
export type MaskGeometry = Extract<Geometry, { kind: 'mask' }>;

export type GeometryKind = Geometry['kind'];

/**
 * A model's prediction as the editor draws it: a box, with the project's class when one has
 * the model's class name. UI-only: made from an `ImagePrediction` (the `image_predictions`
 * answer) by the annotate view.
 */
export interface Prediction {
  id: number;
  class_id: number;
  /** Null when the model's card names no class for this index. */
  class_name: string | null;
  score: number;
  bbox_xyxy_px: [number, number, number, number];
  /** A segmentation model's mask (or outline); absent for a box, which `bbox_xyxy_px` is. */
  geometry?: Geometry;
}
