//! Generated ranking inputs for benchmarks: [`Catalog::insert_synthetic_ranking`] gives every
//! present image three conditions (light, weather, camera), a pre-labeling run's box and
//! embedding, and labels a share of the images with night under-represented.
//!
//! Like the other generators it writes straight into the tables and records **no** journal rows:
//! benchmark data, never a user's project.

use lacuna_core::{ImageId, RunId};
use rusqlite::params;

use crate::error::SqlResultExt as _;
use crate::models::{ModelRecord, RunParams};
use crate::synthetic::Rng;
use crate::types::JobStatus;
use crate::{Catalog, CatalogError};

const IMAGES_PER_TX: usize = 10_000;
const LIGHTS: [&str; 3] = ["day", "low_light", "night"];
const WEATHERS: [&str; 4] = ["clear", "overcast", "fog_haze", "unknown"];
const CAMERAS: u64 = 20;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticRanking {
    pub seed: u64,
    /// Embedding dimension.
    pub dim: usize,
    /// Embedding clusters (night images fall in their own quarter of them).
    pub clusters: usize,
    /// Images to mark labeled.
    pub labeled: u64,
    /// Share of the pool that is night (the rest: 10% low light, day).
    pub night_share: f64,
    /// Share of the labeled images that are night.
    pub night_labeled_share: f64,
    /// Classes of the generated model.
    pub classes: usize,
}

/// What was generated.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticRankingSummary {
    pub run: RunId,
    pub images: u64,
    pub night: u64,
    pub labeled: u64,
    pub labeled_night: u64,
}

fn light_of(seed: u64, image: ImageId, night_share: f64) -> usize {
    let mut rng = Rng::new(seed ^ (image.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let r = rng.unit();
    if r < night_share {
        2
    } else if r < night_share + 0.1 {
        1
    } else {
        0
    }
}

impl Catalog {
    /// See the module documentation. Present images only; deterministic from `spec.seed`.
    pub fn insert_synthetic_ranking(
        &mut self,
        spec: &SyntheticRanking,
        now: i64,
    ) -> Result<SyntheticRankingSummary, CatalogError> {
        let class_names: Vec<String> = (0..spec.classes).map(|c| format!("class{c}")).collect();
        let model = self.upsert_model(
            &ModelRecord {
                name: "synthetic".into(),
                family: "v8".into(),
                scale: "n".into(),
                task: "detect".into(),
                weights_path: "synthetic.safetensors".into(),
                weights_hash: format!("synthetic-{}", spec.seed),
                input_size_px: 640,
                license: None,
                source: Some("generated benchmark data".into()),
                class_names,
            },
            now,
        )?;
        let params = RunParams {
            device: "cpu".into(),
            precision: "f32".into(),
            batch_size: 8,
            keep_threshold: 0.1,
            display_threshold: 0.25,
            iou_threshold: 0.7,
            max_detections: 300,
            flip_tta: false,
        };
        let (run, _) = self.open_model_run(model, &params, now)?;
        let images: Vec<ImageId> = {
            let mut stmt =
                self.conn.prepare("SELECT id FROM image WHERE status = 'ok' ORDER BY id").at(&self.path)?;
            let rows = stmt.query_map([], |r| r.get(0).map(ImageId)).at(&self.path)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)?
        };
        let lights: Vec<usize> = images.iter().map(|&i| light_of(spec.seed, i, spec.night_share)).collect();
        let night = lights.iter().filter(|&&l| l == 2).count() as u64;
        // The labeled set: the first images of each kind in a seeded shuffle, night taking its share.
        let mut order: Vec<usize> = (0..images.len()).collect();
        let mut rng = Rng::new(spec.seed ^ 0x5EED);
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let want_night = (spec.labeled as f64 * spec.night_labeled_share).round() as u64;
        let want_other = spec.labeled.saturating_sub(want_night);
        let (mut got_night, mut got_other) = (0u64, 0u64);
        let mut labeled = vec![false; images.len()];
        for &i in &order {
            if lights[i] == 2 && got_night < want_night {
                labeled[i] = true;
                got_night += 1;
            } else if lights[i] != 2 && got_other < want_other {
                labeled[i] = true;
                got_other += 1;
            }
        }
        let centers: Vec<f32> = {
            let mut rng = Rng::new(spec.seed ^ 0xCE47);
            (0..spec.clusters * spec.dim).map(|_| rng.unit() as f32 - 0.5).collect()
        };
        let night_clusters = (spec.clusters / 4).max(1);
        for start in (0..images.len()).step_by(IMAGES_PER_TX) {
            let end = images.len().min(start + IMAGES_PER_TX);
            let path = &self.path;
            let tx = self.conn.transaction().at(path)?;
            {
                let mut condition = tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO condition (image_id, key, value, source, confidence, updated_at_unix_s) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .at(path)?;
                let mut derived = tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO condition_derived (image_id, derived_at_unix_s) VALUES (?1, ?2)",
                    )
                    .at(path)?;
                let mut label = tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO image_label (image_id, state, selected_because, updated_by, \
                         updated_at_unix_s) VALUES (?1, 'labeled', NULL, 'synthetic', ?2)",
                    )
                    .at(path)?;
                let mut result = tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO model_run_image (run_id, image_id, detections, inference_ms) \
                         VALUES (?1, ?2, 1, 10.0)",
                    )
                    .at(path)?;
                let mut vector = tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO run_embedding (run_id, image_id, vector) VALUES (?1, ?2, ?3)",
                    )
                    .at(path)?;
                let mut prediction = tx
                    .prepare_cached(
                        "INSERT INTO prediction (run_id, image_id, flipped, class_id, score, x0_px, y0_px, x1_px, \
                         y1_px, class_probs) VALUES (?1, ?2, 0, ?3, ?4, 10, 10, 110, 90, ?5)",
                    )
                    .at(path)?;
                for k in start..end {
                    let image = images[k];
                    let mut rng = Rng::new(spec.seed ^ (image.0 as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
                    let weather = WEATHERS[rng.below(WEATHERS.len() as u64) as usize];
                    let camera = format!("cam-{:02}", rng.below(CAMERAS));
                    for (key, value, source, conf) in [
                        ("light", LIGHTS[lights[k]], "estimated", 0.8),
                        ("weather", weather, "estimated", 0.6),
                        ("camera", camera.as_str(), "exif", 1.0),
                    ] {
                        condition.execute(params![image.0, key, value, source, conf, now]).at(path)?;
                    }
                    derived.execute(params![image.0, now]).at(path)?;
                    if labeled[k] {
                        label.execute(params![image.0, now]).at(path)?;
                    }
                    let cluster = if lights[k] == 2 {
                        rng.below(night_clusters as u64) as usize
                    } else {
                        night_clusters + rng.below((spec.clusters - night_clusters).max(1) as u64) as usize
                    }
                    .min(spec.clusters - 1);
                    let embedding: Vec<u8> = (0..spec.dim)
                        .flat_map(|d| {
                            (centers[cluster * spec.dim + d] + 0.35 * (rng.unit() as f32 - 0.5)).to_le_bytes()
                        })
                        .collect();
                    result.execute(params![run.0, image.0]).at(path)?;
                    vector.execute(params![run.0, image.0, embedding]).at(path)?;
                    // One box: a peaked class distribution, flatter (more confused) at night.
                    let class = rng.below(spec.classes as u64) as usize;
                    let peak = if lights[k] == 2 { 0.2 + 0.5 * rng.unit() } else { 0.4 + 0.6 * rng.unit() };
                    let probs: Vec<u8> = (0..spec.classes)
                        .flat_map(|c| {
                            let p = if c == class { peak } else { 0.3 * rng.unit() * (1.0 - peak) };
                            (p as f32).to_le_bytes()
                        })
                        .collect();
                    prediction.execute(params![run.0, image.0, class as i64, peak, probs]).at(path)?;
                }
            }
            tx.commit().at(path)?;
        }
        self.conn
            .execute(
                "UPDATE model_run SET images_done = ?2 WHERE id = ?1",
                params![run.0, images.len() as i64],
            )
            .at(&self.path)?;
        self.finish_model_run(run, JobStatus::Finished, None, now)?;
        Ok(SyntheticRankingSummary {
            run,
            images: images.len() as u64,
            night,
            labeled: got_night + got_other,
            labeled_night: got_night,
        })
    }
}
