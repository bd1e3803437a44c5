// The backend inside the desktop app: the shell's one `call` command, its `lacuna://…`
// events, and its `lacuna` URL scheme for media.

import { convertFileSrc, invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { open } from '@tauri-apps/plugin-dialog';
import { registerFolderPicker } from '../folder-picker';
import { ApiError, asApiError, type Backend } from './backend';

/** The custom protocol the shell registers for images and thumbnails. */
export const MEDIA_PROTOCOL = 'lacuna';

/** The shell emits each app event `name` as the Tauri event `lacuna://name`, payload as is. */
export const EVENT_PREFIX = 'lacuna://';

export class TauriBackend implements Backend {
  /** Also offers the native folder dialog to the views (their Browse buttons). */
  constructor() {
    registerFolderPicker((options) => this.pickFolder(options));
  }

  async call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
    try {
      // One Tauri command carries every app command (src-tauri/src/main.rs).
      return await invoke<T>('call', { command, args: args ?? {} });
    } catch (e) {
      // Commands reject with the serialised ApiError; anything else is a shell-side failure.
      throw asApiError(e) ?? new ApiError('internal', typeof e === 'string' ? e : e instanceof Error ? e.message : JSON.stringify(e));
    }
  }

  subscribe(event: string, handler: (payload: unknown) => void): () => void {
    // `listen` resolves later; an unsubscribe before then must still take effect.
    let unlisten: (() => void) | null = null;
    let stopped = false;
    void listen<unknown>(`${EVENT_PREFIX}${event}`, (e) => {
      if (!stopped) handler(e.payload);
    }).then((fn) => {
      if (stopped) fn();
      else unlisten = fn;
    });
    return () => {
      stopped = true;
      unlisten?.();
      unlisten = null;
    };
  }

  /** `lacuna://localhost/image%2F42` (or `http://lacuna.localhost/…` on Windows): Tauri picks the form. */
  imageUrl(imageId: number): string {
    return convertFileSrc(`image/${imageId}`, MEDIA_PROTOCOL);
  }

  thumbUrl(imageId: number): string {
    return convertFileSrc(`thumb/${imageId}`, MEDIA_PROTOCOL);
  }

  /** The native folder dialog (open project, import, export folder); null when cancelled. */
  async pickFolder(options: { title: string; defaultPath?: string }): Promise<string | null> {
    const picked = await open({ directory: true, multiple: false, ...options });
    return typeof picked === 'string' ? picked : null;
  }

  /** The native dialog for several folders at once (import); empty when cancelled. */
  async pickFolders(options: { title: string; defaultPath?: string }): Promise<string[]> {
    const picked = await open({ directory: true, multiple: true, recursive: true, ...options });
    return Array.isArray(picked) ? picked : [];
  }
}
