// The one list of keyboard shortcuts: the `?` sheet shows it, the views dispatch through it.

/**
 * Where a binding is live. `global` everywhere; `annotate` in the annotation view; `drawing`
 * while a polygon is being drawn, where it shadows `annotate` (Backspace takes back a point
 * instead of going to the previous image).
 */
export type Scope = 'global' | 'annotate' | 'drawing' | 'catalog' | 'review';

/** Every scope (a global binding must not clash with any of them). */
export const SCOPES: readonly Scope[] = ['global', 'annotate', 'drawing', 'catalog', 'review'];

/** Handler names: a view supplies a function per name it supports. */
export type Action =
  | 'toggleSheet'
  | 'pickClass'
  | 'toolBox'
  | 'toolPolygon'
  | 'toolBrush'
  | 'toolEraser'
  | 'brushSmaller'
  | 'brushLarger'
  | 'acceptPrediction'
  | 'rejectPrediction'
  | 'changeClass'
  | 'deselect'
  | 'deleteSelection'
  | 'undo'
  | 'redo'
  | 'next'
  | 'nextProposal'
  | 'acceptAllPredictions'
  | 'acceptAllAndDone'
  | 'previousProposal'
  | 'previous'
  | 'fit'
  | 'zoomIn'
  | 'zoomOut'
  | 'closePolygon'
  | 'removeLastPoint'
  | 'cancelDrawing'
  | 'markDone'
  | 'selectAll'
  | 'clearSelection'
  | 'openImage'
  | 'reviewAccept'
  | 'reviewReject'
  | 'reviewChangeClass'
  | 'reviewPickClass'
  | 'reviewCancel'
  | 'focusLeft'
  | 'focusRight'
  | 'focusUp'
  | 'focusDown';

export interface Binding {
  /** Normalised combos (see `comboFromEvent`), e.g. `ctrl+shift+z`, `n`, `space`, `?`. */
  keys: readonly string[];
  /** How the sheet shows the keys, when the combos themselves would be too long. */
  label?: string;
  description: string;
  group: string;
  action: Action;
  scope: Scope;
}

const DIGITS = ['1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

export const BINDINGS: readonly Binding[] = [
  { keys: ['?'], description: 'Show or hide this sheet', group: 'General', action: 'toggleSheet', scope: 'global' },

  { keys: DIGITS, label: '1–9', description: 'Pick the class for new shapes (after c: change the selected shape to it)', group: 'Classes', action: 'pickClass', scope: 'annotate' },
  { keys: ['c'], description: 'Change the class of the selected shape (then press 1–9)', group: 'Classes', action: 'changeClass', scope: 'annotate' },

  { keys: ['b'], description: 'Box tool', group: 'Tools', action: 'toolBox', scope: 'annotate' },
  { keys: ['p'], description: 'Polygon tool', group: 'Tools', action: 'toolPolygon', scope: 'annotate' },
  { keys: ['m'], description: 'Mask brush', group: 'Tools', action: 'toolBrush', scope: 'annotate' },
  { keys: ['e'], description: 'Mask eraser', group: 'Tools', action: 'toolEraser', scope: 'annotate' },
  { keys: ['['], description: 'Smaller brush', group: 'Tools', action: 'brushSmaller', scope: 'annotate' },
  { keys: [']'], description: 'Larger brush', group: 'Tools', action: 'brushLarger', scope: 'annotate' },

  { keys: ['a'], description: 'Accept the selected prediction', group: 'Review', action: 'acceptPrediction', scope: 'annotate' },
  { keys: ['r'], description: 'Reject the selected prediction', group: 'Review', action: 'rejectPrediction', scope: 'annotate' },
  { keys: ['shift+a'], description: 'Accept every prediction on the image', group: 'Review', action: 'acceptAllPredictions', scope: 'annotate' },
  { keys: ['tab'], description: 'Select the next prediction (an image opens with the first one selected)', group: 'Review', action: 'nextProposal', scope: 'annotate' },
  { keys: ['shift+tab'], description: 'Select the previous prediction', group: 'Review', action: 'previousProposal', scope: 'annotate' },

  { keys: ['escape'], description: 'Deselect', group: 'Editing', action: 'deselect', scope: 'annotate' },
  { keys: ['delete'], description: 'Delete the selected shape (or the selected polygon point)', group: 'Editing', action: 'deleteSelection', scope: 'annotate' },
  { keys: ['ctrl+z'], description: 'Undo', group: 'Editing', action: 'undo', scope: 'annotate' },
  { keys: ['ctrl+shift+z', 'ctrl+y'], description: 'Redo', group: 'Editing', action: 'redo', scope: 'annotate' },

  { keys: ['n', 'space'], description: 'Next image', group: 'Navigation', action: 'next', scope: 'annotate' },
  { keys: ['enter'], description: 'Mark the image done (labeled) and go to the next one', group: 'Navigation', action: 'markDone', scope: 'annotate' },
  { keys: ['shift+enter'], description: 'Accept every prediction left on the image, mark it done and go to the next one', group: 'Navigation', action: 'acceptAllAndDone', scope: 'annotate' },
  { keys: ['shift+n', 'backspace'], description: 'Previous image', group: 'Navigation', action: 'previous', scope: 'annotate' },

  { keys: ['f'], description: 'Fit the image to the view', group: 'View', action: 'fit', scope: 'annotate' },
  { keys: ['+', '='], description: 'Zoom in', group: 'View', action: 'zoomIn', scope: 'annotate' },
  { keys: ['-'], description: 'Zoom out', group: 'View', action: 'zoomOut', scope: 'annotate' },

  { keys: ['enter'], description: 'Close the polygon (3 points or more)', group: 'Drawing a polygon', action: 'closePolygon', scope: 'drawing' },
  { keys: ['backspace'], description: 'Remove the last point', group: 'Drawing a polygon', action: 'removeLastPoint', scope: 'drawing' },
  { keys: ['escape'], description: 'Abandon the polygon', group: 'Drawing a polygon', action: 'cancelDrawing', scope: 'drawing' },

  { keys: ['ctrl+a'], description: 'Select every image that matches the filters', group: 'Catalog', action: 'selectAll', scope: 'catalog' },
  { keys: ['escape'], description: 'Clear the selection', group: 'Catalog', action: 'clearSelection', scope: 'catalog' },
  { keys: ['enter'], description: 'Open the first selected image in Annotate', group: 'Catalog', action: 'openImage', scope: 'catalog' },

  { keys: ['a'], description: 'Accept the focused prediction (a disagreement: the annotation takes the model’s class)', group: 'Review grid', action: 'reviewAccept', scope: 'review' },
  { keys: ['r'], description: 'Reject the focused prediction (a disagreement: the annotation stays as it is)', group: 'Review grid', action: 'reviewReject', scope: 'review' },
  { keys: ['c'], description: 'Change its class (then press 1–9): accepted as that class', group: 'Review grid', action: 'reviewChangeClass', scope: 'review' },
  { keys: DIGITS, label: '1–9', description: 'After c: the class to accept it as', group: 'Review grid', action: 'reviewPickClass', scope: 'review' },
  { keys: ['escape'], description: 'Forget a pending c', group: 'Review grid', action: 'reviewCancel', scope: 'review' },
  { keys: ['arrowleft'], label: '←', description: 'Focus the crop to the left', group: 'Review grid', action: 'focusLeft', scope: 'review' },
  { keys: ['arrowright'], label: '→', description: 'Focus the crop to the right', group: 'Review grid', action: 'focusRight', scope: 'review' },
  { keys: ['arrowup'], label: '↑', description: 'Focus the crop above', group: 'Review grid', action: 'focusUp', scope: 'review' },
  { keys: ['arrowdown'], label: '↓', description: 'Focus the crop below', group: 'Review grid', action: 'focusDown', scope: 'review' },
  { keys: ['o', 'enter'], description: 'Open the focused crop’s image in Annotate', group: 'Review grid', action: 'openImage', scope: 'review' },
];

export interface KeyEventLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
}

const NAMED: Readonly<Record<string, string>> = {
  ' ': 'space',
  Spacebar: 'space',
  Esc: 'escape',
  Del: 'delete',
};

/**
 * A keyboard event as a combo string: modifiers in the order ctrl, alt, shift, then the key
 * in lower case. Cmd counts as ctrl (macOS). Shift is named only for letters and named keys:
 * for other characters the key already says it (`?` is shift+/ on a US layout, `+` is
 * shift+=), so `?` matches whatever layout produces it.
 */
export function comboFromEvent(e: KeyEventLike): string {
  const raw = NAMED[e.key] ?? e.key;
  const single = [...raw].length === 1;
  const letter = single && raw.toLowerCase() !== raw.toUpperCase();
  const key = raw.toLowerCase();
  const mods: string[] = [];
  if (e.ctrlKey || e.metaKey) mods.push('ctrl');
  if (e.altKey) mods.push('alt');
  if (e.shiftKey && (letter || !single)) mods.push('shift');
  return [...mods, key].join('+');
}

/** `ctrl+shift+z` → `Ctrl+Shift+Z`, `space` → `Space`. */
export function displayCombo(combo: string): string {
  return combo
    .split('+')
    .map((part, i, all) => (part === '' && i === all.length - 1 ? '+' : part))
    .filter((part) => part !== '')
    .map((part) => (part.length === 1 ? part.toUpperCase() : part[0]?.toUpperCase() + part.slice(1)))
    .join('+');
}

export function bindingLabel(b: Binding): string {
  return b.label ?? b.keys.map(displayCombo).join(' / ');
}

export interface Conflict {
  key: string;
  scopes: [Scope, Scope];
  actions: [Action, Action];
}

/**
 * Keys bound twice where both could fire: within one scope, or in a scope and `global`
 * (global bindings are live everywhere). `drawing` shadowing `annotate` is intended.
 */
export function findConflicts(bindings: readonly Binding[] = BINDINGS): Conflict[] {
  const seen = new Map<string, Binding>();
  const conflicts: Conflict[] = [];
  for (const b of bindings) {
    for (const key of b.keys) {
      for (const scope of b.scope === 'global' ? SCOPES : [b.scope, 'global' as const]) {
        const other = seen.get(`${scope}\u0000${key}`);
        if (other && other !== b) conflicts.push({ key, scopes: [other.scope, b.scope], actions: [other.action, b.action] });
      }
      seen.set(`${b.scope}\u0000${key}`, b);
    }
  }
  return conflicts;
}

/** The binding a combo triggers, trying scopes in the order given (innermost first). */
export function resolveBinding(combo: string, scopes: readonly Scope[], bindings: readonly Binding[] = BINDINGS): Binding | null {
  for (const scope of scopes) {
    const b = bindings.find((x) => x.scope === scope && x.keys.includes(combo));
    if (b) return b;
  }
  return null;
}

export type Handlers = Partial<Record<Action, (combo: string) => void>>;

/**
 * Runs the handler of the first binding, in scope order, that matches the event and has a
 * handler here. Returns whether one ran (the caller then calls preventDefault).
 */
export function dispatchKey(e: KeyEventLike, scopes: readonly Scope[], handlers: Handlers, bindings: readonly Binding[] = BINDINGS): boolean {
  const combo = comboFromEvent(e);
  for (const scope of scopes) {
    const b = resolveBinding(combo, [scope], bindings);
    const handler = b && handlers[b.action];
    if (handler) {
      handler(combo);
      return true;
    }
  }
  return false;
}

/** Typing into a field must not trigger shortcuts. */
export function isEditableTarget(target: unknown): boolean {
  if (typeof target !== 'object' || target === null) return false;
  const t = target as { tagName?: unknown; isContentEditable?: unknown };
  if (t.isContentEditable === true) return true;
  return typeof t.tagName === 'string' && ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName.toUpperCase());
}

export interface BindingGroup {
  group: string;
  bindings: Binding[];
}

/** Bindings grouped for the sheet, groups in first-appearance order. */
export function groupedBindings(bindings: readonly Binding[] = BINDINGS): BindingGroup[] {
  const groups: BindingGroup[] = [];
  for (const b of bindings) {
    let g = groups.find((x) => x.group === b.group);
    if (!g) {
      g = { group: b.group, bindings: [] };
      groups.push(g);
    }
    g.bindings.push(b);
  }
  return groups;
}
