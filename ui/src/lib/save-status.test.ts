import { describe, expect, it } from 'vitest';
import { SaveTracker, saveText } from './save-status';

describe('saved indicator', () => {
  it('saving while a call is in flight, saved after, the error until a later call succeeds', async () => {
    const t = new SaveTracker(() => 42);
    const seen: string[] = [];
    t.subscribe((s) => seen.push(saveText(s)));
    let finish!: () => void;
    const p = t.track(new Promise<void>((r) => (finish = r)));
    expect(t.state).toEqual({ kind: 'saving', pending: 1 });
    finish();
    await p;
    expect(t.state).toEqual({ kind: 'saved', atMs: 42 });
    await expect(t.track(Promise.reject(new Error('conflict')))).rejects.toThrow('conflict');
    expect(saveText(t.state)).toBe('Not saved: conflict');
    await t.track(Promise.resolve());
    expect(saveText(t.state)).toBe('Saved');
    expect(seen).toEqual(['No changes yet', 'Saving…', 'Saved', 'Saving…', 'Not saved: conflict', 'Not saved: conflict (saving…)', 'Saved']);
  });
});
