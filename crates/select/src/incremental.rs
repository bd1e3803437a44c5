//! The queue kept in memory and updated after each labeled image (what a long-running app
//! does), instead of recomputed from the catalog.
//!
//! Built once from the candidates, the coverage counts and (optionally) a shortlist with
//! embeddings; [`QueueState::on_labeled`] then costs a few passes over plain arrays: the labeled
//! image's condition counts change, so every value's gap is recomputed (a few hundred values),
//! every candidate's coverage component is the max over its value ids, the new embedding lowers
//! the shortlist's nearest-labeled distances, and the best `k` are selected again.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::coverage::{self, CoverageRow, Target, ValueCounts};
use crate::diversity::{Embeddings, k_center_greedy, update_min_distances};
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
    /// The shortlisted candidates (indices), their positions, normalised embeddings,
    /// nearest-labeled distances and the distance that counts as fully novel.
    short: Vec<usize>,
    short_pos: HashMap<usize, usize>,
    short_emb: Option<Embeddings>,
    short_min: Vec<f32>,
    novelty_scale: f32,
}

/// The pool's condition values interned: `values[i]` is value id `i`; per candidate, its value ids
/// (`cand_values[starts[c]..starts[c + 1]]`).
#[derive(Debug, Clone, Default)]
pub struct InternedValues {
    pub values: Vec<(String, String)>,
    /// Per value: pool and labeled counts over the whole pool (candidates and labeled images).
    pub counts: Vec<ValueCounts>,
    pub starts: Vec<u32>,
    pub cand_values: Vec<u32>,
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
        let mut interned = InternedValues::default();
        let mut value_id = HashMap::new();
        for (kv, c) in counts {
            value_id.insert(kv.clone(), interned.values.len() as u32);
            interned.values.push(kv);
            interned.counts.push(c);
        }
        interned.starts.push(0);
        for c in &candidates {
            for kv in &c.conditions {
                if let Some(&id) = value_id.get(kv) {
                    interned.cand_values.push(id);
                }
            }
            interned.starts.push(interned.cand_values.len() as u32);
        }
        let mut state = Self::from_interned(candidates, interned, targets, weights);
        if let Some((short, emb, min)) = shortlist {
            state.set_shortlist(short, emb, min);
        }
        state
    }

    /// From candidates whose conditions are already interned (their `conditions` may be left
    /// empty): what a caller ranking a million images uses, so no per-candidate strings exist.
    ///
    /// # Panics
    ///
    /// When `interned.starts` does not have one entry per candidate plus one.
    pub fn from_interned(
        candidates: Vec<Candidate>,
        interned: InternedValues,
        targets: Vec<Target>,
        weights: Weights,
    ) -> Self {
        assert_eq!(interned.starts.len(), candidates.len() + 1, "one value range per candidate");
        let InternedValues { values, counts, starts, cand_values } = interned;
        let value_id = values.iter().enumerate().map(|(i, kv)| (kv.clone(), i as u32)).collect();
        let index_of = candidates.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        let alive = vec![true; candidates.len()];
        let mut state = Self {
            weights,
            targets,
            values,
            value_id,
            counts,
            rows: Vec::new(),
            candidates,
            starts,
            cand_values,
            alive,
            index_of,
            short: Vec::new(),
            short_pos: HashMap::new(),
            short_emb: None,
            short_min: Vec::new(),
            novelty_scale: 1.0,
        };
        state.refresh_rows();
        state
    }

    /// Sets the candidates novelty is known for: indices into the candidates, their embeddings
    /// (any norm) and distances to the nearest labeled image (infinite: nothing labeled yet).
    /// Novelty is the distance relative to the shortlist's 95th percentile, capped at 1.
    pub fn set_shortlist(&mut self, short: Vec<usize>, embeddings: Embeddings, min: Vec<f32>) {
        let mut sorted: Vec<f32> = min.iter().copied().filter(|d| d.is_finite()).collect();
        sorted.sort_by(f32::total_cmp);
        let scale = sorted.get(((sorted.len().max(1) - 1) as f32 * 0.95) as usize).copied().unwrap_or(1.0);
        self.novelty_scale = scale.max(1e-6);
        self.short_pos = short.iter().enumerate().map(|(p, &i)| (i, p)).collect();
        self.short = short;
        self.short_emb = Some(embeddings.normalized());
        self.short_min = min;
    }

    /// The weights scores are computed with from now on.
    pub fn set_weights(&mut self, weights: Weights) {
        self.weights = weights;
    }

    pub fn weights(&self) -> Weights {
        self.weights
    }

    /// Candidate ids of the `n` best scores without novelty (the shortlist novelty is worth
    /// computing for), best first.
    pub fn preliminary_top(&self, n: usize) -> Vec<usize> {
        let gaps = self.gaps();
        let w = Weights { diversity: 0.0, ..self.weights };
        let scores: Vec<f32> = (0..self.candidates.len())
            .map(|i| if self.alive[i] { self.score_with(i, &gaps, &w, false) } else { f32::NEG_INFINITY })
            .collect();
        let mut short = queue::shortlist(&scores, n);
        short.retain(|&i| self.alive[i]);
        short
    }

    /// Shortlisted candidates still in the queue, and how many were shortlisted.
    pub fn shortlist_alive(&self) -> (usize, usize) {
        (self.short.iter().filter(|&&i| self.alive[i]).count(), self.short.len())
    }

    /// The image id of candidate `index`.
    pub fn candidate_id(&self, index: usize) -> i64 {
        self.candidates[index].id
    }

    /// Whether candidate `id` is still in the queue.
    pub fn is_candidate(&self, id: i64) -> bool {
        self.index_of.get(&id).is_some_and(|&i| self.alive[i])
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

    fn gaps(&self) -> Vec<f32> {
        self.rows.iter().map(|r| r.as_ref().map_or(0.0, |r| r.gap.max(0.0) as f32)).collect()
    }

    /// Fast score of candidate `i` (no strings built).
    fn score_with(&self, i: usize, gaps: &[f32], w: &Weights, with_novelty: bool) -> f32 {
        let cand = &self.candidates[i];
        let u = cand.uncertainty.as_ref().map_or(0.0, |u| u.rank);
        let mut c = 0.0f32;
        for &v in &self.cand_values[self.starts[i] as usize..self.starts[i + 1] as usize] {
            c = c.max(gaps[v as usize]);
        }
        let d = match self.short_pos.get(&i) {
            Some(&p) if with_novelty => {
                let d = self.short_min[p];
                if d.is_finite() { (d / self.novelty_scale).min(1.0) } else { 1.0 }
            }
            _ => 0.0,
        };
        let total = w.uncertainty + w.coverage + w.diversity;
        if total <= 0.0 {
            return 0.0;
        }
        (w.uncertainty * u + w.coverage * c + w.diversity * d) / total
    }

    fn score(&self, i: usize, gaps: &[f32]) -> f32 {
        self.score_with(i, gaps, &self.weights, true)
    }

    fn item(&self, i: usize, score: f32) -> QueueItem {
        let c = self.components(i);
        QueueItem {
            id: self.candidates[i].id,
            score,
            reasons: queue::reasons(&c, &self.weights),
            components: c,
        }
    }

    /// A batch of `k` for people to label: k-center greedy over the shortlist (weighted by score,
    /// starting from each candidate's distance to the labeled set) so the batch is not many
    /// near-duplicates, then the best remaining scores. `skip` leaves out candidates (such as
    /// images someone else holds).
    pub fn batch(&self, k: usize, skip: impl Fn(i64) -> bool) -> Vec<QueueItem> {
        let gaps = self.gaps();
        let mut out: Vec<QueueItem> = Vec::with_capacity(k);
        let mut taken: HashSet<usize> = HashSet::new();
        if let Some(emb) = &self.short_emb {
            let live: Vec<usize> = (0..self.short.len())
                .filter(|&p| self.alive[self.short[p]] && !skip(self.candidates[self.short[p]].id))
                .collect();
            if !live.is_empty() {
                let subset = emb.select(&live);
                let init: Vec<f32> = live
                    .iter()
                    .map(|&p| if self.short_min[p].is_finite() { self.short_min[p] } else { 2.0 })
                    .collect();
                let weights: Vec<f32> = live.iter().map(|&p| self.score(self.short[p], &gaps)).collect();
                for pick in k_center_greedy(&subset, &init, k.min(live.len()), Some(&weights)) {
                    let i = self.short[live[pick]];
                    taken.insert(i);
                    out.push(self.item(i, weights[pick]));
                }
            }
        }
        if out.len() < k {
            let rest =
                self.ranked(k - out.len(), |i| !taken.contains(&i) && !skip(self.candidates[i].id), &gaps);
            out.extend(rest.into_iter().map(|(score, i)| self.item(i, score)));
        }
        out
    }

    fn ranked(&self, k: usize, keep: impl Fn(usize) -> bool, gaps: &[f32]) -> Vec<(f32, usize)> {
        let mut scored: Vec<(f32, usize)> = (0..self.candidates.len())
            .filter(|&i| self.alive[i] && keep(i))
            .map(|i| (self.score(i, gaps), i))
            .collect();
        let k = k.min(scored.len());
        let cmp = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if k < scored.len() {
            scored.select_nth_unstable_by(k, cmp);
            scored.truncate(k);
        }
        scored.sort_by(cmp);
        scored
    }

    /// The best `k` candidates, best first, with reasons.
    pub fn top(&self, k: usize) -> Vec<QueueItem> {
        let gaps = self.gaps();
        self.ranked(k, |_| true, &gaps).into_iter().map(|(score, i)| self.item(i, score)).collect()
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
        self.lower_distances(embedding)
    }

    /// Records that an image that was not a candidate (in progress, skipped) is now labeled:
    /// its condition values count as labeled and its embedding lowers the shortlist's
    /// nearest-labeled distances. Values the pool did not have are ignored.
    pub fn add_labeled(
        &mut self,
        values: &[(String, String)],
        embedding: Option<&[f32]>,
    ) -> Result<(), String> {
        for kv in values {
            if let Some(&v) = self.value_id.get(kv) {
                self.counts[v as usize].labeled += 1;
            }
        }
        self.refresh_rows();
        self.lower_distances(embedding)
    }

    fn lower_distances(&mut self, embedding: Option<&[f32]>) -> Result<(), String> {
        if let (Some(emb), Some(v)) = (&self.short_emb, embedding) {
            update_min_distances(emb, &mut self.short_min, v).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Takes candidate `id` out of the queue without counting it as labeled (someone started or
    /// skipped it). Unknown ids are ignored.
    pub fn remove(&mut self, id: i64) {
        if let Some(&i) = self.index_of.get(&id) {
            self.alive[i] = false;
        }
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
