// Every backend call the annotation view makes, in one place: the command names and argument
// shapes are provisional until the Tauri / HTTP command layer is written, and changing them
// should touch only this file.

import type { Backend } from '../lib/api/backend';
import type {
  ActionSummary,
  Annotation,
  AnnotationId,
  AnnotationInput,
  ClassWithCount,
  Geometry,
  ImageId,
  Prediction,
} from '../lib/api/types';

export interface ImageLabels {
  annotations: Annotation[];
  predictions: Prediction[];
  classes: ClassWithCount[];
  /** Why predictions could not be loaded, if they could not (the view still works without them). */
  predictionsError: string | null;
}

/**
 * The author is not passed: the shell knows who is working (the OS user in the desktop app,
 * the session in `lacuna serve`) and fills it in.
 */
export function annotateActions(backend: Backend) {
  return {
    async load(image: ImageId): Promise<ImageLabels> {
      const [annotations, classes] = await Promise.all([
        backend.call<Annotation[]>('annotations', { image }),
        backend.call<ClassWithCount[]>('classes'),
      ]);
      let predictions: Prediction[] = [];
      let predictionsError: string | null = null;
      try {
        predictions = await backend.call<Prediction[]>('image_predictions', { image });
      } catch (e) {
        predictionsError = e instanceof Error ? e.message : String(e);
      }
      return { annotations, predictions, classes, predictionsError };
    },

    add(image: ImageId, className: string, geometry: Geometry): Promise<Annotation[]> {
      const inputs: AnnotationInput[] = [{ image, class: className, geometry }];
      return backend.call<Annotation[]>('add_annotations', { inputs });
    },

    editGeometry(id: AnnotationId, geometry: Geometry): Promise<Annotation> {
      return backend.call<Annotation>('edit_annotation', { id, edit: { geometry } });
    },

    changeClass(id: AnnotationId, className: string): Promise<Annotation> {
      return backend.call<Annotation>('edit_annotation', { id, edit: { class: className } });
    },

    remove(ids: AnnotationId[]): Promise<void> {
      return backend.call<void>('delete_annotations', { ids });
    },

    review(ids: AnnotationId[], state: 'accepted' | 'rejected'): Promise<void> {
      return backend.call<void>('review', { ids, state });
    },

    /**
     * A raw prediction accepted as an annotation. Until a command adopts one prediction by
     * id (keeping its run and score as provenance), it is added as a box of its class.
     */
    acceptPrediction(image: ImageId, prediction: Prediction, className: string): Promise<Annotation[]> {
      const [x0, y0, x1, y1] = prediction.bbox_xyxy_px;
      return this.add(image, className, { kind: 'box', x0, y0, x1, y1 });
    },

    undo(): Promise<ActionSummary | null> {
      return backend.call<ActionSummary | null>('undo');
    },

    redo(): Promise<ActionSummary | null> {
      return backend.call<ActionSummary | null>('redo');
    },
  };
}

export type AnnotateActions = ReturnType<typeof annotateActions>;

/** Backend event after which the view reloads its image's labels. */
export const LABELS_CHANGED_EVENT = 'labels_changed';
