//! Models, pre-labeling runs and their predictions.

use std::collections::HashSet;

use lacuna_core::{ImageId, ModelId, RunId};
use rusqlite::OptionalExtension as _;
use serde::{Deserialize, Serialize};

use crate::catalog::get_u64;
use crate::error::SqlResultExt as _;
use crate::{Catalog, CatalogError, JobStatus};

/// A set of weights as the catalog records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub name: String,
    /// `v8` | `v11` | `v12`
    pub family: String,
    /// `n` | `s` | `m` | `l` | `x`
    pub scale: String,
    /// `detect` | `segment`
    pub task: String,
    pub weights_path: String,
    /// BLAKE3 hex of the weights file: the model's identity.
    pub weights_hash: String,
    pub input_size_px: u32,
    pub license: Option<String>,
    pub source: Option<String>,
    /// Index = class id.
    pub class_names: Vec<String>,
}

/// Parameters of a run. Those that change results form its identity ([`RunParams::key`]);
/// device and batch size do not (results agree within tolerance), so a rerun on another
/// device continues the same run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunParams {
    pub device: String,
    /// `f32` | `f16` | `bf16`
    pub precision: String,
    pub batch_size: u32,
    pub keep_threshold: f32,
    pub display_threshold: f32,
    pub iou_threshold: f32,
    pub max_detections: u32,
    pub flip_tta: bool,
}

impl RunParams {
    /// Canonical text of the parameters that change results.
    pub fn key(&self) -> String {
        format!(
            "precision={};keep={};display={};iou={};max_det={};flip_tta={}",
            self.precision,
            self.keep_threshold,
            self.display_threshold,
            self.iou_threshold,
            self.max_detections,
            self.flip_tta
        )
    }
}

/// One predicted box to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    pub class_id: u32,
    pub score: f32,
    /// Image pixels, EXIF orientation applied.
    pub bbox_xyxy_px: [f32; 4],
    pub class_probs: Vec<f32>,
    /// From the horizontally flipped pass.
    pub flipped: bool,
    /// COCO RLE counts (column-major) at image size, segmentation models only.
    pub mask_rle: Option<String>,
    /// JSON `[[x, y, ...], ...]` in image pixels, segmentation models only.
    pub mask_polygons: Option<String>,
}

/// What a run produced for one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunImageResult {
    pub image: ImageId,
    pub predictions: Vec<PredictionRecord>,
    /// Pooled backbone features.
    pub embedding: Option<Vec<f32>>,
    pub inference_ms: f32,
}

/// An image a run could not process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunProblem {
    pub image: ImageId,
    pub message: String,
}

/// A run as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRunRow {
    pub id: RunId,
    pub model: ModelId,
    pub model_name: String,
    pub weights_hash: String,
    pub params: RunParams,
    pub status: JobStatus,
    pub images_done: u64,
    pub problems: u64,
    pub error: Option<String>,
    pub started_at_unix_s: i64,
    pub finished_at_unix_s: Option<i64>,
}

/// A stored prediction with its image's path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRow {
    pub run: RunId,
    pub image: ImageId,
    pub root_path: String,
    pub rel_path: String,
    pub class_id: u32,
    pub class_name: Option<String>,
    pub score: f32,
    pub bbox_xyxy_px: [f32; 4],
    pub flipped: bool,
    pub class_probs: Vec<f32>,
}

fn f32s_to_blob(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub(crate) fn blob_to_f32s(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

impl Catalog {
    /// Records the model (by weights hash; the path and card fields are refreshed) and its
    /// classes; returns its id.
    pub fn upsert_model(&mut self, model: &ModelRecord, now_unix_s: i64) -> Result<ModelId, CatalogError> {
        let path = &self.path;
        let tx = self.conn.transaction().at(path)?;
        tx.execute(
            "INSERT INTO model (name, family, scale, task, weights_path, weights_hash, input_size_px, \
             license, source, added_at_unix_s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (weights_hash) DO UPDATE SET name = excluded.name, family = excluded.family, \
             scale = excluded.scale, task = excluded.task, weights_path = excluded.weights_path, \
             input_size_px = excluded.input_size_px, license = excluded.license, source = excluded.source",
            rusqlite::params![
                model.name,
                model.family,
                model.scale,
                model.task,
                model.weights_path,
                model.weights_hash,
                model.input_size_px,
                model.license,
                model.source,
                now_unix_s
            ],
        )
        .at(path)?;
        let id: i64 = tx
            .query_row("SELECT id FROM model WHERE weights_hash = ?1", [&model.weights_hash], |r| r.get(0))
            .at(path)?;
        tx.execute("DELETE FROM model_class WHERE model_id = ?1", [id]).at(path)?;
        {
            let mut insert = tx
                .prepare("INSERT INTO model_class (model_id, class_id, name) VALUES (?1, ?2, ?3)")
                .at(path)?;
            for (class_id, name) in model.class_names.iter().enumerate() {
                insert.execute(rusqlite::params![id, class_id as i64, name]).at(path)?;
            }
        }
        tx.commit().at(path)?;
        Ok(ModelId(id))
    }

    /// Class names of a model, index = class id.
    pub fn model_classes(&self, model: ModelId) -> Result<Vec<String>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM model_class WHERE model_id = ?1 ORDER BY class_id")
            .at(&self.path)?;
        let names = stmt.query_map([model.0], |r| r.get(0)).at(&self.path)?;
        names.collect::<rusqlite::Result<Vec<String>>>().at(&self.path)
    }

    /// The run of `model` with these parameters, continued if it exists (status back to
    /// `running`), created otherwise. Returns the run and whether it existed.
    pub fn open_model_run(
        &mut self,
        model: ModelId,
        params: &RunParams,
        now_unix_s: i64,
    ) -> Result<(RunId, bool), CatalogError> {
        let path = &self.path;
        let key = params.key();
        let tx = self.conn.transaction().at(path)?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM model_run WHERE model_id = ?1 AND params_key = ?2",
                rusqlite::params![model.0, key],
                |r| r.get(0),
            )
            .optional()
            .at(path)?;
        let run = match existing {
            Some(id) => {
                tx.execute(
                    "UPDATE model_run SET status = 'running', device = ?2, batch_size = ?3, error = NULL, \
                     finished_at_unix_s = NULL WHERE id = ?1",
                    rusqlite::params![id, params.device, params.batch_size],
                )
                .at(path)?;
                (RunId(id), true)
            }
            None => {
                tx.execute(
                    "INSERT INTO model_run (model_id, params_key, device, precision, batch_size, \
                     keep_threshold, display_threshold, iou_threshold, max_detections, flip_tta, status, \
                     started_at_unix_s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'running', ?11)",
                    rusqlite::params![
                        model.0,
                        key,
                        params.device,
                        params.precision,
                        params.batch_size,
                        f64::from(params.keep_threshold),
                        f64::from(params.display_threshold),
                        f64::from(params.iou_threshold),
                        params.max_detections,
                        params.flip_tta,
                        now_unix_s
                    ],
                )
                .at(path)?;
                (RunId(tx.last_insert_rowid()), false)
            }
        };
        tx.commit().at(path)?;
        Ok(run)
    }

    /// Images `run` has finished (what a resume skips).
    pub fn finished_run_images(&self, run: RunId) -> Result<HashSet<ImageId>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT image_id FROM model_run_image WHERE run_id = ?1")
            .at(&self.path)?;
        let ids = stmt.query_map([run.0], |r| r.get(0).map(ImageId)).at(&self.path)?;
        ids.collect::<rusqlite::Result<HashSet<ImageId>>>().at(&self.path)
    }

    /// Stores a batch of results and problems in one transaction and adds them to the run's
    /// counts. An image already finished by the run is an error (nothing is written).
    pub fn store_run_results(
        &mut self,
        run: RunId,
        results: &[RunImageResult],
        problems: &[RunProblem],
    ) -> Result<(), CatalogError> {
        let path = &self.path;
        let tx = self.conn.transaction().at(path)?;
        {
            let mut image_row = tx
                .prepare_cached(
                    "INSERT INTO model_run_image (run_id, image_id, detections, inference_ms) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .at(path)?;
            let mut embedding_row = tx
                .prepare_cached("INSERT INTO run_embedding (run_id, image_id, vector) VALUES (?1, ?2, ?3)")
                .at(path)?;
            let mut box_row = tx
                .prepare_cached(
                    "INSERT INTO prediction (run_id, image_id, flipped, class_id, score, x0_px, y0_px, \
                     x1_px, y1_px, class_probs, mask_rle, mask_polygons) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .at(path)?;
            for result in results {
                image_row
                    .execute(rusqlite::params![
                        run.0,
                        result.image.0,
                        result.predictions.iter().filter(|p| !p.flipped).count() as i64,
                        f64::from(result.inference_ms)
                    ])
                    .at(path)?;
                if let Some(embedding) = &result.embedding {
                    embedding_row
                        .execute(rusqlite::params![run.0, result.image.0, f32s_to_blob(embedding)])
                        .at(path)?;
                }
                for p in &result.predictions {
                    let [x0, y0, x1, y1] = p.bbox_xyxy_px.map(f64::from);
                    box_row
                        .execute(rusqlite::params![
                            run.0,
                            result.image.0,
                            p.flipped,
                            p.class_id,
                            f64::from(p.score),
                            x0,
                            y0,
                            x1,
                            y1,
                            f32s_to_blob(&p.class_probs),
                            p.mask_rle,
                            p.mask_polygons
                        ])
                        .at(path)?;
                }
            }
            let mut problem_row = tx
                .prepare_cached(
                    "INSERT INTO model_run_problem (run_id, image_id, message) VALUES (?1, ?2, ?3)",
                )
                .at(path)?;
            for problem in problems {
                problem_row.execute(rusqlite::params![run.0, problem.image.0, problem.message]).at(path)?;
            }
            tx.execute(
                "UPDATE model_run SET images_done = images_done + ?2, problems = problems + ?3 WHERE id = ?1",
                rusqlite::params![run.0, results.len() as i64, problems.len() as i64],
            )
            .at(path)?;
        }
        tx.commit().at(path)
    }

    /// Records how a run ended.
    pub fn finish_model_run(
        &mut self,
        run: RunId,
        status: JobStatus,
        error: Option<&str>,
        now_unix_s: i64,
    ) -> Result<(), CatalogError> {
        let changed = self
            .conn
            .execute(
                "UPDATE model_run SET status = ?2, error = ?3, finished_at_unix_s = ?4 WHERE id = ?1",
                rusqlite::params![run.0, status.as_str(), error, now_unix_s],
            )
            .at(&self.path)?;
        if changed == 0 {
            return Err(CatalogError::Corrupt(format!("no model run {run}")));
        }
        Ok(())
    }

    /// All runs, newest first.
    pub fn model_runs(&self) -> Result<Vec<ModelRunRow>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.id, r.model_id, m.name, m.weights_hash, r.device, r.precision, r.batch_size, \
                 r.keep_threshold, r.display_threshold, r.iou_threshold, r.max_detections, r.flip_tta, \
                 r.status, r.images_done, r.problems, r.error, r.started_at_unix_s, r.finished_at_unix_s \
                 FROM model_run r JOIN model m ON m.id = r.model_id ORDER BY r.id DESC",
            )
            .at(&self.path)?;
        let mut rows = stmt.query([]).at(&self.path)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().at(&self.path)? {
            let status: String = row.get(12).at(&self.path)?;
            out.push(ModelRunRow {
                id: RunId(row.get(0).at(&self.path)?),
                model: ModelId(row.get(1).at(&self.path)?),
                model_name: row.get(2).at(&self.path)?,
                weights_hash: row.get(3).at(&self.path)?,
                params: RunParams {
                    device: row.get(4).at(&self.path)?,
                    precision: row.get(5).at(&self.path)?,
                    batch_size: row.get(6).at(&self.path)?,
                    keep_threshold: row.get::<_, f64>(7).at(&self.path)? as f32,
                    display_threshold: row.get::<_, f64>(8).at(&self.path)? as f32,
                    iou_threshold: row.get::<_, f64>(9).at(&self.path)? as f32,
                    max_detections: row.get(10).at(&self.path)?,
                    flip_tta: row.get(11).at(&self.path)?,
                },
                status: JobStatus::from_name(&status)
                    .ok_or_else(|| CatalogError::Corrupt(format!("model run status {status:?}")))?,
                images_done: get_u64(row, 13).at(&self.path)?,
                problems: get_u64(row, 14).at(&self.path)?,
                error: row.get(15).at(&self.path)?,
                started_at_unix_s: row.get(16).at(&self.path)?,
                finished_at_unix_s: row.get(17).at(&self.path)?,
            });
        }
        Ok(out)
    }

    /// Predictions of `run` with score ≥ `min_score` (unflipped pass unless `include_flipped`),
    /// by image id then score descending.
    pub fn predictions(
        &self,
        run: RunId,
        min_score: f32,
        include_flipped: bool,
    ) -> Result<Vec<PredictionRow>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT p.run_id, p.image_id, s.path, i.rel_path, p.class_id, c.name, p.score, \
                 p.x0_px, p.y0_px, p.x1_px, p.y1_px, p.flipped, p.class_probs \
                 FROM prediction p JOIN image i ON i.id = p.image_id \
                 JOIN source_root s ON s.id = i.root_id \
                 JOIN model_run r ON r.id = p.run_id \
                 LEFT JOIN model_class c ON c.model_id = r.model_id AND c.class_id = p.class_id \
                 WHERE p.run_id = ?1 AND p.score >= ?2 AND (?3 OR p.flipped = 0) \
                 ORDER BY p.image_id, p.flipped, p.score DESC, p.id",
            )
            .at(&self.path)?;
        let mut rows =
            stmt.query(rusqlite::params![run.0, f64::from(min_score), include_flipped]).at(&self.path)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().at(&self.path)? {
            let f = |i: usize| row.get::<_, f64>(i).map(|v| v as f32);
            let blob: Vec<u8> = row.get(12).at(&self.path)?;
            out.push(PredictionRow {
                run: RunId(row.get(0).at(&self.path)?),
                image: ImageId(row.get(1).at(&self.path)?),
                root_path: row.get(2).at(&self.path)?,
                rel_path: row.get(3).at(&self.path)?,
                class_id: row.get(4).at(&self.path)?,
                class_name: row.get(5).at(&self.path)?,
                score: f(6).at(&self.path)?,
                bbox_xyxy_px: [
                    f(7).at(&self.path)?,
                    f(8).at(&self.path)?,
                    f(9).at(&self.path)?,
                    f(10).at(&self.path)?,
                ],
                flipped: row.get(11).at(&self.path)?,
                class_probs: blob_to_f32s(&blob),
            });
        }
        Ok(out)
    }

    /// The embedding `run` stored for `image`.
    pub fn embedding(&self, run: RunId, image: ImageId) -> Result<Option<Vec<f32>>, CatalogError> {
        let blob: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT vector FROM run_embedding WHERE run_id = ?1 AND image_id = ?2",
                [run.0, image.0],
                |r| r.get(0),
            )
            .optional()
            .at(&self.path)?;
        Ok(blob.map(|b| blob_to_f32s(&b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_blobs_round_trip() {
        let v = vec![0.0, -1.5, f32::MIN_POSITIVE, 1e30];
        assert_eq!(blob_to_f32s(&f32s_to_blob(&v)), v);
    }

    #[test]
    fn run_key_ignores_device_and_batch() {
        let a = RunParams {
            device: "cpu".into(),
            precision: "f32".into(),
            batch_size: 8,
            keep_threshold: 0.05,
            display_threshold: 0.25,
            iou_threshold: 0.7,
            max_detections: 300,
            flip_tta: false,
        };
        let b = RunParams { device: "cuda:0".into(), batch_size: 32, ..a.clone() };
        assert_eq!(a.key(), b.key());
        let c = RunParams { flip_tta: true, ..a.clone() };
        assert_ne!(a.key(), c.key());
    }
}

/// A prediction ready to become an annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct AdoptablePrediction {
    pub prediction: i64,
    pub image: ImageId,
    pub class_name: String,
    pub score: f32,
    /// The mask (segmentation models) or the box.
    pub geometry: lacuna_core::Geometry,
}

impl Catalog {
    /// A run's predictions (unflipped pass) scoring at least `min_score`, by image then score.
    pub fn predictions_for_adoption(
        &self,
        run: RunId,
        min_score: f32,
    ) -> Result<Vec<AdoptablePrediction>, CatalogError> {
        self.adoptable(
            "p.run_id = ?1 AND p.flipped = 0 AND p.score >= ?2",
            rusqlite::params![run.0, f64::from(min_score)],
        )
    }

    /// Like [`Catalog::predictions_for_adoption`], for one image.
    pub fn image_predictions_for_adoption(
        &self,
        run: RunId,
        image: ImageId,
        min_score: f32,
    ) -> Result<Vec<AdoptablePrediction>, CatalogError> {
        self.adoptable(
            "p.run_id = ?1 AND p.image_id = ?2 AND p.flipped = 0 AND p.score >= ?3",
            rusqlite::params![run.0, image.0, f64::from(min_score)],
        )
    }

    /// The predictions with these ids (with their run), in the order given; unknown ids are
    /// left out.
    pub fn predictions_by_id(&self, ids: &[i64]) -> Result<Vec<(RunId, AdoptablePrediction)>, CatalogError> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let run: Option<i64> = self
                .conn
                .query_row("SELECT run_id FROM prediction WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .at(&self.path)?;
            if let Some(run) = run {
                out.extend(self.adoptable("p.id = ?1", [id])?.into_iter().map(|p| (RunId(run), p)));
            }
        }
        Ok(out)
    }

    fn adoptable(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<AdoptablePrediction>, CatalogError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT p.id, p.image_id, coalesce(c.name, 'class ' || p.class_id), p.score, p.x0_px, p.y0_px, \
                 p.x1_px, p.y1_px, p.mask_rle, i.width_px, i.height_px FROM prediction p \
                 JOIN model_run r ON r.id = p.run_id JOIN image i ON i.id = p.image_id \
                 LEFT JOIN model_class c ON c.model_id = r.model_id AND c.class_id = p.class_id \
                 WHERE {filter} ORDER BY p.image_id, p.score DESC"
            ))
            .at(path)?;
        let rows = stmt
            .query_map(params, |r| {
                let bbox =
                    lacuna_core::BoxXyxy { x0: r.get(4)?, y0: r.get(5)?, x1: r.get(6)?, y1: r.get(7)? };
                let mask: Option<String> = r.get(8)?;
                let (w, h): (u32, u32) = (r.get(9)?, r.get(10)?);
                let geometry = match mask.and_then(|m| lacuna_core::Rle::from_coco_string(h, w, &m).ok()) {
                    Some(rle) => lacuna_core::Geometry::Mask(rle),
                    None => lacuna_core::Geometry::Box(bbox),
                };
                Ok(AdoptablePrediction {
                    prediction: r.get(0)?,
                    image: ImageId(r.get(1)?),
                    class_name: r.get(2)?,
                    score: r.get::<_, f64>(3)? as f32,
                    geometry,
                })
            })
            .at(path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(path)
    }
}

impl Catalog {
    /// Ids of a run's predictions that already became annotations (adopting twice adds nothing).
    pub fn adopted_predictions(&self, run: RunId) -> Result<HashSet<i64>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare("SELECT prediction_id FROM annotation WHERE run_id = ?1 AND prediction_id IS NOT NULL")
            .at(&self.path)?;
        let rows = stmt.query_map([run.0], |r| r.get::<_, i64>(0)).at(&self.path)?;
        rows.collect::<rusqlite::Result<HashSet<_>>>().at(&self.path)
    }
}

/// A stored prediction without its image's path (what ranking reads, image by image).
#[derive(Debug, Clone, PartialEq)]
pub struct RankPrediction {
    pub image: ImageId,
    pub id: i64,
    pub class_id: u32,
    pub score: f32,
    pub bbox_xyxy_px: [f32; 4],
    pub flipped: bool,
    pub class_probs: Vec<f32>,
}

impl Catalog {
    /// Calls `visit` with every prediction of `run` scoring at least `min_score`, in image-id
    /// order.
    pub fn for_each_prediction<E: From<CatalogError>>(
        &self,
        run: RunId,
        min_score: f32,
        visit: impl FnMut(RankPrediction) -> Result<(), E>,
    ) -> Result<(), E> {
        self.visit_predictions(
            "SELECT image_id, id, class_id, score, x0_px, y0_px, x1_px, y1_px, flipped, class_probs \
             FROM prediction WHERE run_id = ?1 AND score >= ?2 ORDER BY image_id, id",
            rusqlite::params![run.0, f64::from(min_score)],
            visit,
        )
    }

    /// Like [`Catalog::for_each_prediction`] (every score), only for images `run` finished that
    /// have no uncertainty summary computed by `method` yet.
    pub fn for_each_prediction_without_uncertainty<E: From<CatalogError>>(
        &self,
        run: RunId,
        method: i64,
        visit: impl FnMut(RankPrediction) -> Result<(), E>,
    ) -> Result<(), E> {
        self.visit_predictions(
            "SELECT p.image_id, p.id, p.class_id, p.score, p.x0_px, p.y0_px, p.x1_px, p.y1_px, p.flipped, \
             p.class_probs FROM prediction p WHERE p.run_id = ?1 AND NOT EXISTS \
             (SELECT 1 FROM run_image_uncertainty u WHERE u.run_id = ?1 AND u.image_id = p.image_id \
              AND u.method = ?2) ORDER BY p.image_id, p.id",
            rusqlite::params![run.0, method],
            visit,
        )
    }

    fn visit_predictions<E: From<CatalogError>>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        mut visit: impl FnMut(RankPrediction) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self.conn.prepare(sql).at(&self.path)?;
        let mut rows = stmt.query(params).at(&self.path)?;
        while let Some(r) = rows.next().at(&self.path)? {
            let f = |i: usize| r.get::<_, f64>(i).map(|v| v as f32);
            let blob = r.get_ref(9).and_then(|v| v.as_blob().map_err(Into::into)).at(&self.path)?;
            visit(RankPrediction {
                image: ImageId(r.get(0).at(&self.path)?),
                id: r.get(1).at(&self.path)?,
                class_id: r.get(2).at(&self.path)?,
                score: f(3).at(&self.path)?,
                bbox_xyxy_px: [
                    f(4).at(&self.path)?,
                    f(5).at(&self.path)?,
                    f(6).at(&self.path)?,
                    f(7).at(&self.path)?,
                ],
                flipped: r.get(8).at(&self.path)?,
                class_probs: blob_to_f32s(blob),
            })?;
        }
        Ok(())
    }

    /// Calls `visit` with every stored embedding of `run`, in image-id order.
    pub fn for_each_embedding<E: From<CatalogError>>(
        &self,
        run: RunId,
        mut visit: impl FnMut(ImageId, Vec<f32>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare("SELECT image_id, vector FROM run_embedding WHERE run_id = ?1 ORDER BY image_id")
            .at(&self.path)?;
        let mut rows = stmt.query([run.0]).at(&self.path)?;
        while let Some(r) = rows.next().at(&self.path)? {
            let blob: Vec<u8> = r.get(1).at(&self.path)?;
            visit(ImageId(r.get(0).at(&self.path)?), blob_to_f32s(&blob))?;
        }
        Ok(())
    }
}
