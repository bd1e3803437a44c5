// Every backend call the annotation view makes, in one place, in the shapes of the command
// table (crates/app/src/commands.rs). The author is never passed: the backend knows who acts.

import type { Backend } from '../lib/api/backend';
import type { ActionSummary, Annotation, AnnotationId, Geometry, ImageId, LabelClass, Prediction } from '../lib/api/types';
import { geometryBBox } from '../lib/canvas/geometry';
import { client } from '../lib/client';
import type { ClassDto, ImagePrediction } from '../lib/dto';

export interface ImageLabels {
  annotations: Annotation[];
  /** The open predictions in the editor's form (boxes; a mask prediction shows as its box). */
  predictions: Prediction[];
  classes: ClassDto[];
  /** Why predictions could not be loaded, if they could not (the view still works without them). */
  predictionsError: string | null;
}

/** An `image_predictions` item as the editor draws it (a box, or its mask), named by the model's class. */
export function toEditorPrediction(p: ImagePrediction, classes: readonly ClassDto[]): Prediction {
  const b = geometryBBox(p.geometry);
  const cls = classes.find((c) => c.name.toLowerCase() === p.class.toLowerCase());
  return {
    id: p.id,
    class_id: cls?.id ?? -1,
    class_name: cls?.name ?? p.class,
    score: p.score,
    bbox_xyxy_px: [b.x0, b.y0, b.x1, b.y1],
    ...(p.geometry.kind === 'box' ? {} : { geometry: p.geometry }),
  };
}

/** The class to send with an accept: none when it is the model's own (case aside). */
export function acceptClass(prediction: Prediction, className: string | null): string | null {
  if (className === null) return null;
  return prediction.class_name !== null && prediction.class_name.toLowerCase() === className.toLowerCase() ? null : className;
}

export function annotateActions(backend: Backend) {
  const api = client(backend);
  return {
    async load(image: ImageId): Promise<ImageLabels> {
      const [annotations, classes] = await Promise.all([api.annotations(image), api.classes()]);
      let predictions: Prediction[] = [];
      let predictionsError: string | null = null;
      try {
        predictions = (await api.imagePredictions(image)).map((p) => toEditorPrediction(p, classes));
      } catch (e) {
        predictionsError = e instanceof Error ? e.message : String(e);
      }
      return { annotations, predictions, classes, predictionsError };
    },

    add(image: ImageId, className: string, geometry: Geometry): Promise<Annotation[]> {
      return api.annotationsAdd([{ image, class: className, geometry }]);
    },

    editGeometry(id: AnnotationId, geometry: Geometry): Promise<Annotation> {
      return api.annotationEdit(id, { geometry });
    },

    changeClass(id: AnnotationId, className: string): Promise<Annotation> {
      return api.annotationEdit(id, { class: className });
    },

    async remove(ids: AnnotationId[]): Promise<void> {
      await api.annotationsDelete(ids);
    },

    async review(ids: AnnotationId[], state: 'accepted' | 'rejected'): Promise<void> {
      await api.annotationsReview(ids, state);
    },

    /** Accepts a prediction (as `className` when that is not the model's class): one annotation, one undo step. */
    acceptPrediction(prediction: Prediction, className: string | null): Promise<Annotation[]> {
      const cls = acceptClass(prediction, className);
      return api.predictionsDecide([{ prediction: prediction.id, accept: true, ...(cls !== null ? { class: cls } : {}) }]);
    },

    /** Rejects a prediction: kept as a rejected annotation, never asked again, never exported. */
    /** Several predictions accepted as the model's classes, in one undo step. */
    acceptPredictions(predictions: readonly Prediction[]): Promise<Annotation[]> {
      return api.predictionsDecide(predictions.map((p) => ({ prediction: p.id, accept: true })));
    },
    rejectPrediction(predictionId: number): Promise<Annotation[]> {
      return api.predictionsDecide([{ prediction: predictionId, accept: false }]);
    },

    /** The image is done: every object on it is annotated. */
    async markDone(image: ImageId): Promise<void> {
      await api.imageStateSet([image], 'labeled');
    },

    /** A new class (for a project that has none yet, or one more). */
    async createClass(name: string): Promise<void> {
      await api.classCreate(name);
    },

    undo(): Promise<ActionSummary | null> {
      return api.undo();
    },

    redo(): Promise<ActionSummary | null> {
      return api.redo();
    },
  };
}

export type AnnotateActions = ReturnType<typeof annotateActions>;

/** Backend event after which the view reloads its image's labels. */
export const LABELS_CHANGED_EVENT = 'labels_changed';

/**
 * The images a `labels_changed` payload names; null means "any image" (undo / redo send an
 * empty list, as the journal knows which images they touched but the event does not say).
 */
export function changedImages(payload: unknown): ImageId[] | null {
  const images = (payload as { images?: unknown } | null)?.images;
  if (!Array.isArray(images) || images.length === 0) return null;
  return images.filter((x): x is number => typeof x === 'number');
}

/** Whether two loads of an image's labels show the same thing (so a reload can leave the editor alone). */
export function sameLabels(
  a: { annotations: readonly Annotation[]; predictions: readonly Prediction[] },
  b: { annotations: readonly Annotation[]; predictions: readonly Prediction[] },
): boolean {
  if (a.annotations.length !== b.annotations.length || a.predictions.length !== b.predictions.length) return false;
  const key = (x: Annotation) => `${x.id}|${x.updated_at_unix_s}|${x.review_state}|${x.class}|${JSON.stringify(x.geometry)}`;
  const ka = new Set(a.annotations.map(key));
  if (!b.annotations.every((x) => ka.has(key(x)))) return false;
  const pa = new Set(a.predictions.map((p) => p.id));
  return b.predictions.every((p) => pa.has(p.id));
}

/** Whether two class lists name, colour and order the same classes. */
export function sameClassList(a: readonly LabelClass[], b: readonly LabelClass[]): boolean {
  const key = (c: LabelClass) => `${c.id}|${c.name}|${c.color}|${c.position}`;
  const ka = [...a].map(key).sort();
  const kb = [...b].map(key).sort();
  return ka.length === kb.length && ka.every((x, i) => x === kb[i]);
}
