// The backend inside the desktop app: Tauri commands, Tauri events, and the app's `lacuna`
// URL scheme for media.

import { convertFileSrc, invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { ApiError, asApiError, type Backend } from './backend';

/** The custom protocol the shell registers for images and thumbnails. */
export const MEDIA_PROTOCOL = 'lacuna';

export class TauriBackend implements Backend {
  async call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
    try {
      return await invoke<T>(command, args ?? {});
    } catch (e) {
      // Commands reject with the serialised ApiError; anything else is a shell-side failure.
      throw asApiError(e) ?? new ApiError('internal', typeof e === 'string' ? e : e instanceof Error ? e.message : JSON.stringify(e));
    }
  }

  subscribe(event: string, handler: (payload: unknown) => void): () => void {
    // `listen` resolves later; an unsubscribe before then must still take effect.
    let unlisten: (() => void) | null = null;
    let stopped = false;
    void listen<unknown>(event, (e) => {
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
}
