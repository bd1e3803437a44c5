//! The ranking a project keeps in memory between calls: built once from the catalog (the full
//! recomputation), then brought up to date after each labeled image from the edit journal (the
//! incremental update), and rebuilt when anything else it was computed from changes (the
//! catalog's `ranking_inputs` counter) or when an update cannot be applied incrementally (an
//! image going back to unlabeled).
//!
//! At a million images the build reads one row per image and per condition claim, an uncertainty
//! summary per image (computed once per run from its predictions and stored), and only the
//! embeddings it needs (the labeled set and a shortlist): never every box and its class
//! probabilities, and never every embedding.

use std::collections::{HashMap, HashSet};

use lacuna_catalog::{Catalog, RankPrediction, RankState, UncertaintySummary};
use lacuna_core::{ImageId, RunId};
use lacuna_select::conditions::{self, Condition, ConditionSource};
use lacuna_select::coverage::{CoverageRow, Target, ValueCounts};
use lacuna_select::diversity::{Embeddings, IvfParams, NearestLabeled};
use lacuna_select::incremental::{InternedValues, QueueState};
use lacuna_select::queue::{Candidate, UncertaintySignals, Weights};
use lacuna_select::uncertainty::{self, Detection, UncertaintyParams};

use crate::ApiError;

/// How the stored uncertainty summaries are computed: bump when [`UncertaintyParams`]' defaults
/// or [`uncertainty::Uncertainty::score`] change, so older summaries are recomputed.
pub(crate) const UNCERTAINTY_METHOD: i64 = 1;
/// The shortlist novelty is computed for: this many times the batch, at least
/// [`MIN_SHORTLIST`].
const SHORTLIST_FACTOR: usize = 20;
const MIN_SHORTLIST: usize = 2_000;
/// Summaries computed per transaction when a run's are filled in.
const SUMMARY_BATCH: usize = 10_000;

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct KeptRanking {
    pub run: Option<RunId>,
    inputs_counter: i64,
    journal_seq: i64,
    pub state: QueueState,
    status: HashMap<ImageId, RankState>,
    pub pool: u64,
    pub labeled: u64,
    /// The weights and size the shortlist was chosen with.
    shortlist_for: Option<(Weights, usize)>,
    /// Incremental updates applied since the build.
    pub updates: u64,
}

/// Why a kept ranking could not simply be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Up to date (possibly after incremental updates).
    Current,
    /// Must be rebuilt from the catalog.
    Stale,
}

impl KeptRanking {
    /// Builds the ranking of `run`'s predictions from the catalog.
    pub fn build(catalog: &mut Catalog, run: Option<RunId>) -> Result<Self, ApiError> {
        let inputs_counter = catalog.ranking_inputs_counter()?;
        let journal_seq = catalog.last_journal_seq()?;
        let pool = catalog.rank_pool()?;
        let (interned_values, per_image) = resolved_conditions(catalog)?;
        let summaries = match run {
            Some(run) => {
                fill_uncertainty_summaries(catalog, run)?;
                let mut s = catalog.uncertainty_summaries(run, UNCERTAINTY_METHOD)?;
                s.sort_by_key(|u| u.image);
                s
            }
            None => Vec::new(),
        };

        // Counts per value over the pool, and candidates with their value ids (merge joins: the
        // pool, the conditions and the summaries are all in image-id order).
        let mut counts = vec![ValueCounts::default(); interned_values.len()];
        let mut candidates = Vec::new();
        let mut starts = vec![0u32];
        let mut cand_values = Vec::new();
        let mut status = HashMap::with_capacity(pool.len());
        let (mut ci, mut ui) = (0usize, 0usize);
        let mut labeled = 0u64;
        let mut cand_scores: Vec<f32> = Vec::new();
        let mut cand_has_score: Vec<bool> = Vec::new();
        for &(image, state) in &pool {
            status.insert(image, state);
            while ci < per_image.len() && per_image[ci].0 < image {
                ci += 1;
            }
            let first = ci;
            while ci < per_image.len() && per_image[ci].0 == image {
                ci += 1;
            }
            let values = &per_image[first..ci];
            while ui < summaries.len() && summaries[ui].image < image {
                ui += 1;
            }
            let summary = summaries.get(ui).filter(|u| u.image == image);
            for &(_, v) in values {
                let c = &mut counts[v as usize];
                c.pool += 1;
                if state == RankState::Done {
                    c.labeled += 1;
                }
                if let Some(u) = summary {
                    c.predicted += 1;
                    c.confidence_sum += f64::from(1.0 - u.score);
                    if u.score >= 0.5 {
                        c.low_confidence += 1;
                    }
                }
            }
            if state == RankState::Done {
                labeled += 1;
            }
            if state == RankState::Unlabeled {
                cand_values.extend(values.iter().map(|&(_, v)| v));
                starts.push(cand_values.len() as u32);
                cand_scores.push(summary.map_or(0.0, |u| u.score));
                cand_has_score.push(summary.is_some());
                candidates.push(Candidate {
                    id: image.0,
                    uncertainty: summary.map(|u| UncertaintySignals {
                        score: u.score,
                        rank: 0.0,
                        entropy_max: u.entropy_max,
                        tta_disagreement: u.tta_disagreement,
                        missed_objects: u.missed_objects,
                        missed_score: u.missed_score,
                    }),
                    conditions: Vec::new(),
                });
            }
        }
        // Uncertainty as a percentile rank among the candidates with predictions.
        let scored: Vec<f32> =
            cand_scores.iter().zip(&cand_has_score).filter(|(_, h)| **h).map(|(s, _)| *s).collect();
        let mut ranks = uncertainty::percentile_ranks(&scored).into_iter();
        for (cand, has) in candidates.iter_mut().zip(&cand_has_score) {
            if *has && let (Some(u), Some(rank)) = (cand.uncertainty.as_mut(), ranks.next()) {
                u.rank = rank;
            }
        }
        let targets: Vec<Target> = catalog
            .coverage_targets()?
            .into_iter()
            .map(|(key, value, share)| Target { key, value, share })
            .collect();
        let interned = InternedValues { values: interned_values, counts, starts, cand_values };
        let state = QueueState::from_interned(candidates, interned, targets, Weights::default());
        Ok(Self {
            run,
            inputs_counter,
            journal_seq,
            state,
            status,
            pool: pool.len() as u64,
            labeled,
            shortlist_for: None,
            updates: 0,
        })
    }

    /// Brings the ranking up to date with label states changed since it was built or last
    /// updated; [`Freshness::Stale`] when it must be rebuilt instead.
    pub fn update(&mut self, catalog: &Catalog, run: Option<RunId>) -> Result<Freshness, ApiError> {
        if run != self.run || catalog.ranking_inputs_counter()? != self.inputs_counter {
            return Ok(Freshness::Stale);
        }
        let seq = catalog.last_journal_seq()?;
        if seq == self.journal_seq {
            return Ok(Freshness::Current);
        }
        let changes = catalog.label_states_changed_since(self.journal_seq)?;
        for &(image, now) in &changes {
            let Some(before) = self.status.get(&image).copied() else { continue };
            match (before, now) {
                (a, b) if a == b => {}
                (RankState::Unlabeled, RankState::Done) => {
                    let embedding = self.embedding(catalog, image)?;
                    self.state.on_labeled(image.0, embedding.as_deref()).map_err(ApiError::internal)?;
                    self.labeled += 1;
                }
                (RankState::Unlabeled, RankState::Other) => self.state.remove(image.0),
                (RankState::Other, RankState::Done) => {
                    let values: Vec<(String, String)> = resolve_image(catalog, image)?;
                    let embedding = self.embedding(catalog, image)?;
                    self.state.add_labeled(&values, embedding.as_deref()).map_err(ApiError::internal)?;
                    self.labeled += 1;
                }
                // Back to unlabeled, or no longer labeled: counts would go down and distances up,
                // which is not incremental.
                _ => return Ok(Freshness::Stale),
            }
            self.status.insert(image, now);
            self.updates += 1;
        }
        self.journal_seq = seq;
        Ok(Freshness::Current)
    }

    fn embedding(&self, catalog: &Catalog, image: ImageId) -> Result<Option<Vec<f32>>, ApiError> {
        Ok(match self.run {
            Some(run) => catalog.embeddings_of(run, &[image])?.remove(&image),
            None => None,
        })
    }

    /// Makes sure novelty is known for a shortlist fit for `weights` and a batch of `limit`:
    /// chosen again when the weights changed, the batch outgrew it, or half of it was labeled.
    pub fn ensure_shortlist(
        &mut self,
        catalog: &Catalog,
        weights: Weights,
        limit: usize,
    ) -> Result<(), ApiError> {
        self.state.set_weights(weights);
        let Some(run) = self.run else { return Ok(()) };
        let n = (limit * SHORTLIST_FACTOR).max(MIN_SHORTLIST);
        let (alive, total) = self.state.shortlist_alive();
        if let Some((w, size)) = self.shortlist_for
            && w == weights
            && size >= n
            && alive * 2 >= total
        {
            return Ok(());
        }
        let short = self.state.preliminary_top(n);
        let short_ids: Vec<ImageId> = short.iter().map(|&i| ImageId(self.state_candidate_id(i))).collect();
        // In id order: the lookups then walk the embeddings table front to back.
        let mut labeled_ids: Vec<ImageId> =
            self.status.iter().filter(|(_, s)| **s == RankState::Done).map(|(i, _)| *i).collect();
        labeled_ids.sort_unstable();
        let mut sorted_ids = short_ids.clone();
        sorted_ids.sort_unstable();
        let cand_vecs = catalog.embeddings_of(run, &sorted_ids)?;
        let dim = cand_vecs.values().next().map_or(0, Vec::len);
        let mut with_vec = Vec::new();
        let mut data = Vec::new();
        for (&i, id) in short.iter().zip(&short_ids) {
            if let Some(v) = cand_vecs.get(id).filter(|v| v.len() == dim && dim > 0) {
                with_vec.push(i);
                data.extend_from_slice(v);
            }
        }
        self.shortlist_for = Some((weights, n));
        if with_vec.is_empty() {
            return Ok(());
        }
        let cands = Embeddings::new(dim, data).map_err(|e| ApiError::internal(e.to_string()))?;
        let mut labeled_data = Vec::new();
        for v in catalog.embeddings_of(run, &labeled_ids)?.into_values() {
            if v.len() == dim {
                labeled_data.extend_from_slice(&v);
            }
        }
        let distances = if labeled_data.is_empty() {
            vec![f32::INFINITY; with_vec.len()]
        } else {
            let labeled = Embeddings::new(dim, labeled_data)
                .map_err(|e| ApiError::internal(e.to_string()))?
                .normalized();
            let index = NearestLabeled::build(&labeled, &IvfParams::default());
            index.min_distances(&cands.normalized()).map_err(|e| ApiError::internal(e.to_string()))?
        };
        self.state.set_shortlist(with_vec, cands, distances);
        Ok(())
    }

    fn state_candidate_id(&self, index: usize) -> i64 {
        self.state.candidate_id(index)
    }

    pub fn coverage(&self) -> Vec<CoverageRow> {
        self.state.coverage()
    }
}

/// The distinct (key, value) pairs, and per image its value ids in image order.
type ResolvedConditions = (Vec<(String, String)>, Vec<(ImageId, u32)>);

/// Resolves every image's conditions (the most trusted claim per key) straight from the claim
/// rows, interning (key, value) pairs: the distinct values, and per image its value ids in image
/// order.
fn resolved_conditions(catalog: &Catalog) -> Result<ResolvedConditions, ApiError> {
    let mut values: Vec<(String, String)> = Vec::new();
    let mut ids: HashMap<String, HashMap<String, u32>> = HashMap::new();
    let mut out: Vec<(ImageId, u32)> = Vec::new();
    // The best claim so far of the current (image, key): (trust, confidence, value id).
    let mut current: Option<(ImageId, u32, (u8, f64, u32))> = None;
    let mut key_ids: HashMap<String, u32> = HashMap::new();
    let mut intern = |key: &str, value: &str, values: &mut Vec<(String, String)>| -> u32 {
        let by_value = match ids.get_mut(key) {
            Some(m) => m,
            None => ids.entry(key.to_string()).or_default(),
        };
        if let Some(&id) = by_value.get(value) {
            return id;
        }
        let id = values.len() as u32;
        values.push((key.to_string(), value.to_string()));
        by_value.insert(value.to_string(), id);
        id
    };
    catalog.for_each_condition_ref(|image, key, value, source, confidence| {
        let Some(source) = ConditionSource::parse(source) else { return Ok::<(), ApiError>(()) };
        let key_id = match key_ids.get(key) {
            Some(&k) => k,
            None => {
                let k = key_ids.len() as u32;
                key_ids.insert(key.to_string(), k);
                k
            }
        };
        let value_id = intern(key, value, &mut values);
        let claim = (source.trust(), clamp_unit(confidence), value_id);
        match &mut current {
            Some((img, k, best)) if *img == image && *k == key_id => {
                let better = claim
                    .0
                    .cmp(&best.0)
                    .then(claim.1.total_cmp(&best.1))
                    .then_with(|| values[best.2 as usize].1.cmp(&values[claim.2 as usize].1));
                if better == std::cmp::Ordering::Greater {
                    *best = claim;
                }
            }
            _ => {
                if let Some((img, _, best)) = current.take() {
                    out.push((img, best.2));
                }
                current = Some((image, key_id, claim));
            }
        }
        Ok(())
    })?;
    if let Some((img, _, best)) = current {
        out.push((img, best.2));
    }
    Ok((values, out))
}

fn clamp_unit(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

/// One image's resolved (key, value) pairs.
fn resolve_image(catalog: &Catalog, image: ImageId) -> Result<Vec<(String, String)>, ApiError> {
    let claims: Vec<Condition> = catalog
        .image_conditions(image)?
        .iter()
        .filter_map(|c| {
            Some(Condition {
                key: c.key.clone(),
                value: c.value.clone(),
                source: ConditionSource::parse(&c.source)?,
                confidence: c.confidence,
            })
        })
        .collect();
    Ok(conditions::resolve(&claims).into_iter().map(|c| (c.key, c.value)).collect())
}

/// Computes and stores the uncertainty summary of every image `run` finished that has none yet
/// (all of them the first time a run is ranked; afterwards only newly pre-labeled images).
pub(crate) fn fill_uncertainty_summaries(catalog: &mut Catalog, run: RunId) -> Result<u64, ApiError> {
    let missing = catalog.images_without_uncertainty(run, UNCERTAINTY_METHOD)?;
    if missing.is_empty() {
        return Ok(0);
    }
    let params = UncertaintyParams::default();
    let summarize = |image: ImageId, preds: &[RankPrediction]| {
        let dets: Vec<Detection<'_>> = preds
            .iter()
            .map(|p| Detection {
                bbox: p.bbox_xyxy_px,
                class: p.class_id,
                score: p.score,
                probs: &p.class_probs,
                flipped: p.flipped,
            })
            .collect();
        let u = uncertainty::image_uncertainty(&dets, &params);
        UncertaintySummary {
            image,
            score: u.score(),
            entropy_max: u.entropy.max,
            tta_disagreement: u.tta_disagreement,
            missed_objects: u.missed_objects,
            missed_score: u.missed_score,
        }
    };
    let mut summaries: Vec<UncertaintySummary> = Vec::with_capacity(missing.len());
    let mut with_boxes: HashSet<ImageId> = HashSet::new();
    let mut current: Option<ImageId> = None;
    let mut preds: Vec<RankPrediction> = Vec::new();
    catalog.for_each_prediction_without_uncertainty(run, UNCERTAINTY_METHOD, |p| {
        if let Some(c) = current
            && c != p.image
        {
            summaries.push(summarize(c, &preds));
            with_boxes.insert(c);
            preds.clear();
        }
        current = Some(p.image);
        preds.push(p);
        Ok::<(), ApiError>(())
    })?;
    if let Some(c) = current {
        summaries.push(summarize(c, &preds));
        with_boxes.insert(c);
    }
    // Images the run finished without any box: certain-looking, but seen.
    for image in missing {
        if !with_boxes.contains(&image) {
            summaries.push(summarize(image, &[]));
        }
    }
    for chunk in summaries.chunks(SUMMARY_BATCH) {
        catalog.store_uncertainty_summaries(run, UNCERTAINTY_METHOD, chunk)?;
    }
    Ok(summaries.len() as u64)
}
