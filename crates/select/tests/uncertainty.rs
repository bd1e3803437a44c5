//! Per-image uncertainty: per-box measures, flip-TTA disagreement, probably-missed objects, the
//! combined score and percentile ranks.

use lacuna_select::uncertainty::{
    Agg, Detection, Uncertainty, UncertaintyParams, image_uncertainty, iou, percentile_ranks,
};

const EPS: f32 = 1e-5;

fn det<'a>(bbox: [f32; 4], class: u32, score: f32, probs: &'a [f32]) -> Detection<'a> {
    Detection { bbox, class, score, probs, flipped: false }
}

fn flipped<'a>(bbox: [f32; 4], class: u32, score: f32, probs: &'a [f32]) -> Detection<'a> {
    Detection { bbox, class, score, probs, flipped: true }
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() < EPS
}

const CONFIDENT: [f32; 3] = [0.9, 0.05, 0.05];

#[test]
fn per_box_measures_on_a_normalised_distribution() {
    let params = UncertaintyParams::default();
    let u = image_uncertainty(&[det([0.0, 0.0, 10.0, 10.0], 0, 0.9, &CONFIDENT)], &params);
    assert_eq!(u.boxes, 1);
    assert!(close(u.least_confidence.max, 0.1));
    assert!(close(u.margin.max, 1.0 - (0.9 - 0.05)));
    let h = -(0.9f32 * 0.9f32.ln() + 2.0 * 0.05 * 0.05f32.ln()) / 3.0f32.ln();
    assert!(close(u.entropy.max, h), "{} vs {h}", u.entropy.max);

    // Sigmoid outputs need not sum to 1: the same proportions give the same measures.
    let halved = [0.45, 0.025, 0.025];
    let v = image_uncertainty(&[det([0.0, 0.0, 10.0, 10.0], 0, 0.45, &halved)], &params);
    assert!(close(v.least_confidence.max, u.least_confidence.max));
    assert!(close(v.margin.max, u.margin.max));
    assert!(close(v.entropy.max, u.entropy.max));
}

#[test]
fn uniform_probabilities_are_maximally_uncertain() {
    let probs = [0.3; 4];
    let u = image_uncertainty(&[det([0.0, 0.0, 5.0, 5.0], 1, 0.3, &probs)], &UncertaintyParams::default());
    assert!(close(u.entropy.max, 1.0));
    assert!(close(u.margin.max, 1.0));
    assert!(close(u.least_confidence.max, 0.75));
}

#[test]
fn single_class_and_all_zero_vectors() {
    let params = UncertaintyParams::default();
    let one = [0.7];
    let u = image_uncertainty(&[det([0.0, 0.0, 5.0, 5.0], 0, 0.7, &one)], &params);
    assert_eq!((u.boxes, u.entropy.max, u.margin.max, u.least_confidence.max), (1, 0.0, 0.0, 0.0));

    // No class evidence at all: skipped for the per-box measures, not given invented uncertainty.
    let zeros = [0.0, 0.0, 0.0];
    let nan = [f32::NAN, 0.0];
    let u = image_uncertainty(
        &[
            det([0.0, 0.0, 5.0, 5.0], 0, 0.7, &zeros),
            det([20.0, 0.0, 25.0, 5.0], 0, 0.7, &nan),
            det([40.0, 0.0, 45.0, 5.0], 0, 0.7, &[]),
        ],
        &params,
    );
    assert_eq!(u.boxes, 0);
    assert_eq!(u.entropy, Agg::default());
}

#[test]
fn image_without_boxes_is_all_zero() {
    let u = image_uncertainty(&[], &UncertaintyParams::default());
    assert_eq!(u.boxes, 0);
    assert_eq!(u.least_confidence, Agg::default());
    assert_eq!(u.tta_disagreement, None);
    assert_eq!((u.missed_objects, u.missed_score), (0, 0.0));
    assert_eq!(u.score(), 0.0);
}

#[test]
fn which_boxes_count_for_the_per_box_measures() {
    let params = UncertaintyParams::default();
    let unsure = [0.4, 0.35, 0.25];
    let dets = [
        det([0.0, 0.0, 10.0, 10.0], 0, 0.9, &CONFIDENT),
        // Faint (below display - band = 0.15): ignored.
        det([50.0, 50.0, 60.0, 60.0], 0, 0.10, &unsure),
        // Mirrored pass: ignored for per-box measures.
        flipped([0.0, 0.0, 10.0, 10.0], 0, 0.9, &unsure),
        // Near threshold: counts.
        det([100.0, 100.0, 110.0, 110.0], 0, 0.2, &unsure),
    ];
    let u = image_uncertainty(&dets, &params);
    assert_eq!(u.boxes, 2);
    assert!(close(u.least_confidence.max, 0.6));
    assert!(close(u.least_confidence.mean, (0.1 + 0.6) / 2.0));
}

#[test]
fn top_k_mean_averages_the_most_uncertain_boxes() {
    let params = UncertaintyParams { top_k: 2, ..UncertaintyParams::default() };
    let p = [[0.9f32, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]];
    let dets: Vec<Detection<'_>> = p
        .iter()
        .enumerate()
        .map(|(i, probs)| det([i as f32 * 20.0, 0.0, i as f32 * 20.0 + 10.0, 10.0], 0, 0.5, probs))
        .collect();
    let u = image_uncertainty(&dets, &params);
    assert!(close(u.least_confidence.max, 0.4));
    assert!(close(u.least_confidence.top_k_mean, 0.35));
    assert!(close(u.least_confidence.mean, 0.25));
}

#[test]
fn iou_basics() {
    assert!(close(iou(&[0.0, 0.0, 10.0, 10.0], &[0.0, 0.0, 10.0, 10.0]), 1.0));
    assert!(close(iou(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 15.0, 10.0]), 1.0 / 3.0));
    assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[20.0, 0.0, 30.0, 10.0]), 0.0);
    assert_eq!(iou(&[0.0, 0.0, 0.0, 10.0], &[0.0, 0.0, 0.0, 10.0]), 0.0);
}

#[test]
fn tta_disagreement() {
    let params = UncertaintyParams::default();
    let a = [0.0, 0.0, 10.0, 10.0];
    let b = [50.0, 50.0, 70.0, 70.0];

    // No mirrored box at all: no TTA pass.
    assert_eq!(image_uncertainty(&[det(a, 0, 0.9, &CONFIDENT)], &params).tta_disagreement, None);

    // Perfect agreement.
    let same = [
        det(a, 0, 0.9, &CONFIDENT),
        det(b, 1, 0.8, &CONFIDENT),
        flipped(a, 0, 0.9, &CONFIDENT),
        flipped(b, 1, 0.7, &CONFIDENT),
    ];
    assert_eq!(image_uncertainty(&same, &params).tta_disagreement, Some(0.0));

    // The mirrored pass only has a faint box: nothing displayed matches.
    let none = [det(a, 0, 0.9, &CONFIDENT), flipped(a, 0, 0.1, &CONFIDENT)];
    assert_eq!(image_uncertainty(&none, &params).tta_disagreement, Some(1.0));

    // Both passes display nothing: they agree.
    let empty = [det(a, 0, 0.1, &CONFIDENT), flipped(a, 0, 0.1, &CONFIDENT)];
    assert_eq!(image_uncertainty(&empty, &params).tta_disagreement, Some(0.0));

    // One shifted box (IoU 1/3 < 0.5: unmatched) and one exact twin: union 3, agreement 1.
    let shifted = [
        det(a, 0, 0.9, &CONFIDENT),
        det(b, 1, 0.9, &CONFIDENT),
        flipped([5.0, 0.0, 15.0, 10.0], 0, 0.9, &CONFIDENT),
        flipped(b, 1, 0.9, &CONFIDENT),
    ];
    let t = image_uncertainty(&shifted, &params).tta_disagreement.expect("mirrored pass");
    assert!(close(t, 1.0 - 1.0 / 3.0), "{t}");

    // Slightly shifted (IoU 0.8 >= 0.5): matched, agreement 0.8.
    let slight =
        [det([0.0, 0.0, 10.0, 10.0], 0, 0.9, &CONFIDENT), flipped([0.0, 0.0, 10.0, 8.0], 0, 0.9, &CONFIDENT)];
    let t = image_uncertainty(&slight, &params).tta_disagreement.expect("mirrored pass");
    assert!(close(t, 0.2), "{t}");

    // Same place, other class: one disagreeing object out of one.
    let class_flip = [det(a, 0, 0.9, &CONFIDENT), flipped(a, 2, 0.9, &CONFIDENT)];
    assert_eq!(image_uncertainty(&class_flip, &params).tta_disagreement, Some(1.0));
    // ... out of two objects.
    let half = [
        det(a, 0, 0.9, &CONFIDENT),
        det(b, 1, 0.9, &CONFIDENT),
        flipped(a, 2, 0.9, &CONFIDENT),
        flipped(b, 1, 0.9, &CONFIDENT),
    ];
    let t = image_uncertainty(&half, &params).tta_disagreement.expect("mirrored pass");
    assert!(close(t, 0.5), "{t}");
}

#[test]
fn tta_matching_is_greedy_best_first() {
    // P0 overlaps M0 by 0.739 and M1 by 0.6; P1 overlaps M0 by 0.905 (and M1 below 0.5).
    // Best first: P1-M0, then P0-M1; everything matched. (In index order P0 would take M0 and
    // leave P1 unmatched.)
    let params = UncertaintyParams::default();
    let dets = [
        det([0.0, 0.0, 10.0, 10.0], 0, 0.9, &CONFIDENT),
        det([2.0, 0.0, 12.0, 10.0], 0, 0.9, &CONFIDENT),
        flipped([1.5, 0.0, 11.5, 10.0], 0, 0.9, &CONFIDENT),
        flipped([-2.5, 0.0, 7.5, 10.0], 0, 0.9, &CONFIDENT),
    ];
    let t = image_uncertainty(&dets, &params).tta_disagreement.expect("mirrored pass");
    let expected = 1.0 - (95.0 / 105.0 + 0.6) / 2.0;
    assert!(close(t, expected), "{t} vs {expected}");
}

#[test]
fn probably_missed_objects() {
    let params = UncertaintyParams::default();
    let dets = [
        det([0.0, 0.0, 10.0, 10.0], 0, 0.9, &CONFIDENT),
        // Near threshold but on the displayed box: explained.
        det([0.0, 0.0, 10.0, 9.0], 1, 0.2, &CONFIDENT),
        // Near threshold, alone: missed (twice, overlapping: counted once, strongest score).
        det([50.0, 50.0, 60.0, 60.0], 0, 0.18, &CONFIDENT),
        det([50.0, 50.0, 60.0, 61.0], 2, 0.22, &CONFIDENT),
        // Another one elsewhere.
        det([100.0, 0.0, 110.0, 10.0], 0, 0.16, &CONFIDENT),
        // Too faint.
        det([200.0, 0.0, 210.0, 10.0], 0, 0.12, &CONFIDENT),
        // Mirrored pass: not counted.
        flipped([300.0, 0.0, 310.0, 10.0], 0, 0.2, &CONFIDENT),
    ];
    let u = image_uncertainty(&dets, &params);
    assert_eq!(u.missed_objects, 2);
    assert!(close(u.missed_score, 0.22));
}

#[test]
fn score_formula() {
    let mut u = Uncertainty {
        boxes: 3,
        least_confidence: Agg { max: 0.6, mean: 0.3, top_k_mean: 0.5 },
        margin: Agg::default(),
        entropy: Agg { max: 0.8, mean: 0.4, top_k_mean: 0.6 },
        tta_disagreement: Some(0.25),
        missed_objects: 1,
        missed_score: 0.2,
        display_threshold: 0.25,
    };
    let expected = 0.4 * 0.8 + 0.2 * 0.5 + 0.2 * 0.25 + 0.2 * (0.2 / 0.25);
    assert!(close(u.score(), expected), "{} vs {expected}", u.score());
    // Without TTA the other weights are scaled to sum to 1.
    u.tta_disagreement = None;
    let expected = (0.4 * 0.8 + 0.2 * 0.5 + 0.2 * (0.2 / 0.25)) / 0.8;
    assert!(close(u.score(), expected));
    // Everything maximal: 1.
    let max = Uncertainty {
        boxes: 1,
        least_confidence: Agg { max: 1.0, mean: 1.0, top_k_mean: 1.0 },
        margin: Agg { max: 1.0, mean: 1.0, top_k_mean: 1.0 },
        entropy: Agg { max: 1.0, mean: 1.0, top_k_mean: 1.0 },
        tta_disagreement: Some(1.0),
        missed_objects: 1,
        missed_score: 0.24,
        display_threshold: 0.25,
    };
    assert!(max.score() <= 1.0 && max.score() > 0.99);
}

#[test]
fn more_confusion_scores_higher() {
    let params = UncertaintyParams::default();
    let sure = image_uncertainty(&[det([0.0, 0.0, 10.0, 10.0], 0, 0.9, &CONFIDENT)], &params);
    let unsure_p = [0.4, 0.35, 0.25];
    let unsure = image_uncertainty(&[det([0.0, 0.0, 10.0, 10.0], 0, 0.4, &unsure_p)], &params);
    assert!(unsure.score() > sure.score());
    assert!((0.0..=1.0).contains(&unsure.score()));
}

#[test]
fn uncertainty_round_trips_through_json() {
    let probs = [0.5, 0.3, 0.2];
    let u = image_uncertainty(
        &[det([0.0, 0.0, 10.0, 10.0], 0, 0.5, &probs), flipped([1.0, 0.0, 10.0, 10.0], 1, 0.5, &probs)],
        &UncertaintyParams::default(),
    );
    let json = serde_json::to_string(&u).expect("serialise");
    let back: Uncertainty = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, u);
}

#[test]
fn percentile_ranks_share_ties_and_span_zero_to_one() {
    assert!(percentile_ranks(&[]).is_empty());
    assert_eq!(percentile_ranks(&[0.7]), vec![0.0]);
    assert_eq!(percentile_ranks(&[3.0, 1.0, 2.0, 2.0]), vec![1.0, 0.0, 1.0 / 3.0, 1.0 / 3.0]);
    assert_eq!(percentile_ranks(&[5.0, 5.0, 5.0]), vec![0.0, 0.0, 0.0]);
    assert_eq!(percentile_ranks(&[f32::NAN, 0.0, -0.0, 1.0]), vec![0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0]);
}

#[test]
fn percentile_ranks_top_three_percent() {
    // 1,000 distinct values plus 9,000 zeros (images without boxes).
    let mut values: Vec<f32> = (1..=1000).map(|i| i as f32 / 1000.0).collect();
    values.extend(std::iter::repeat_n(0.0, 9000));
    let ranks = percentile_ranks(&values);
    let top = ranks.iter().filter(|&&r| r >= 0.97).count();
    assert_eq!(top, 300); // 701..=1000: at least 97 % of the other values are strictly lower
    assert!(ranks[1000..].iter().all(|&r| r == 0.0));
    // Monotone in the value.
    for (i, w) in values[..1000].windows(2).enumerate() {
        assert!(w[0] < w[1] && ranks[i] < ranks[i + 1]);
    }
}
