//! Coverage: for each condition key, how every value is represented in the pool, in the labeled
//! set and in the target the data lead sets, a gap score, and the model's confidence there.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What is counted per condition value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValueCounts {
    /// Images in the pool (every present image) with this value.
    pub pool: u64,
    /// Of those, images whose labels are done.
    pub labeled: u64,
    /// Images with predictions, and how many of them the model is unsure about.
    pub predicted: u64,
    pub low_confidence: u64,
    /// Sum of per-image model confidence over `predicted` images.
    pub confidence_sum: f64,
}

/// A target share set by the data lead for one value of a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub key: String,
    pub value: String,
    /// 0..=1
    pub share: f64,
}

/// One row of the coverage table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CoverageRow {
    pub key: String,
    pub value: String,
    pub pool: u64,
    pub labeled: u64,
    pub pool_share: f64,
    pub labeled_share: f64,
    pub target_share: f64,
    /// True when no target was set and the pool's share is the target.
    pub target_is_pool: bool,
    /// How far the labeled share falls short of the target, relative to the target: 0 when
    /// the target is met, 1 when nothing with this value is labeled.
    pub gap: f64,
    /// Share of this value's predicted images the model is unsure about.
    pub low_confidence_rate: Option<f64>,
    /// Mean model confidence over this value's predicted images.
    pub mean_confidence: Option<f64>,
}

/// The coverage table: every (key, value) of `counts`, sorted by key then by pool size
/// (largest first). Explicit targets override the pool's share for their value; the other
/// values of that key share what is left in proportion to their pool share.
pub fn coverage(counts: &BTreeMap<(String, String), ValueCounts>, targets: &[Target]) -> Vec<CoverageRow> {
    let mut pool_total: BTreeMap<&str, u64> = BTreeMap::new();
    let mut labeled_total: BTreeMap<&str, u64> = BTreeMap::new();
    for ((key, _), c) in counts {
        *pool_total.entry(key).or_default() += c.pool;
        *labeled_total.entry(key).or_default() += c.labeled;
    }
    let mut rows = Vec::with_capacity(counts.len());
    for ((key, value), c) in counts {
        let pool_n = pool_total.get(key.as_str()).copied().unwrap_or(0).max(1) as f64;
        let labeled_n = labeled_total.get(key.as_str()).copied().unwrap_or(0);
        let pool_share = c.pool as f64 / pool_n;
        let labeled_share = if labeled_n == 0 { 0.0 } else { c.labeled as f64 / labeled_n as f64 };
        let explicit: Vec<&Target> = targets.iter().filter(|t| t.key == *key).collect();
        let (target_share, target_is_pool) = match explicit.iter().find(|t| t.value == *value) {
            Some(t) => (t.share, false),
            None if explicit.is_empty() => (pool_share, true),
            None => {
                // Values without a target share what the explicit targets leave, by pool share.
                let taken: f64 = explicit.iter().map(|t| t.share).sum::<f64>().min(1.0);
                let rest_pool: f64 = counts
                    .iter()
                    .filter(|((k, v), _)| k == key && !explicit.iter().any(|t| t.value == *v))
                    .map(|(_, c)| c.pool as f64 / pool_n)
                    .sum();
                let share = if rest_pool > 0.0 { (1.0 - taken) * pool_share / rest_pool } else { 0.0 };
                (share, false)
            }
        };
        let gap = if target_share <= 0.0 {
            0.0
        } else {
            ((target_share - labeled_share) / target_share).clamp(0.0, 1.0)
        };
        rows.push(CoverageRow {
            key: key.clone(),
            value: value.clone(),
            pool: c.pool,
            labeled: c.labeled,
            pool_share,
            labeled_share,
            target_share,
            target_is_pool,
            gap,
            low_confidence_rate: (c.predicted > 0).then(|| c.low_confidence as f64 / c.predicted as f64),
            mean_confidence: (c.predicted > 0).then(|| c.confidence_sum / c.predicted as f64),
        });
    }
    rows.sort_by(|a, b| a.key.cmp(&b.key).then(b.pool.cmp(&a.pool)).then(a.value.cmp(&b.value)));
    rows
}

/// Checks targets: shares in 0..=1, and per key they add up to at most 1.
pub fn validate_targets(targets: &[Target]) -> Result<(), String> {
    let mut per_key: BTreeMap<&str, f64> = BTreeMap::new();
    for t in targets {
        if !(0.0..=1.0).contains(&t.share) || !t.share.is_finite() {
            return Err(format!("target {}={}: share {} is outside 0..1", t.key, t.value, t.share));
        }
        *per_key.entry(&t.key).or_default() += t.share;
    }
    for (key, sum) in per_key {
        if sum > 1.0 + 1e-9 {
            return Err(format!("targets for `{key}` add up to {:.0}%, more than 100%", sum * 100.0));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(rows: &[(&str, &str, u64, u64)]) -> BTreeMap<(String, String), ValueCounts> {
        rows.iter()
            .map(|&(k, v, pool, labeled)| {
                ((k.to_string(), v.to_string()), ValueCounts { pool, labeled, ..ValueCounts::default() })
            })
            .collect()
    }

    #[test]
    fn gap_is_relative_shortfall_against_the_pool_share() {
        let c = counts(&[("light", "night", 200, 2), ("light", "day", 800, 98)]);
        let rows = coverage(&c, &[]);
        let night = rows.iter().find(|r| r.value == "night").expect("night");
        assert!((night.pool_share - 0.2).abs() < 1e-12);
        assert!((night.labeled_share - 0.02).abs() < 1e-12);
        assert!((night.gap - 0.9).abs() < 1e-9, "{}", night.gap);
        assert!(night.target_is_pool);
        let day = rows.iter().find(|r| r.value == "day").expect("day");
        assert_eq!(day.gap, 0.0, "over-represented values have no gap");
        assert_eq!(rows[0].value, "day", "largest pool first");
    }

    #[test]
    fn explicit_targets_override_and_the_rest_share_what_is_left() {
        let c = counts(&[("w", "fog", 100, 0), ("w", "clear", 600, 10), ("w", "rain", 300, 0)]);
        let rows = coverage(&c, &[Target { key: "w".into(), value: "fog".into(), share: 0.4 }]);
        let get = |v: &str| rows.iter().find(|r| r.value == v).expect("row").target_share;
        assert!((get("fog") - 0.4).abs() < 1e-12);
        assert!((get("clear") - 0.6 * 600.0 / 900.0).abs() < 1e-12);
        assert!((get("rain") - 0.6 * 300.0 / 900.0).abs() < 1e-12);
        assert!(
            validate_targets(&[
                Target { key: "w".into(), value: "fog".into(), share: 0.7 },
                Target { key: "w".into(), value: "rain".into(), share: 0.5 }
            ])
            .expect_err("over 100%")
            .contains("120%")
        );
    }
}
