// The hook for a native folder dialog. The desktop shell registers one (e.g. with Tauri's dialog
// plugin) by calling `registerFolderPicker` before the app mounts; until then there is none,
// and the views offer only the typed path (they show no Browse button).

/** Shows a folder dialog; resolves to the chosen absolute path, or null when cancelled. */
export type FolderPicker = (options: { title: string; defaultPath?: string }) => Promise<string | null>;

let picker: FolderPicker | null = null;

export function registerFolderPicker(p: FolderPicker | null): void {
  picker = p;
}

/** The registered folder dialog, or null when the shell gives none. */
export function folderPicker(): FolderPicker | null {
  return picker;
}
