//! Per-image uncertainty from the stored predictions of one run.
//!
//! A run stores, per image, every box the detector kept above its low keep threshold (0.05), each
//! with its score, class, pixel box, the full vector of class probabilities and, when test-time
//! augmentation was on, whether it came from the horizontally mirrored pass (already mapped back
//! onto the original image). [`image_uncertainty`] turns those boxes into one [`Uncertainty`]:
//!
//! - **per-box measures** over the class probabilities: least confidence, margin and entropy,
//!   aggregated over the boxes of the image ([`Agg`]: max, mean, mean of the top k);
//! - **flip-TTA disagreement**: how much the plain and the mirrored pass disagree about the
//!   displayed boxes;
//! - **probably-missed objects**: boxes just under the display threshold that no displayed box
//!   explains.
//!
//! [`Uncertainty::score`] folds these into one number in `0..=1`, and [`percentile_ranks`] places
//! a value within the pool (for reasons such as "entropy in the top 3 % of the pool").
//!
//! An image on which the model kept no box at all gets all zeros: a model that sees nothing can be
//! very wrong, but the predictions carry no evidence of it, so no uncertainty is invented here;
//! such images are left to diversity and coverage.

use serde::{Deserialize, Serialize};

/// Overlap above which a near-threshold box is explained by a displayed box (or by another
/// near-threshold box already counted), so it is not counted as a probably-missed object.
pub const MISSED_OVERLAP_IOU: f32 = 0.5;

/// One stored prediction box, borrowed from the catalog rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection<'a> {
    /// `[x0, y0, x1, y1]` in pixels of the original image (mirrored boxes already mapped back).
    pub bbox: [f32; 4],
    /// Class of the box (the arg-max of `probs` for YOLO).
    pub class: u32,
    /// Box score.
    pub score: f32,
    /// Per-class probabilities as stored: independent sigmoids for YOLO, so they need not sum
    /// to 1.
    pub probs: &'a [f32],
    /// The box comes from the horizontally mirrored test-time-augmentation pass.
    pub flipped: bool,
}

/// Thresholds of [`image_uncertainty`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UncertaintyParams {
    /// Score at or above which a box is shown to the user (and counts as a detection).
    pub display_threshold: f32,
    /// Boxes with a score in `[display_threshold - near_band, display_threshold)` are "near
    /// threshold": they count for the per-box measures and may be probably-missed objects.
    pub near_band: f32,
    /// Minimum IoU for a plain box and a mirrored box to be the same object.
    pub tta_iou: f32,
    /// How many of the most uncertain boxes [`Agg::top_k_mean`] averages (0 is read as 1).
    pub top_k: usize,
}

impl Default for UncertaintyParams {
    fn default() -> Self {
        Self { display_threshold: 0.25, near_band: 0.10, tta_iou: 0.5, top_k: 3 }
    }
}

impl UncertaintyParams {
    /// Lowest score of a box that counts for the per-box measures: `display - band`, at least 0.
    pub fn near_floor(&self) -> f32 {
        (self.display_threshold - self.near_band).max(0.0)
    }
}

/// One per-box measure aggregated over the counted boxes of an image (all 0 without boxes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Agg {
    /// Largest value over the boxes.
    pub max: f32,
    /// Mean over the boxes.
    pub mean: f32,
    /// Mean of the `top_k` largest values (of all of them when there are fewer).
    pub top_k_mean: f32,
}

impl Agg {
    /// Aggregates `values` (reordered in place). Empty gives all zeros.
    fn of(values: &mut [f32], top_k: usize) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        values.sort_unstable_by(|a, b| b.total_cmp(a));
        let n = values.len() as f32;
        let k = top_k.clamp(1, values.len());
        Self {
            max: values[0],
            mean: values.iter().sum::<f32>() / n,
            top_k_mean: values[..k].iter().sum::<f32>() / k as f32,
        }
    }
}

/// Uncertainty of one image, from its stored predictions. Every measure is in `0..=1`, higher is
/// more uncertain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Uncertainty {
    /// Boxes the per-box measures were computed over: plain-pass (not mirrored) boxes with a score
    /// of at least `display_threshold - near_band` and a usable probability vector. 0 when the
    /// model kept nothing there (or only faint boxes): all measures are then 0 (see the module
    /// documentation).
    pub boxes: u32,
    /// `1 - p_max` of the normalised class distribution. At most `1 - 1/n_classes`; always 0 for
    /// a single-class model.
    pub least_confidence: Agg,
    /// `1 - (p1 - p2)`, the two largest probabilities of the normalised class distribution.
    pub margin: Agg,
    /// Shannon entropy of the normalised class distribution divided by `ln(n_classes)`.
    pub entropy: Agg,
    /// Flip-TTA disagreement between the displayed boxes of the plain and the mirrored pass: 0
    /// when they agree exactly, 1 when nothing matches; `None` when the image has no mirrored box
    /// at all. Whether a TTA pass ran is inferred from the boxes: a mirrored pass that kept no box
    /// at all (not even above the keep threshold) on this image cannot be told from no pass.
    pub tta_disagreement: Option<f32>,
    /// Near-threshold plain boxes that no displayed box explains (IoU below
    /// [`MISSED_OVERLAP_IOU`]), overlapping ones counted once.
    pub missed_objects: u32,
    /// Highest score among the probably-missed objects (0 when there are none).
    pub missed_score: f32,
    /// Display threshold these were computed with (so that [`Uncertainty::score`] stands alone).
    pub display_threshold: f32,
}

/// Weight of `entropy.max` in [`Uncertainty::score`].
pub const SCORE_W_ENTROPY: f32 = 0.4;
/// Weight of `least_confidence.top_k_mean` in [`Uncertainty::score`].
pub const SCORE_W_LEAST_CONFIDENCE: f32 = 0.2;
/// Weight of `tta_disagreement` in [`Uncertainty::score`].
pub const SCORE_W_TTA: f32 = 0.2;
/// Weight of the probably-missed term in [`Uncertainty::score`].
pub const SCORE_W_MISSED: f32 = 0.2;

impl Uncertainty {
    /// One number in `0..=1` combining the measures:
    ///
    /// ```text
    /// 0.4 · entropy.max                       the most confused box decides: one ambiguous
    ///                                         object is worth a label
    /// + 0.2 · least_confidence.top_k_mean     several unsure boxes add up, one does not dominate
    /// + 0.2 · tta_disagreement                the model contradicts itself under a mirror
    /// + 0.2 · min(1, missed_score / display)  an object probably missed, stronger the closer it
    ///                                         came to being shown (0.6..1 with the defaults)
    /// ```
    ///
    /// Without a TTA pass (`tta_disagreement` is `None`) the other three weights are scaled up to
    /// sum to 1 again, so runs with and without TTA stay on the same scale. An image without
    /// boxes scores 0.
    pub fn score(&self) -> f32 {
        let missed = if self.display_threshold > 0.0 {
            (self.missed_score / self.display_threshold).min(1.0)
        } else {
            0.0
        };
        let base = SCORE_W_ENTROPY * self.entropy.max
            + SCORE_W_LEAST_CONFIDENCE * self.least_confidence.top_k_mean
            + SCORE_W_MISSED * missed;
        let score = match self.tta_disagreement {
            Some(tta) => base + SCORE_W_TTA * tta,
            None => base / (1.0 - SCORE_W_TTA),
        };
        if score.is_finite() { score.clamp(0.0, 1.0) } else { 0.0 }
    }
}

/// Per-box measures of one probability vector.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BoxMeasures {
    least_confidence: f32,
    margin: f32,
    entropy: f32,
}

/// Least confidence, margin uncertainty and normalised entropy of one class-probability vector.
///
/// YOLO's class probabilities are independent sigmoids, so the vector is first normalised to a
/// distribution (`p_i / Σ p`); negative and non-finite entries count as 0. `None` when nothing is
/// left (empty or all zero): such a vector carries no class evidence, and the box is skipped for
/// these measures rather than given an invented maximal uncertainty.
fn box_measures(probs: &[f32]) -> Option<BoxMeasures> {
    let clean = |p: f32| if p.is_finite() && p > 0.0 { p } else { 0.0 };
    let sum: f32 = probs.iter().map(|&p| clean(p)).sum();
    if !(sum > 0.0 && sum.is_finite()) {
        return None;
    }
    let (mut p1, mut p2, mut h) = (0.0f32, 0.0f32, 0.0f32);
    for &p in probs {
        let q = clean(p) / sum;
        if q > p1 {
            p2 = p1;
            p1 = q;
        } else if q > p2 {
            p2 = q;
        }
        if q > 0.0 {
            h -= q * q.ln();
        }
    }
    let entropy = if probs.len() > 1 { (h / (probs.len() as f32).ln()).clamp(0.0, 1.0) } else { 0.0 };
    Some(BoxMeasures {
        least_confidence: (1.0 - p1).clamp(0.0, 1.0),
        margin: (1.0 - (p1 - p2)).clamp(0.0, 1.0),
        entropy,
    })
}

/// Intersection over union of two `[x0, y0, x1, y1]` boxes; 0 for empty or degenerate boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 && inter > 0.0 { (inter / union).clamp(0.0, 1.0) } else { 0.0 }
}

/// Disagreement between the displayed boxes of the plain pass `a` and of the mirrored pass `b`.
///
/// Boxes are matched class-agnostically, greedily, best IoU first (ties by lower index), pairs
/// needing an IoU of at least `min_iou`. Each matched pair agrees by `IoU` when both passes give
/// the same class and by 0 otherwise; unmatched boxes agree by 0. The disagreement is
/// `1 - Σ agreement / |union|` with `|union| = |a| + |b| - matched pairs`: 0 when every box has
/// an identical twin of the same class, 1 when nothing matches. Matching class-agnostically makes
/// a class flip count as one disagreeing object instead of two unmatched ones. Two empty passes
/// agree (0).
fn tta_disagreement(a: &[&Detection<'_>], b: &[&Detection<'_>], min_iou: f32) -> f32 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (i, da) in a.iter().enumerate() {
        for (j, db) in b.iter().enumerate() {
            let v = iou(&da.bbox, &db.bbox);
            if v > 0.0 && v >= min_iou {
                pairs.push((v, i, j));
            }
        }
    }
    pairs.sort_unstable_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut used_a = vec![false; a.len()];
    let mut used_b = vec![false; b.len()];
    let (mut matched, mut agreement) = (0usize, 0.0f32);
    for (v, i, j) in pairs {
        if used_a[i] || used_b[j] {
            continue;
        }
        used_a[i] = true;
        used_b[j] = true;
        matched += 1;
        if a[i].class == b[j].class {
            agreement += v;
        }
    }
    let union = (a.len() + b.len() - matched) as f32;
    (1.0 - agreement / union).clamp(0.0, 1.0)
}

/// Uncertainty of one image from all its stored boxes (both passes, every score kept).
///
/// Which boxes count where:
/// - per-box measures: plain-pass boxes with `score >= display - band` (displayed and near
///   threshold; fainter ones are mostly background noise of the low keep threshold), mirrored
///   boxes excluded so that TTA does not count each object twice;
/// - TTA disagreement: displayed boxes (`score >= display`) of each pass;
/// - probably missed: plain-pass boxes with `score` in `[display - band, display)` against the
///   displayed plain-pass boxes.
pub fn image_uncertainty(dets: &[Detection<'_>], params: &UncertaintyParams) -> Uncertainty {
    let display = params.display_threshold;
    let floor = params.near_floor();

    let mut lc = Vec::new();
    let mut margin = Vec::new();
    let mut entropy = Vec::new();
    for d in dets.iter().filter(|d| !d.flipped && d.score >= floor) {
        if let Some(m) = box_measures(d.probs) {
            lc.push(m.least_confidence);
            margin.push(m.margin);
            entropy.push(m.entropy);
        }
    }

    let shown: Vec<&Detection<'_>> = dets.iter().filter(|d| !d.flipped && d.score >= display).collect();
    let tta = dets.iter().any(|d| d.flipped).then(|| {
        let shown_flipped: Vec<&Detection<'_>> =
            dets.iter().filter(|d| d.flipped && d.score >= display).collect();
        tta_disagreement(&shown, &shown_flipped, params.tta_iou)
    });

    // Probably missed: strongest first, so overlapping near-threshold boxes count once, under the
    // strongest of them.
    let mut near: Vec<&Detection<'_>> =
        dets.iter().filter(|d| !d.flipped && d.score >= floor && d.score < display).collect();
    near.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut missed: Vec<&Detection<'_>> = Vec::new();
    for d in near {
        let explained =
            shown.iter().chain(missed.iter()).any(|s| iou(&s.bbox, &d.bbox) >= MISSED_OVERLAP_IOU);
        if !explained {
            missed.push(d);
        }
    }

    Uncertainty {
        boxes: lc.len() as u32,
        least_confidence: Agg::of(&mut lc, params.top_k),
        margin: Agg::of(&mut margin, params.top_k),
        entropy: Agg::of(&mut entropy, params.top_k),
        tta_disagreement: tta,
        missed_objects: missed.len() as u32,
        missed_score: missed.first().map_or(0.0, |d| d.score),
        display_threshold: display,
    }
}

/// Rank of each value within the pool, in `0..=1`: the share of the *other* values that are
/// strictly smaller, `#{v_j < v_i} / (n - 1)`.
///
/// The smallest value ranks 0 and a unique largest 1; equal values share the rank of the lowest of
/// them, so a large tie (for instance the many images without boxes, all at 0) never claims a high
/// rank, and "in the top 3 %" (`rank >= 0.97`) means that at least 97 % of the other images are
/// strictly lower. NaN ranks as the smallest value; a pool of one ranks 0. `O(n log n)`.
pub fn percentile_ranks(values: &[f32]) -> Vec<f32> {
    let n = values.len();
    let mut ranks = vec![0.0f32; n];
    if n < 2 {
        return ranks;
    }
    // -0.0 + 0.0 == +0.0, so the two zeros tie under total_cmp.
    let key = |v: f32| if v.is_nan() { f32::NEG_INFINITY } else { v + 0.0 };
    let mut order: Vec<(f32, usize)> = values.iter().enumerate().map(|(i, &v)| (key(v), i)).collect();
    order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let denom = (n - 1) as f32;
    let mut start = 0;
    while start < n {
        let v = order[start].0;
        let mut end = start + 1;
        while end < n && order[end].0.total_cmp(&v).is_eq() {
            end += 1;
        }
        let rank = start as f32 / denom;
        for &(_, i) in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}
