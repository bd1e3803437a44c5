//! Use cases around ranking: conditions, coverage, the labeling queue and the review queue.
//! The ranking itself is `lacuna-select`'s (pure functions); this module reads the catalog,
//! calls it and stores what must be stored.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use lacuna_catalog::{Catalog, ConditionClaim, PoolImage, RankPrediction};
use lacuna_core::{ImageId, RunId};
use lacuna_select::conditions::{self, Condition, ConditionSource, PathRule, SidecarFormat};
use lacuna_select::coverage::{self, CoverageRow, Target, ValueCounts};
use lacuna_select::diversity::{Embeddings, IvfParams, NearestLabeled, k_center_greedy};
use lacuna_select::queue::{self, Candidate, Gaps, QueueItem, UncertaintySignals, Weights};
use lacuna_select::uncertainty::{self, Detection, UncertaintyParams};
use serde::{Deserialize, Serialize};

use crate::{ApiError, ErrorCode, Project};

/// Images derived per transaction when conditions are refreshed.
const DERIVE_BATCH: u32 = 5_000;
/// The shortlist diversity is computed for: this many times the batch, at least
/// [`MIN_SHORTLIST`].
const SHORTLIST_FACTOR: usize = 20;
const MIN_SHORTLIST: usize = 2_000;

/// `lacuna queue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueRequest {
    pub weights: Weights,
    pub limit: usize,
    /// Hand the picks to this person (skipping images someone else holds).
    pub assign_to: Option<String>,
    /// The run whose predictions and embeddings count (default: the newest).
    pub run: Option<RunId>,
}

impl Default for QueueRequest {
    fn default() -> Self {
        Self { weights: Weights::default(), limit: 50, assign_to: None, run: None }
    }
}

/// One image of the labeling queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub rank: usize,
    pub image: ImageId,
    /// Relative to its import root.
    pub path: String,
    pub root: String,
    pub score: f32,
    pub reasons: Vec<String>,
    #[serde(flatten)]
    pub numbers: queue::Components,
}

/// The labeling queue with the coverage it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueResult {
    pub run: Option<RunId>,
    pub pool: u64,
    pub candidates: u64,
    pub labeled: u64,
    pub items: Vec<QueueEntry>,
}

/// `lacuna review-queue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewRequest {
    /// Predictions scoring in `low..high` are worth an expert's look.
    pub band: (f32, f32),
    pub limit: usize,
    pub assign_to: Option<String>,
    pub run: Option<RunId>,
}

impl Default for ReviewRequest {
    fn default() -> Self {
        Self { band: (0.3, 0.6), limit: 50, assign_to: None, run: None }
    }
}

/// One decision for an expert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub image: ImageId,
    pub path: String,
    /// `uncertain_prediction` | `class_disagreement` | `unlabeled_object`
    pub kind: String,
    pub prediction: Option<i64>,
    pub annotation: Option<i64>,
    pub class: String,
    pub score: f32,
    pub bbox_xyxy_px: [f32; 4],
    /// How much the decision matters, 0..1 (what the list is ordered by).
    pub importance: f32,
    pub reason: String,
}

/// What a sidecar import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionImportReport {
    pub rows: u64,
    pub stored: u64,
    pub problems: Vec<String>,
}

/// The coverage table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageReport {
    pub pool: u64,
    pub labeled: u64,
    pub rows: Vec<CoverageRow>,
}

fn claim_to_condition(c: &ConditionClaim) -> Option<Condition> {
    Some(Condition {
        key: c.key.clone(),
        value: c.value.clone(),
        source: ConditionSource::parse(&c.source)?,
        confidence: c.confidence,
    })
}

fn to_claim(image: ImageId, c: &Condition) -> ConditionClaim {
    ConditionClaim {
        image,
        key: c.key.clone(),
        value: c.value.clone(),
        source: c.source.as_str().to_string(),
        confidence: c.confidence,
    }
}

/// Everything ranking reads from the catalog, in memory.
struct Snapshot {
    pool: Vec<PoolImage>,
    conditions: HashMap<ImageId, Vec<(String, String)>>,
    run: Option<RunId>,
    /// Per image with predictions.
    uncertainty: HashMap<ImageId, uncertainty::Uncertainty>,
}

impl Project {
    /// Derives the conditions of images that have none yet or were re-probed since (camera and
    /// time of day from EXIF, light and weather look from the statistics, path rules), in
    /// batches. Returns how many images were derived.
    pub fn refresh_conditions(&self) -> Result<u64, ApiError> {
        let now = self.clock().now_unix_s();
        let mut catalog = self.catalog()?;
        let rules: Vec<PathRule> =
            catalog.path_rules()?.iter().filter_map(|p| PathRule::parse(p).ok()).collect();
        let mut total = 0u64;
        loop {
            let batch = catalog.images_to_derive(DERIVE_BATCH)?;
            if batch.is_empty() {
                break;
            }
            let mut claims = Vec::new();
            let ids: Vec<ImageId> = batch.iter().map(|b| b.image).collect();
            for img in &batch {
                let mut derived = conditions::exif_conditions(
                    img.camera.as_deref(),
                    img.captured_local.as_deref(),
                    img.utc_offset_min,
                    img.gps,
                );
                derived.extend(conditions::estimated_conditions(&img.stats));
                for rule in &rules {
                    if let Some(pairs) = rule.apply(&img.rel_path) {
                        for (key, value) in pairs {
                            derived.push(Condition {
                                key,
                                value,
                                source: ConditionSource::Path,
                                confidence: 1.0,
                            });
                        }
                    }
                }
                claims.extend(derived.iter().map(|c| to_claim(img.image, c)));
            }
            catalog.store_derived(&ids, &claims, now)?;
            total += batch.len() as u64;
        }
        Ok(total)
    }

    /// A person's statement about an image's condition (trusted above every other source).
    pub fn set_condition(&self, image: ImageId, key: &str, value: &str) -> Result<(), ApiError> {
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || value.is_empty() {
            return Err(ApiError::invalid("a condition needs a key and a value"));
        }
        let now = self.clock().now_unix_s();
        let claim = ConditionClaim {
            image,
            key: key.to_string(),
            value: value.to_string(),
            source: ConditionSource::Human.as_str().to_string(),
            confidence: 1.0,
        };
        self.catalog()?.upsert_conditions(&[claim], now)?;
        Ok(())
    }

    /// Removes a person's statement (the next trusted source shows again).
    pub fn clear_condition(&self, image: ImageId, key: &str) -> Result<bool, ApiError> {
        Ok(self.catalog()?.delete_condition(image, key, ConditionSource::Human.as_str())?)
    }

    /// Every claim about an image and the resolved value per key.
    pub fn image_conditions(&self, image: ImageId) -> Result<(Vec<Condition>, Vec<Condition>), ApiError> {
        self.refresh_conditions()?;
        let claims: Vec<Condition> =
            self.catalog()?.image_conditions(image)?.iter().filter_map(claim_to_condition).collect();
        let resolved = conditions::resolve(&claims);
        Ok((claims, resolved))
    }

    /// Imports a sidecar CSV or JSON (`path` plus any keys); images matched by path relative to
    /// their folder, then by file name.
    pub fn import_conditions(&self, file: &Path) -> Result<ConditionImportReport, ApiError> {
        let text = std::fs::read_to_string(file).map_err(|e| ApiError::io(file, &e))?;
        let format = match file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("json") => SidecarFormat::Json,
            Some("csv") | Some("tsv") | Some("txt") => SidecarFormat::Csv,
            _ => {
                return Err(ApiError::invalid(format!(
                    "{}: a sidecar must be .csv or .json",
                    file.display()
                )));
            }
        };
        let parsed = conditions::parse_sidecar(&text, format)
            .map_err(|e| ApiError::invalid(format!("{}: {e}", file.display())))?;
        let keys = self.catalog()?.image_keys()?;
        let mut by_path: HashMap<&str, Vec<ImageId>> = HashMap::new();
        let mut by_name: HashMap<&str, Vec<ImageId>> = HashMap::new();
        for k in &keys {
            by_path.entry(k.rel_path.as_str()).or_default().push(k.image);
            by_name.entry(k.file_name.as_str()).or_default().push(k.image);
        }
        let mut problems: Vec<String> =
            parsed.problems.iter().map(|p| format!("{}: {p}", file.display())).collect();
        let mut claims = Vec::new();
        for row in &parsed.rows {
            let path = row.path.replace('\\', "/");
            let mut tail = path.trim_start_matches("./");
            let mut found = None;
            loop {
                if let Some(ids) = by_path.get(tail) {
                    found = Some(ids);
                    break;
                }
                match tail.find('/') {
                    Some(i) => tail = &tail[i + 1..],
                    None => break,
                }
            }
            let found = found.or_else(|| by_name.get(path.rsplit('/').next().unwrap_or(&path)));
            match found.map(Vec::as_slice) {
                Some([image]) => claims.push(ConditionClaim {
                    image: *image,
                    key: row.key.clone(),
                    value: row.value.clone(),
                    source: ConditionSource::Sidecar.as_str().to_string(),
                    confidence: 1.0,
                }),
                Some(many) => problems.push(format!(
                    "{}: `{}` matches {} images; give the path relative to the imported folder",
                    file.display(),
                    row.path,
                    many.len()
                )),
                None => problems.push(format!("{}: `{}` is not in the catalog", file.display(), row.path)),
            }
        }
        let now = self.clock().now_unix_s();
        let stored = self.catalog()?.upsert_conditions(&claims, now)?;
        Ok(ConditionImportReport { rows: parsed.rows.len() as u64, stored, problems })
    }

    pub fn path_rules(&self) -> Result<Vec<String>, ApiError> {
        Ok(self.catalog()?.path_rules()?)
    }

    /// Adds a path rule such as `{camera}/{date}/*` (checked first) and re-derives conditions.
    pub fn add_path_rule(&self, pattern: &str) -> Result<u64, ApiError> {
        PathRule::parse(pattern).map_err(|e| ApiError::invalid(format!("path rule `{pattern}`: {e}")))?;
        let now = self.clock().now_unix_s();
        self.catalog()?.add_path_rule(pattern, now)?;
        self.refresh_conditions()
    }

    pub fn remove_path_rule(&self, pattern: &str) -> Result<bool, ApiError> {
        let removed = self.catalog()?.remove_path_rule(pattern)?;
        if !removed {
            return Err(ApiError::new(ErrorCode::NotFound, format!("no path rule `{pattern}`")));
        }
        self.refresh_conditions()?;
        Ok(true)
    }

    /// Sets (or with `None` clears) the target share of a condition value.
    pub fn set_coverage_target(&self, key: &str, value: &str, share: Option<f64>) -> Result<(), ApiError> {
        let mut catalog = self.catalog()?;
        let mut targets: Vec<Target> = catalog
            .coverage_targets()?
            .into_iter()
            .filter(|(k, v, _)| !(k == key && v == value))
            .map(|(key, value, share)| Target { key, value, share })
            .collect();
        if let Some(share) = share {
            targets.push(Target { key: key.to_string(), value: value.to_string(), share });
        }
        coverage::validate_targets(&targets).map_err(ApiError::invalid)?;
        catalog.set_coverage_target(key, value, share)?;
        Ok(())
    }

    fn newest_run(catalog: &Catalog) -> Result<Option<RunId>, ApiError> {
        Ok(catalog.model_runs()?.first().map(|r| r.id))
    }

    fn snapshot(
        &self,
        catalog: &Catalog,
        assignee: Option<&str>,
        run: Option<RunId>,
    ) -> Result<Snapshot, ApiError> {
        let pool = catalog.queue_pool(assignee)?;
        let mut claims: HashMap<ImageId, Vec<Condition>> = HashMap::new();
        catalog.for_each_condition(|c| {
            if let Some(cond) = claim_to_condition(&c) {
                claims.entry(c.image).or_default().push(cond);
            }
            Ok::<(), ApiError>(())
        })?;
        let conditions = claims
            .into_iter()
            .map(|(image, cs)| {
                (image, conditions::resolve(&cs).into_iter().map(|c| (c.key, c.value)).collect())
            })
            .collect();
        let run = match run {
            Some(r) => Some(r),
            None => Self::newest_run(catalog)?,
        };
        let mut uncertainty = HashMap::new();
        if let Some(run) = run {
            let params = UncertaintyParams::default();
            let mut current: Option<ImageId> = None;
            let mut preds: Vec<RankPrediction> = Vec::new();
            let mut flush = |image: ImageId, preds: &mut Vec<RankPrediction>| {
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
                uncertainty.insert(image, uncertainty::image_uncertainty(&dets, &params));
                preds.clear();
            };
            catalog.for_each_prediction(run, 0.0, |p| {
                if let Some(c) = current
                    && c != p.image
                {
                    flush(c, &mut preds);
                }
                current = Some(p.image);
                preds.push(p);
                Ok::<(), ApiError>(())
            })?;
            if let Some(c) = current {
                flush(c, &mut preds);
            }
            // Images the run finished without any box: certain-looking, but seen.
            for image in catalog.finished_run_images(run)? {
                uncertainty.entry(image).or_insert_with(|| uncertainty::image_uncertainty(&[], &params));
            }
        }
        Ok(Snapshot { pool, conditions, run, uncertainty })
    }

    fn coverage_from(&self, catalog: &Catalog, snap: &Snapshot) -> Result<Vec<CoverageRow>, ApiError> {
        let mut counts: BTreeMap<(String, String), ValueCounts> = BTreeMap::new();
        for img in &snap.pool {
            let Some(conds) = snap.conditions.get(&img.image) else { continue };
            let u = snap.uncertainty.get(&img.image);
            for (k, v) in conds {
                let c = counts.entry((k.clone(), v.clone())).or_default();
                c.pool += 1;
                if img.labeled {
                    c.labeled += 1;
                }
                if let Some(u) = u {
                    let score = u.score();
                    c.predicted += 1;
                    c.confidence_sum += f64::from(1.0 - score);
                    if score >= 0.5 {
                        c.low_confidence += 1;
                    }
                }
            }
        }
        let targets: Vec<Target> = catalog
            .coverage_targets()?
            .into_iter()
            .map(|(key, value, share)| Target { key, value, share })
            .collect();
        Ok(coverage::coverage(&counts, &targets))
    }

    /// The coverage table: per condition value its share of the pool, of the labeled set and
    /// of the target, the gap, and the model's confidence there.
    pub fn coverage(&self) -> Result<CoverageReport, ApiError> {
        self.refresh_conditions()?;
        let catalog = self.catalog()?;
        let snap = self.snapshot(&catalog, None, None)?;
        let rows = self.coverage_from(&catalog, &snap)?;
        Ok(CoverageReport {
            pool: snap.pool.len() as u64,
            labeled: snap.pool.iter().filter(|p| p.labeled).count() as u64,
            rows,
        })
    }

    /// The labeling queue, recomputed: unlabeled images ranked by uncertainty, coverage gap
    /// and novelty (weighted), the batch picked by k-center greedy so it is not many
    /// near-duplicates, each with its reasons. With `assign_to`, the picks are handed to that
    /// person (images someone else holds are never handed out twice).
    pub fn queue(&self, req: &QueueRequest) -> Result<QueueResult, ApiError> {
        if req.limit == 0 || req.limit > 100_000 {
            return Err(ApiError::invalid(format!("limit {} is outside 1..=100000", req.limit)));
        }
        self.refresh_conditions()?;
        let catalog = Catalog::open(&self.catalog_path(), self.clock().now_unix_s())?;
        let snap = self.snapshot(&catalog, req.assign_to.as_deref(), req.run)?;
        let rows = self.coverage_from(&catalog, &snap)?;
        let gaps = Gaps::new(&rows);

        // Uncertainty as a percentile rank among candidates with predictions.
        let cand_images: Vec<&PoolImage> = snap.pool.iter().filter(|p| p.candidate).collect();
        let scored: Vec<(ImageId, f32)> = cand_images
            .iter()
            .filter_map(|p| snap.uncertainty.get(&p.image).map(|u| (p.image, u.score())))
            .collect();
        let ranks = uncertainty::percentile_ranks(&scored.iter().map(|s| s.1).collect::<Vec<_>>());
        let rank_of: HashMap<ImageId, f32> = scored.iter().map(|s| s.0).zip(ranks).collect();
        let candidates: Vec<Candidate> = cand_images
            .iter()
            .map(|p| Candidate {
                id: p.image.0,
                uncertainty: snap.uncertainty.get(&p.image).map(|u| UncertaintySignals {
                    score: u.score(),
                    rank: rank_of.get(&p.image).copied().unwrap_or(0.0),
                    entropy_max: u.entropy.max,
                    tta_disagreement: u.tta_disagreement,
                    missed_objects: u.missed_objects,
                    missed_score: u.missed_score,
                }),
                conditions: snap.conditions.get(&p.image).cloned().unwrap_or_default(),
            })
            .collect();
        let mut comps: Vec<queue::Components> =
            candidates.iter().map(|c| queue::components(c, &gaps)).collect();
        let prelim: Vec<f32> = comps.iter().map(|c| queue::preliminary_score(c, &req.weights)).collect();
        let short = queue::shortlist(&prelim, (req.limit * SHORTLIST_FACTOR).max(MIN_SHORTLIST));

        // Novelty and batch diversity from the run's embeddings, for the shortlist.
        let mut order: Vec<usize> = short.clone();
        if let Some(run) = snap.run {
            let wanted: HashSet<i64> = short.iter().map(|&i| candidates[i].id).collect();
            let labeled_ids: HashSet<ImageId> =
                snap.pool.iter().filter(|p| p.labeled).map(|p| p.image).collect();
            let mut dim = 0usize;
            let mut labeled_vecs: Vec<f32> = Vec::new();
            let mut cand_vecs: HashMap<i64, Vec<f32>> = HashMap::new();
            catalog.for_each_embedding(run, |image, v| {
                if dim == 0 {
                    dim = v.len();
                }
                if v.len() != dim {
                    return Ok(());
                }
                if labeled_ids.contains(&image) {
                    labeled_vecs.extend_from_slice(&v);
                } else if wanted.contains(&image.0) {
                    cand_vecs.insert(image.0, v);
                }
                Ok::<(), ApiError>(())
            })?;
            let with_vec: Vec<usize> =
                short.iter().copied().filter(|&i| cand_vecs.contains_key(&candidates[i].id)).collect();
            if dim > 0 && !with_vec.is_empty() {
                let mut data = Vec::with_capacity(with_vec.len() * dim);
                for &i in &with_vec {
                    data.extend_from_slice(&cand_vecs[&candidates[i].id]);
                }
                let cands =
                    Embeddings::new(dim, data).map_err(|e| ApiError::internal(e.to_string()))?.normalized();
                let distances: Vec<f32> = if labeled_vecs.is_empty() {
                    vec![f32::INFINITY; with_vec.len()]
                } else {
                    let labeled = Embeddings::new(dim, labeled_vecs)
                        .map_err(|e| ApiError::internal(e.to_string()))?
                        .normalized();
                    let index = NearestLabeled::build(&labeled, &IvfParams::default());
                    index
                        .nearest_many(&cands)
                        .map_err(|e| ApiError::internal(e.to_string()))?
                        .into_iter()
                        .map(|n| n.map_or(f32::INFINITY, |n| n.distance))
                        .collect()
                };
                let nov = queue::novelty(&distances);
                for (k, &i) in with_vec.iter().enumerate() {
                    comps[i].diversity = nov[k];
                    comps[i].nearest_labeled_distance = distances[k].is_finite().then_some(distances[k]);
                }
                let weights: Vec<f32> =
                    with_vec.iter().map(|&i| queue::final_score(&comps[i], &req.weights)).collect();
                let init: Vec<f32> = distances.iter().map(|d| if d.is_finite() { *d } else { 2.0 }).collect();
                let picks = k_center_greedy(&cands, &init, req.limit.min(with_vec.len()), Some(&weights));
                let mut seen: HashSet<usize> = HashSet::new();
                order = picks.iter().map(|&k| with_vec[k]).collect();
                seen.extend(order.iter().copied());
                // Then the rest of the shortlist by score.
                let mut rest: Vec<usize> = short.iter().copied().filter(|i| !seen.contains(i)).collect();
                rest.sort_by(|a, b| {
                    queue::final_score(&comps[*b], &req.weights)
                        .total_cmp(&queue::final_score(&comps[*a], &req.weights))
                });
                order.extend(rest);
            }
        }
        if snap.run.is_none() || order == short {
            order.sort_by(|a, b| {
                queue::final_score(&comps[*b], &req.weights)
                    .total_cmp(&queue::final_score(&comps[*a], &req.weights))
                    .then(a.cmp(b))
            });
        }
        order.truncate(req.limit);

        let by_id: HashMap<i64, &PoolImage> = snap.pool.iter().map(|p| (p.image.0, p)).collect();
        let mut items: Vec<QueueItem> = order
            .iter()
            .map(|&i| QueueItem {
                id: candidates[i].id,
                score: queue::final_score(&comps[i], &req.weights),
                reasons: queue::reasons(&comps[i], &req.weights),
                components: comps[i].clone(),
            })
            .collect();
        if let Some(person) = &req.assign_to {
            let now = self.clock().now_unix_s();
            let ids: Vec<ImageId> = items.iter().map(|it| ImageId(it.id)).collect();
            let mut catalog = self.catalog()?;
            let held: HashSet<ImageId> = catalog.assign(&ids, "label", person, now)?.into_iter().collect();
            items.retain(|it| held.contains(&ImageId(it.id)));
            // Why each was picked travels with the image into versions and export manifests.
            for it in &items {
                catalog.set_selected_because(ImageId(it.id), &it.reasons.join(" · "), person, now)?;
            }
        }
        let entries = items
            .into_iter()
            .enumerate()
            .filter_map(|(rank, it)| {
                by_id.get(&it.id).map(|p| QueueEntry {
                    rank: rank + 1,
                    image: p.image,
                    path: p.rel_path.clone(),
                    root: p.root_path.clone(),
                    score: it.score,
                    reasons: it.reasons,
                    numbers: it.components,
                })
            })
            .collect();
        Ok(QueueResult {
            run: snap.run,
            pool: snap.pool.len() as u64,
            candidates: candidates.len() as u64,
            labeled: snap.pool.iter().filter(|p| p.labeled).count() as u64,
            items: entries,
        })
    }

    /// Gives back `person`'s queue assignments (all, or only `images`).
    pub fn release_assignments(&self, person: &str, images: Option<&[ImageId]>) -> Result<u64, ApiError> {
        Ok(self.catalog()?.release(person, images)?)
    }

    /// Decisions for experts: predictions in the confidence band (default 0.3–0.6) on images
    /// nobody labeled yet, and on labeled images the places where annotations and the model
    /// disagree (a confident prediction nobody annotated, or an annotation whose overlapping
    /// prediction names another class). Ordered by how much the decision matters.
    pub fn review_queue(&self, req: &ReviewRequest) -> Result<Vec<ReviewItem>, ApiError> {
        let (low, high) = req.band;
        if !(0.0..=1.0).contains(&low) || !(0.0..=1.0).contains(&high) || low >= high {
            return Err(ApiError::invalid(format!("band {low}..{high}: give two scores in 0..1, low first")));
        }
        let catalog = Catalog::open(&self.catalog_path(), self.clock().now_unix_s())?;
        let Some(run) = (match req.run {
            Some(r) => Some(r),
            None => Self::newest_run(&catalog)?,
        }) else {
            return Ok(Vec::new());
        };
        let pool = catalog.queue_pool(req.assign_to.as_deref())?;
        let info: HashMap<ImageId, &PoolImage> = pool.iter().map(|p| (p.image, p)).collect();
        let held_by_others: HashSet<ImageId> = catalog
            .assignments()?
            .into_iter()
            .filter(|(_, who, _)| Some(who.as_str()) != req.assign_to.as_deref())
            .map(|(i, _, _)| i)
            .collect();
        let class_names: Vec<String> = catalog
            .model_runs()?
            .iter()
            .find(|r| r.id == run)
            .map(|r| catalog.model_classes(r.model))
            .transpose()?
            .unwrap_or_default();
        let name = |c: u32| class_names.get(c as usize).cloned().unwrap_or_else(|| format!("class {c}"));
        let mid = (low + high) / 2.0;
        let half = (high - low) / 2.0;
        let mut items = Vec::new();
        let mut per_image: HashMap<ImageId, Vec<RankPrediction>> = HashMap::new();
        catalog.for_each_prediction(run, low.min(0.25), |p| {
            if !p.flipped {
                per_image.entry(p.image).or_default().push(p);
            }
            Ok::<(), ApiError>(())
        })?;
        for (image, preds) in &per_image {
            let Some(img) = info.get(image) else { continue };
            if held_by_others.contains(image) {
                continue;
            }
            if img.labeled {
                let anns = catalog.annotations_of_image(*image)?;
                let classes = catalog.label_classes(true)?;
                let cname = |id: lacuna_core::ClassId| {
                    classes.iter().find(|c| c.id == id).map(|c| c.name.clone()).unwrap_or_default()
                };
                for p in preds.iter().filter(|p| p.score >= high) {
                    let pb = lacuna_core::BoxXyxy {
                        x0: f64::from(p.bbox_xyxy_px[0]),
                        y0: f64::from(p.bbox_xyxy_px[1]),
                        x1: f64::from(p.bbox_xyxy_px[2]),
                        y1: f64::from(p.bbox_xyxy_px[3]),
                    };
                    let best = anns
                        .iter()
                        .filter(|a| a.review_state != lacuna_core::ReviewState::Rejected)
                        .map(|a| (a, a.geometry.bbox().iou(&pb)))
                        .max_by(|x, y| x.1.total_cmp(&y.1));
                    match best {
                        Some((a, iou)) if iou >= 0.5 => {
                            let ac = cname(a.class);
                            if !ac.eq_ignore_ascii_case(&name(p.class_id)) {
                                items.push(ReviewItem {
                                    image: *image,
                                    path: img.rel_path.clone(),
                                    kind: "class_disagreement".into(),
                                    prediction: Some(p.id),
                                    annotation: Some(a.id.0),
                                    class: name(p.class_id),
                                    score: p.score,
                                    bbox_xyxy_px: p.bbox_xyxy_px,
                                    importance: p.score,
                                    reason: format!(
                                        "labeled `{ac}`, the model says `{}` ({:.0}%)",
                                        name(p.class_id),
                                        p.score * 100.0
                                    ),
                                });
                            }
                        }
                        _ => items.push(ReviewItem {
                            image: *image,
                            path: img.rel_path.clone(),
                            kind: "unlabeled_object".into(),
                            prediction: Some(p.id),
                            annotation: None,
                            class: name(p.class_id),
                            score: p.score,
                            bbox_xyxy_px: p.bbox_xyxy_px,
                            importance: p.score,
                            reason: format!(
                                "the model sees a {} ({:.0}%) that no annotation covers",
                                name(p.class_id),
                                p.score * 100.0
                            ),
                        }),
                    }
                }
            } else {
                for p in preds.iter().filter(|p| p.score >= low && p.score < high) {
                    let closeness = 1.0 - ((p.score - mid).abs() / half).min(1.0);
                    items.push(ReviewItem {
                        image: *image,
                        path: img.rel_path.clone(),
                        kind: "uncertain_prediction".into(),
                        prediction: Some(p.id),
                        annotation: None,
                        class: name(p.class_id),
                        score: p.score,
                        bbox_xyxy_px: p.bbox_xyxy_px,
                        importance: 0.5 + 0.5 * closeness,
                        reason: format!("{} at {:.0}%: accept or reject", name(p.class_id), p.score * 100.0),
                    });
                }
            }
        }
        items.sort_by(|a, b| b.importance.total_cmp(&a.importance).then(a.image.cmp(&b.image)));
        items.truncate(req.limit);
        if let Some(person) = &req.assign_to {
            let now = self.clock().now_unix_s();
            let mut ids: Vec<ImageId> = items.iter().map(|i| i.image).collect();
            ids.dedup();
            let held: HashSet<ImageId> =
                self.catalog()?.assign(&ids, "review", person, now)?.into_iter().collect();
            items.retain(|i| held.contains(&i.image));
        }
        Ok(items)
    }
}
