// The annotation editor's state, without the DOM: what is on the image, what is selected,
// which tool is in hand, and what each pointer event or shortcut changes. The view feeds it
// events in image pixels, redraws what it says, and sends its requests to the backend.

import type { Annotation, AnnotationId, ClassId, Geometry, LabelClass, Prediction } from './api/types';
import { geometryBBox, GridIndex } from './canvas/geometry';
import { hitTest } from './canvas/hit';
import type { OverlayState, Scene, SceneShape } from './canvas/render';
import {
  BoxDrawTool,
  BoxEditTool,
  type Commit,
  MaskPaintTool,
  PolygonDrawTool,
  PolygonEditTool,
  type Preview,
  type Tool,
  type ToolContext,
  type ToolPointer,
  type ToolResult,
} from './canvas/tools';
import type { Scope } from './keys';

export type ToolName = 'box' | 'polygon' | 'brush' | 'eraser';

export type EditorShape =
  | { type: 'annotation'; annotation: Annotation }
  | { type: 'prediction'; prediction: Prediction };

/** What the backend must be told. The editor has already shown the change. */
export type EditorRequest =
  | { kind: 'create'; geometry: Geometry; classId: ClassId }
  | { kind: 'update'; annotationId: AnnotationId; geometry: Geometry }
  | { kind: 'changeClass'; annotationId: AnnotationId; classId: ClassId }
  | { kind: 'delete'; annotationIds: AnnotationId[] }
  | { kind: 'review'; annotationIds: AnnotationId[]; state: 'accepted' | 'rejected' }
  /** With `geometry`: the prediction was moved or resized before it was accepted (accepted, then edited). */
  | { kind: 'acceptPrediction'; prediction: Prediction; classId: ClassId | null; geometry?: Geometry }
  /** Every proposal on the image: raw predictions accepted as the model's class, model annotations marked accepted. */
  | { kind: 'acceptAll'; predictions: Prediction[]; annotationIds: AnnotationId[] };

export interface EditorUpdate {
  /** Which layers to redraw: the overlay only during a drag, both when shapes change. */
  redraw: 'none' | 'overlay' | 'all';
  request?: EditorRequest;
  note?: string;
}

const NONE: EditorUpdate = { redraw: 'none' };
const PREDICTION_COLOR = '#cccccc';
const BRUSH_STEP = 1.25;

/** Whether an annotation is a model's proposal still waiting for a person's decision. */
export function isPendingPrediction(a: Annotation): boolean {
  return a.source === 'model' && a.review_state === 'unreviewed';
}

export class AnnotationEditor {
  imageWidth: number;
  imageHeight: number;
  classes: LabelClass[] = [];
  currentClass: ClassId | null = null;
  shapes: EditorShape[] = [];
  scene: Scene = { shapes: [], index: new GridIndex(64) };
  selected: number | null = null;
  hover: number | null = null;
  tool: ToolName = 'box';
  brushRadius = 8;
  /** The next 1–9 changes the selected shape's class instead of the class for new shapes. */
  changingClass = false;
  private annotations: Annotation[] = [];
  private predictions: Prediction[] = [];
  /** Predictions dismissed with `r` in this session (raw predictions have no review state). */
  private readonly dismissed = new Set<number>();
  private gesture: Tool | null = null;
  /** The tool bound to the selected shape (edit handles, mask painting). */
  private editTool: Tool | null = null;
  private preview: Preview | null = null;
  private editing: Geometry | null = null;
  private pointer: ToolPointer | null = null;
  private scale = 1;

  constructor(imageWidth: number, imageHeight: number) {
    this.imageWidth = imageWidth;
    this.imageHeight = imageHeight;
  }

  /** New data for the image (after loading, undo, redo). Keeps the selection if the shape still exists. */
  setData(annotations: Annotation[], predictions: Prediction[], classes: LabelClass[]): void {
    this.cancelGesture();
    const keep = this.selectedShape();
    this.annotations = annotations;
    this.predictions = predictions;
    this.classes = [...classes].sort((a, b) => a.position - b.position || a.id - b.id);
    if (this.currentClass === null || !this.classes.some((c) => c.id === this.currentClass)) {
      this.currentClass = this.classes[0]?.id ?? null;
    }
    this.rebuild();
    this.reselect(keep, false);
  }

  /** Shapes the backend created from a request: shown, and (with `select`) the first one selected. */
  applyCreated(created: Annotation[], select = true): EditorUpdate {
    const keep = this.selectedShape();
    this.annotations = [...this.annotations, ...created];
    this.rebuild();
    const first = created[0];
    this.reselect(select && first ? { type: 'annotation', annotation: first } : keep);
    return { redraw: 'all' };
  }

  /** The stored form of an annotation the backend returned after an edit. */
  applyUpdated(a: Annotation): EditorUpdate {
    const keep = this.selectedShape();
    this.annotations = this.annotations.map((x) => (x.id === a.id ? a : x));
    this.rebuild();
    this.reselect(keep);
    return { redraw: 'all' };
  }

  get annotationList(): readonly Annotation[] {
    return this.annotations;
  }

  selectedShape(): EditorShape | null {
    return this.selected === null ? null : (this.shapes[this.selected] ?? null);
  }

  selectedAnnotation(): Annotation | null {
    const s = this.selectedShape();
    return s?.type === 'annotation' ? s.annotation : null;
  }

  /** Scopes for key dispatch, innermost first. */
  scopes(): Scope[] {
    return this.gesture instanceof PolygonDrawTool && this.gesture.active ? ['drawing', 'annotate', 'global'] : ['annotate', 'global'];
  }

  classColor(id: ClassId | null): string {
    return this.classes.find((c) => c.id === id)?.color ?? PREDICTION_COLOR;
  }

  overlayState(): OverlayState {
    const paint = this.editTool instanceof MaskPaintTool ? this.editTool : this.gesture instanceof MaskPaintTool ? this.gesture : null;
    let preview = this.preview;
    if (!preview && paint?.bitmap && this.selected !== null) preview = { kind: 'mask', mask: paint.bitmap, dirty: null };
    const brush =
      (this.tool === 'brush' || this.tool === 'eraser') && this.pointer
        ? { x: this.pointer.x, y: this.pointer.y, radius: this.brushRadius }
        : null;
    return {
      selected: this.selected,
      editing: this.editing,
      preview,
      previewColor: this.classColor(this.currentClass),
      hover: this.hover,
      vertex: this.editTool instanceof PolygonEditTool ? this.editTool.selectedVertex : null,
      brush,
    };
  }

  private ctx(): ToolContext {
    return { imageWidth: this.imageWidth, imageHeight: this.imageHeight, scale: this.scale };
  }

  pointerDown(p: ToolPointer, scale: number): EditorUpdate {
    this.scale = scale;
    this.pointer = p;
    if (this.gesture?.active) return this.handle(this.gesture, this.gesture.down(p, this.ctx()));
    const ctx = this.ctx();

    if (this.tool === 'brush' || this.tool === 'eraser') return this.paintDown(p);

    // A selected prediction (the view selects one when an image opens) takes a press only
    // where it is the shape the hit test picks: a smaller shape inside it is still selectable.
    const selectedPrediction = this.selectedShape()?.type === 'prediction';
    const hitFirst = selectedPrediction && !p.shift ? hitTest(this.scene.shapes, this.scene.index, p.x, p.y, { scale, selected: this.selected }) : null;
    if (this.editTool && !p.shift && (!hitFirst || hitFirst.shape === this.selected)) {
      const r = this.editTool.down(p, ctx);
      if (!r.ignored) {
        this.gesture = this.editTool;
        return this.handle(this.editTool, r);
      }
    }
    // Shift draws even on top of other shapes (pre-labels cover much of an image).
    const hit = p.shift ? null : hitTest(this.scene.shapes, this.scene.index, p.x, p.y, { scale, selected: this.selected });
    if (hit) {
      const changed = this.select(hit.shape);
      // Press on a shape and drag: select and move it in one gesture.
      const tool = this.editTool;
      if (tool) {
        const r = tool.down(p, ctx);
        if (!r.ignored) {
          this.gesture = tool;
          const u = this.handle(tool, r);
          return changed ? { ...u, redraw: 'all' } : u;
        }
      }
      return { redraw: changed ? 'all' : 'overlay' };
    }
    const deselected = this.select(null);
    const draw = this.tool === 'polygon' ? new PolygonDrawTool() : new BoxDrawTool();
    this.gesture = draw;
    const u = this.handle(draw, draw.down(p, ctx));
    return deselected ? { ...u, redraw: 'all' } : u;
  }

  private paintDown(p: ToolPointer): EditorUpdate {
    const mode = this.tool === 'eraser' ? 'eraser' : 'brush';
    let changed = false;
    if (!(this.editTool instanceof MaskPaintTool && this.editTool.mode === mode)) {
      if (mode === 'eraser' && this.selectedAnnotation()?.geometry.kind !== 'mask') {
        // Nothing selected to erase: erase the mask under the pointer.
        const k = this.maskAt(p);
        if (k === null) return { redraw: 'none', note: 'Select a mask to erase, or press on one.' };
        changed = this.select(k);
      }
      const g = this.selectedAnnotation()?.geometry;
      if (g?.kind === 'mask') {
        this.editTool = new MaskPaintTool(mode, g, this.brushRadius);
      } else {
        // A brush away from a selected mask starts a new one.
        changed = this.select(null) || changed;
        this.editTool = new MaskPaintTool('brush', null, this.brushRadius);
      }
    }
    const tool = this.editTool;
    if (!(tool instanceof MaskPaintTool)) return NONE;
    tool.setRadius(this.brushRadius);
    this.gesture = tool;
    const u = this.handle(tool, tool.down(p, this.ctx()));
    return changed ? { ...u, redraw: 'all' } : u;
  }

  private maskAt(p: ToolPointer): number | null {
    const hits = this.scene.index.queryPoint(p.x, p.y).filter((k) => this.shapes[k]?.type === 'annotation' && this.scene.shapes[k]?.geometry.kind === 'mask');
    return hits.length ? Math.max(...hits) : null;
  }

  pointerMove(p: ToolPointer, scale: number): EditorUpdate {
    this.scale = scale;
    this.pointer = p;
    if (this.gesture?.active) return this.handle(this.gesture, this.gesture.move(p, this.ctx()));
    if (this.tool === 'brush' || this.tool === 'eraser') return { redraw: 'overlay' };
    const hit = hitTest(this.scene.shapes, this.scene.index, p.x, p.y, { scale, selected: this.selected });
    const hover = hit ? hit.shape : null;
    if (hover === this.hover) return NONE;
    this.hover = hover;
    return { redraw: 'overlay' };
  }

  pointerUp(p: ToolPointer, scale: number): EditorUpdate {
    this.scale = scale;
    this.pointer = p;
    // Not `active` alone: a polygon's first click becomes a vertex only on release.
    const g = this.gesture;
    if (!g) return NONE;
    const u = this.handle(g, g.up(p, this.ctx()));
    if (!g.active) this.gesture = null;
    return u;
  }

  /** The pointer left the canvas: no hover, no brush outline. */
  pointerLeave(): EditorUpdate {
    this.pointer = null;
    this.hover = null;
    return { redraw: 'overlay' };
  }

  /** A key for the tool in hand (Enter / Backspace / Escape while drawing). */
  toolKey(key: string): EditorUpdate {
    const tool = this.gesture?.active ? this.gesture : this.editTool;
    if (!tool) return NONE;
    const r = tool.key(key, this.ctx());
    if (r.ignored) return { redraw: 'none', ...(r.note ? { note: r.note } : {}) };
    const u = this.handle(tool, r);
    if (!tool.active && this.gesture === tool) this.gesture = null;
    return u;
  }

  private handle(tool: Tool, r: ToolResult): EditorUpdate {
    const onSelection = tool === this.editTool;
    if (r.preview !== undefined) {
      if (onSelection && r.preview?.kind === 'geometry') {
        this.editing = r.preview.geometry;
        this.preview = null;
      } else {
        this.preview = r.preview;
        if (r.preview === null) this.editing = null;
      }
    }
    const update: EditorUpdate = { redraw: r.ignored ? 'none' : 'overlay', ...(r.note ? { note: r.note } : {}) };
    return r.commit ? { ...update, ...this.commit(r.commit, onSelection) } : update;
  }

  private commit(c: Commit, onSelection: boolean): EditorUpdate {
    this.preview = null;
    this.editing = null;
    switch (c.type) {
      case 'cancel':
        return { redraw: 'overlay' };
      case 'create': {
        if (this.currentClass === null) return { redraw: 'overlay', note: 'Create a class first: new shapes need one.' };
        // A brush that started a new mask lets go of it; the created annotation comes back selected.
        if (this.editTool instanceof MaskPaintTool && this.selected === null) this.editTool = null;
        return { redraw: 'all', request: { kind: 'create', geometry: c.geometry, classId: this.currentClass } };
      }
      case 'update': {
        const s = this.selectedShape();
        if (s?.type === 'prediction' && onSelection) {
          // Fixing a pre-label's extent accepts it with the fixed box, in one gesture.
          const cls = this.classes.find((x) => x.name === s.prediction.class_name);
          this.dismissed.add(s.prediction.id);
          this.selected = null;
          this.rebuild();
          this.bindEditTool(false);
          return { redraw: 'all', request: { kind: 'acceptPrediction', prediction: s.prediction, classId: cls?.id ?? null, geometry: c.geometry } };
        }
        const a = this.selectedAnnotation();
        if (!a || !onSelection) return { redraw: 'overlay' };
        this.replaceAnnotation({ ...a, geometry: c.geometry });
        return { redraw: 'all', request: { kind: 'update', annotationId: a.id, geometry: c.geometry } };
      }
      case 'delete': {
        const a = this.selectedAnnotation();
        if (!a || !onSelection) return { redraw: 'overlay' };
        this.removeAnnotations([a.id]);
        return { redraw: 'all', request: { kind: 'delete', annotationIds: [a.id] } };
      }
    }
  }

  selectTool(name: ToolName): EditorUpdate {
    this.cancelGesture();
    this.tool = name;
    this.bindEditTool(false);
    return { redraw: 'all' };
  }

  pickClass(n: number): EditorUpdate {
    const cls = this.classes[n - 1];
    if (!cls) return { redraw: 'none', note: `There is no class ${n}.` };
    if (this.changingClass) {
      this.changingClass = false;
      const a = this.selectedAnnotation();
      if (!a) return { redraw: 'none', note: 'Select a shape to change its class.' };
      if (a.class === cls.id) return NONE;
      this.replaceAnnotation({ ...a, class: cls.id });
      return { redraw: 'all', request: { kind: 'changeClass', annotationId: a.id, classId: cls.id } };
    }
    this.currentClass = cls.id;
    return { redraw: 'overlay' };
  }

  startChangeClass(): EditorUpdate {
    if (!this.selectedAnnotation()) return { redraw: 'none', note: 'Select a shape to change its class.' };
    this.changingClass = true;
    return { redraw: 'none', note: 'Press 1–9 for the new class.' };
  }

  changeBrush(direction: 1 | -1): EditorUpdate {
    this.brushRadius = Math.min(1000, Math.max(1, direction > 0 ? this.brushRadius * BRUSH_STEP : this.brushRadius / BRUSH_STEP));
    if (this.editTool instanceof MaskPaintTool) this.editTool.setRadius(this.brushRadius);
    return { redraw: 'overlay' };
  }

  deselect(): EditorUpdate {
    this.cancelGesture();
    this.changingClass = false;
    return { redraw: this.select(null) ? 'all' : 'none' };
  }

  /** Delete: the selected polygon point if there is one, else the selected shape. */
  deleteSelection(): EditorUpdate {
    if (this.editTool instanceof PolygonEditTool && this.editTool.selectedVertex) {
      return this.handle(this.editTool, this.editTool.deleteVertex(this.editTool.selectedVertex));
    }
    const s = this.selectedShape();
    if (s?.type === 'prediction') return this.rejectPrediction();
    const a = this.selectedAnnotation();
    if (!a) return NONE;
    this.removeAnnotations([a.id]);
    return { redraw: 'all', request: { kind: 'delete', annotationIds: [a.id] } };
  }

  /** `a`: accept the selected prediction (or annotation), then go on to the next prediction. */
  acceptPrediction(): EditorUpdate {
    const s = this.selectedShape();
    if (!s) return { redraw: 'none', note: 'Select a prediction to accept.' };
    let request: EditorRequest;
    if (s.type === 'prediction') {
      const cls = this.classes.find((c) => c.name === s.prediction.class_name);
      this.dismissed.add(s.prediction.id);
      request = { kind: 'acceptPrediction', prediction: s.prediction, classId: cls?.id ?? null };
    } else {
      this.replaceAnnotation({ ...s.annotation, review_state: 'accepted' });
      request = { kind: 'review', annotationIds: [s.annotation.id], state: 'accepted' };
    }
    this.rebuild();
    this.selectNextProposal();
    return { redraw: 'all', request };
  }

  /** Shift+A: accept every proposal on the image at once (each recorded as accepted by this person). */
  acceptAll(): EditorUpdate {
    const predictions: Prediction[] = [];
    const pending: Annotation[] = [];
    for (const s of this.shapes) {
      if (s.type === 'prediction') predictions.push(s.prediction);
      else if (isPendingPrediction(s.annotation)) pending.push(s.annotation);
    }
    if (predictions.length === 0 && pending.length === 0) return { redraw: 'none', note: 'No predictions to accept on this image.' };
    for (const p of predictions) this.dismissed.add(p.id);
    for (const a of pending) this.replaceAnnotation({ ...a, review_state: 'accepted' });
    this.cancelGesture();
    this.selected = null;
    this.rebuild();
    this.bindEditTool(false);
    const n = predictions.length + pending.length;
    return {
      redraw: 'all',
      note: `Accepted ${n} prediction${n === 1 ? '' : 's'}.`,
      request: { kind: 'acceptAll', predictions, annotationIds: pending.map((a) => a.id) },
    };
  }

  /** `r`: reject the selected prediction (or annotation), then go on to the next prediction. */
  rejectPrediction(): EditorUpdate {
    const s = this.selectedShape();
    if (!s) return { redraw: 'none', note: 'Select a prediction to reject.' };
    let request: EditorRequest | undefined;
    if (s.type === 'prediction') {
      this.dismissed.add(s.prediction.id);
    } else {
      this.replaceAnnotation({ ...s.annotation, review_state: 'rejected' });
      request = { kind: 'review', annotationIds: [s.annotation.id], state: 'rejected' };
    }
    this.rebuild();
    this.selectNextProposal();
    return request ? { redraw: 'all', request } : { redraw: 'all' };
  }

  /**
   * Tab / Shift+Tab: selects the next (or previous) proposal — a raw prediction or a model
   * annotation not yet accepted — after the selected shape, wrapping around. With proposals on
   * an image, accepting the first one is then Tab, a (or one key once the view selects it).
   */
  cycleProposal(step: 1 | -1 = 1): EditorUpdate {
    const proposals = this.shapes.flatMap((s, k) => (this.isProposal(s) ? [k] : []));
    if (proposals.length === 0) return { redraw: 'none', note: 'No predictions to review on this image.' };
    const at = this.selected === null ? -1 : proposals.indexOf(this.selected);
    let next: number;
    if (at >= 0) next = proposals[(at + step + proposals.length) % proposals.length]!;
    else {
      // From a shape that is not a proposal (or none): the nearest proposal in that direction.
      const sel = this.selected;
      const ordered = step > 0 ? proposals : [...proposals].reverse();
      next = ordered.find((k) => sel === null || (step > 0 ? k > sel : k < sel)) ?? ordered[0]!;
    }
    return { redraw: this.select(next) ? 'all' : 'none' };
  }

  private selectNextProposal(): void {
    const next = this.shapes.findIndex((x) => this.isProposal(x));
    // Indexes shifted in the rebuild: whatever `selected` held no longer means the same shape.
    this.selected = null;
    this.select(next >= 0 ? next : null);
  }

  private isProposal(s: EditorShape): boolean {
    return s.type === 'prediction' || isPendingPrediction(s.annotation);
  }

  /** Drops any gesture in progress (Escape, tool switch, image change). */
  cancelGesture(): void {
    this.gesture?.cancel();
    this.gesture = null;
    this.preview = null;
    this.editing = null;
  }

  private removeAnnotations(ids: AnnotationId[]): void {
    this.annotations = this.annotations.filter((a) => !ids.includes(a.id));
    this.selected = null;
    this.editTool = null;
    this.rebuild();
  }

  private replaceAnnotation(a: Annotation): void {
    const keep = this.selectedShape();
    this.annotations = this.annotations.map((x) => (x.id === a.id ? a : x));
    this.rebuild();
    this.reselect(keep);
  }

  /** Selects shape k (null: none); returns whether the selection changed. */
  private select(k: number | null): boolean {
    if (k === this.selected) return false;
    this.cancelGesture();
    this.selected = k;
    this.changingClass = false;
    this.bindEditTool(false);
    return true;
  }

  /**
   * Gives the selected shape its edit tool: handles for boxes and polygons. Paint tools are
   * bound at the next press; `keepPaint` keeps the one already painting the selected mask
   * (its bitmap already holds what the backend is being sent).
   */
  private bindEditTool(keepPaint: boolean): void {
    const s = this.selectedShape();
    // A box prediction has handles too: moving or resizing it accepts it with the new box.
    const g =
      s?.type === 'prediction'
        ? (s.prediction.geometry ?? { kind: 'box' as const, x0: s.prediction.bbox_xyxy_px[0], y0: s.prediction.bbox_xyxy_px[1], x1: s.prediction.bbox_xyxy_px[2], y1: s.prediction.bbox_xyxy_px[3] })
        : this.selectedAnnotation()?.geometry;
    if (this.tool === 'box' || this.tool === 'polygon') {
      this.editTool = g?.kind === 'box' ? new BoxEditTool(g) : g?.kind === 'polygon' ? new PolygonEditTool(g) : null;
    } else if (!(keepPaint && g?.kind === 'mask' && this.editTool instanceof MaskPaintTool)) {
      this.editTool = null;
    }
  }

  /** After a rebuild, finds the same shape again by id (indexes shift). */
  private reselect(keep: EditorShape | null, keepPaint = true): void {
    let k: number | null = null;
    if (keep) {
      const i = this.shapes.findIndex((s) =>
        s.type === 'annotation' && keep.type === 'annotation'
          ? s.annotation.id === keep.annotation.id
          : s.type === 'prediction' && keep.type === 'prediction' && s.prediction.id === keep.prediction.id,
      );
      k = i >= 0 ? i : null;
    }
    if (k !== this.selected) this.changingClass = false;
    this.selected = k;
    this.bindEditTool(keepPaint && k !== null);
  }

  /** Rebuilds shapes, scene and index: predictions underneath, annotations on top. */
  private rebuild(): void {
    const shapes: EditorShape[] = [];
    for (const p of this.predictions) if (!this.dismissed.has(p.id)) shapes.push({ type: 'prediction', prediction: p });
    // Rejected annotations stay in the catalog (and the journal) but are not drawn.
    for (const a of this.annotations) if (a.review_state !== 'rejected') shapes.push({ type: 'annotation', annotation: a });
    const sceneShapes: SceneShape[] = shapes.map((s) => {
      if (s.type === 'prediction') {
        const p = s.prediction;
        const [x0, y0, x1, y1] = p.bbox_xyxy_px;
        const cls = this.classes.find((c) => c.name === p.class_name);
        return {
          // A segmentation model's mask is shown as the mask it is; accepting it makes a mask.
          geometry: p.geometry ?? { kind: 'box', x0, y0, x1, y1 },
          color: cls?.color ?? PREDICTION_COLOR,
          style: 'prediction',
          label: p.class_name ?? `class ${p.class_id}`,
          score: p.score,
        };
      }
      const a = s.annotation;
      const cls = this.classes.find((c) => c.id === a.class);
      return {
        geometry: a.geometry,
        color: cls?.color ?? PREDICTION_COLOR,
        style: isPendingPrediction(a) ? 'prediction' : 'annotation',
        label: cls?.name ?? `class ${a.class}`,
        score: a.score,
      };
    });
    this.shapes = shapes;
    this.scene = { shapes: sceneShapes, index: GridIndex.build(sceneShapes.map((s) => geometryBBox(s.geometry))) };
    if (this.hover !== null && this.hover >= shapes.length) this.hover = null;
  }
}
