//! The queue kept in memory and updated after each labeled image (what a long-running app
//! does), instead of recomputed from the catalog.
//!
//! Built once from the candidates, the coverage counts and (optionally) a shortlist with
//! embeddings; [`QueueState::on_labeled`] then costs a few passes over plain arrays: the labeled
//! image's condition counts change, so every value's gap is recomputed (a few hundred values),
//! every candidate's coverage component is the max over its value ids, the new embedding lowers
//! the shortlist's nearest-labeled distances, and the best `k` are selected again.

use std::collections::{BTreeMap, HashMap};

use crate::coverage::{self, CoverageRow, Target, ValueCounts};
use crate::diversity::{Embeddings, update_min_distances};
use crate::queue::{self, Candidate, Components, QueueItem, Weights};

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct QueueState {
    weights: Weights,
    targets: Vec<Target>,
    values: Vec<(String, String)>,
    value_id: HashMap<(String, String), u32>,
    counts: Vec<ValueCounts>,
    rows: Vec<Option<CoverageRow>>,
    candidates: Vec<Candidate>,
    /// Flat value ids per candidate: `cand_values[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    cand_values: Vec<u32>,
    alive: Vec<bool>,
    index_of: HashMap<i64, usize>,
    /// Shortlist position of each shortlisted candidate, its normalised embeddings,
    /// nearest-labeled distances and the distance that counts as fully novel.
    short_pos: HashMap<usize, usize>,
    short_emb: Option<Embeddings>,
    short_min: Vec<f32>,
    novelty_scale: f32,
}

impl QueueState {
    /// `counts`: per (key, value), pool and labeled counts of the whole pool (candidates and
    /// labeled images). `shortlist`: candidate indices with their embeddings (any norm) and
    /// distances to the nearest labeled image.
    pub fn new(
        candidates: Vec<Candidate>,
        counts: BTreeMap<(String, String), ValueCounts>,
        targets: Vec<Target>,
        weights: Weights,
        shortlist: Option<(Vec<usize>, Embeddings, Vec<f32>)>,
    ) -> Self {
        let mut values = Vec::new();
        let mut value_id = HashMap::new();
        let mut count_vec = Vec::new();
        for (kv, c) in counts {
            value_id.insert(kv.clone(), values.len() as u32);
            values.push(kv);
            count_vec.push(c);
        }
        let mut starts = Vec::with_capacity(candidates.len() + 1);
        let mut cand_values = Vec::new();
        starts.push(0);
        for c in &candidates {
            for kv in &c.conditions {
                if let Some(&id) = value_id.get(kv) {
                    cand_values.push(id);
                }
            }
            starts.push(cand_values.len() as u32);
        }
        let index_of = candidates.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        let (short, short_emb, short_min) = match shortlist {
            Some((s, e, d)) => (s, Some(e.normalized()), d),
            None => (Vec::new(), None, Vec::new()),
        };
        let mut sorted: Vec<f32> = short_min.iter().copied().filter(|d| d.is_finite()).collect();
        sorted.sort_by(f32::total_cmp);
        let novelty_scale =
            sorted.get(((sorted.len().max(1) - 1) as f32 * 0.95) as usize).copied().unwrap_or(1.0);
        let short_pos = short.iter().enumerate().map(|(p, &i)| (i, p)).collect();
        let alive = vec![true; candidates.len()];
        let mut state = Self {
            weights,
            targets,
            values,
            value_id,
            counts: count_vec,
            rows: Vec::new(),
            candidates,
            starts,
            cand_values,
            alive,
            index_of,
            short_pos,
            short_emb,
            short_min,
            novelty_scale: novelty_scale.max(1e-6),
        };
        state.refresh_rows();
        state
    }

    fn refresh_rows(&mut self) {
        let map: BTreeMap<(String, String), ValueCounts> =
            self.values.iter().cloned().zip(self.counts.iter().cloned()).collect();
        let rows = coverage::coverage(&map, &self.targets);
        let mut by_id: Vec<Option<CoverageRow>> = vec![None; self.values.len()];
        for r in rows {
            if let Some(&id) = self.value_id.get(&(r.key.clone(), r.value.clone())) {
                by_id[id as usize] = Some(r);
            }
        }
        self.rows = by_id;
    }

    /// The coverage table as it stands.
    pub fn coverage(&self) -> Vec<CoverageRow> {
        let mut rows: Vec<CoverageRow> = self.rows.iter().flatten().cloned().collect();
        rows.sort_by(|a, b| a.key.cmp(&b.key).then(b.pool.cmp(&a.pool)).then(a.value.cmp(&b.value)));
        rows
    }

    fn components(&self, i: usize) -> Components {
        let mut c = Components::default();
        let cand = &self.candidates[i];
        if let Some(u) = &cand.uncertainty {
            c.uncertainty = u.rank;
            c.uncertainty_rank = Some(u.rank);
            c.entropy_max = Some(u.entropy_max);
            c.tta_disagreement = u.tta_disagreement;
            c.missed_objects = Some(u.missed_objects);
        }
        let mut worst: Option<&CoverageRow> = None;
        for &v in &self.cand_values[self.starts[i] as usize..self.starts[i + 1] as usize] {
            if let Some(r) = &self.rows[v as usize]
                && r.gap > 0.0
                && worst.is_none_or(|w| r.gap > w.gap)
            {
                worst = Some(r);
            }
        }
        if let Some(r) = worst {
            c.coverage = r.gap as f32;
            c.coverage_key = Some(r.key.clone());
            c.coverage_value = Some(r.value.clone());
            c.labeled_share = Some(r.labeled_share);
            c.target_share = Some(r.target_share);
            c.pool_share = Some(r.pool_share);
        }
        if let Some(&p) = self.short_pos.get(&i) {
            let d = self.short_min[p];
            c.diversity = if d.is_finite() { (d / self.novelty_scale).min(1.0) } else { 1.0 };
            c.nearest_labeled_distance = d.is_finite().then_some(d);
        }
        c
    }

    /// Fast score of candidate `i` (no strings built).
    fn score(&self, i: usize, gaps: &[f32]) -> f32 {
        let cand = &self.candidates[i];
        let u = cand.uncertainty.as_ref().map_or(0.0, |u| u.rank);
        let mut c = 0.0f32;
        for &v in &self.cand_values[self.starts[i] as usize..self.starts[i + 1] as usize] {
            c = c.max(gaps[v as usize]);
        }
        let d = match self.short_pos.get(&i) {
            Some(&p) => {
                let d = self.short_min[p];
                if d.is_finite() { (d / self.novelty_scale).min(1.0) } else { 1.0 }
            }
            None => 0.0,
        };
        let w = &self.weights;
        (w.uncertainty * u + w.coverage * c + w.diversity * d) / (w.uncertainty + w.coverage + w.diversity)
    }

    /// The best `k` candidates, best first, with reasons.
    pub fn top(&self, k: usize) -> Vec<QueueItem> {
        let gaps: Vec<f32> = self.rows.iter().map(|r| r.as_ref().map_or(0.0, |r| r.gap as f32)).collect();
        let mut scored: Vec<(f32, usize)> = (0..self.candidates.len())
            .filter(|&i| self.alive[i])
            .map(|i| (self.score(i, &gaps), i))
            .collect();
        let k = k.min(scored.len());
        let cmp = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if k < scored.len() {
            scored.select_nth_unstable_by(k, cmp);
            scored.truncate(k);
        }
        scored.sort_by(cmp);
        scored
            .into_iter()
            .map(|(score, i)| {
                let c = self.components(i);
                QueueItem {
                    id: self.candidates[i].id,
                    score,
                    reasons: queue::reasons(&c, &self.weights),
                    components: c,
                }
            })
            .collect()
    }

    /// Records that candidate `id` was labeled: its conditions count as labeled, it leaves the
    /// queue, and its embedding (if any) lowers the shortlist's nearest-labeled distances.
    pub fn on_labeled(&mut self, id: i64, embedding: Option<&[f32]>) -> Result<(), String> {
        let i = *self.index_of.get(&id).ok_or_else(|| format!("image {id} is not a candidate"))?;
        if !self.alive[i] {
            return Ok(());
        }
        self.alive[i] = false;
        for &v in &self.cand_values[self.starts[i] as usize..self.starts[i + 1] as usize] {
            self.counts[v as usize].labeled += 1;
        }
        self.refresh_rows();
        if let (Some(emb), Some(v)) = (&self.short_emb, embedding) {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            let unit: Vec<f32> = v.iter().map(|x| x / norm).collect();
            update_min_distances(emb, &mut self.short_min, &unit).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Candidates still in the queue.
    pub fn remaining(&self) -> usize {
        self.alive.iter().filter(|a| **a).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::UncertaintySignals;

    fn cand(id: i64, light: &str, rank: f32) -> Candidate {
        Candidate {
            id,
            uncertainty: Some(UncertaintySignals {
                score: rank,
                rank,
                entropy_max: 0.0,
                tta_disagreement: None,
                missed_objects: 0,
                missed_score: 0.0,
            }),
            conditions: vec![("light".into(), light.into())],
        }
    }

    #[test]
    fn labeling_closes_the_gap_and_the_queue_turns_to_other_values() {
        let mut candidates = Vec::new();
        for i in 0..20 {
            candidates.push(cand(i, if i < 4 { "night" } else { "day" }, 0.5));
        }
        let mut counts = BTreeMap::new();
        counts.insert(
            ("light".into(), "night".into()),
            ValueCounts { pool: 5, labeled: 1, ..Default::default() },
        );
        counts.insert(
            ("light".into(), "day".into()),
            ValueCounts { pool: 45, labeled: 29, ..Default::default() },
        );
        let weights = Weights { uncertainty: 1.0, coverage: 1.0, diversity: 0.0 };
        let mut q = QueueState::new(candidates, counts, vec![], weights, None);
        let first = q.top(3);
        assert!(first.iter().all(|it| it.id < 4), "night images first: {first:?}");
        assert!(first[0].reasons[0].starts_with("night:"), "{:?}", first[0].reasons);
        for id in 0..4 {
            q.on_labeled(id, None).expect("candidate");
        }
        let row = q.coverage().into_iter().find(|r| r.value == "night").expect("night row");
        assert_eq!(row.labeled, 5);
        assert_eq!(q.remaining(), 16);
        assert!(q.top(3).iter().all(|it| it.id >= 4));
        assert!(q.on_labeled(99, None).is_err());
    }
}
