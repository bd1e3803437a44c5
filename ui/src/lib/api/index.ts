// Picks the transport: Tauri inside the desktop app, HTTP in a browser.

import type { Backend } from './backend';
import { createHttpBackend } from './http';
import { TauriBackend } from './tauri';

export { ApiError, type Backend } from './backend';

/** Whether the page runs inside the Tauri shell (which injects `__TAURI_INTERNALS__`). */
export function inTauri(win: object = window): boolean {
  return '__TAURI_INTERNALS__' in win;
}

export function createBackend(win: Window = window): Backend {
  return inTauri(win) ? new TauriBackend() : createHttpBackend(win);
}
