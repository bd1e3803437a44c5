// The import view without the DOM: the typed folders, and which import to show.

import type { JobState } from '../lib/jobs';

/** One path a line; blank lines and surrounding spaces (and quotes a file manager adds) dropped, duplicates once. */
export function parsePaths(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    let p = line.trim();
    if (p.length >= 2 && ((p.startsWith('"') && p.endsWith('"')) || (p.startsWith("'") && p.endsWith("'")))) p = p.slice(1, -1).trim();
    if (!p || seen.has(p)) continue;
    seen.add(p);
    out.push(p);
  }
  return out;
}

/** The import to show: the one this view started, else the newest the tracker knows. */
export function currentImport(jobs: readonly JobState[], startedHere: number | null): JobState | null {
  if (startedHere !== null) {
    const mine = jobs.find((j) => j.job === startedHere);
    if (mine) return mine;
  }
  return jobs.filter((j) => j.kind === 'import').sort((a, b) => b.job - a.job)[0] ?? null;
}
