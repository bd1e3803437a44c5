// Objects shaped as the backend answers, for tests.

import type { ImageSummary, QueueEntry } from '../dto';

export function queueEntry(image: number, rank = image): QueueEntry {
  return {
    rank,
    image,
    path: `p/${image}.jpg`,
    root: '/data',
    score: 1 / rank,
    reasons: [`reason ${image}`],
    uncertainty: 0,
    coverage: 0,
    diversity: 0,
    coverage_key: null,
    coverage_value: null,
    labeled_share: null,
    target_share: null,
    pool_share: null,
    nearest_labeled_distance: null,
    uncertainty_rank: null,
    entropy_max: null,
    tta_disagreement: null,
    missed_objects: null,
  };
}

export function imageSummary(id: number): ImageSummary {
  return {
    id,
    path: `dir/${id}.jpg`,
    root: '/data',
    status: 'ok',
    format: 'jpeg',
    width_px: 640,
    height_px: 480,
    camera: null,
    captured_at: null,
    duplicate_count: 0,
    label_state: 'unlabeled',
  };
}
