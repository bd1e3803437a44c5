//! Use cases around ranking: conditions, coverage, the labeling queue and the review queue.
//! The ranking itself is `lacuna-select`'s (pure functions); this module reads the catalog,
//! calls it and stores what must be stored.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use lacuna_catalog::{Catalog, ConditionClaim, PoolImage, RankPrediction};
use lacuna_core::{ImageId, RunId};
use lacuna_select::conditions::{self, Condition, ConditionSource, PathRule, SidecarFormat};
use lacuna_select::coverage::{self, CoverageRow, Target};
use lacuna_select::queue::{self, Weights};
use serde::{Deserialize, Serialize};

use crate::ranking::{Freshness, KeptRanking};
use crate::{ApiError, ErrorCode, ImageQuery, Project};

/// Images derived per transaction when conditions are refreshed.
const DERIVE_BATCH: u32 = 5_000;

/// `lacuna queue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QueueResult {
    pub run: Option<RunId>,
    pub pool: u64,
    pub candidates: u64,
    pub labeled: u64,
    pub items: Vec<QueueEntry>,
}

/// `lacuna review-queue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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

    /// A person's condition `key` = `value` on several images, in one transaction: all or
    /// nothing (an unknown image fails the call and names it). Returns how many were set.
    pub fn set_conditions(&self, images: &[ImageId], key: &str, value: &str) -> Result<u64, ApiError> {
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || value.is_empty() {
            return Err(ApiError::invalid("a condition needs a key and a value"));
        }
        let now = self.clock().now_unix_s();
        let claims: Vec<ConditionClaim> = images
            .iter()
            .map(|&image| ConditionClaim {
                image,
                key: key.to_string(),
                value: value.to_string(),
                source: ConditionSource::Human.as_str().to_string(),
                confidence: 1.0,
            })
            .collect();
        Ok(self.catalog()?.upsert_conditions(&claims, now)?)
    }

    /// Every image the query matches (its paging fields ignored), in id order: what a bulk
    /// action on "everything the filters show" acts on.
    pub fn images_matching(&self, query: &ImageQuery) -> Result<Vec<ImageId>, ApiError> {
        let mut ids = Vec::new();
        let mut page_query = ImageQuery { cursor: None, limit: Some(1_000), ..query.clone() };
        loop {
            let page = self.list_images(&page_query)?;
            ids.extend(page.items.iter().map(|i| ImageId(i.id)));
            match page.next_cursor {
                Some(cursor) => page_query.cursor = Some(cursor),
                None => return Ok(ids),
            }
        }
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

    /// The kept ranking for `run` (default: the newest), up to date: rebuilt from the catalog
    /// when missing or stale, otherwise updated from the journal.
    fn ranking(
        &self,
        run: Option<RunId>,
    ) -> Result<std::sync::MutexGuard<'_, Option<KeptRanking>>, ApiError> {
        let mut kept = self.ranking.lock().map_err(|_| ApiError::internal("ranking lock poisoned"))?;
        let catalog = self.catalog()?;
        let run = match run {
            Some(r) => Some(r),
            None => Self::newest_run(&catalog)?,
        };
        let fresh = match kept.as_mut() {
            Some(k) => k.update(&catalog, run)? == Freshness::Current,
            None => false,
        };
        if !fresh {
            drop(catalog);
            self.refresh_conditions()?;
            let mut catalog = self.catalog()?;
            *kept = Some(KeptRanking::build(&mut catalog, run)?);
        }
        Ok(kept)
    }

    /// The coverage table: per condition value its share of the pool, of the labeled set and
    /// of the target, the gap, and the model's confidence there (from the newest run).
    pub fn coverage(&self) -> Result<CoverageReport, ApiError> {
        let kept = self.ranking(None)?;
        let k = kept.as_ref().ok_or_else(|| ApiError::internal("no ranking"))?;
        Ok(CoverageReport { pool: k.pool, labeled: k.labeled, rows: k.coverage() })
    }

    /// The labeling queue: unlabeled images ranked by uncertainty, coverage gap and novelty
    /// (weighted), the batch picked by k-center greedy so it is not many near-duplicates, each
    /// with its reasons. Kept in memory between calls and updated after each labeled image
    /// (see `ranking.rs`). With `assign_to`, the picks are handed to that person (images someone
    /// else holds are never handed out twice).
    pub fn queue(&self, req: &QueueRequest) -> Result<QueueResult, ApiError> {
        if req.limit == 0 || req.limit > 100_000 {
            return Err(ApiError::invalid(format!("limit {} is outside 1..=100000", req.limit)));
        }
        let mut kept = self.ranking(req.run)?;
        let k = kept.as_mut().ok_or_else(|| ApiError::internal("no ranking"))?;
        let catalog = self.catalog()?;
        k.ensure_shortlist(&catalog, req.weights, req.limit)?;
        let held: HashMap<ImageId, String> =
            catalog.assignments()?.into_iter().map(|(image, who, _)| (image, who)).collect();
        let me = req.assign_to.as_deref();
        let skip = |id: i64| held.get(&ImageId(id)).is_some_and(|who| Some(who.as_str()) != me);
        let mut items = k.state.batch(req.limit, skip);
        let candidates = (k.state.remaining() as u64).saturating_sub(
            held.iter().filter(|(i, who)| Some(who.as_str()) != me && k.state.is_candidate(i.0)).count()
                as u64,
        );
        let (run, pool, labeled) = (k.run, k.pool, k.labeled);
        drop(kept);
        drop(catalog);
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
        let ids: Vec<ImageId> = items.iter().map(|it| ImageId(it.id)).collect();
        let paths = self.catalog()?.image_paths(&ids)?;
        let entries = items
            .into_iter()
            .enumerate()
            .filter_map(|(rank, it)| {
                paths.get(&ImageId(it.id)).map(|(root, rel)| QueueEntry {
                    rank: rank + 1,
                    image: ImageId(it.id),
                    path: rel.clone(),
                    root: root.clone(),
                    score: it.score,
                    reasons: it.reasons,
                    numbers: it.components,
                })
            })
            .collect();
        Ok(QueueResult { run, pool, candidates, labeled, items: entries })
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
        // Predictions someone accepted or rejected are decided: not asked again.
        let decided = catalog.adopted_predictions(run)?;
        catalog.for_each_prediction(run, low.min(0.25), |p| {
            if !p.flipped && !decided.contains(&p.id) {
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
