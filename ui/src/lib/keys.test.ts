import { describe, expect, it, vi } from 'vitest';
import {
  type Action,
  type Binding,
  BINDINGS,
  bindingLabel,
  comboFromEvent,
  dispatchKey,
  displayCombo,
  findConflicts,
  groupedBindings,
  isEditableTarget,
  type KeyEventLike,
  resolveBinding,
} from './keys';

const key = (k: string, mods: Partial<KeyEventLike> = {}): KeyEventLike => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  shiftKey: false,
  ...mods,
});

describe('the registry', () => {
  it('has no two bindings for one key in one scope (or against a global one)', () => {
    expect(findConflicts()).toEqual([]);
  });

  it('finds conflicts when there are some', () => {
    const extra: Binding[] = [
      ...BINDINGS,
      { keys: ['b'], description: 'x', group: 'x', action: 'fit', scope: 'annotate' },
      { keys: ['f'], description: 'y', group: 'y', action: 'undo', scope: 'global' },
    ];
    const c = findConflicts(extra);
    expect(c).toContainEqual({ key: 'b', scopes: ['annotate', 'annotate'], actions: ['toolBox', 'fit'] });
    expect(c).toContainEqual({ key: 'f', scopes: ['annotate', 'global'], actions: ['fit', 'undo'] });
  });

  it('lets the drawing scope shadow annotate on purpose', () => {
    expect(resolveBinding('backspace', ['drawing', 'annotate'])?.action).toBe('removeLastPoint');
    expect(resolveBinding('backspace', ['annotate'])?.action).toBe('previous');
  });

  it('binds everything the annotation view needs', () => {
    const combos = (action: Action): string[] => BINDINGS.filter((b) => b.action === action).flatMap((b) => b.keys);
    expect(combos('pickClass')).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(combos('toolBox')).toEqual(['b']);
    expect(combos('toolPolygon')).toEqual(['p']);
    expect(combos('toolBrush')).toEqual(['m']);
    expect(combos('toolEraser')).toEqual(['e']);
    expect(combos('brushSmaller')).toEqual(['[']);
    expect(combos('brushLarger')).toEqual([']']);
    expect(combos('acceptPrediction')).toEqual(['a']);
    expect(combos('rejectPrediction')).toEqual(['r']);
    expect(combos('changeClass')).toEqual(['c']);
    expect(combos('deleteSelection')).toEqual(['delete']);
    expect(combos('undo')).toEqual(['ctrl+z']);
    expect(combos('redo')).toEqual(['ctrl+shift+z', 'ctrl+y']);
    expect(combos('next')).toEqual(['n', 'space']);
    expect(combos('previous')).toEqual(['shift+n', 'backspace']);
    expect(combos('fit')).toEqual(['f']);
    expect(combos('zoomIn')).toContain('+');
    expect(combos('zoomOut')).toEqual(['-']);
    expect(combos('toggleSheet')).toEqual(['?']);
    expect(combos('closePolygon')).toEqual(['enter']);
    expect(combos('cancelDrawing')).toEqual(['escape']);
    expect(combos('deselect')).toEqual(['escape']);
  });

  it('writes every combo in the form events produce', () => {
    for (const b of BINDINGS) {
      for (const combo of b.keys) {
        const parts = combo === '+' ? ['+'] : combo.split('+');
        const k = parts[parts.length - 1] ?? '';
        const named: Record<string, string> = { space: ' ', escape: 'Escape', enter: 'Enter', backspace: 'Backspace', delete: 'Delete' };
        const ev = key(named[k] ?? (parts.includes('shift') ? k.toUpperCase() : k), {
          ctrlKey: parts.includes('ctrl'),
          shiftKey: parts.includes('shift'),
          altKey: parts.includes('alt'),
        });
        expect(comboFromEvent(ev)).toBe(combo);
      }
    }
  });
});

describe('events to combos', () => {
  it('letters lower-case, shift named', () => {
    expect(comboFromEvent(key('n'))).toBe('n');
    expect(comboFromEvent(key('N', { shiftKey: true }))).toBe('shift+n');
    expect(comboFromEvent(key('Z', { ctrlKey: true, shiftKey: true }))).toBe('ctrl+shift+z');
  });

  it('Cmd counts as Ctrl', () => {
    expect(comboFromEvent(key('z', { metaKey: true }))).toBe('ctrl+z');
  });

  it('shifted symbols are the symbol, whatever the layout', () => {
    expect(comboFromEvent(key('?', { shiftKey: true }))).toBe('?');
    expect(comboFromEvent(key('+', { shiftKey: true }))).toBe('+');
  });

  it('named keys', () => {
    expect(comboFromEvent(key(' '))).toBe('space');
    expect(comboFromEvent(key('Escape'))).toBe('escape');
    expect(comboFromEvent(key('Backspace'))).toBe('backspace');
  });

  it('displays combos', () => {
    expect(displayCombo('ctrl+shift+z')).toBe('Ctrl+Shift+Z');
    expect(displayCombo('space')).toBe('Space');
    expect(displayCombo('+')).toBe('+');
    expect(bindingLabel(BINDINGS.find((b) => b.action === 'redo') as Binding)).toBe('Ctrl+Shift+Z / Ctrl+Y');
    expect(bindingLabel(BINDINGS.find((b) => b.action === 'pickClass') as Binding)).toBe('1–9');
  });
});

describe('dispatch', () => {
  it('calls the handler of the innermost scope that has one', () => {
    const previous = vi.fn();
    const removeLastPoint = vi.fn();
    expect(dispatchKey(key('Backspace'), ['drawing', 'annotate'], { previous, removeLastPoint })).toBe(true);
    expect(removeLastPoint).toHaveBeenCalledOnce();
    expect(previous).not.toHaveBeenCalled();
    expect(dispatchKey(key('Backspace'), ['annotate'], { previous, removeLastPoint })).toBe(true);
    expect(previous).toHaveBeenCalledOnce();
  });

  it('passes the combo (1–9 share one handler)', () => {
    const pickClass = vi.fn();
    dispatchKey(key('7'), ['annotate'], { pickClass });
    expect(pickClass).toHaveBeenCalledWith('7');
  });

  it('reports unbound keys and keys without a handler as not handled', () => {
    expect(dispatchKey(key('q'), ['annotate', 'global'], {})).toBe(false);
    expect(dispatchKey(key('b'), ['annotate'], {})).toBe(false);
    expect(dispatchKey(key('b'), ['global'], { toolBox: vi.fn() })).toBe(false);
  });

  it('knows typing targets', () => {
    expect(isEditableTarget({ tagName: 'INPUT' })).toBe(true);
    expect(isEditableTarget({ tagName: 'textarea' })).toBe(true);
    expect(isEditableTarget({ tagName: 'DIV', isContentEditable: true })).toBe(true);
    expect(isEditableTarget({ tagName: 'CANVAS' })).toBe(false);
    expect(isEditableTarget(null)).toBe(false);
  });
});

describe('the sheet', () => {
  it('lists every binding once, grouped', () => {
    const groups = groupedBindings();
    expect(groups.flatMap((g) => g.bindings)).toHaveLength(BINDINGS.length);
    expect(groups.map((g) => g.group)).toEqual(['General', 'Classes', 'Tools', 'Review', 'Editing', 'Navigation', 'View', 'Drawing a polygon', 'Catalog', 'Review grid']);
  });

  it('binds what the catalog, review and annotate views added', () => {
    const combos = (action: Action, scope: string): string[] => BINDINGS.filter((b) => b.action === action && b.scope === scope).flatMap((b) => b.keys);
    expect(combos('markDone', 'annotate')).toEqual(['enter']);
    expect(combos('reviewAccept', 'review')).toEqual(['a']);
    expect(combos('reviewReject', 'review')).toEqual(['r']);
    expect(combos('reviewChangeClass', 'review')).toEqual(['c']);
    expect(combos('reviewPickClass', 'review')).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(combos('openImage', 'review')).toEqual(['o', 'enter']);
    expect(combos('focusLeft', 'review')).toEqual(['arrowleft']);
    expect(combos('selectAll', 'catalog')).toEqual(['ctrl+a']);
    // Enter closes a polygon while one is drawn, and marks the image done otherwise.
    expect(resolveBinding('enter', ['drawing', 'annotate'])?.action).toBe('closePolygon');
    expect(resolveBinding('enter', ['annotate'])?.action).toBe('markDone');
  });

  it('arrow keys make the combos the review grid binds, and show as arrows', () => {
    expect(comboFromEvent(key('ArrowLeft'))).toBe('arrowleft');
    expect(bindingLabel(BINDINGS.find((b) => b.action === 'focusDown') as Binding)).toBe('↓');
  });

  it('checks a global binding against every scope', () => {
    const extra: Binding[] = [...BINDINGS, { keys: ['a'], description: 'x', group: 'x', action: 'fit', scope: 'global' }];
    const scopes = findConflicts(extra).filter((c) => c.key === 'a').map((c) => c.scopes[0]);
    expect(scopes).toEqual(expect.arrayContaining(['annotate', 'review']));
  });
});
