//! Conditions (claims per image, key and source), path rules, coverage targets and queue
//! assignments. Which claim wins, and how conditions are derived, is `lacuna-select`'s.

use lacuna_core::{ImageId, ImageStats};
use rusqlite::{OptionalExtension as _, params};
use serde::{Deserialize, Serialize};

use crate::error::SqlResultExt as _;
use crate::{Catalog, CatalogError};

/// One claim about an image's condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionClaim {
    pub image: ImageId,
    pub key: String,
    pub value: String,
    /// `human` | `sidecar` | `path` | `exif` | `estimated`
    pub source: String,
    pub confidence: f32,
}

/// What deriving conditions needs to know of an image.
#[derive(Debug, Clone, PartialEq)]
pub struct DeriveInput {
    pub image: ImageId,
    pub rel_path: String,
    pub camera: Option<String>,
    pub captured_local: Option<String>,
    pub utc_offset_min: Option<i32>,
    pub gps: Option<(f64, f64)>,
    pub stats: ImageStats,
}

/// An image the labeling queue may hand out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolImage {
    pub image: ImageId,
    pub root_path: String,
    pub rel_path: String,
    /// Done (labeled, labeled with no objects, reviewed): counts as labeled for coverage.
    pub labeled: bool,
    /// Candidate for the labeling queue: unlabeled and not handed to someone else.
    pub candidate: bool,
}

/// The sources derived automatically (recomputed on refresh).
const DERIVED: &str = "('exif', 'estimated', 'path')";

/// The sources, most trusted first: of an image's claims about a key, the one of the most
/// trusted source present is the effective value. The same order as
/// `lacuna_select::conditions::ConditionSource::trust` (a test in `lacuna-api` checks that
/// [`effective_condition_sql`] agrees with `lacuna_select::conditions::resolve`). The table
/// holds at most one claim per image, key and source, so `resolve`'s tie-breaks (confidence,
/// then value) never come into play here.
pub(crate) const SOURCES_BY_TRUST: [&str; 5] = ["human", "sidecar", "path", "exif", "estimated"];

/// SQL: the trust rank of a claim's `source` column (higher wins), per [`SOURCES_BY_TRUST`].
fn trust_sql(source: &str) -> String {
    let arms: String = SOURCES_BY_TRUST
        .iter()
        .rev()
        .enumerate()
        .map(|(rank, name)| format!(" WHEN '{name}' THEN {}", rank + 1))
        .collect();
    format!("CASE {source}{arms} ELSE 0 END")
}

/// SQL condition on `image i`: the effective value of a key is a value (parameters, in order:
/// key, value, key). True when the image has a claim `key = value` that no claim of a more trusted
/// source about the same key overrides. Two primary-key seeks per image, no sort.
pub(crate) fn effective_condition_sql() -> String {
    format!(
        "EXISTS (SELECT 1 FROM condition cw WHERE cw.image_id = i.id AND cw.key = ? AND cw.value = ? \
         AND NOT EXISTS (SELECT 1 FROM condition co WHERE co.image_id = i.id AND co.key = ? \
         AND {} > {}))",
        trust_sql("co.source"),
        trust_sql("cw.source")
    )
}

impl Catalog {
    /// Stores claims (replacing the same image + key + source), one transaction.
    pub fn upsert_conditions(&mut self, claims: &[ConditionClaim], now: i64) -> Result<u64, CatalogError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO condition (image_id, key, value, source, confidence, updated_at_unix_s) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .at(&path)?;
            for c in claims {
                stmt.execute(params![c.image.0, c.key, c.value, c.source, f64::from(c.confidence), now])
                    .map_err(|e| match e.sqlite_error_code() {
                        Some(rusqlite::ErrorCode::ConstraintViolation) => CatalogError::Invalid(format!(
                            "condition {}={} for image {}: unknown image, or a bad source/confidence",
                            c.key, c.value, c.image
                        )),
                        _ => CatalogError::sqlite(&path, e),
                    })?;
            }
        }
        tx.commit().at(&path)?;
        Ok(claims.len() as u64)
    }

    /// Removes an image's claim for a key from one source (e.g. a human's).
    pub fn delete_condition(
        &mut self,
        image: ImageId,
        key: &str,
        source: &str,
    ) -> Result<bool, CatalogError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM condition WHERE image_id = ?1 AND key = ?2 AND source = ?3",
                params![image.0, key, source],
            )
            .at(&self.path)?;
        Ok(n > 0)
    }

    /// Every claim about one image.
    pub fn image_conditions(&self, image: ImageId) -> Result<Vec<ConditionClaim>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT image_id, key, value, source, confidence FROM condition WHERE image_id = ?1 ORDER BY key, source",
            )
            .at(&self.path)?;
        let rows = stmt.query_map([image.0], claim_from_row).at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// Calls `visit` with every claim, in image-id order.
    pub fn for_each_condition<E: From<CatalogError>>(
        &self,
        mut visit: impl FnMut(ConditionClaim) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare("SELECT image_id, key, value, source, confidence FROM condition ORDER BY image_id")
            .at(&self.path)?;
        let mut rows = stmt.query([]).at(&self.path)?;
        while let Some(r) = rows.next().at(&self.path)? {
            visit(claim_from_row(r).at(&self.path)?)?;
        }
        Ok(())
    }

    /// Up to `limit` present images whose derived conditions are missing or older than their
    /// last re-probe.
    pub fn images_to_derive(&self, limit: u32) -> Result<Vec<DeriveInput>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT i.id, i.rel_path, i.camera, i.captured_local, i.captured_utc_offset_min, i.gps_lat_deg, \
                 i.gps_lon_deg, i.luma_mean, i.luma_p05, i.luma_p50, i.luma_p95, i.contrast, i.saturation_mean, \
                 i.sharpness FROM image i LEFT JOIN condition_derived d ON d.image_id = i.id \
                 WHERE i.status = 'ok' AND (d.image_id IS NULL OR d.derived_at_unix_s < i.updated_at_unix_s) \
                 ORDER BY i.id LIMIT ?1",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map([limit], |r| {
                let lat: Option<f64> = r.get(5)?;
                let lon: Option<f64> = r.get(6)?;
                Ok(DeriveInput {
                    image: ImageId(r.get(0)?),
                    rel_path: r.get(1)?,
                    camera: r.get(2)?,
                    captured_local: r.get(3)?,
                    utc_offset_min: r.get(4)?,
                    gps: lat.zip(lon),
                    stats: ImageStats {
                        luma_mean: r.get::<_, f64>(7)? as f32,
                        luma_p05: r.get::<_, f64>(8)? as f32,
                        luma_p50: r.get::<_, f64>(9)? as f32,
                        luma_p95: r.get::<_, f64>(10)? as f32,
                        contrast: r.get::<_, f64>(11)? as f32,
                        saturation_mean: r.get::<_, f64>(12)? as f32,
                        sharpness: r.get::<_, f64>(13)? as f32,
                    },
                })
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// Replaces the derived claims (exif, estimated, path) of `images` with `claims` and marks
    /// them derived, in one transaction.
    pub fn store_derived(
        &mut self,
        images: &[ImageId],
        claims: &[ConditionClaim],
        now: i64,
    ) -> Result<(), CatalogError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        {
            let mut delete = tx
                .prepare_cached(&format!("DELETE FROM condition WHERE image_id = ?1 AND source IN {DERIVED}"))
                .at(&path)?;
            let mut mark = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO condition_derived (image_id, derived_at_unix_s) VALUES (?1, ?2)",
                )
                .at(&path)?;
            for image in images {
                delete.execute([image.0]).at(&path)?;
                mark.execute(params![image.0, now]).at(&path)?;
            }
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO condition (image_id, key, value, source, confidence, updated_at_unix_s) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .at(&path)?;
            for c in claims {
                insert
                    .execute(params![c.image.0, c.key, c.value, c.source, f64::from(c.confidence), now])
                    .at(&path)?;
            }
        }
        tx.commit().at(&path)
    }

    /// Forgets when conditions were derived, so the next refresh derives every image again
    /// (after the path rules changed).
    pub fn reset_derived(&mut self) -> Result<(), CatalogError> {
        self.conn.execute("DELETE FROM condition_derived", []).at(&self.path)?;
        Ok(())
    }

    pub fn path_rules(&self) -> Result<Vec<String>, CatalogError> {
        let mut stmt = self.conn.prepare_cached("SELECT pattern FROM path_rule ORDER BY id").at(&self.path)?;
        let rows = stmt.query_map([], |r| r.get(0)).at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<String>>>().at(&self.path)
    }

    /// Adds a rule (no-op if present) and marks every image for re-derivation.
    pub fn add_path_rule(&mut self, pattern: &str, now: i64) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO path_rule (pattern, created_at_unix_s) VALUES (?1, ?2)",
                params![pattern, now],
            )
            .at(&self.path)?;
        self.reset_derived()
    }

    /// Removes a rule; `false` when there was none.
    pub fn remove_path_rule(&mut self, pattern: &str) -> Result<bool, CatalogError> {
        let n = self.conn.execute("DELETE FROM path_rule WHERE pattern = ?1", [pattern]).at(&self.path)?;
        self.reset_derived()?;
        Ok(n > 0)
    }

    /// Target shares: `(key, value, share)`.
    pub fn coverage_targets(&self) -> Result<Vec<(String, String, f64)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, value, share FROM coverage_target ORDER BY key, value")
            .at(&self.path)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// Sets (`Some`) or clears (`None`) a target share.
    pub fn set_coverage_target(
        &mut self,
        key: &str,
        value: &str,
        share: Option<f64>,
    ) -> Result<(), CatalogError> {
        match share {
            Some(share) => self.conn.execute(
                "INSERT OR REPLACE INTO coverage_target (key, value, share) VALUES (?1, ?2, ?3)",
                params![key, value, share],
            ),
            None => self
                .conn
                .execute("DELETE FROM coverage_target WHERE key = ?1 AND value = ?2", params![key, value]),
        }
        .at(&self.path)?;
        Ok(())
    }

    /// Every present image with whether it is labeled and whether the labeling queue may hand
    /// it to `assignee` (unlabeled, and not assigned to someone else).
    pub fn queue_pool(&self, assignee: Option<&str>) -> Result<Vec<PoolImage>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT i.id, r.path, i.rel_path, coalesce(l.state, 'unlabeled'), q.assignee \
                 FROM image i JOIN source_root r ON r.id = i.root_id \
                 LEFT JOIN image_label l ON l.image_id = i.id LEFT JOIN queue_assignment q ON q.image_id = i.id \
                 WHERE i.status = 'ok' ORDER BY i.id",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map([], |r| {
                let state: String = r.get(3)?;
                let holder: Option<String> = r.get(4)?;
                let free = match (&holder, assignee) {
                    (None, _) => true,
                    (Some(h), Some(a)) => h == a,
                    (Some(_), None) => false,
                };
                Ok(PoolImage {
                    image: ImageId(r.get(0)?),
                    root_path: r.get(1)?,
                    rel_path: r.get(2)?,
                    labeled: matches!(state.as_str(), "labeled" | "labeled_empty" | "reviewed"),
                    candidate: state == "unlabeled" && free,
                })
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// Hands `images` to `assignee` on `queue`, skipping any already held by someone else;
    /// returns those now held by `assignee`. One transaction, so two people asking at once
    /// never get the same image.
    pub fn assign(
        &mut self,
        images: &[ImageId],
        queue: &str,
        assignee: &str,
        now: i64,
    ) -> Result<Vec<ImageId>, CatalogError> {
        let path = self.path.clone();
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).at(&path)?;
        let mut held = Vec::new();
        {
            let mut get =
                tx.prepare_cached("SELECT assignee FROM queue_assignment WHERE image_id = ?1").at(&path)?;
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO queue_assignment (image_id, queue, assignee, assigned_at_unix_s) VALUES (?1, ?2, ?3, ?4)",
                )
                .at(&path)?;
            for image in images {
                let holder: Option<String> = get.query_row([image.0], |r| r.get(0)).optional().at(&path)?;
                match holder {
                    Some(h) if h == assignee => held.push(*image),
                    Some(_) => {}
                    None => {
                        put.execute(params![image.0, queue, assignee, now]).at(&path)?;
                        held.push(*image);
                    }
                }
            }
        }
        tx.commit().at(&path)?;
        Ok(held)
    }

    /// Releases `assignee`'s images (all of them, or only `images`); returns how many.
    pub fn release(&mut self, assignee: &str, images: Option<&[ImageId]>) -> Result<u64, CatalogError> {
        let n = match images {
            None => self
                .conn
                .execute("DELETE FROM queue_assignment WHERE assignee = ?1", [assignee])
                .at(&self.path)?,
            Some(ids) => {
                let mut n = 0;
                for id in ids {
                    n += self
                        .conn
                        .execute(
                            "DELETE FROM queue_assignment WHERE assignee = ?1 AND image_id = ?2",
                            params![assignee, id.0],
                        )
                        .at(&self.path)?;
                }
                n
            }
        };
        Ok(n as u64)
    }

    /// `(image, assignee, queue)` of every assignment.
    pub fn assignments(&self) -> Result<Vec<(ImageId, String, String)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT image_id, assignee, queue FROM queue_assignment ORDER BY assignee, image_id",
            )
            .at(&self.path)?;
        let rows = stmt.query_map([], |r| Ok((ImageId(r.get(0)?), r.get(1)?, r.get(2)?))).at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }
}

fn claim_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConditionClaim> {
    Ok(ConditionClaim {
        image: ImageId(r.get(0)?),
        key: r.get(1)?,
        value: r.get(2)?,
        source: r.get(3)?,
        confidence: r.get::<_, f64>(4)? as f32,
    })
}

impl Catalog {
    /// Records why the queue picked an image (kept when its label state changes later, and
    /// listed per image in export manifests). Not an edit of labels, so not journaled.
    pub fn set_selected_because(
        &mut self,
        image: ImageId,
        because: &str,
        by: &str,
        now: i64,
    ) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "INSERT INTO image_label (image_id, state, selected_because, updated_by, updated_at_unix_s) \
                 VALUES (?1, 'unlabeled', ?2, ?3, ?4) \
                 ON CONFLICT (image_id) DO UPDATE SET selected_because = excluded.selected_because",
                params![image.0, because, by, now],
            )
            .at(&self.path)?;
        Ok(())
    }
}
