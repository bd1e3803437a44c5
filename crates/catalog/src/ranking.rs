//! Lean reads for ranking at a million images, and what lets a long-running process keep its
//! ranking in memory: the `ranking_inputs` change counter (moved by triggers, schema 6), the
//! edit journal's position, and per-run uncertainty summaries.

use std::collections::HashMap;

use lacuna_core::{ImageId, RunId};
use rusqlite::params;

use crate::error::SqlResultExt as _;
use crate::models::blob_to_f32s;
use crate::{Catalog, CatalogError};

/// Where an image stands for ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RankState {
    /// Nobody has started it: a queue candidate (unless someone holds it).
    Unlabeled,
    /// Labeled, labeled with no objects, or reviewed: counts as labeled for coverage.
    Done,
    /// In progress or skipped: neither a candidate nor labeled.
    Other,
}

impl RankState {
    fn from_state(state: Option<&str>) -> Self {
        match state {
            None | Some("unlabeled") => Self::Unlabeled,
            Some("labeled" | "labeled_empty" | "reviewed") => Self::Done,
            Some(_) => Self::Other,
        }
    }
}

/// The stored uncertainty summary of one image in one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UncertaintySummary {
    pub image: ImageId,
    pub score: f32,
    pub entropy_max: f32,
    pub tta_disagreement: Option<f32>,
    pub missed_objects: u32,
    pub missed_score: f32,
}

impl Catalog {
    /// The `ranking_inputs` counter: moves whenever the pool, conditions, path rules, coverage
    /// targets or model runs change (not label states; see [`Catalog::last_journal_seq`]).
    pub fn ranking_inputs_counter(&self) -> Result<i64, CatalogError> {
        self.conn
            .query_row("SELECT n FROM change_counter WHERE name = 'ranking_inputs'", [], |r| r.get(0))
            .at(&self.path)
    }

    /// The newest edit-journal event (0 when there is none).
    pub fn last_journal_seq(&self) -> Result<i64, CatalogError> {
        self.conn
            .query_row("SELECT coalesce(max(seq), 0) FROM annotation_event", [], |r| r.get(0))
            .at(&self.path)
    }

    /// Images whose label state was changed by a journal event after `seq`, with their state now.
    pub fn label_states_changed_since(&self, seq: i64) -> Result<Vec<(ImageId, RankState)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT c.image_id, l.state FROM \
                 (SELECT DISTINCT image_id FROM annotation_event \
                  WHERE seq > ?1 AND entity = 'image_label' AND image_id IS NOT NULL) c \
                 LEFT JOIN image_label l ON l.image_id = c.image_id ORDER BY c.image_id",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map([seq], |r| {
                let state: Option<String> = r.get(1)?;
                Ok((ImageId(r.get(0)?), RankState::from_state(state.as_deref())))
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// Every present image with its [`RankState`], in id order (no paths: see
    /// [`Catalog::image_paths`] for the few that are shown).
    pub fn rank_pool(&self) -> Result<Vec<(ImageId, RankState)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT i.id, l.state FROM image i LEFT JOIN image_label l ON l.image_id = i.id \
                 WHERE i.status = 'ok' ORDER BY i.id",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map([], |r| {
                let state: Option<String> = r.get_ref(1)?.as_str_or_null()?.map(str::to_owned);
                Ok((ImageId(r.get(0)?), RankState::from_state(state.as_deref())))
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// Calls `visit(image, key, value, source, confidence)` with every condition claim, in
    /// (image, key) order, without allocating per row.
    pub fn for_each_condition_ref<E: From<CatalogError>>(
        &self,
        mut visit: impl FnMut(ImageId, &str, &str, &str, f64) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT image_id, key, value, source, confidence FROM condition ORDER BY image_id, key, source",
            )
            .at(&self.path)?;
        let mut rows = stmt.query([]).at(&self.path)?;
        while let Some(r) = rows.next().at(&self.path)? {
            let text = |i: usize| r.get_ref(i).and_then(|v| v.as_str().map_err(Into::into)).at(&self.path);
            visit(ImageId(r.get(0).at(&self.path)?), text(1)?, text(2)?, text(3)?, r.get(4).at(&self.path)?)?;
        }
        Ok(())
    }

    /// The stored uncertainty summaries of `run` computed by `method`.
    pub fn uncertainty_summaries(
        &self,
        run: RunId,
        method: i64,
    ) -> Result<Vec<UncertaintySummary>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT image_id, score, entropy_max, tta_disagreement, missed_objects, missed_score \
                 FROM run_image_uncertainty WHERE run_id = ?1 AND method = ?2",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map(params![run.0, method], |r| {
                Ok(UncertaintySummary {
                    image: ImageId(r.get(0)?),
                    score: r.get::<_, f64>(1)? as f32,
                    entropy_max: r.get::<_, f64>(2)? as f32,
                    tta_disagreement: r.get::<_, Option<f64>>(3)?.map(|v| v as f32),
                    missed_objects: r.get(4)?,
                    missed_score: r.get::<_, f64>(5)? as f32,
                })
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// Images `run` finished that have no summary computed by `method` (including those with
    /// no box at all).
    pub fn images_without_uncertainty(&self, run: RunId, method: i64) -> Result<Vec<ImageId>, CatalogError> {
        // The common case, every image summarised, without walking the run's results.
        let (done, summarised): (i64, i64) = self
            .conn
            .query_row(
                "SELECT (SELECT images_done FROM model_run WHERE id = ?1), \
                 (SELECT count(*) FROM run_image_uncertainty WHERE run_id = ?1 AND method = ?2)",
                params![run.0, method],
                |r| Ok((r.get::<_, Option<i64>>(0)?.unwrap_or(0), r.get(1)?)),
            )
            .at(&self.path)?;
        if summarised >= done {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT m.image_id FROM model_run_image m WHERE m.run_id = ?1 AND NOT EXISTS \
                 (SELECT 1 FROM run_image_uncertainty u WHERE u.run_id = ?1 AND u.image_id = m.image_id \
                  AND u.method = ?2) ORDER BY m.image_id",
            )
            .at(&self.path)?;
        let rows = stmt.query_map(params![run.0, method], |r| r.get(0).map(ImageId)).at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// Stores (or replaces) uncertainty summaries, one transaction.
    pub fn store_uncertainty_summaries(
        &mut self,
        run: RunId,
        method: i64,
        rows: &[UncertaintySummary],
    ) -> Result<(), CatalogError> {
        let path = &self.path;
        let tx = self.conn.transaction().at(path)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO run_image_uncertainty (run_id, image_id, method, score, \
                     entropy_max, tta_disagreement, missed_objects, missed_score) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .at(path)?;
            for u in rows {
                stmt.execute(params![
                    run.0,
                    u.image.0,
                    method,
                    f64::from(u.score),
                    f64::from(u.entropy_max),
                    u.tta_disagreement.map(f64::from),
                    u.missed_objects,
                    f64::from(u.missed_score)
                ])
                .at(path)?;
            }
        }
        tx.commit().at(path)
    }

    /// The embeddings `run` stored for `images` (images without one are left out).
    pub fn embeddings_of(
        &self,
        run: RunId,
        images: &[ImageId],
    ) -> Result<HashMap<ImageId, Vec<f32>>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT vector FROM run_embedding WHERE run_id = ?1 AND image_id = ?2")
            .at(&self.path)?;
        let mut out = HashMap::with_capacity(images.len());
        for &image in images {
            let mut rows = stmt.query(params![run.0, image.0]).at(&self.path)?;
            if let Some(r) = rows.next().at(&self.path)? {
                let blob = r.get_ref(0).and_then(|v| v.as_blob().map_err(Into::into)).at(&self.path)?;
                out.insert(image, blob_to_f32s(blob));
            }
        }
        Ok(out)
    }

    /// The label state of each of `images` that has one (the rest are unlabeled).
    pub fn label_states_of(
        &self,
        images: &[ImageId],
    ) -> Result<HashMap<ImageId, lacuna_core::ImageLabelState>, CatalogError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT state FROM image_label WHERE image_id = ?1").at(&self.path)?;
        let mut out = HashMap::new();
        for &image in images {
            let mut rows = stmt.query([image.0]).at(&self.path)?;
            if let Some(r) = rows.next().at(&self.path)? {
                let state: String = r.get(0).at(&self.path)?;
                if let Some(s) = lacuna_core::ImageLabelState::parse(&state) {
                    out.insert(image, s);
                }
            }
        }
        Ok(out)
    }

    /// Root path and path relative to it, for the images shown.
    pub fn image_paths(
        &self,
        images: &[ImageId],
    ) -> Result<HashMap<ImageId, (String, String)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.path, i.rel_path FROM image i JOIN source_root r ON r.id = i.root_id WHERE i.id = ?1",
            )
            .at(&self.path)?;
        let mut out = HashMap::with_capacity(images.len());
        for &image in images {
            let mut rows = stmt.query([image.0]).at(&self.path)?;
            if let Some(r) = rows.next().at(&self.path)? {
                out.insert(image, (r.get(0).at(&self.path)?, r.get(1).at(&self.path)?));
            }
        }
        Ok(out)
    }
}
