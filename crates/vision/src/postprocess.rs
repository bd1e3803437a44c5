//! From the raw head output to detections in image pixels: candidate selection, class-aware
//! non-maximum suppression, mapping back through the letterbox. Mirrors Ultralytics'
//! `non_max_suppression` + `scale_boxes` (single label per box), but keeps every box's full
//! class-probability vector, which uncertainty ranking needs.
//!
//! Two thresholds: boxes at or above `keep_threshold` are kept (and stored) so that "almost
//! detected" objects count for uncertainty; `display_threshold` is what a user sees by default.
//! Greedy NMS visits boxes by descending score, so a low-score box never suppresses a higher
//! one: the boxes above the display threshold are the same as with NMS at that threshold.

use crate::preprocess::Letterbox;

/// Thresholds and limits of post-processing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PostprocessOptions {
    /// Lowest score kept (stored for uncertainty).
    pub keep_threshold: f32,
    /// Default score at which a box is shown as a pre-label.
    pub display_threshold: f32,
    /// IoU above which a lower-scored box of the same class is suppressed.
    pub iou_threshold: f32,
    /// At most this many boxes per image, best first.
    pub max_detections: usize,
}

impl Default for PostprocessOptions {
    /// Ultralytics' `predict` defaults (conf 0.25, IoU 0.7, 300 boxes) plus a keep threshold of
    /// 0.05.
    fn default() -> Self {
        Self { keep_threshold: 0.05, display_threshold: 0.25, iou_threshold: 0.7, max_detections: 300 }
    }
}

/// One detected object.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub class_id: u32,
    /// Probability of `class_id` (the maximum over classes).
    pub score: f32,
    /// Box corners in image pixels (EXIF orientation applied), clamped to the image.
    pub bbox_xyxy_px: [f32; 4],
    /// Every class's probability for this box, index = class id.
    pub class_probs: Vec<f32>,
    /// Segmentation models: the box's mask coefficients.
    pub mask_coeffs: Option<Vec<f32>>,
    /// Segmentation models: the mask at image size (filled in by the detector from the
    /// prototypes).
    pub mask: Option<crate::InstanceMask>,
    /// Box corners in model-input pixels (used to crop masks).
    pub(crate) bbox_input_xyxy: [f32; 4],
}

/// Post-processes one image's predictions: `rows` = `4 + num_classes + num_masks` rows of
/// `anchors` values each, row-major (Ultralytics `output0` for one image).
pub fn detections_from_output(
    predictions: &[f32],
    anchors: usize,
    num_classes: usize,
    num_masks: usize,
    letterbox: &Letterbox,
    options: &PostprocessOptions,
) -> Vec<Detection> {
    let rows = 4 + num_classes + num_masks;
    debug_assert_eq!(predictions.len(), rows * anchors);
    let row = |r: usize| &predictions[r * anchors..(r + 1) * anchors];
    let mut candidates: Vec<(usize, u32, f32)> = Vec::new();
    for a in 0..anchors {
        let mut best = (0u32, f32::NEG_INFINITY);
        for c in 0..num_classes {
            let p = predictions[(4 + c) * anchors + a];
            if p > best.1 {
                best = (c as u32, p);
            }
        }
        if best.1 >= options.keep_threshold {
            candidates.push((a, best.0, best.1));
        }
    }
    candidates.sort_by(|x, y| y.2.total_cmp(&x.2).then(x.0.cmp(&y.0)));
    let (cx, cy, w, h) = (row(0), row(1), row(2), row(3));
    let boxes: Vec<[f32; 4]> = candidates
        .iter()
        .map(|&(a, _, _)| {
            let (hw, hh) = (w[a] / 2.0, h[a] / 2.0);
            [cx[a] - hw, cy[a] - hh, cx[a] + hw, cy[a] + hh]
        })
        .collect();
    let mut kept: Vec<usize> = Vec::new();
    for i in 0..candidates.len() {
        if kept.len() >= options.max_detections {
            break;
        }
        let suppressed = kept.iter().any(|&k| {
            candidates[k].1 == candidates[i].1 && iou(&boxes[k], &boxes[i]) > options.iou_threshold
        });
        if !suppressed {
            kept.push(i);
        }
    }
    kept.into_iter()
        .map(|i| {
            let (a, class_id, score) = candidates[i];
            let b = boxes[i];
            let (x0, y0) = letterbox.image_from_input(b[0], b[1]);
            let (x1, y1) = letterbox.image_from_input(b[2], b[3]);
            Detection {
                class_id,
                score,
                bbox_xyxy_px: [x0, y0, x1, y1],
                class_probs: (0..num_classes).map(|c| predictions[(4 + c) * anchors + a]).collect(),
                mask_coeffs: (num_masks > 0).then(|| {
                    (0..num_masks).map(|m| predictions[(4 + num_classes + m) * anchors + a]).collect()
                }),
                mask: None,
                bbox_input_xyxy: b,
            }
        })
        .collect()
}

/// Intersection over union of two `xyxy` boxes (0 when either is empty).
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area_a = (a[2] - a[0]).max(0.0) * (a[3] - a[1]).max(0.0);
    let area_b = (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0);
    let union = area_a + area_b - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds an output with the given boxes (cx, cy, w, h, class, score) over 2 classes.
    fn output(boxes: &[(f32, f32, f32, f32, usize, f32)]) -> Vec<f32> {
        let anchors = boxes.len();
        let mut out = vec![0f32; 6 * anchors];
        for (a, &(cx, cy, w, h, class, score)) in boxes.iter().enumerate() {
            out[a] = cx;
            out[anchors + a] = cy;
            out[2 * anchors + a] = w;
            out[3 * anchors + a] = h;
            out[(4 + class) * anchors + a] = score;
            out[(4 + 1 - class) * anchors + a] = score / 10.0;
        }
        out
    }

    #[test]
    fn nms_is_class_aware_and_keeps_probabilities() {
        let lb = Letterbox::new(640, 640, 640);
        let out = output(&[
            (100.0, 100.0, 50.0, 50.0, 0, 0.9),
            (102.0, 101.0, 50.0, 50.0, 0, 0.8), // same class, overlapping: suppressed
            (102.0, 101.0, 50.0, 50.0, 1, 0.7), // other class: kept
            (400.0, 400.0, 20.0, 20.0, 0, 0.04), // under the keep threshold
            (300.0, 300.0, 20.0, 20.0, 0, 0.1), // kept, under the display threshold
        ]);
        let dets = detections_from_output(&out, 5, 2, 0, &lb, &PostprocessOptions::default());
        let summary: Vec<(u32, f32)> = dets.iter().map(|d| (d.class_id, d.score)).collect();
        assert_eq!(summary, vec![(0, 0.9), (1, 0.7), (0, 0.1)]);
        assert_eq!(dets[0].bbox_xyxy_px, [75.0, 75.0, 125.0, 125.0]);
        assert_eq!(dets[1].class_probs, vec![0.07, 0.7]);
        assert!(dets[0].mask_coeffs.is_none());
    }

    #[test]
    fn boxes_map_back_through_the_letterbox_and_are_clamped() {
        let lb = Letterbox::new(1920, 1080, 640);
        // Centre of the input, 64x64 → image centre, 192x192; a box over the padding is clamped.
        let out = output(&[(320.0, 320.0, 64.0, 64.0, 0, 0.9), (620.0, 130.0, 60.0, 40.0, 1, 0.8)]);
        let dets = detections_from_output(&out, 2, 2, 0, &lb, &PostprocessOptions::default());
        let b = dets[0].bbox_xyxy_px;
        for (got, want) in b.iter().zip([864.0, 444.0, 1056.0, 636.0]) {
            assert!((got - want).abs() < 1e-3, "{b:?}");
        }
        let b = dets[1].bbox_xyxy_px;
        assert_eq!(b[1], 0.0, "clamped to the top edge: {b:?}");
        assert_eq!(b[2], 1920.0, "clamped to the right edge: {b:?}");
    }

    #[test]
    fn max_detections_caps_the_best_boxes() {
        let lb = Letterbox::new(640, 640, 640);
        let boxes: Vec<_> =
            (0..10).map(|i| (30.0 + 60.0 * i as f32, 30.0, 20.0, 20.0, 0, 0.5 + i as f32 / 100.0)).collect();
        let out = output(&boxes);
        let opts = PostprocessOptions { max_detections: 3, ..PostprocessOptions::default() };
        let dets = detections_from_output(&out, 10, 2, 0, &lb, &opts);
        assert_eq!(dets.len(), 3);
        assert!((dets[0].score - 0.59).abs() < 1e-6);
    }

    #[test]
    fn iou_of_known_boxes() {
        assert_eq!(iou(&[0.0, 0.0, 2.0, 2.0], &[1.0, 1.0, 3.0, 3.0]), 1.0 / 7.0);
        assert_eq!(iou(&[0.0, 0.0, 1.0, 1.0], &[2.0, 2.0, 3.0, 3.0]), 0.0);
        assert_eq!(iou(&[0.0, 0.0, 0.0, 0.0], &[0.0, 0.0, 0.0, 0.0]), 0.0);
    }
}
