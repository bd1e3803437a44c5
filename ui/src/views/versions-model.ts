// The versions view without the DOM: the freeze form's arguments, the export form's request
// and its checks, and a diff as rows to show.

import type { ExportFormat, ExportVersionRequest, FreezeArgs, GroupBy, ImageMode, VersionDiffDto } from '../lib/dto';
import { formatCount } from '../lib/format';

export const FORMATS: ReadonlyArray<{ id: ExportFormat; label: string }> = [
  { id: 'coco', label: 'COCO (boxes, polygons, masks)' },
  { id: 'yolo', label: 'YOLO detection' },
  { id: 'yolo-seg', label: 'YOLO segmentation' },
  { id: 'voc', label: 'Pascal VOC' },
  { id: 'masks', label: 'PNG masks' },
];

export const IMAGE_MODES: ReadonlyArray<{ id: ImageMode; label: string }> = [
  { id: 'copy', label: 'Copy the images' },
  { id: 'hardlink', label: 'Hard-link the images (copy across file systems)' },
  { id: 'reference', label: 'Reference the originals by path (COCO, VOC)' },
  { id: 'none', label: 'Labels only' },
];

export const GROUP_BY: ReadonlyArray<{ id: GroupBy; label: string }> = [
  { id: 'image', label: 'Each image on its own' },
  { id: 'camera', label: 'By camera' },
  { id: 'capture_day', label: 'By capture day' },
  { id: 'folder', label: 'By folder' },
];

export interface FreezeForm {
  name: string;
  notes: string;
  /** `train,val,test`, empty for the default. */
  split: string;
  /** Empty for the default. */
  group_by: GroupBy | '';
}

/** The `version_freeze` arguments, or what is wrong with the form. */
export function freezeArgs(f: FreezeForm): { args: FreezeArgs } | { error: string } {
  const args: FreezeArgs = { notes: f.notes };
  if (f.name.trim()) args.name = f.name.trim();
  const split = f.split.trim();
  if (split) {
    const parts = split.split(',').map((p) => p.trim());
    if (parts.length !== 3 || parts.some((p) => p === '' || !Number.isFinite(Number(p)) || Number(p) < 0)) {
      return { error: 'The split is three ratios train,val,test, e.g. 0.8,0.1,0.1 or 80,10,10.' };
    }
    if (parts.every((p) => Number(p) === 0)) return { error: 'The split ratios cannot all be zero.' };
    args.split = parts.join(',');
  }
  if (f.group_by) args.group_by = f.group_by;
  return { args };
}

export interface ExportForm {
  version: string;
  format: ExportFormat;
  images: ImageMode;
  out_dir: string;
  overwrite: boolean;
}

/** The `export_start` request, or what is wrong with the form. */
export function exportRequest(f: ExportForm): { request: ExportVersionRequest } | { error: string } {
  if (!f.version) return { error: 'Pick a version to export.' };
  if (!f.out_dir.trim()) return { error: 'Type the folder to export into.' };
  if (f.images === 'reference' && f.format !== 'coco' && f.format !== 'voc') {
    return { error: 'Referencing the originals works only for COCO and VOC; pick another images mode.' };
  }
  return { request: { version: f.version, format: f.format, out_dir: f.out_dir.trim(), images: f.images, overwrite: f.overwrite } };
}

export interface DiffRow {
  label: string;
  value: string;
}

/** The counts of a diff, as label / value rows. */
export function diffRows(d: VersionDiffDto): DiffRow[] {
  const c = d.counts;
  return [
    { label: 'Images added', value: formatCount(c.images_added) },
    { label: 'Images removed', value: formatCount(c.images_removed) },
    { label: 'Images with changed labels', value: formatCount(c.images_changed) },
    { label: 'Images moved to another split', value: formatCount(c.images_split_changed) },
    { label: 'Annotations added', value: formatCount(c.annotations_added) },
    { label: 'Annotations removed', value: formatCount(c.annotations_removed) },
    { label: 'Annotations changed', value: formatCount(c.annotations_changed) },
    { label: 'Annotations whose class changed', value: formatCount(c.annotations_class_changed) },
    { label: 'Annotations unchanged', value: formatCount(c.annotations_unchanged) },
  ];
}

export interface DiffEntry {
  kind: 'image added' | 'image removed' | 'split changed' | 'annotation added' | 'annotation removed' | 'annotation changed';
  path: string;
  detail: string;
}

/** Every listed change, one line each (the backend caps the lists; `truncated` says so). */
export function diffEntries(d: VersionDiffDto): DiffEntry[] {
  const out: DiffEntry[] = [];
  for (const p of d.images_added) out.push({ kind: 'image added', path: p, detail: '' });
  for (const p of d.images_removed) out.push({ kind: 'image removed', path: p, detail: '' });
  for (const s of d.split_changes) out.push({ kind: 'split changed', path: s.path, detail: `${s.before} → ${s.after}` });
  for (const a of d.annotations_added) out.push({ kind: 'annotation added', path: a.path, detail: `${a.annotation.class} (${a.annotation.geometry.kind})` });
  for (const a of d.annotations_removed) out.push({ kind: 'annotation removed', path: a.path, detail: `${a.annotation.class} (${a.annotation.geometry.kind})` });
  for (const a of d.annotations_changed) {
    const what = [a.class_changed ? `class ${a.before.class} → ${a.after.class}` : '', a.geometry_changed ? `shape moved (IoU ${a.iou.toFixed(2)})` : '', a.attributes_changed ? 'attributes' : ''].filter(Boolean);
    out.push({ kind: 'annotation changed', path: a.path, detail: what.join(', ') });
  }
  return out;
}

/** Class changes `(before, after) -> n` as rows, most frequent first. */
export function classChanges(d: VersionDiffDto): Array<{ pair: string; count: number }> {
  return Object.entries(d.class_changes)
    .map(([pair, count]) => ({ pair, count }))
    .sort((a, b) => b.count - a.count || a.pair.localeCompare(b.pair));
}
