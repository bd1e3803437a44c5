//! Label classes, annotations, image label states and the edit journal.
//!
//! Every write is one *action* (`edit_action`) made of *events* (`annotation_event`), all in
//! one transaction committed before the call returns. An event holds the entity's full
//! stored state before and after, as JSON, so undo restores `before` and redo restores
//! `after` — each only when the entity still is what the event left (otherwise someone
//! changed it since, and the undo is refused rather than silently overwriting their work).
//!
//! Undo and redo are per author and linear, as in an editor: undo reverts the author's latest
//! action not yet undone; redo re-applies the latest undone one, until the author makes a new
//! edit.

use std::collections::HashMap;

use lacuna_core::{
    ActionId, Annotation, AnnotationId, AnnotationSource, Attributes, BoxXyxy, ClassId, Geometry,
    GeometryKind, ImageId, ImageLabelState, LabelClass, ReviewState, Rle, RunId, default_class_color,
    parse_color,
};
use rusqlite::{OptionalExtension as _, Row, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::error::SqlResultExt as _;
use crate::{Catalog, CatalogError};

/// An annotation to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnnotation {
    pub image: ImageId,
    pub class: ClassId,
    pub geometry: Geometry,
    pub attributes: Attributes,
    pub source: AnnotationSource,
    pub score: Option<f64>,
    pub review_state: ReviewState,
}

/// Changes to an annotation; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnnotationPatch {
    pub class: Option<ClassId>,
    pub geometry: Option<Geometry>,
    pub attributes: Option<Attributes>,
}

/// Changes to a class; `None` leaves a field as it is (`hotkey: Some(None)` clears it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassPatch {
    pub name: Option<String>,
    pub color: Option<String>,
    pub hotkey: Option<Option<String>>,
    pub position: Option<i64>,
}

/// What an undo or redo did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ActionSummary {
    /// The new undo/redo action.
    pub action: ActionId,
    /// The action it reverted or re-applied.
    pub target: ActionId,
    pub label: String,
    pub events: u64,
}

/// One journal entry, for history views and audits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EventRow {
    pub seq: i64,
    pub action: ActionId,
    /// `do` | `undo` | `redo`
    pub action_kind: String,
    pub action_label: String,
    pub author: String,
    pub entity: String,
    pub entity_id: i64,
    pub op: String,
    pub image: Option<ImageId>,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub at_unix_s: i64,
}

/// An image's label state row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageLabelRow {
    pub state: ImageLabelState,
    pub selected_because: Option<String>,
    pub updated_by: String,
    pub updated_at_unix_s: i64,
}

/// What [`Catalog::import_annotations`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelImportCounts {
    pub images: u64,
    pub annotations_added: u64,
    /// Identical to an annotation the image already had: not added twice.
    pub annotations_unchanged: u64,
    /// Removed because `replace` was asked for.
    pub annotations_replaced: u64,
    /// Images marked "labeled, no objects" (listed with no annotations).
    pub images_empty: u64,
    pub action: Option<ActionId>,
}

/// One image's labels in an import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportImageLabels {
    pub image: ImageId,
    pub annotations: Vec<NewAnnotation>,
    /// How the labels arrived ("labels imported from instances_val.json").
    pub selected_because: Option<String>,
}

// ---- stored forms -------------------------------------------------------------------------

#[derive(Clone, Serialize, Deserialize, PartialEq)]
struct ClassState {
    id: ClassId,
    name: String,
    color: String,
    hotkey: Option<String>,
    position: i64,
    deleted: bool,
}

#[derive(Serialize, Deserialize, PartialEq)]
struct LabelState {
    state: ImageLabelState,
    selected_because: Option<String>,
}

const ANNOTATION_SELECT: &str = "SELECT id, image_id, class_id, kind, x0_px, y0_px, x1_px, y1_px, \
     polygon_json, mask_rle, occluded, truncated, crowd, tags_json, source, run_id, prediction_id, \
     score, author, review_state, reviewer, created_at_unix_s, updated_at_unix_s, \
     (SELECT width_px FROM image WHERE image.id = annotation.image_id), \
     (SELECT height_px FROM image WHERE image.id = annotation.image_id) FROM annotation";

fn sql_err(msg: String) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(msg.into())
}

pub(crate) fn annotation_from_row(row: &Row<'_>) -> rusqlite::Result<Annotation> {
    let kind = row.get_ref(3)?.as_str()?;
    let bbox = BoxXyxy { x0: row.get(4)?, y0: row.get(5)?, x1: row.get(6)?, y1: row.get(7)? };
    let geometry = match GeometryKind::parse(kind) {
        Some(GeometryKind::Box) => Geometry::Box(bbox),
        Some(GeometryKind::Polygon) => {
            let json: String = row.get::<_, Option<String>>(8)?.unwrap_or_default();
            let parts = serde_json::from_str(&json).map_err(|e| sql_err(format!("polygon_json: {e}")))?;
            Geometry::Polygon { parts }
        }
        Some(GeometryKind::Mask) => {
            let counts: String = row.get::<_, Option<String>>(9)?.unwrap_or_default();
            let (w, h): (u32, u32) = (row.get(23)?, row.get(24)?);
            Geometry::Mask(Rle::from_coco_string(h, w, &counts).map_err(|e| sql_err(e.to_string()))?)
        }
        None => return Err(sql_err(format!("annotation kind `{kind}`"))),
    };
    // Most annotations have no tags: skip the JSON parser for `[]`.
    let tags = match row.get_ref(13)?.as_str()? {
        "[]" => Vec::new(),
        json => serde_json::from_str(json).map_err(|e| sql_err(format!("tags_json: {e}")))?,
    };
    let attributes = Attributes {
        occluded: row.get::<_, i64>(10)? != 0,
        truncated: row.get::<_, i64>(11)? != 0,
        crowd: row.get::<_, i64>(12)? != 0,
        tags,
    };
    let source = match row.get_ref(14)?.as_str()? {
        "human" => AnnotationSource::Human,
        "imported" => AnnotationSource::Imported,
        "model" => AnnotationSource::Model {
            run: RunId(row.get::<_, Option<i64>>(15)?.unwrap_or_default()),
            prediction: row.get(16)?,
        },
        other => return Err(sql_err(format!("annotation source `{other}`"))),
    };
    let review = row.get_ref(19)?.as_str()?;
    Ok(Annotation {
        id: AnnotationId(row.get(0)?),
        image: ImageId(row.get(1)?),
        class: ClassId(row.get(2)?),
        geometry,
        attributes,
        source,
        score: row.get(17)?,
        author: row.get(18)?,
        review_state: ReviewState::parse(review)
            .ok_or_else(|| sql_err(format!("review state `{review}`")))?,
        reviewer: row.get(20)?,
        created_at_unix_s: row.get(21)?,
        updated_at_unix_s: row.get(22)?,
    })
}

fn to_json<T: Serialize>(v: &T) -> Result<String, CatalogError> {
    serde_json::to_string(v)
        .map_err(|e| CatalogError::Corrupt(format!("cannot serialise journal state: {e}")))
}

/// Writes `a` (insert, or replace the row with the same id).
fn put_annotation(tx: &Transaction<'_>, a: &Annotation) -> rusqlite::Result<()> {
    let b = a.geometry.bbox();
    let (polygon_json, mask_rle) = match &a.geometry {
        Geometry::Box(_) => (None, None),
        Geometry::Polygon { parts } => (Some(serde_json::to_string(parts).unwrap_or_default()), None),
        Geometry::Mask(rle) => (None, Some(rle.to_coco_string())),
    };
    let (run, prediction) = match a.source {
        AnnotationSource::Model { run, prediction } => (Some(run.0), prediction),
        _ => (None, None),
    };
    let tags = serde_json::to_string(&a.attributes.tags).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached(
        "INSERT OR REPLACE INTO annotation (id, image_id, class_id, kind, x0_px, y0_px, x1_px, y1_px, \
         polygon_json, mask_rle, occluded, truncated, crowd, tags_json, source, run_id, prediction_id, score, \
         author, review_state, reviewer, created_at_unix_s, updated_at_unix_s) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
    )?
    .execute(params![
        a.id.0,
        a.image.0,
        a.class.0,
        a.geometry.kind().as_str(),
        b.x0,
        b.y0,
        b.x1,
        b.y1,
        polygon_json,
        mask_rle,
        a.attributes.occluded,
        a.attributes.truncated,
        a.attributes.crowd,
        tags,
        a.source.as_str(),
        run,
        prediction,
        a.score,
        a.author,
        a.review_state.as_str(),
        a.reviewer,
        a.created_at_unix_s,
        a.updated_at_unix_s,
    ])?;
    Ok(())
}

fn get_annotation(tx: &Transaction<'_>, id: AnnotationId) -> rusqlite::Result<Option<Annotation>> {
    tx.prepare_cached(&format!("{ANNOTATION_SELECT} WHERE id = ?1"))?
        .query_row([id.0], annotation_from_row)
        .optional()
}

fn get_class(tx: &Transaction<'_>, id: ClassId) -> rusqlite::Result<Option<ClassState>> {
    tx.prepare_cached(
        "SELECT id, name, color, hotkey, position, deleted_at_unix_s IS NOT NULL FROM label_class WHERE id = ?1",
    )?
    .query_row([id.0], |r| {
        Ok(ClassState {
            id: ClassId(r.get(0)?),
            name: r.get(1)?,
            color: r.get(2)?,
            hotkey: r.get(3)?,
            position: r.get(4)?,
            deleted: r.get(5)?,
        })
    })
    .optional()
}

fn put_class(tx: &Transaction<'_>, c: &ClassState, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO label_class (id, name, color, hotkey, position, created_at_unix_s, deleted_at_unix_s) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?7 THEN ?6 END) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, color = excluded.color, hotkey = excluded.hotkey, \
         position = excluded.position, \
         deleted_at_unix_s = CASE WHEN ?7 THEN coalesce(label_class.deleted_at_unix_s, ?6) END",
    )?
    .execute(params![c.id.0, c.name, c.color, c.hotkey, c.position, now, c.deleted])?;
    Ok(())
}

fn get_label(tx: &Transaction<'_>, image: ImageId) -> rusqlite::Result<Option<LabelState>> {
    tx.prepare_cached("SELECT state, selected_because FROM image_label WHERE image_id = ?1")?
        .query_row([image.0], |r| {
            let s: String = r.get(0)?;
            Ok(LabelState {
                state: ImageLabelState::parse(&s).ok_or_else(|| sql_err(format!("image state `{s}`")))?,
                selected_because: r.get(1)?,
            })
        })
        .optional()
}

fn put_label(
    tx: &Transaction<'_>,
    image: ImageId,
    s: Option<&LabelState>,
    author: &str,
    now: i64,
) -> rusqlite::Result<()> {
    match s {
        None => {
            tx.prepare_cached("DELETE FROM image_label WHERE image_id = ?1")?.execute([image.0])?;
        }
        Some(s) => {
            tx.prepare_cached(
                "INSERT INTO image_label (image_id, state, selected_because, updated_by, updated_at_unix_s) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (image_id) DO UPDATE SET state = excluded.state, \
                 selected_because = excluded.selected_because, updated_by = excluded.updated_by, \
                 updated_at_unix_s = excluded.updated_at_unix_s",
            )?
            .execute(params![image.0, s.state.as_str(), s.selected_because, author, now])?;
        }
    }
    Ok(())
}

/// An action being recorded inside a transaction.
struct Recorder<'t, 'c> {
    tx: &'t Transaction<'c>,
    action: ActionId,
    now: i64,
    events: u64,
}

impl<'t, 'c> Recorder<'t, 'c> {
    fn begin(
        tx: &'t Transaction<'c>,
        author: &str,
        kind: &str,
        label: &str,
        target: Option<ActionId>,
        now: i64,
    ) -> rusqlite::Result<Self> {
        tx.prepare_cached(
            "INSERT INTO edit_action (author, kind, label, target_action_id, at_unix_s) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![author, kind, label, target.map(|a| a.0), now])?;
        Ok(Self { tx, action: ActionId(tx.last_insert_rowid()), now, events: 0 })
    }

    #[allow(clippy::too_many_arguments)]
    fn log(
        &mut self,
        entity: &str,
        id: i64,
        op: &str,
        image: Option<ImageId>,
        before: Option<&str>,
        after: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO annotation_event (action_id, entity, entity_id, op, image_id, before_json, after_json, \
                 at_unix_s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![self.action.0, entity, id, op, image.map(|i| i.0), before, after, self.now])?;
        self.events += 1;
        Ok(())
    }
}

fn image_size(tx: &Transaction<'_>, image: ImageId) -> rusqlite::Result<Option<(u32, u32)>> {
    tx.prepare_cached("SELECT width_px, height_px FROM image WHERE id = ?1")?
        .query_row([image.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

fn live_class(tx: &Transaction<'_>, id: ClassId) -> Result<ClassState, CatalogError> {
    match get_class(tx, id).map_err(|e| CatalogError::Corrupt(e.to_string()))? {
        Some(c) if !c.deleted => Ok(c),
        Some(c) => Err(CatalogError::Invalid(format!("class `{}` (id {}) was deleted", c.name, c.id))),
        None => Err(CatalogError::Missing { what: format!("class id {id}") }),
    }
}

impl Catalog {
    // ---- classes ------------------------------------------------------------------------

    /// The project's classes in list order (deleted ones too when `include_deleted`).
    pub fn label_classes(&self, include_deleted: bool) -> Result<Vec<LabelClass>, CatalogError> {
        let sql = if include_deleted {
            "SELECT id, name, color, hotkey, position FROM label_class ORDER BY position, id"
        } else {
            "SELECT id, name, color, hotkey, position FROM label_class WHERE deleted_at_unix_s IS NULL \
             ORDER BY position, id"
        };
        let mut stmt = self.conn.prepare_cached(sql).at(&self.path)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LabelClass {
                    id: ClassId(r.get(0)?),
                    name: r.get(1)?,
                    color: r.get(2)?,
                    hotkey: r.get(3)?,
                    position: r.get(4)?,
                })
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// Number of annotations per class id.
    pub fn class_annotation_counts(&self) -> Result<HashMap<ClassId, u64>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT class_id, count(*) FROM annotation GROUP BY class_id")
            .at(&self.path)?;
        let rows =
            stmt.query_map([], |r| Ok((ClassId(r.get(0)?), r.get::<_, i64>(1)? as u64))).at(&self.path)?;
        rows.collect::<rusqlite::Result<HashMap<_, _>>>().at(&self.path)
    }

    /// Creates classes that do not exist yet (by case-insensitive name) and returns the id of
    /// every name, in order. One action; nothing is logged when all exist.
    pub fn ensure_classes(
        &mut self,
        author: &str,
        names: &[String],
        now: i64,
    ) -> Result<Vec<ClassId>, CatalogError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let ids = ensure_classes_tx(&tx, author, names, now).at(&path)?;
        tx.commit().at(&path)?;
        Ok(ids)
    }

    /// Creates a class. `color` defaults to the palette colour for its position.
    pub fn create_class(
        &mut self,
        author: &str,
        name: &str,
        color: Option<&str>,
        hotkey: Option<&str>,
        now: i64,
    ) -> Result<LabelClass, CatalogError> {
        let name = check_class_name(name)?;
        let color = color.map(check_color).transpose()?;
        let hotkey = hotkey.map(check_hotkey).transpose()?;
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        check_class_free(&path, &tx, &name, hotkey.as_deref(), None)?;
        let position: i64 = tx
            .query_row("SELECT coalesce(max(position) + 1, 0) FROM label_class", [], |r| r.get(0))
            .at(&path)?;
        let state = ClassState {
            id: ClassId(next_autoincrement(&tx, "label_class").at(&path)?),
            name,
            color: color.unwrap_or_else(|| default_class_color(position as usize)),
            hotkey,
            position,
            deleted: false,
        };
        let mut rec = Recorder::begin(&tx, author, "do", &format!("create class {}", state.name), None, now)
            .at(&path)?;
        put_class(&tx, &state, now).at(&path)?;
        rec.log("label_class", state.id.0, "create", None, None, Some(&to_json(&state)?)).at(&path)?;
        tx.commit().at(&path)?;
        Ok(class_of(&state))
    }
}

fn check_class_free(
    path: &std::path::Path,
    tx: &Transaction<'_>,
    name: &str,
    hotkey: Option<&str>,
    except: Option<ClassId>,
) -> Result<(), CatalogError> {
    let except = except.map_or(-1, |c| c.0);
    let clash: Option<String> = tx
            .query_row(
                "SELECT name FROM label_class WHERE deleted_at_unix_s IS NULL AND lower(name) = lower(?1) AND id != ?2",
                params![name, except],
                |r| r.get(0),
            )
            .optional()
            .at(path)?;
    if let Some(existing) = clash {
        return Err(CatalogError::Conflict(format!("a class named `{existing}` already exists")));
    }
    if let Some(key) = hotkey {
        let clash: Option<String> = tx
            .query_row(
                "SELECT name FROM label_class WHERE deleted_at_unix_s IS NULL AND hotkey = ?1 AND id != ?2",
                params![key, except],
                |r| r.get(0),
            )
            .optional()
            .at(path)?;
        if let Some(existing) = clash {
            return Err(CatalogError::Conflict(format!(
                "hotkey `{key}` is already used by class `{existing}`"
            )));
        }
    }
    Ok(())
}

impl Catalog {
    /// Renames, recolours, re-keys or moves a class.
    pub fn update_class(
        &mut self,
        author: &str,
        id: ClassId,
        patch: &ClassPatch,
        now: i64,
    ) -> Result<LabelClass, CatalogError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let before = live_class(&tx, id)?;
        let mut after = ClassState { ..clone_class(&before) };
        if let Some(name) = &patch.name {
            after.name = check_class_name(name)?;
        }
        if let Some(color) = &patch.color {
            after.color = check_color(color)?;
        }
        if let Some(hotkey) = &patch.hotkey {
            after.hotkey = hotkey.as_deref().map(check_hotkey).transpose()?;
        }
        if let Some(position) = patch.position {
            after.position = position;
        }
        check_class_free(&path, &tx, &after.name, after.hotkey.as_deref(), Some(id))?;
        let label = if after.name != before.name {
            format!("rename class {} to {}", before.name, after.name)
        } else {
            format!("edit class {}", after.name)
        };
        let mut rec = Recorder::begin(&tx, author, "do", &label, None, now).at(&path)?;
        put_class(&tx, &after, now).at(&path)?;
        rec.log("label_class", id.0, "update", None, Some(&to_json(&before)?), Some(&to_json(&after)?))
            .at(&path)?;
        tx.commit().at(&path)?;
        Ok(class_of(&after))
    }

    /// Moves every annotation of `from` to `into` and deletes `from`; returns how many
    /// annotations moved. One action (undo brings the class and every annotation back).
    pub fn merge_classes(
        &mut self,
        author: &str,
        from: ClassId,
        into: ClassId,
        now: i64,
    ) -> Result<u64, CatalogError> {
        if from == into {
            return Err(CatalogError::Invalid("cannot merge a class into itself".into()));
        }
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let source = live_class(&tx, from)?;
        let target = live_class(&tx, into)?;
        let label = format!("merge class {} into {}", source.name, target.name);
        let mut rec = Recorder::begin(&tx, author, "do", &label, None, now).at(&path)?;
        let moved = reassign_class(&tx, &mut rec, from, into, now).at(&path)?;
        let deleted = ClassState { deleted: true, hotkey: None, ..clone_class(&source) };
        put_class(&tx, &deleted, now).at(&path)?;
        rec.log("label_class", from.0, "delete", None, Some(&to_json(&source)?), Some(&to_json(&deleted)?))
            .at(&path)?;
        tx.commit().at(&path)?;
        Ok(moved)
    }

    /// Deletes a class. Its annotations move to `reassign_to`; without one, a class that still
    /// has annotations is refused (naming how many).
    pub fn delete_class(
        &mut self,
        author: &str,
        id: ClassId,
        reassign_to: Option<ClassId>,
        now: i64,
    ) -> Result<u64, CatalogError> {
        if let Some(into) = reassign_to {
            return self.merge_classes(author, id, into, now);
        }
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let class = live_class(&tx, id)?;
        let used: i64 = tx
            .query_row("SELECT count(*) FROM annotation WHERE class_id = ?1", [id.0], |r| r.get(0))
            .at(&path)?;
        if used > 0 {
            return Err(CatalogError::Conflict(format!(
                "class `{}` has {used} annotations; pick a class to reassign them to",
                class.name
            )));
        }
        let mut rec = Recorder::begin(&tx, author, "do", &format!("delete class {}", class.name), None, now)
            .at(&path)?;
        let deleted = ClassState { deleted: true, hotkey: None, ..clone_class(&class) };
        put_class(&tx, &deleted, now).at(&path)?;
        rec.log("label_class", id.0, "delete", None, Some(&to_json(&class)?), Some(&to_json(&deleted)?))
            .at(&path)?;
        tx.commit().at(&path)?;
        Ok(0)
    }

    // ---- annotations --------------------------------------------------------------------

    /// An annotation by id.
    pub fn annotation(&self, id: AnnotationId) -> Result<Option<Annotation>, CatalogError> {
        self.conn
            .prepare_cached(&format!("{ANNOTATION_SELECT} WHERE id = ?1"))
            .at(&self.path)?
            .query_row([id.0], annotation_from_row)
            .optional()
            .at(&self.path)
    }

    /// The annotations of an image, in creation order.
    pub fn annotations_of_image(&self, image: ImageId) -> Result<Vec<Annotation>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{ANNOTATION_SELECT} WHERE image_id = ?1 ORDER BY id"))
            .at(&self.path)?;
        let rows = stmt.query_map([image.0], annotation_from_row).at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().at(&self.path)
    }

    /// Number of annotations in the catalog.
    pub fn annotation_count(&self) -> Result<u64, CatalogError> {
        self.conn
            .query_row("SELECT count(*) FROM annotation", [], |r| r.get::<_, i64>(0))
            .at(&self.path)
            .map(|n| n as u64)
    }

    /// Creates annotations (one action). A human annotation on an unlabeled image moves the
    /// image to `in_progress` in the same action.
    pub fn create_annotations(
        &mut self,
        author: &str,
        items: &[NewAnnotation],
        now: i64,
    ) -> Result<(ActionId, Vec<Annotation>), CatalogError> {
        if items.is_empty() {
            return Err(CatalogError::Invalid("no annotations to create".into()));
        }
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let label = if items.len() == 1 {
            format!("create {}", items[0].geometry.kind().as_str())
        } else {
            format!("create {} annotations", items.len())
        };
        let mut rec = Recorder::begin(&tx, author, "do", &label, None, now).at(&path)?;
        let mut created = Vec::with_capacity(items.len());
        for item in items {
            created.push(insert_new(&tx, &mut rec, author, item, now)?);
            if matches!(item.source, AnnotationSource::Human) {
                touch_in_progress(&tx, &mut rec, item.image, author, now)?;
            }
        }
        let action = rec.action;
        tx.commit().at(&path)?;
        Ok((action, created))
    }

    /// Changes an annotation's class, geometry or attributes. A reviewer's change to a model
    /// or imported annotation marks it `corrected`.
    pub fn update_annotation(
        &mut self,
        author: &str,
        id: AnnotationId,
        patch: &AnnotationPatch,
        now: i64,
    ) -> Result<Annotation, CatalogError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let before = get_annotation(&tx, id)
            .at(&path)?
            .ok_or_else(|| CatalogError::Missing { what: format!("annotation {id}") })?;
        let mut after = before.clone();
        if let Some(class) = patch.class {
            live_class(&tx, class)?;
            after.class = class;
        }
        if let Some(geometry) = &patch.geometry {
            let (w, h) = image_size(&tx, before.image).at(&path)?.unwrap_or((0, 0));
            geometry.validate(w, h).map_err(|e| CatalogError::Invalid(format!("annotation {id}: {e}")))?;
            after.geometry = geometry.clone();
        }
        if let Some(attributes) = &patch.attributes {
            after.attributes = attributes.clone().normalized();
        }
        if after == before {
            return Ok(before);
        }
        // A change to a reviewed annotation by someone else, or to an unreviewed model or
        // imported one, is a correction.
        let reviewed_by_other = before.review_state != ReviewState::Unreviewed && before.author != author;
        let unreviewed_machine = !matches!(before.source, AnnotationSource::Human)
            && before.review_state == ReviewState::Unreviewed;
        if reviewed_by_other || unreviewed_machine {
            after.review_state = ReviewState::Corrected;
            after.reviewer = Some(author.to_string());
        }
        after.updated_at_unix_s = now;
        let mut rec = Recorder::begin(
            &tx,
            author,
            "do",
            &format!("edit {}", after.geometry.kind().as_str()),
            None,
            now,
        )
        .at(&path)?;
        put_annotation(&tx, &after).at(&path)?;
        rec.log(
            "annotation",
            id.0,
            "update",
            Some(after.image),
            Some(&to_json(&before)?),
            Some(&to_json(&after)?),
        )
        .at(&path)?;
        tx.commit().at(&path)?;
        Ok(after)
    }

    /// Deletes annotations (one action).
    pub fn delete_annotations(
        &mut self,
        author: &str,
        ids: &[AnnotationId],
        now: i64,
    ) -> Result<ActionId, CatalogError> {
        if ids.is_empty() {
            return Err(CatalogError::Invalid("no annotations to delete".into()));
        }
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let label = if ids.len() == 1 {
            "delete annotation".to_string()
        } else {
            format!("delete {} annotations", ids.len())
        };
        let mut rec = Recorder::begin(&tx, author, "do", &label, None, now).at(&path)?;
        for &id in ids {
            let before = get_annotation(&tx, id)
                .at(&path)?
                .ok_or_else(|| CatalogError::Missing { what: format!("annotation {id}") })?;
            tx.prepare_cached("DELETE FROM annotation WHERE id = ?1").at(&path)?.execute([id.0]).at(&path)?;
            rec.log("annotation", id.0, "delete", Some(before.image), Some(&to_json(&before)?), None)
                .at(&path)?;
        }
        let action = rec.action;
        tx.commit().at(&path)?;
        Ok(action)
    }

    /// Sets the review state of annotations (one action).
    pub fn review_annotations(
        &mut self,
        reviewer: &str,
        ids: &[AnnotationId],
        state: ReviewState,
        now: i64,
    ) -> Result<ActionId, CatalogError> {
        if ids.is_empty() {
            return Err(CatalogError::Invalid("no annotations to review".into()));
        }
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let label =
            format!("{} {} annotation{}", state.as_str(), ids.len(), if ids.len() == 1 { "" } else { "s" });
        let mut rec = Recorder::begin(&tx, reviewer, "do", &label, None, now).at(&path)?;
        for &id in ids {
            let before = get_annotation(&tx, id)
                .at(&path)?
                .ok_or_else(|| CatalogError::Missing { what: format!("annotation {id}") })?;
            let after = Annotation {
                review_state: state,
                reviewer: (state != ReviewState::Unreviewed).then(|| reviewer.to_string()),
                updated_at_unix_s: now,
                ..before.clone()
            };
            put_annotation(&tx, &after).at(&path)?;
            rec.log(
                "annotation",
                id.0,
                "review",
                Some(after.image),
                Some(&to_json(&before)?),
                Some(&to_json(&after)?),
            )
            .at(&path)?;
        }
        let action = rec.action;
        tx.commit().at(&path)?;
        Ok(action)
    }

    // ---- image label state --------------------------------------------------------------

    /// The label state of an image (`unlabeled` when never set).
    pub fn image_label(&self, image: ImageId) -> Result<Option<ImageLabelRow>, CatalogError> {
        self.conn
            .prepare_cached(
                "SELECT state, selected_because, updated_by, updated_at_unix_s FROM image_label WHERE image_id = ?1",
            )
            .at(&self.path)?
            .query_row([image.0], |r| {
                let s: String = r.get(0)?;
                Ok(ImageLabelRow {
                    state: ImageLabelState::parse(&s).ok_or_else(|| sql_err(format!("image state `{s}`")))?,
                    selected_because: r.get(1)?,
                    updated_by: r.get(2)?,
                    updated_at_unix_s: r.get(3)?,
                })
            })
            .optional()
            .at(&self.path)
    }

    /// Number of images per label state (images without a row count as `unlabeled`).
    pub fn label_state_counts(&self) -> Result<Vec<(ImageLabelState, u64)>, CatalogError> {
        let total: i64 = self.conn.query_row("SELECT count(*) FROM image", [], |r| r.get(0)).at(&self.path)?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state, count(*) FROM image_label GROUP BY state")
            .at(&self.path)?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).at(&self.path)?;
        let mut counts: HashMap<ImageLabelState, u64> = HashMap::new();
        let mut with_row = 0i64;
        for row in rows {
            let (s, n) = row.at(&self.path)?;
            let state = ImageLabelState::parse(&s)
                .ok_or_else(|| CatalogError::Corrupt(format!("image state `{s}`")))?;
            *counts.entry(state).or_default() += n as u64;
            with_row += n;
        }
        *counts.entry(ImageLabelState::Unlabeled).or_default() += (total - with_row).max(0) as u64;
        Ok(ImageLabelState::ALL.into_iter().map(|s| (s, counts.get(&s).copied().unwrap_or(0))).collect())
    }

    /// Sets an image's label state. `labeled_empty` is refused while the image has
    /// annotations that are not rejected.
    pub fn set_image_state(
        &mut self,
        author: &str,
        image: ImageId,
        state: ImageLabelState,
        selected_because: Option<&str>,
        now: i64,
    ) -> Result<ActionId, CatalogError> {
        self.set_image_states(author, &[image], state, selected_because, now)
    }

    /// Sets the label state of several images in one transaction and one action (one undo
    /// takes them all back). All or nothing: an unknown image, or `labeled_empty` on an image
    /// with annotations that are not rejected, fails the whole call and names the image.
    pub fn set_image_states(
        &mut self,
        author: &str,
        images: &[ImageId],
        state: ImageLabelState,
        selected_because: Option<&str>,
        now: i64,
    ) -> Result<ActionId, CatalogError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let label = match images {
            [one] => format!("mark image {one} {}", state.as_str()),
            _ => format!("mark {} images {}", images.len(), state.as_str()),
        };
        let mut rec = Recorder::begin(&tx, author, "do", &label, None, now).at(&path)?;
        for &image in images {
            if image_size(&tx, image).at(&path)?.is_none() {
                return Err(CatalogError::NoSuchImage { path: path.clone(), id: image });
            }
            if state == ImageLabelState::LabeledEmpty {
                let live: i64 = tx
                    .prepare_cached(
                        "SELECT count(*) FROM annotation WHERE image_id = ?1 AND review_state != 'rejected'",
                    )
                    .and_then(|mut stmt| stmt.query_row([image.0], |r| r.get(0)))
                    .at(&path)?;
                if live > 0 {
                    return Err(CatalogError::Invalid(format!(
                        "image {image} has {live} annotations; delete them before marking it \"labeled, no objects\""
                    )));
                }
            }
            set_label_tx(&tx, &mut rec, image, state, selected_because.map(str::to_string), author, now)?;
        }
        let action = rec.action;
        tx.commit().at(&path)?;
        Ok(action)
    }

    // ---- bulk import --------------------------------------------------------------------

    /// Adds imported labels in one transaction and one action (so one undo takes the whole
    /// import back). An annotation identical to one the image has (class, geometry,
    /// attributes) is not added twice, so importing the same file again changes nothing.
    /// With `replace`, the images' existing annotations are deleted first. Each image is marked
    /// `labeled` (`labeled_empty` when listed without annotations, unless it has some).
    pub fn import_annotations(
        &mut self,
        author: &str,
        label: &str,
        images: &[ImportImageLabels],
        replace: bool,
        now: i64,
    ) -> Result<LabelImportCounts, CatalogError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let mut rec = Recorder::begin(&tx, author, "do", label, None, now).at(&path)?;
        let mut counts = LabelImportCounts::default();
        for img in images {
            counts.images += 1;
            let existing: Vec<Annotation> = {
                let mut stmt = tx
                    .prepare_cached(&format!("{ANNOTATION_SELECT} WHERE image_id = ?1 ORDER BY id"))
                    .at(&path)?;
                let rows = stmt.query_map([img.image.0], annotation_from_row).at(&path)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().at(&path)?
            };
            let mut kept: Vec<&Annotation> = Vec::new();
            if replace {
                for a in &existing {
                    tx.prepare_cached("DELETE FROM annotation WHERE id = ?1")
                        .at(&path)?
                        .execute([a.id.0])
                        .at(&path)?;
                    rec.log("annotation", a.id.0, "delete", Some(a.image), Some(&to_json(a)?), None)
                        .at(&path)?;
                    counts.annotations_replaced += 1;
                }
            } else {
                kept = existing.iter().collect();
            }
            let mut used = vec![false; kept.len()];
            for item in &img.annotations {
                let attrs = item.attributes.clone().normalized();
                let same = kept.iter().enumerate().position(|(k, a)| {
                    !used[k] && a.class == item.class && a.geometry == item.geometry && a.attributes == attrs
                });
                if let Some(k) = same {
                    used[k] = true;
                    counts.annotations_unchanged += 1;
                    continue;
                }
                insert_new(&tx, &mut rec, author, item, now)?;
                counts.annotations_added += 1;
            }
            let has_any = !img.annotations.is_empty() || !kept.is_empty();
            let state = if has_any { ImageLabelState::Labeled } else { ImageLabelState::LabeledEmpty };
            if !has_any {
                counts.images_empty += 1;
            }
            set_label_tx(&tx, &mut rec, img.image, state, img.selected_because.clone(), author, now)?;
        }
        counts.action = Some(rec.action);
        tx.commit().at(&path)?;
        Ok(counts)
    }

    // ---- undo / redo / history ----------------------------------------------------------

    /// Reverts `author`'s latest action that is not undone yet. `None` when there is nothing
    /// to undo. Refused with [`CatalogError::Conflict`] when something the action touched was
    /// changed since (by another action).
    pub fn undo(&mut self, author: &str, now: i64) -> Result<Option<ActionSummary>, CatalogError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let target: Option<(i64, String)> = tx
            .query_row(
                "SELECT id, label FROM edit_action WHERE author = ?1 AND kind = 'do' AND undone = 0 \
                 ORDER BY id DESC LIMIT 1",
                [author],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .at(&path)?;
        let Some((target, label)) = target else { return Ok(None) };
        let mut rec =
            Recorder::begin(&tx, author, "undo", &format!("undo {label}"), Some(ActionId(target)), now)
                .at(&path)?;
        let events = action_events(&tx, target).at(&path)?;
        for ev in events.iter().rev() {
            apply_state(&tx, &mut rec, ev, Direction::Revert, author, now)?;
        }
        tx.execute("UPDATE edit_action SET undone = 1 WHERE id = ?1", [target]).at(&path)?;
        let summary =
            ActionSummary { action: rec.action, target: ActionId(target), label, events: rec.events };
        tx.commit().at(&path)?;
        Ok(Some(summary))
    }

    /// Re-applies `author`'s most recently undone action, unless the author made a new edit
    /// since. `None` when there is nothing to redo.
    pub fn redo(&mut self, author: &str, now: i64) -> Result<Option<ActionSummary>, CatalogError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().at(&path)?;
        let candidate: Option<(i64, i64, String)> = tx
            .query_row(
                "SELECT u.id, t.id, t.label FROM edit_action u JOIN edit_action t ON t.id = u.target_action_id \
                 WHERE u.author = ?1 AND u.kind = 'undo' AND t.undone = 1 ORDER BY u.id DESC LIMIT 1",
                [author],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .at(&path)?;
        let Some((undo_id, target, label)) = candidate else { return Ok(None) };
        let newer_edit: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM edit_action WHERE author = ?1 AND kind = 'do' AND id > ?2)",
                params![author, undo_id],
                |r| r.get(0),
            )
            .at(&path)?;
        if newer_edit {
            return Ok(None);
        }
        let mut rec =
            Recorder::begin(&tx, author, "redo", &format!("redo {label}"), Some(ActionId(target)), now)
                .at(&path)?;
        let events = action_events(&tx, target).at(&path)?;
        for ev in &events {
            apply_state(&tx, &mut rec, ev, Direction::Replay, author, now)?;
        }
        tx.execute("UPDATE edit_action SET undone = 0 WHERE id = ?1", [target]).at(&path)?;
        let summary =
            ActionSummary { action: rec.action, target: ActionId(target), label, events: rec.events };
        tx.commit().at(&path)?;
        Ok(Some(summary))
    }

    /// Journal entries, newest first: of one image when given, else of the whole project.
    pub fn history(&self, image: Option<ImageId>, limit: u32) -> Result<Vec<EventRow>, CatalogError> {
        let base = "SELECT e.seq, e.action_id, a.kind, a.label, a.author, e.entity, e.entity_id, e.op, e.image_id, \
                    e.before_json, e.after_json, e.at_unix_s FROM annotation_event e \
                    JOIN edit_action a ON a.id = e.action_id";
        let map = |r: &Row<'_>| {
            Ok(EventRow {
                seq: r.get(0)?,
                action: ActionId(r.get(1)?),
                action_kind: r.get(2)?,
                action_label: r.get(3)?,
                author: r.get(4)?,
                entity: r.get(5)?,
                entity_id: r.get(6)?,
                op: r.get(7)?,
                image: r.get::<_, Option<i64>>(8)?.map(ImageId),
                before_json: r.get(9)?,
                after_json: r.get(10)?,
                at_unix_s: r.get(11)?,
            })
        };
        let rows = match image {
            Some(img) => {
                let mut stmt = self
                    .conn
                    .prepare_cached(&format!("{base} WHERE e.image_id = ?1 ORDER BY e.seq DESC LIMIT ?2"))
                    .at(&self.path)?;
                let rows = stmt.query_map(params![img.0, limit], map).at(&self.path)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            }
            None => {
                let mut stmt = self
                    .conn
                    .prepare_cached(&format!("{base} ORDER BY e.seq DESC LIMIT ?1"))
                    .at(&self.path)?;
                let rows = stmt.query_map(params![limit], map).at(&self.path)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            }
        };
        rows.at(&self.path)
    }
}

fn clone_class(c: &ClassState) -> ClassState {
    ClassState {
        id: c.id,
        name: c.name.clone(),
        color: c.color.clone(),
        hotkey: c.hotkey.clone(),
        position: c.position,
        deleted: c.deleted,
    }
}

fn class_of(c: &ClassState) -> LabelClass {
    LabelClass {
        id: c.id,
        name: c.name.clone(),
        color: c.color.clone(),
        hotkey: c.hotkey.clone(),
        position: c.position,
    }
}

fn check_class_name(name: &str) -> Result<String, CatalogError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CatalogError::Invalid("a class name cannot be empty".into()));
    }
    if name.chars().any(char::is_control) {
        return Err(CatalogError::Invalid(format!("class name {name:?} contains a control character")));
    }
    Ok(name.to_string())
}

fn check_color(color: &str) -> Result<String, CatalogError> {
    parse_color(color).ok_or_else(|| CatalogError::Invalid(format!("colour `{color}`: expected #rrggbb")))
}

fn check_hotkey(key: &str) -> Result<String, CatalogError> {
    let key = key.trim();
    if key.chars().count() != 1 || key.chars().any(char::is_whitespace) {
        return Err(CatalogError::Invalid(format!("hotkey `{key}`: expected a single key such as 1 or q")));
    }
    Ok(key.to_string())
}

fn next_autoincrement(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<i64> {
    let seq: Option<i64> =
        tx.query_row("SELECT seq FROM sqlite_sequence WHERE name = ?1", [table], |r| r.get(0)).optional()?;
    Ok(seq.unwrap_or(0) + 1)
}

/// Id of the live class named `name` (case-insensitive).
pub(crate) fn live_class_id(tx: &Transaction<'_>, name: &str) -> rusqlite::Result<Option<i64>> {
    tx.query_row(
        "SELECT id FROM label_class WHERE deleted_at_unix_s IS NULL AND lower(name) = lower(?1)",
        [name],
        |r| r.get(0),
    )
    .optional()
}

pub(crate) fn ensure_classes_tx(
    tx: &Transaction<'_>,
    author: &str,
    names: &[String],
    now: i64,
) -> rusqlite::Result<Vec<ClassId>> {
    let mut ids = Vec::with_capacity(names.len());
    let mut rec: Option<Recorder<'_, '_>> = None;
    for name in names {
        let name = name.trim();
        if let Some(id) = live_class_id(tx, name)? {
            ids.push(ClassId(id));
            continue;
        }
        let position: i64 =
            tx.query_row("SELECT coalesce(max(position) + 1, 0) FROM label_class", [], |r| r.get(0))?;
        let state = ClassState {
            id: ClassId(next_autoincrement(tx, "label_class")?),
            name: name.to_string(),
            color: default_class_color(position as usize),
            hotkey: None,
            position,
            deleted: false,
        };
        if rec.is_none() {
            rec = Some(Recorder::begin(tx, author, "do", "create classes", None, now)?);
        }
        put_class(tx, &state, now)?;
        if let Some(rec) = rec.as_mut() {
            rec.log(
                "label_class",
                state.id.0,
                "create",
                None,
                None,
                Some(&serde_json::to_string(&state).unwrap_or_default()),
            )?;
        }
        ids.push(state.id);
    }
    Ok(ids)
}

fn insert_new(
    tx: &Transaction<'_>,
    rec: &mut Recorder<'_, '_>,
    author: &str,
    item: &NewAnnotation,
    now: i64,
) -> Result<Annotation, CatalogError> {
    let Some((w, h)) = image_size(tx, item.image).map_err(|e| CatalogError::Corrupt(e.to_string()))? else {
        return Err(CatalogError::Missing { what: format!("image {}", item.image) });
    };
    live_class(tx, item.class)?;
    item.geometry
        .validate(w, h)
        .map_err(|e| CatalogError::Invalid(format!("annotation on image {}: {e}", item.image)))?;
    let id = next_autoincrement(tx, "annotation").map_err(|e| CatalogError::Corrupt(e.to_string()))?;
    let a = Annotation {
        id: AnnotationId(id),
        image: item.image,
        class: item.class,
        geometry: item.geometry.clone(),
        attributes: item.attributes.clone().normalized(),
        source: item.source,
        score: item.score,
        author: author.to_string(),
        review_state: item.review_state,
        reviewer: None,
        created_at_unix_s: now,
        updated_at_unix_s: now,
    };
    let err = |e: rusqlite::Error| CatalogError::Corrupt(e.to_string());
    put_annotation(tx, &a).map_err(err)?;
    rec.log("annotation", id, "create", Some(a.image), None, Some(&to_json(&a)?)).map_err(err)?;
    Ok(a)
}

fn touch_in_progress(
    tx: &Transaction<'_>,
    rec: &mut Recorder<'_, '_>,
    image: ImageId,
    author: &str,
    now: i64,
) -> Result<(), CatalogError> {
    let current = get_label(tx, image).map_err(|e| CatalogError::Corrupt(e.to_string()))?;
    let state = current.as_ref().map_or(ImageLabelState::Unlabeled, |s| s.state);
    if matches!(state, ImageLabelState::Unlabeled | ImageLabelState::LabeledEmpty) {
        let because = current.and_then(|c| c.selected_because);
        set_label_tx(tx, rec, image, ImageLabelState::InProgress, because, author, now)?;
    }
    Ok(())
}

fn set_label_tx(
    tx: &Transaction<'_>,
    rec: &mut Recorder<'_, '_>,
    image: ImageId,
    state: ImageLabelState,
    selected_because: Option<String>,
    author: &str,
    now: i64,
) -> Result<(), CatalogError> {
    let err = |e: rusqlite::Error| CatalogError::Corrupt(e.to_string());
    let before = get_label(tx, image).map_err(err)?;
    let selected_because =
        selected_because.or_else(|| before.as_ref().and_then(|b| b.selected_because.clone()));
    let after = LabelState { state, selected_because };
    if before.as_ref() == Some(&after) {
        return Ok(());
    }
    put_label(tx, image, Some(&after), author, now).map_err(err)?;
    let before_json = before.as_ref().map(to_json).transpose()?;
    rec.log("image_label", image.0, "state", Some(image), before_json.as_deref(), Some(&to_json(&after)?))
        .map_err(err)?;
    Ok(())
}

fn reassign_class(
    tx: &Transaction<'_>,
    rec: &mut Recorder<'_, '_>,
    from: ClassId,
    into: ClassId,
    now: i64,
) -> rusqlite::Result<u64> {
    let anns: Vec<Annotation> = {
        let mut stmt = tx.prepare_cached(&format!("{ANNOTATION_SELECT} WHERE class_id = ?1 ORDER BY id"))?;
        let rows = stmt.query_map([from.0], annotation_from_row)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    for before in &anns {
        let after = Annotation { class: into, updated_at_unix_s: now, ..before.clone() };
        put_annotation(tx, &after)?;
        let b = serde_json::to_string(before).unwrap_or_default();
        let a = serde_json::to_string(&after).unwrap_or_default();
        rec.log("annotation", before.id.0, "update", Some(before.image), Some(&b), Some(&a))?;
    }
    Ok(anns.len() as u64)
}

struct StoredEvent {
    entity: String,
    entity_id: i64,
    image: Option<ImageId>,
    before: Option<String>,
    after: Option<String>,
}

fn action_events(tx: &Transaction<'_>, action: i64) -> rusqlite::Result<Vec<StoredEvent>> {
    let mut stmt = tx.prepare_cached(
        "SELECT entity, entity_id, image_id, before_json, after_json FROM annotation_event \
         WHERE action_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([action], |r| {
        Ok(StoredEvent {
            entity: r.get(0)?,
            entity_id: r.get(1)?,
            image: r.get::<_, Option<i64>>(2)?.map(ImageId),
            before: r.get(3)?,
            after: r.get(4)?,
        })
    })?;
    rows.collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Revert,
    Replay,
}

/// Moves one entity from the event's `after` to its `before` (revert) or the other way
/// (replay), checking it is where the event says, and logs that as an event of `rec`.
fn apply_state(
    tx: &Transaction<'_>,
    rec: &mut Recorder<'_, '_>,
    ev: &StoredEvent,
    dir: Direction,
    author: &str,
    now: i64,
) -> Result<(), CatalogError> {
    let (expect, target) = match dir {
        Direction::Revert => (ev.after.as_deref(), ev.before.as_deref()),
        Direction::Replay => (ev.before.as_deref(), ev.after.as_deref()),
    };
    let err = |e: rusqlite::Error| CatalogError::Corrupt(e.to_string());
    let conflict = |what: String| {
        CatalogError::Conflict(format!(
            "{what} was changed after this action by another edit; undo or redo that edit first"
        ))
    };
    match ev.entity.as_str() {
        "annotation" => {
            let id = AnnotationId(ev.entity_id);
            let current = get_annotation(tx, id).map_err(err)?;
            let current_json = current.as_ref().map(to_json).transpose()?;
            if !same_json::<Annotation>(current_json.as_deref(), expect) {
                return Err(conflict(format!("annotation {id}")));
            }
            match target {
                None => {
                    tx.execute("DELETE FROM annotation WHERE id = ?1", [id.0]).map_err(err)?;
                }
                Some(json) => {
                    let a: Annotation = serde_json::from_str(json).map_err(|e| {
                        CatalogError::Corrupt(format!("journal entry for annotation {id}: {e}"))
                    })?;
                    live_or_restorable_class(tx, a.class)?;
                    put_annotation(tx, &a).map_err(err)?;
                }
            }
            let op = match (current_json.is_some(), target.is_some()) {
                (false, true) => "create",
                (true, false) => "delete",
                _ => "update",
            };
            rec.log("annotation", id.0, op, ev.image, current_json.as_deref(), target).map_err(err)?;
        }
        "image_label" => {
            let image = ImageId(ev.entity_id);
            let current = get_label(tx, image).map_err(err)?;
            let current_json = current.as_ref().map(to_json).transpose()?;
            if !same_json::<LabelState>(current_json.as_deref(), expect) {
                return Err(conflict(format!("the label state of image {image}")));
            }
            let state: Option<LabelState> = target
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| CatalogError::Corrupt(format!("journal entry for image {image}: {e}")))?;
            put_label(tx, image, state.as_ref(), author, now).map_err(err)?;
            rec.log("image_label", image.0, "state", Some(image), current_json.as_deref(), target)
                .map_err(err)?;
        }
        "label_class" => {
            let id = ClassId(ev.entity_id);
            let current = get_class(tx, id).map_err(err)?;
            let current_json = current.as_ref().map(to_json).transpose()?;
            if !same_json::<ClassState>(current_json.as_deref(), expect) {
                return Err(conflict(format!("class {id}")));
            }
            match target {
                None => {
                    // Reverting a creation: the class goes away (its annotations were reverted
                    // first, events run in reverse order).
                    let used: i64 = tx
                        .query_row("SELECT count(*) FROM annotation WHERE class_id = ?1", [id.0], |r| {
                            r.get(0)
                        })
                        .map_err(err)?;
                    if used > 0 {
                        return Err(conflict(format!("class {id} (it has annotations now)")));
                    }
                    tx.execute("DELETE FROM label_class WHERE id = ?1", [id.0]).map_err(err)?;
                }
                Some(json) => {
                    let c: ClassState = serde_json::from_str(json)
                        .map_err(|e| CatalogError::Corrupt(format!("journal entry for class {id}: {e}")))?;
                    put_class(tx, &c, now).map_err(|e| match e.sqlite_error_code() {
                        Some(rusqlite::ErrorCode::ConstraintViolation) => CatalogError::Conflict(format!(
                            "class `{}` cannot come back: its name or hotkey is now used by another class",
                            c.name
                        )),
                        _ => err(e),
                    })?;
                }
            }
            rec.log("label_class", id.0, "update", None, current_json.as_deref(), target).map_err(err)?;
        }
        other => return Err(CatalogError::Corrupt(format!("journal entity `{other}`"))),
    }
    Ok(())
}

/// Compares two stored states by value (JSON text can differ in float spelling only if
/// written by another version; compare parsed values).
fn same_json<T: for<'de> Deserialize<'de> + PartialEq>(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a == b
                || matches!((serde_json::from_str::<T>(a), serde_json::from_str::<T>(b)), (Ok(x), Ok(y)) if x == y)
        }
        _ => false,
    }
}

fn live_or_restorable_class(tx: &Transaction<'_>, id: ClassId) -> Result<(), CatalogError> {
    match get_class(tx, id).map_err(|e| CatalogError::Corrupt(e.to_string()))? {
        Some(_) => Ok(()),
        None => Err(CatalogError::Missing { what: format!("class id {id}") }),
    }
}
