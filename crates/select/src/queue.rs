//! The labeling queue: one score per unlabeled image from uncertainty, coverage gap and
//! novelty, weighted by the data lead, with the reasons in plain words and the numbers behind
//! them.
//!
//! Scoring: each component is in 0..=1 — uncertainty is the image's percentile rank of
//! [`crate::uncertainty::Uncertainty::score`] in the pool (so "top 3%" means something), coverage
//! is the largest gap among the image's condition values, novelty is the distance to the
//! nearest labeled image relative to the shortlist's 95th percentile. The image's score is their
//! weighted mean. A batch is then picked by k-center greedy weighted by that score, so one batch
//! is not many near-duplicates (see [`crate::diversity::k_center_greedy`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::coverage::CoverageRow;

/// How much each signal counts (any non-negative numbers; they are normalised).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Weights {
    pub uncertainty: f32,
    pub coverage: f32,
    pub diversity: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Self { uncertainty: 1.0, coverage: 1.0, diversity: 1.0 }
    }
}

impl Weights {
    /// Parses `uncertainty=2,coverage=1,diversity=0.5` (any subset; short names `u`, `c`, `d`
    /// work; missing ones keep their default of 1).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut w = Self::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) =
                part.split_once('=').ok_or_else(|| format!("weights: `{part}` is not name=value"))?;
            let value: f32 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f32| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("weights: `{value}` for {name} is not a number >= 0"))?;
            match name.trim() {
                "uncertainty" | "u" => w.uncertainty = value,
                "coverage" | "c" => w.coverage = value,
                "diversity" | "d" | "novelty" => w.diversity = value,
                other => {
                    return Err(format!(
                        "weights: unknown signal `{other}` (uncertainty, coverage, diversity)"
                    ));
                }
            }
        }
        if w.uncertainty + w.coverage + w.diversity <= 0.0 {
            return Err("weights: at least one weight must be above 0".into());
        }
        Ok(w)
    }
}

/// What the queue knows about an unlabeled image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: i64,
    /// `None` when no run has pre-labeled the image.
    pub uncertainty: Option<UncertaintySignals>,
    /// Resolved condition values (key, value).
    pub conditions: Vec<(String, String)>,
}

/// The uncertainty numbers a reason may quote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UncertaintySignals {
    /// The combined 0..1 score.
    pub score: f32,
    /// Its percentile rank in the pool, 0..1 (1 = the most uncertain image).
    pub rank: f32,
    pub entropy_max: f32,
    pub tta_disagreement: Option<f32>,
    pub missed_objects: u32,
    pub missed_score: f32,
}

/// The components and the numbers behind an item's score.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Components {
    pub uncertainty: f32,
    pub coverage: f32,
    pub diversity: f32,
    /// The condition value whose gap gave the coverage component.
    pub coverage_key: Option<String>,
    pub coverage_value: Option<String>,
    pub labeled_share: Option<f64>,
    pub target_share: Option<f64>,
    pub pool_share: Option<f64>,
    pub nearest_labeled_distance: Option<f32>,
    pub uncertainty_rank: Option<f32>,
    pub entropy_max: Option<f32>,
    pub tta_disagreement: Option<f32>,
    pub missed_objects: Option<u32>,
}

/// One entry of the ranked queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    pub id: i64,
    pub score: f32,
    pub components: Components,
    /// Plain-language reasons, most important first.
    pub reasons: Vec<String>,
}

/// Gap lookup built from the coverage table.
#[derive(Debug, Clone, Default)]
pub struct Gaps {
    rows: BTreeMap<(String, String), CoverageRow>,
}

impl Gaps {
    pub fn new(rows: &[CoverageRow]) -> Self {
        Self { rows: rows.iter().map(|r| ((r.key.clone(), r.value.clone()), r.clone())).collect() }
    }

    /// The row of the candidate's value with the largest gap, if any has one.
    pub fn worst<'a>(&'a self, conditions: &[(String, String)]) -> Option<&'a CoverageRow> {
        conditions
            .iter()
            .filter_map(|(k, v)| self.rows.get(&(k.clone(), v.clone())))
            .filter(|r| r.gap > 0.0)
            .max_by(|a, b| a.gap.total_cmp(&b.gap).then_with(|| b.key.cmp(&a.key)))
    }
}

fn weighted(c: &Components, w: &Weights) -> f32 {
    let total = w.uncertainty + w.coverage + w.diversity;
    (w.uncertainty * c.uncertainty + w.coverage * c.coverage + w.diversity * c.diversity) / total
}

/// The components of a candidate without novelty (diversity is filled in for the shortlist).
pub fn components(candidate: &Candidate, gaps: &Gaps) -> Components {
    let mut c = Components::default();
    if let Some(u) = &candidate.uncertainty {
        c.uncertainty = u.rank;
        c.uncertainty_rank = Some(u.rank);
        c.entropy_max = Some(u.entropy_max);
        c.tta_disagreement = u.tta_disagreement;
        c.missed_objects = Some(u.missed_objects);
    }
    if let Some(row) = gaps.worst(&candidate.conditions) {
        c.coverage = row.gap as f32;
        c.coverage_key = Some(row.key.clone());
        c.coverage_value = Some(row.value.clone());
        c.labeled_share = Some(row.labeled_share);
        c.target_share = Some(row.target_share);
        c.pool_share = Some(row.pool_share);
    }
    c
}

/// Score before novelty is known: used to pick the shortlist diversity is computed for.
pub fn preliminary_score(c: &Components, w: &Weights) -> f32 {
    weighted(&Components { diversity: 0.0, ..c.clone() }, &Weights { diversity: 0.0, ..*w })
}

/// Indices of the `n` best preliminary scores, best first (ties: lower index first).
pub fn shortlist(scores: &[f32], n: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    let n = n.min(idx.len());
    let cmp = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b));
    if n < idx.len() {
        idx.select_nth_unstable_by(n, cmp);
        idx.truncate(n);
    }
    idx.sort_by(cmp);
    idx
}

/// Novelty in 0..1: distances divided by their 95th percentile, capped at 1.
pub fn novelty(distances: &[f32]) -> Vec<f32> {
    let mut sorted: Vec<f32> = distances.iter().copied().filter(|d| d.is_finite()).collect();
    if sorted.is_empty() {
        return vec![0.0; distances.len()];
    }
    sorted.sort_by(f32::total_cmp);
    let p95 = sorted[((sorted.len() - 1) as f32 * 0.95) as usize].max(1e-6);
    distances.iter().map(|d| if d.is_finite() { (d / p95).min(1.0) } else { 1.0 }).collect()
}

/// The final score of a candidate.
pub fn final_score(c: &Components, w: &Weights) -> f32 {
    weighted(c, w)
}

fn pct(v: f64) -> String {
    let p = v * 100.0;
    if p > 0.0 && p < 1.0 { format!("{p:.1}%") } else { format!("{p:.0}%") }
}

/// The reasons for an item, most important first, in words a person reads.
pub fn reasons(c: &Components, w: &Weights) -> Vec<String> {
    let mut parts: Vec<(f32, String)> = Vec::new();
    if let (Some(key), Some(value), Some(labeled), Some(target)) =
        (&c.coverage_key, &c.coverage_value, c.labeled_share, c.target_share)
        && c.coverage > 0.1
    {
        let against = match c.pool_share {
            Some(pool) if (pool - target).abs() < 1e-9 => format!("{} of pool", pct(pool)),
            _ => format!("target {}", pct(target)),
        };
        let value_text = value.replace('_', " ");
        // Values of the built-in light and time-of-day keys name themselves ("night"); others
        // need their key ("weather unknown", "camera cam07", "site north").
        let label = match key.as_str() {
            "light" | "time_of_day" => value_text,
            _ => format!("{} {value_text}", key.replace('_', " ")),
        };
        let text = format!("{label}: {} of labeled vs {against}", pct(labeled));
        parts.push((w.coverage * c.coverage, text));
    }
    if let Some(rank) = c.uncertainty_rank
        && rank >= 0.8
    {
        let top = ((1.0 - rank) * 100.0).max(0.1);
        let text = if top < 1.0 {
            format!("model uncertainty in top {top:.1}%")
        } else {
            format!("model uncertainty in top {top:.0}%")
        };
        let text = match c.entropy_max {
            Some(e) if e >= 0.5 => format!("{text} (class entropy {e:.2})"),
            _ => text,
        };
        parts.push((w.uncertainty * c.uncertainty, text));
    }
    if let Some(t) = c.tta_disagreement
        && t >= 0.3
    {
        parts.push((
            w.uncertainty * t * 0.9,
            format!("flipped image disagrees ({:.0}% of boxes unmatched)", t * 100.0),
        ));
    }
    if let Some(n) = c.missed_objects
        && n > 0
    {
        let s = if n == 1 { "" } else { "es" };
        parts.push((
            w.uncertainty * 0.5,
            format!("{n} box{s} just under the display threshold (probably missed)"),
        ));
    }
    if let Some(d) = c.nearest_labeled_distance
        && c.diversity >= 0.6
    {
        let text = if c.diversity >= 0.99 {
            format!("far from anything labeled (distance {d:.2})")
        } else {
            format!("unlike the labeled images (distance {d:.2})")
        };
        parts.push((w.diversity * c.diversity, text));
    }
    if c.uncertainty_rank.is_none() {
        parts.push((0.0, "not pre-labeled yet (no model signal)".to_string()));
    }
    if parts.is_empty() {
        parts.push((0.0, "no strong signal: next by combined score".to_string()));
    }
    parts.sort_by(|a, b| b.0.total_cmp(&a.0));
    parts.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::{ValueCounts, coverage};

    #[test]
    fn weights_parse_and_reject_nonsense() {
        let w = Weights::parse("uncertainty=2, c=0.5").expect("valid");
        assert_eq!((w.uncertainty, w.coverage, w.diversity), (2.0, 0.5, 1.0));
        assert!(Weights::parse("speed=1").expect_err("unknown").contains("speed"));
        assert!(Weights::parse("u=-1").expect_err("negative").contains("-1"));
        assert!(Weights::parse("u=0,c=0,d=0").is_err());
    }

    #[test]
    fn reasons_quote_the_numbers() {
        let counts: BTreeMap<(String, String), ValueCounts> = [
            (
                ("light".to_string(), "night".to_string()),
                ValueCounts { pool: 210, labeled: 4, ..Default::default() },
            ),
            (
                ("light".to_string(), "day".to_string()),
                ValueCounts { pool: 790, labeled: 96, ..Default::default() },
            ),
        ]
        .into_iter()
        .collect();
        let gaps = Gaps::new(&coverage(&counts, &[]));
        let cand = Candidate {
            id: 7,
            uncertainty: Some(UncertaintySignals {
                score: 0.8,
                rank: 0.97,
                entropy_max: 0.7,
                tta_disagreement: None,
                missed_objects: 0,
                missed_score: 0.0,
            }),
            conditions: vec![("light".into(), "night".into())],
        };
        let mut c = components(&cand, &gaps);
        c.diversity = 1.0;
        c.nearest_labeled_distance = Some(0.93);
        let r = reasons(&c, &Weights::default());
        assert!(r.iter().any(|t| t == "night: 4% of labeled vs 21% of pool"), "{r:?}");
        assert!(r.iter().any(|t| t.starts_with("model uncertainty in top 3%")), "{r:?}");
        assert!(r.iter().any(|t| t.starts_with("far from anything labeled")), "{r:?}");
        assert!(final_score(&c, &Weights::default()) > preliminary_score(&c, &Weights::default()) * 0.9);
    }

    #[test]
    fn shortlist_takes_the_best_in_order() {
        assert_eq!(shortlist(&[0.1, 0.9, 0.5, 0.9, 0.2], 3), vec![1, 3, 2]);
        assert_eq!(shortlist(&[0.3], 5), vec![0]);
        let n = novelty(&[0.0, 1.0, 2.0, f32::INFINITY]);
        assert_eq!(n[0], 0.0);
        assert_eq!(n[3], 1.0);
    }
}
