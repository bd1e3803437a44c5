// The "saved" indicator: every edit is committed when its call returns, so the state is
// "saving…" while any call is in flight, the error of the latest failure until a later call
// succeeds, and "saved" otherwise.

export type SaveState =
  | { kind: 'idle' }
  | { kind: 'saving'; pending: number }
  | { kind: 'saved'; atMs: number }
  | { kind: 'error'; message: string; pending: number };

export class SaveTracker {
  private pending = 0;
  private lastError: string | null = null;
  private lastSavedMs: number | null = null;
  private readonly listeners = new Set<(s: SaveState) => void>();

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** Runs a write through the tracker; the promise is returned unchanged. */
  async track<T>(write: Promise<T>): Promise<T> {
    this.pending++;
    this.emit();
    try {
      const v = await write;
      this.lastError = null;
      this.lastSavedMs = this.now();
      return v;
    } catch (e) {
      this.lastError = e instanceof Error ? e.message : String(e);
      throw e;
    } finally {
      this.pending--;
      this.emit();
    }
  }

  get state(): SaveState {
    if (this.lastError !== null) return { kind: 'error', message: this.lastError, pending: this.pending };
    if (this.pending > 0) return { kind: 'saving', pending: this.pending };
    if (this.lastSavedMs !== null) return { kind: 'saved', atMs: this.lastSavedMs };
    return { kind: 'idle' };
  }

  /** Svelte store contract. */
  subscribe(run: (s: SaveState) => void): () => void {
    this.listeners.add(run);
    run(this.state);
    return () => this.listeners.delete(run);
  }

  private emit(): void {
    const s = this.state;
    for (const l of [...this.listeners]) l(s);
  }
}

export function saveText(s: SaveState): string {
  switch (s.kind) {
    case 'idle':
      return 'No changes yet';
    case 'saving':
      return 'Saving…';
    case 'saved':
      return 'Saved';
    case 'error':
      return `Not saved: ${s.message}${s.pending > 0 ? ' (saving…)' : ''}`;
  }
}
