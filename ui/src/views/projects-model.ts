// The projects view without the DOM.

import type { ProjectStatus, RecentProject } from '../lib/dto';
import { formatCount } from '../lib/format';

/** Recent projects that still exist first (newest first), then the missing ones. */
export function sortRecent(list: readonly RecentProject[]): RecentProject[] {
  return [...list].sort((a, b) => Number(b.exists) - Number(a.exists) || b.opened_at_unix_s - a.opened_at_unix_s);
}

/** A typed folder path, or what is wrong with it. */
export function checkPath(text: string): { path: string } | { error: string } {
  const path = text.trim();
  if (!path) return { error: 'Type the project folder’s path.' };
  return { path };
}

/** One line about an open project. */
export function statusLine(s: ProjectStatus): string {
  const parts = [`${formatCount(s.images)} images`];
  if (s.images_missing > 0) parts.push(`${formatCount(s.images_missing)} missing`);
  parts.push(`${s.folders.length} ${s.folders.length === 1 ? 'folder' : 'folders'}`);
  const cameras = s.cameras.filter((c) => c.camera !== null).length;
  parts.push(`${cameras} ${cameras === 1 ? 'camera' : 'cameras'}`);
  if (s.problems_last_import > 0) parts.push(`${formatCount(s.problems_last_import)} problems in the last import`);
  return parts.join(' · ');
}

/** The folder's name from a path (either separator). */
export function baseName(path: string): string {
  const parts = path.replace(/[\\/]+$/, '').split(/[\\/]/);
  return parts[parts.length - 1] || path;
}
