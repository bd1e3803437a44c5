// The review grid without the DOM: prediction crops from `review_queue`, one focused, one key
// press = one decision = one round trip. Decided items leave the grid at once (they come back,
// with the error, if the call fails); the grid is topped up from the backend as it empties.

import { ApiError } from '../lib/api/backend';
import type { Client } from '../lib/client';
import type { ClassDto, ReviewItem } from '../lib/dto';

export const REVIEW_BAND: [number, number] = [0.3, 0.6];
export const REVIEW_LIMIT = 100;
/** Fewer items than this left: ask for more. */
export const REFILL_BELOW = 20;
/** Decisions per minute are counted over this window. */
export const RATE_WINDOW_MS = 5 * 60_000;

export type Decision = { kind: 'accept' } | { kind: 'reject' } | { kind: 'class'; className: string };

/** A backend call: the command and its arguments, as the command table takes them. */
export interface Request {
  command: 'predictions_decide' | 'annotation_edit';
  args: Record<string, unknown>;
}

/** Stable key of an item: its prediction (every review item has one), else its annotation. */
export function itemKey(item: ReviewItem): string {
  return item.prediction !== null ? `p${item.prediction}` : `a${item.annotation ?? 'none'}:${item.image}`;
}

/**
 * The one call a decision makes.
 *
 * For a prediction nobody annotated (`uncertain_prediction`, `unlabeled_object`): accept,
 * reject or accept-as-another-class the prediction (`predictions_decide`).
 *
 * For a `class_disagreement` (an annotation overlaps a confident prediction of another class):
 * accepting means "the model's class is right", so the annotation gets that class
 * (`annotation_edit`) — accepting the prediction itself would add a second annotation on the
 * same object; rejecting means "the annotation is right" (the prediction is rejected); c + 1–9
 * gives the annotation the chosen class.
 */
export function decisionRequest(item: ReviewItem, d: Decision): Request | null {
  if (item.kind === 'class_disagreement' && item.annotation !== null) {
    if (d.kind === 'accept') return { command: 'annotation_edit', args: { id: item.annotation, edit: { class: item.class } } };
    if (d.kind === 'class') return { command: 'annotation_edit', args: { id: item.annotation, edit: { class: d.className } } };
  }
  if (item.prediction === null) return null;
  if (d.kind === 'reject') return { command: 'predictions_decide', args: { decisions: [{ prediction: item.prediction, accept: false }] } };
  if (d.kind === 'accept') return { command: 'predictions_decide', args: { decisions: [{ prediction: item.prediction, accept: true }] } };
  const same = d.className.toLowerCase() === item.class.toLowerCase();
  return { command: 'predictions_decide', args: { decisions: [{ prediction: item.prediction, accept: true, ...(same ? {} : { class: d.className }) }] } };
}

/** Focus after an arrow key in a grid of `columns`, clamped to the items. */
export function moveFocus(focus: number, count: number, columns: number, dir: 'left' | 'right' | 'up' | 'down'): number {
  if (count === 0) return 0;
  const c = Math.max(1, columns);
  const next = dir === 'left' ? focus - 1 : dir === 'right' ? focus + 1 : dir === 'up' ? focus - c : focus + c;
  if (next < 0) return dir === 'up' ? focus : 0;
  if (next >= count) return dir === 'down' ? focus : count - 1;
  return next;
}

/** Decisions in the last `window` ms, per minute (over the time actually covered, at least a minute). */
export function decisionsPerMinute(times: readonly number[], now: number, window = RATE_WINDOW_MS): number {
  const recent = times.filter((t) => t > now - window && t <= now);
  const first = recent[0];
  if (first === undefined) return 0;
  const span = Math.max(60_000, now - first);
  return (recent.length * 60_000) / span;
}

export interface ReviewSnapshot {
  items: ReviewItem[];
  focus: number;
  /** `c` was pressed: the next 1–9 picks the class. */
  choosingClass: boolean;
  decided: number;
  failed: number;
  alreadyDecided: number;
  loading: boolean;
  /** The backend had nothing more to give the last time it was asked. */
  exhausted: boolean;
  message: string | null;
  /** The latest failed decision. */
  error: string | null;
  /** Why the items could not be loaded. */
  loadError: string | null;
}

export class ReviewModel {
  items: ReviewItem[] = [];
  focus = 0;
  choosingClass = false;
  classes: ClassDto[] = [];
  decided = 0;
  failed = 0;
  /** Decisions the backend refused because the prediction was decided already. */
  alreadyDecided = 0;
  loading = false;
  exhausted = false;
  message: string | null = null;
  error: string | null = null;
  loadError: string | null = null;
  /** When each decision was made (ms). */
  readonly times: number[] = [];
  /** Items decided (or being decided) here: a refill does not bring them back. */
  private readonly done = new Set<string>();
  private readonly listeners = new Set<() => void>();
  private refilling: Promise<void> | null = null;

  constructor(
    private readonly api: Pick<Client, 'reviewQueue' | 'classes' | 'backend'>,
    private readonly now: () => number = () => Date.now(),
    private readonly band: [number, number] = REVIEW_BAND,
  ) {}

  onChange(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  snapshot(): ReviewSnapshot {
    return {
      items: this.items,
      focus: this.focus,
      choosingClass: this.choosingClass,
      decided: this.decided,
      failed: this.failed,
      alreadyDecided: this.alreadyDecided,
      loading: this.loading,
      exhausted: this.exhausted,
      message: this.message,
      error: this.error,
      loadError: this.loadError,
    };
  }

  /** Loads classes and the first items. */
  async start(): Promise<void> {
    try {
      this.classes = [...(await this.api.classes())].sort((a, b) => a.position - b.position || a.id - b.id);
    } catch (e) {
      this.message = `Cannot load the classes (c + 1–9 will not work): ${text(e)}`;
    }
    await this.refill();
  }

  /** Asks for the review queue again and adds what is neither shown nor decided. */
  refill(): Promise<void> {
    if (this.refilling) return this.refilling;
    this.loading = true;
    this.changed();
    this.refilling = (async () => {
      try {
        const got = await this.api.reviewQueue(this.band, REVIEW_LIMIT);
        const shown = new Set(this.items.map(itemKey));
        const fresh = got.filter((i) => !shown.has(itemKey(i)) && !this.done.has(itemKey(i)));
        this.items = [...this.items, ...fresh];
        this.exhausted = fresh.length === 0;
        this.loadError = null;
      } catch (e) {
        this.loadError = text(e);
      } finally {
        this.loading = false;
        this.refilling = null;
        this.changed();
      }
    })();
    return this.refilling;
  }

  focused(): ReviewItem | null {
    return this.items[this.focus] ?? null;
  }

  setFocus(i: number): void {
    this.focus = Math.max(0, Math.min(i, this.items.length - 1));
    this.choosingClass = false;
    this.changed();
  }

  move(dir: 'left' | 'right' | 'up' | 'down', columns: number): void {
    this.setFocus(moveFocus(this.focus, this.items.length, columns, dir));
  }

  startClassChoice(): void {
    if (!this.focused()) return;
    if (this.classes.length === 0) {
      this.message = 'The project has no classes to choose from.';
    } else {
      this.choosingClass = true;
      this.message = `Press 1–${Math.min(9, this.classes.length)} for the class.`;
    }
    this.changed();
  }

  cancelClassChoice(): void {
    this.choosingClass = false;
    this.message = null;
    this.changed();
  }

  /** 1–9 after `c`. Returns the decision's promise (null when the key meant nothing). */
  pickClass(n: number): Promise<void> | null {
    if (!this.choosingClass) return null;
    this.choosingClass = false;
    const cls = this.classes[n - 1];
    if (!cls) {
      this.message = `There is no class ${n}.`;
      this.changed();
      return null;
    }
    return this.decide({ kind: 'class', className: cls.name });
  }

  /** One decision on the focused item: it leaves the grid now, the call goes out. */
  decide(d: Decision): Promise<void> | null {
    const item = this.focused();
    if (!item) return null;
    const req = decisionRequest(item, d);
    if (!req) {
      this.message = 'This item names no prediction to decide.';
      this.changed();
      return null;
    }
    const key = itemKey(item);
    const at = this.focus;
    this.done.add(key);
    this.items = this.items.filter((_, i) => i !== at);
    if (this.focus >= this.items.length) this.focus = Math.max(0, this.items.length - 1);
    this.choosingClass = false;
    this.message = null;
    this.changed();
    const promise = this.api.backend
      .call(req.command, req.args)
      .then(() => {
        this.decided++;
        this.times.push(this.now());
        this.message = `${describeDecision(d, item)}: ${item.path}`;
      })
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.code === 'conflict') {
          // Someone (or an earlier session: review_queue still lists decided predictions)
          // decided it already: it stays out of the grid.
          this.alreadyDecided++;
          this.message = `Already decided before: ${item.path} (${text(e)})`;
          return;
        }
        // Back where it was, with what went wrong.
        this.done.delete(key);
        this.failed++;
        this.items = [...this.items.slice(0, at), item, ...this.items.slice(at)];
        this.error = `Not saved (${item.path}): ${text(e)}`;
      })
      .finally(() => this.changed());
    if (this.items.length < REFILL_BELOW && !this.exhausted) void this.refill();
    return promise;
  }

  rate(): number {
    return decisionsPerMinute(this.times, this.now());
  }

  private changed(): void {
    for (const l of [...this.listeners]) l();
  }
}

function describeDecision(d: Decision, item: ReviewItem): string {
  if (d.kind === 'reject') return `Rejected ${item.class}`;
  if (d.kind === 'class') return `Set to ${d.className}`;
  return item.kind === 'class_disagreement' ? `Annotation set to ${item.class}` : `Accepted ${item.class}`;
}

function text(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---- crops ---------------------------------------------------------------------------------

export interface CropRect {
  sx: number;
  sy: number;
  sw: number;
  sh: number;
}

/**
 * The part of the image to show for a box: the box with `margin` (a fraction of its size) on
 * every side, at least `minSide` px, squared up so thin boxes keep some context, clamped to
 * the image.
 */
export function cropRect(bbox: readonly [number, number, number, number], imageW: number, imageH: number, margin = 0.25, minSide = 48): CropRect {
  const [x0, y0, x1, y1] = bbox;
  const bw = Math.max(1, x1 - x0);
  const bh = Math.max(1, y1 - y0);
  const side = Math.max(minSide, bw * (1 + 2 * margin), bh * (1 + 2 * margin));
  const sw = Math.min(imageW, side);
  const sh = Math.min(imageH, side);
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const sx = Math.min(Math.max(0, cx - sw / 2), Math.max(0, imageW - sw));
  const sy = Math.min(Math.max(0, cy - sh / 2), Math.max(0, imageH - sh));
  return { sx, sy, sw, sh };
}

export interface CropPlacement {
  /** Where the crop goes on a `size`×`size` canvas (letterboxed). */
  dx: number;
  dy: number;
  dw: number;
  dh: number;
  /** The box, in canvas pixels. */
  box: { x: number; y: number; w: number; h: number };
}

export function placeCrop(crop: CropRect, bbox: readonly [number, number, number, number], size: number): CropPlacement {
  const scale = size / Math.max(crop.sw, crop.sh);
  const dw = crop.sw * scale;
  const dh = crop.sh * scale;
  const dx = (size - dw) / 2;
  const dy = (size - dh) / 2;
  const [x0, y0, x1, y1] = bbox;
  return {
    dx,
    dy,
    dw,
    dh,
    box: { x: dx + (x0 - crop.sx) * scale, y: dy + (y0 - crop.sy) * scale, w: (x1 - x0) * scale, h: (y1 - y0) * scale },
  };
}
