//! Frozen dataset versions: what a freeze reads, and the frozen rows.
//!
//! The catalog stores versions; what goes into one (splits, the content hash, the canonical
//! annotation order) is decided by `lacuna-export` through the API crate.

use lacuna_core::{Annotation, ContentHash, ImageId, ImageLabelState, RootId, Split};
use rusqlite::{OptionalExtension as _, params};
use serde::{Deserialize, Serialize};

use crate::annotations::annotation_from_row;
use crate::error::SqlResultExt as _;
use crate::{Catalog, CatalogError};

/// An image whose labels are done, with its live (not rejected) annotations: what a freeze
/// reads.
#[derive(Debug, Clone, PartialEq)]
pub struct FreezeSourceImage {
    pub image: ImageId,
    pub root: RootId,
    pub root_path: String,
    pub rel_path: String,
    pub rel_dir: String,
    pub content_hash: ContentHash,
    pub width_px: u32,
    pub height_px: u32,
    pub camera: Option<String>,
    /// `YYYY-MM-DDTHH:MM:SS`, local.
    pub captured_local: Option<String>,
    pub state: ImageLabelState,
    pub selected_because: Option<String>,
    /// The latest run that pre-labeled the image, as `model name (run N)`.
    pub prelabeled_by: Option<String>,
    /// Live annotations (class names: [`Catalog::label_classes`] with deleted ones).
    pub annotations: Vec<Annotation>,
}

/// A version as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRow {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    pub notes: String,
    /// `SplitConfig` as JSON (owned by `lacuna-export`).
    pub split_json: String,
    pub classes: Vec<String>,
    pub images: u64,
    pub annotations: u64,
    pub created_by: String,
    pub created_at_unix_s: i64,
}

/// One image of a version to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionImageRecord {
    pub image: ImageId,
    pub export_path: String,
    pub split: Split,
    pub state: ImageLabelState,
    pub annotation_count: u64,
    /// The frozen annotations' text (lacuna-export's compact form) and its BLAKE3: stored once
    /// per distinct text.
    pub annotations: String,
    pub labels_digest: [u8; 32],
    /// Set when the text was already stored with [`Catalog::insert_frozen_labels`] (then
    /// `annotations` may be empty).
    pub labels_id: Option<i64>,
    /// `Provenance` as JSON.
    pub provenance_json: String,
}

/// One image of a stored version, with what an export needs from the image row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionImageRow {
    pub image: ImageId,
    pub export_path: String,
    pub split: Split,
    pub state: ImageLabelState,
    pub annotation_count: u64,
    /// The frozen annotations' text and its BLAKE3 (equal digests: equal annotations).
    pub annotations: String,
    pub labels_digest: [u8; 32],
    pub provenance_json: String,
    pub root_path: String,
    pub rel_path: String,
    pub content_hash: ContentHash,
    pub file_size_bytes: u64,
    pub width_px: u32,
    pub height_px: u32,
    pub orientation: u8,
}

const DONE_STATES: &str = "('labeled', 'labeled_empty', 'reviewed')";

impl Catalog {
    /// Calls `visit` for every image whose labels are done (labeled, labeled with no objects,
    /// reviewed) and whose file is present, in image-id order, with its annotations except
    /// rejected ones. Returns how many done images were left out because their file is missing.
    pub fn for_each_freeze_image<E: From<CatalogError>>(
        &self,
        mut visit: impl FnMut(FreezeSourceImage) -> Result<(), E>,
    ) -> Result<u64, E> {
        let path = &self.path;
        let missing: i64 = self
            .conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM image_label l JOIN image i ON i.id = l.image_id \
                     WHERE l.state IN {DONE_STATES} AND i.status != 'ok'"
                ),
                [],
                |r| r.get(0),
            )
            .at(path)?;
        let mut images = self
            .conn
            .prepare(&format!(
                "SELECT i.id, i.root_id, r.path, i.rel_path, i.rel_dir, i.content_hash, i.width_px, i.height_px, \
                 i.camera, i.captured_local, l.state, l.selected_because, \
                 (SELECT m.name || ' (run ' || mr.id || ')' FROM model_run_image mri \
                  JOIN model_run mr ON mr.id = mri.run_id JOIN model m ON m.id = mr.model_id \
                  WHERE mri.image_id = i.id ORDER BY mri.run_id DESC LIMIT 1) \
                 FROM image_label l JOIN image i ON i.id = l.image_id JOIN source_root r ON r.id = i.root_id \
                 WHERE l.state IN {DONE_STATES} AND i.status = 'ok' ORDER BY i.id"
            ))
            .at(path)?;
        // One pass over the annotations in image order, no joins (the merge below skips images
        // that are not frozen); the image size is looked up only for masks.
        let mut anns = self
            .conn
            .prepare(
                "SELECT a.id, a.image_id, a.class_id, a.kind, a.x0_px, a.y0_px, a.x1_px, a.y1_px, a.polygon_json, \
                 a.mask_rle, a.occluded, a.truncated, a.crowd, a.tags_json, a.source, a.run_id, a.prediction_id, \
                 a.score, a.author, a.review_state, a.reviewer, a.created_at_unix_s, a.updated_at_unix_s, \
                 CASE WHEN a.kind = 'mask' THEN (SELECT width_px FROM image WHERE id = a.image_id) END, \
                 CASE WHEN a.kind = 'mask' THEN (SELECT height_px FROM image WHERE id = a.image_id) END \
                 FROM annotation a INDEXED BY annotation_image WHERE a.review_state != 'rejected' \
                 ORDER BY a.image_id, a.id",
            )
            .at(path)?;
        let mut ann_rows = anns.query([]).at(path)?;
        let mut pending: Option<Annotation> = None;
        let mut rows = images.query([]).at(path)?;
        while let Some(row) = rows.next().at(path)? {
            let id = ImageId(row.get(0).at(path)?);
            let hash: Vec<u8> = row.get(5).at(path)?;
            let hash: [u8; 32] = hash
                .try_into()
                .map_err(|_| CatalogError::Corrupt(format!("image {id}: content hash is not 32 bytes")))?;
            let state: String = row.get(10).at(path)?;
            let mut image = FreezeSourceImage {
                image: id,
                root: RootId(row.get(1).at(path)?),
                root_path: row.get(2).at(path)?,
                rel_path: row.get(3).at(path)?,
                rel_dir: row.get(4).at(path)?,
                content_hash: ContentHash(hash),
                width_px: row.get(6).at(path)?,
                height_px: row.get(7).at(path)?,
                camera: row.get(8).at(path)?,
                captured_local: row.get(9).at(path)?,
                state: ImageLabelState::parse(&state)
                    .ok_or_else(|| CatalogError::Corrupt(format!("image {id}: label state `{state}`")))?,
                selected_because: row.get(11).at(path)?,
                prelabeled_by: row.get(12).at(path)?,
                annotations: Vec::new(),
            };
            loop {
                let next = match pending.take() {
                    Some(a) => Some(a),
                    None => match ann_rows.next().at(path)? {
                        Some(r) => Some(annotation_from_row(r).at(path)?),
                        None => None,
                    },
                };
                let Some(a) = next else { break };
                if a.image < id {
                    continue; // an annotation of an image that is not frozen
                }
                if a.image > id {
                    pending = Some(a);
                    break;
                }
                image.annotations.push(a);
            }
            visit(image)?;
        }
        Ok(missing as u64)
    }

    /// Stores a frozen version and its images in one transaction.
    pub fn insert_version(
        &mut self,
        version: &VersionRow,
        images: &[VersionImageRecord],
    ) -> Result<(), CatalogError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let classes =
            serde_json::to_string(&version.classes).map_err(|e| CatalogError::Corrupt(e.to_string()))?;
        tx.execute(
            "INSERT INTO dataset_version (id, name, parent_id, notes, split_json, classes_json, images, annotations, \
             created_by, created_at_unix_s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                version.id,
                version.name,
                version.parent,
                version.notes,
                version.split_json,
                classes,
                version.images as i64,
                version.annotations as i64,
                version.created_by,
                version.created_at_unix_s
            ],
        )
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => {
                CatalogError::Conflict(format!("a version named `{}` already exists; pick another name", version.name))
            }
            _ => CatalogError::sqlite(&path, e),
        })?;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT INTO version_image (version_id, image_id, export_path, split, state, annotation_count, \
                     labels_id, provenance_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .at(&path)?;
            for img in images {
                let id: i64 = match img.labels_id {
                    Some(id) => id,
                    None => put_frozen_labels(&tx, &img.labels_digest, &img.annotations).at(&path)?,
                };
                stmt.execute(params![
                    version.id,
                    img.image.0,
                    img.export_path,
                    img.split.as_str(),
                    img.state.as_str(),
                    img.annotation_count as i64,
                    id,
                    img.provenance_json
                ])
                .at(&path)?;
            }
        }
        tx.commit().at(&path)
    }

    /// Every version, newest first.
    pub fn versions(&self) -> Result<Vec<VersionRow>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, name, parent_id, notes, split_json, classes_json, images, annotations, created_by, \
                 created_at_unix_s FROM dataset_version ORDER BY created_at_unix_s DESC, rowid DESC",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map([], |r| {
                let classes: String = r.get(5)?;
                Ok(VersionRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    parent: r.get(2)?,
                    notes: r.get(3)?,
                    split_json: r.get(4)?,
                    classes: serde_json::from_str(&classes).unwrap_or_default(),
                    images: r.get::<_, i64>(6)? as u64,
                    annotations: r.get::<_, i64>(7)? as u64,
                    created_by: r.get(8)?,
                    created_at_unix_s: r.get(9)?,
                })
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// The version a user means by `reference`: its id, a unique prefix of the id (at least 4
    /// hex digits), or its name.
    pub fn resolve_version(&self, reference: &str) -> Result<VersionRow, CatalogError> {
        let all = self.versions()?;
        if let Some(v) = all.iter().find(|v| v.id == reference || v.name == reference) {
            return Ok(v.clone());
        }
        let lower = reference.to_ascii_lowercase();
        if lower.len() >= 4 && lower.chars().all(|c| c.is_ascii_hexdigit()) {
            let matches: Vec<&VersionRow> = all.iter().filter(|v| v.id.starts_with(&lower)).collect();
            match matches.len() {
                1 => return Ok(matches[0].clone()),
                n if n > 1 => {
                    return Err(CatalogError::Conflict(format!(
                        "version `{reference}` is ambiguous: {n} versions start with it ({}); give more digits",
                        matches.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
                _ => {}
            }
        }
        Err(CatalogError::Missing {
            what: format!(
                "version `{reference}` (give its id, a unique id prefix or its name; `lacuna version list` shows them)"
            ),
        })
    }

    /// Calls `visit` for every image of a version, in export-path order (or image-id order
    /// when `by_image_id`, for merging two versions).
    pub fn for_each_version_image<E: From<CatalogError>>(
        &self,
        version_id: &str,
        by_image_id: bool,
        mut visit: impl FnMut(VersionImageRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT v.image_id, v.export_path, v.split, v.state, v.annotation_count, f.annotations, \
                 v.provenance_json, r.path, i.rel_path, i.content_hash, i.file_size_bytes, i.width_px, i.height_px, \
                 i.orientation, f.digest FROM version_image v JOIN image i ON i.id = v.image_id \
                 JOIN source_root r ON r.id = i.root_id JOIN frozen_labels f ON f.id = v.labels_id \
                 WHERE v.version_id = ?1 ORDER BY {}",
                if by_image_id { "v.image_id" } else { "v.export_path" }
            ))
            .at(path)?;
        let mut rows = stmt.query([version_id]).at(path)?;
        while let Some(r) = rows.next().at(path)? {
            let id = ImageId(r.get(0).at(path)?);
            let split: String = r.get(2).at(path)?;
            let state: String = r.get(3).at(path)?;
            let hash: Vec<u8> = r.get(9).at(path)?;
            let hash: [u8; 32] = hash
                .try_into()
                .map_err(|_| CatalogError::Corrupt(format!("image {id}: content hash is not 32 bytes")))?;
            visit(VersionImageRow {
                image: id,
                export_path: r.get(1).at(path)?,
                split: Split::parse(&split)
                    .ok_or_else(|| CatalogError::Corrupt(format!("version image {id}: split `{split}`")))?,
                state: ImageLabelState::parse(&state)
                    .ok_or_else(|| CatalogError::Corrupt(format!("version image {id}: state `{state}`")))?,
                annotation_count: r.get::<_, i64>(4).at(path)? as u64,
                annotations: r.get(5).at(path)?,
                labels_digest: {
                    let d: Vec<u8> = r.get(14).at(path)?;
                    d.try_into()
                        .map_err(|_| CatalogError::Corrupt(format!("version image {id}: labels digest")))?
                },
                provenance_json: r.get(6).at(path)?,
                root_path: r.get(7).at(path)?,
                rel_path: r.get(8).at(path)?,
                content_hash: ContentHash(hash),
                file_size_bytes: r.get::<_, i64>(10).at(path)? as u64,
                width_px: r.get(11).at(path)?,
                height_px: r.get(12).at(path)?,
                orientation: r.get(13).at(path)?,
            })?;
        }
        Ok(())
    }

    /// Whether a version with this id exists.
    pub fn version_exists(&self, id: &str) -> Result<bool, CatalogError> {
        let found: Option<i64> = self
            .conn
            .query_row("SELECT 1 FROM dataset_version WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .at(&self.path)?;
        Ok(found.is_some())
    }
}

/// What label import needs to match a file's image names to catalogued images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageKey {
    pub image: ImageId,
    pub rel_path: String,
    pub file_name: String,
    pub width_px: u32,
    pub height_px: u32,
    pub present: bool,
}

impl Catalog {
    /// Every image's path, name and size (for matching label files to images).
    pub fn image_keys(&self) -> Result<Vec<ImageKey>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, rel_path, file_name, width_px, height_px, status FROM image ORDER BY id")
            .at(&self.path)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ImageKey {
                    image: ImageId(r.get(0)?),
                    rel_path: r.get(1)?,
                    file_name: r.get(2)?,
                    width_px: r.get(3)?,
                    height_px: r.get(4)?,
                    present: r.get::<_, String>(5)? == "ok",
                })
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }
}

impl Catalog {
    /// The folders (id, path) holding images a freeze would take.
    pub fn freeze_roots(&self) -> Result<Vec<(RootId, String)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT r.id, r.path FROM source_root r WHERE EXISTS (SELECT 1 FROM image i \
                 JOIN image_label l ON l.image_id = i.id WHERE i.root_id = r.id AND i.status = 'ok' \
                 AND l.state IN {DONE_STATES}) ORDER BY r.id"
            ))
            .at(&self.path)?;
        let rows = stmt.query_map([], |r| Ok((RootId(r.get(0)?), r.get(1)?))).at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }
}

impl Catalog {
    /// Stores frozen annotation texts (each once, by digest) in one transaction and returns
    /// their row ids in order. A freeze calls this from a second connection while it is still
    /// reading, so the writing overlaps the reading; rows no version uses are harmless.
    pub fn insert_frozen_labels(&mut self, items: &[([u8; 32], &str)]) -> Result<Vec<i64>, CatalogError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let mut ids = Vec::with_capacity(items.len());
        for (digest, text) in items {
            ids.push(put_frozen_labels(&tx, digest, text).at(&path)?);
        }
        tx.commit().at(&path)?;
        Ok(ids)
    }
}

/// Stores a frozen text once (by its digest) and returns its row id.
fn put_frozen_labels(tx: &rusqlite::Transaction<'_>, digest: &[u8; 32], text: &str) -> rusqlite::Result<i64> {
    tx.prepare_cached("INSERT OR IGNORE INTO frozen_labels (digest, annotations) VALUES (?1, ?2)")?
        .execute(params![&digest[..], text])?;
    tx.prepare_cached("SELECT id FROM frozen_labels WHERE digest = ?1")?
        .query_row([&digest[..]], |r| r.get(0))
}
