//! Generated labels for benchmarks: [`Catalog::insert_synthetic_annotations`],
//! [`Catalog::perturb_synthetic_annotations`], and the bare read they are measured against,
//! [`Catalog::scan_annotation_rows`].
//!
//! These write straight into `label_class`, `annotation` and `image_label` and record **no**
//! journal rows (`edit_action` / `annotation_event`): the rows are generated benchmark data,
//! not anyone's edits, so there is nothing to undo, and a journal of a million generated
//! boxes would only bloat the catalog being measured. Never use them on a user's project.

use lacuna_core::default_class_color;
use rusqlite::{Transaction, params};

use crate::error::SqlResultExt as _;
use crate::synthetic::Rng;
use crate::{Catalog, CatalogError};

/// Images per transaction while generating labels.
const IMAGES_PER_TX: usize = 10_000;
/// `annotation.author` and `image_label.updated_by` of generated rows.
const AUTHOR: &str = "synthetic";
/// `image_label.selected_because` of generated rows (it reaches the export manifests).
const SELECTED_BECAUSE: &str = "synthetic labels (benchmark data)";

const INSERT_BOX_SQL: &str = "INSERT INTO annotation (image_id, class_id, kind, x0_px, y0_px, x1_px, y1_px, \
     occluded, truncated, source, author, created_at_unix_s, updated_at_unix_s) \
     VALUES (?1, ?2, 'box', ?3, ?4, ?5, ?6, ?7, ?8, 'imported', ?9, ?10, ?10)";

const UPSERT_LABEL_SQL: &str = "INSERT INTO image_label (image_id, state, selected_because, updated_by, \
     updated_at_unix_s) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (image_id) DO UPDATE SET \
     state = excluded.state, selected_because = excluded.selected_because, \
     updated_by = excluded.updated_by, updated_at_unix_s = excluded.updated_at_unix_s";

/// Number of boxes of the image at `index` (0-based, in id order) of `count` images: uniform
/// in `0..=2 * per_image`, drawn per pair of images so that the pair's total is exactly
/// `2 * per_image` (the second image gets the mirror of the first's deviation). The catalog's
/// total is therefore exactly `count * per_image` (odd counts: the last image gets the mean).
fn box_count(seed: u64, index: u64, count: u64, per_image: u32) -> u32 {
    let mean = i64::from(per_image);
    if index + 1 == count && count % 2 == 1 {
        return per_image;
    }
    let mut rng = Rng::new(seed ^ 0xA076_1D64_78BD_642F ^ (index / 2).wrapping_mul(0xE703_7ED1_A0B4_28DB));
    let deviation = rng.below(2 * u64::from(per_image) + 1) as i64 - mean;
    let n = if index.is_multiple_of(2) { mean + deviation } else { mean - deviation };
    u32::try_from(n).unwrap_or(0)
}

/// Rounds to hundredths of a pixel (what imported labels typically carry).
fn hundredths(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// A box inside a `w` x `h` image: mostly small objects, some large, any aspect.
fn random_box(rng: &mut Rng, w: u32, h: u32) -> [f64; 4] {
    let (w, h) = (f64::from(w), f64::from(h));
    let scale = 0.02 + 0.38 * rng.unit() * rng.unit();
    let aspect = 0.5 + 1.5 * rng.unit();
    let bw = (w * scale * aspect.sqrt()).clamp(1.0, w);
    let bh = (h * scale / aspect.sqrt()).clamp(1.0, h);
    let x0 = hundredths(rng.unit() * (w - bw));
    let y0 = hundredths(rng.unit() * (h - bh));
    [x0, y0, hundredths(x0 + bw).min(w), hundredths(y0 + bh).min(h)]
}

/// Picks an index in `0..cumulative.len()` by the cumulative weights.
fn pick(rng: &mut Rng, cumulative: &[f64]) -> usize {
    let total = cumulative.last().copied().unwrap_or(1.0);
    let x = rng.unit() * total;
    cumulative.partition_point(|c| *c <= x).min(cumulative.len().saturating_sub(1))
}

/// Id of the live class `name` (case-insensitive), created (without a journal row) if needed.
fn class_id(tx: &Transaction<'_>, name: &str, now_unix_s: i64) -> rusqlite::Result<i64> {
    if let Some(id) = crate::annotations::live_class_id(tx, name)? {
        return Ok(id);
    }
    let position: i64 =
        tx.query_row("SELECT coalesce(max(position) + 1, 0) FROM label_class", [], |r| r.get(0))?;
    tx.execute(
        "INSERT INTO label_class (name, color, position, created_at_unix_s) VALUES (?1, ?2, ?3, ?4)",
        params![name, default_class_color(usize::try_from(position).unwrap_or(0)), position, now_unix_s],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Every image's id and (oriented) size, in id order.
fn image_sizes(catalog: &Catalog) -> Result<Vec<(i64, u32, u32)>, CatalogError> {
    let path = &catalog.path;
    let mut stmt = catalog.conn.prepare("SELECT id, width_px, height_px FROM image ORDER BY id").at(path)?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).at(path)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().at(path)
}

impl Catalog {
    /// For benchmarks: labels every image of the catalog with generated boxes, deterministic
    /// from `seed`. Creates the `classes` that do not exist yet; gives each image a number of
    /// boxes uniform in `0..=2 * per_image` (paired so that the total is exactly
    /// `images * per_image`: 100,000 images at 10 make 1,000,000 boxes), each inside the
    /// image, of a class drawn with skewed (Zipf) frequencies, ~10% occluded, ~5% truncated,
    /// source `imported`, author `synthetic`; marks each image `labeled` (`labeled_empty`
    /// when it got no box). Batched transactions of 10,000 images.
    ///
    /// Writes **no journal rows**: this is generated benchmark data, not a user's edits (see
    /// the module docs). Returns the number of boxes inserted.
    pub fn insert_synthetic_annotations(
        &mut self,
        classes: &[&str],
        per_image: u32,
        seed: u64,
        now_unix_s: i64,
    ) -> Result<u64, CatalogError> {
        if classes.is_empty() {
            return Err(CatalogError::Invalid("synthetic annotations need at least one class".into()));
        }
        let path = self.path.clone();
        let class_ids: Vec<i64> = {
            let tx = self.conn.transaction().at(&path)?;
            let ids = classes
                .iter()
                .map(|name| class_id(&tx, name.trim(), now_unix_s))
                .collect::<rusqlite::Result<Vec<_>>>()
                .at(&path)?;
            tx.commit().at(&path)?;
            ids
        };
        let mut total = 0.0;
        let cumulative: Vec<f64> = (0..class_ids.len())
            .map(|k| {
                total += 1.0 / (k as f64 + 1.0);
                total
            })
            .collect();

        let images = image_sizes(self)?;
        let count = images.len() as u64;
        let mut inserted = 0u64;
        for (chunk_index, chunk) in images.chunks(IMAGES_PER_TX).enumerate() {
            let tx = self.conn.transaction().at(&path)?;
            {
                let mut insert = tx.prepare_cached(INSERT_BOX_SQL).at(&path)?;
                let mut label = tx.prepare_cached(UPSERT_LABEL_SQL).at(&path)?;
                let mut has_boxes = tx
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM annotation WHERE image_id = ?1)")
                    .at(&path)?;
                for (k, &(image, w, h)) in chunk.iter().enumerate() {
                    let index = (chunk_index * IMAGES_PER_TX + k) as u64;
                    let n = if w == 0 || h == 0 { 0 } else { box_count(seed, index, count, per_image) };
                    let mut rng = Rng::new(seed ^ (image as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
                    for _ in 0..n {
                        let [x0, y0, x1, y1] = random_box(&mut rng, w, h);
                        let class = class_ids[pick(&mut rng, &cumulative)];
                        let occluded = rng.chance(0.1);
                        let truncated = rng.chance(0.05);
                        insert
                            .execute(params![
                                image, class, x0, y0, x1, y1, occluded, truncated, AUTHOR, now_unix_s
                            ])
                            .at(&path)?;
                    }
                    inserted += u64::from(n);
                    let labeled = n > 0 || has_boxes.query_row([image], |r| r.get::<_, bool>(0)).at(&path)?;
                    let state = if labeled { "labeled" } else { "labeled_empty" };
                    label.execute(params![image, state, SELECTED_BECAUSE, AUTHOR, now_unix_s]).at(&path)?;
                }
            }
            tx.commit().at(&path)?;
        }
        Ok(inserted)
    }

    /// For benchmarks: changes the boxes of about `fraction` of the images (drawn from
    /// `seed`) so that a version frozen afterwards differs from one frozen before: each picked
    /// image gets one of: a box moved by 5–15% of its size, a box given another class, a box
    /// deleted, a box added (images without boxes always get the added box). Label states
    /// follow (`labeled_empty` when the last box goes, `labeled` when one arrives); changed
    /// rows' `updated_at_unix_s` moves on by one second (added rows get one second after the
    /// newest annotation). One transaction.
    ///
    /// Like [`Catalog::insert_synthetic_annotations`], writes **no journal rows**. Returns the
    /// number of annotation rows moved, reclassified, deleted or added.
    pub fn perturb_synthetic_annotations(&mut self, fraction: f64, seed: u64) -> Result<u64, CatalogError> {
        let path = self.path.clone();
        let images = image_sizes(self)?;
        let classes: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id FROM label_class WHERE deleted_at_unix_s IS NULL ORDER BY position, id")
                .at(&path)?;
            let rows = stmt.query_map([], |r| r.get(0)).at(&path)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().at(&path)?
        };
        let Some(&first_class) = classes.first() else {
            return Ok(0);
        };
        let tx = self.conn.transaction().at(&path)?;
        let stamp: i64 = tx
            .query_row("SELECT coalesce(max(updated_at_unix_s), 0) + 1 FROM annotation", [], |r| r.get(0))
            .at(&path)?;
        let mut changed = 0u64;
        {
            let mut boxes = tx
                .prepare_cached(
                    "SELECT id, class_id, x0_px, y0_px, x1_px, y1_px FROM annotation \
                     WHERE image_id = ?1 AND kind = 'box' ORDER BY id",
                )
                .at(&path)?;
            let mut move_box = tx
                .prepare_cached(
                    "UPDATE annotation SET x0_px = ?2, y0_px = ?3, x1_px = ?4, y1_px = ?5, \
                     updated_at_unix_s = updated_at_unix_s + 1 WHERE id = ?1",
                )
                .at(&path)?;
            let mut reclassify = tx
                .prepare_cached(
                    "UPDATE annotation SET class_id = ?2, updated_at_unix_s = updated_at_unix_s + 1 WHERE id = ?1",
                )
                .at(&path)?;
            let mut delete = tx.prepare_cached("DELETE FROM annotation WHERE id = ?1").at(&path)?;
            let mut insert = tx.prepare_cached(INSERT_BOX_SQL).at(&path)?;
            let mut set_state = tx
                .prepare_cached(
                    "UPDATE image_label SET state = ?2, updated_at_unix_s = updated_at_unix_s + 1 \
                     WHERE image_id = ?1 AND state IN ('labeled', 'labeled_empty')",
                )
                .at(&path)?;
            for &(image, w, h) in &images {
                let mut rng = Rng::new(
                    seed ^ 0x5851_F42D_4C95_7F2D ^ (image as u64).wrapping_mul(0x9FB2_1C65_1E98_DF25),
                );
                if !rng.chance(fraction) || w == 0 || h == 0 {
                    continue;
                }
                type BoxRow = (i64, i64, f64, f64, f64, f64);
                let rows: Vec<BoxRow> = boxes
                    .query_map([image], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                    })
                    .and_then(Iterator::collect)
                    .at(&path)?;
                let op = if rows.is_empty() { 3 } else { rng.below(4) };
                let target = rows.get(rng.below(rows.len() as u64) as usize).copied();
                match (op, target) {
                    (0, Some((id, _, x0, y0, x1, y1))) => {
                        let (bw, bh) = (x1 - x0, y1 - y0);
                        let sign = |rng: &mut Rng| if rng.chance(0.5) { 1.0 } else { -1.0 };
                        let dx =
                            (bw * (0.05 + 0.1 * rng.unit()) * sign(&mut rng)).clamp(-x0, f64::from(w) - x1);
                        let dy =
                            (bh * (0.05 + 0.1 * rng.unit()) * sign(&mut rng)).clamp(-y0, f64::from(h) - y1);
                        let moved = [x0 + dx, y0 + dy, x1 + dx, y1 + dy].map(hundredths);
                        move_box.execute(params![id, moved[0], moved[1], moved[2], moved[3]]).at(&path)?;
                    }
                    (1, Some((id, class, ..))) if classes.len() > 1 => {
                        let others: Vec<i64> = classes.iter().copied().filter(|c| *c != class).collect();
                        let new_class = others[rng.below(others.len() as u64) as usize];
                        reclassify.execute(params![id, new_class]).at(&path)?;
                    }
                    (1 | 2, Some((id, ..))) => {
                        delete.execute([id]).at(&path)?;
                        if rows.len() == 1 {
                            set_state.execute(params![image, "labeled_empty"]).at(&path)?;
                        }
                    }
                    _ => {
                        let [x0, y0, x1, y1] = random_box(&mut rng, w, h);
                        let class = classes.get(rng.below(classes.len() as u64) as usize).copied();
                        insert
                            .execute(params![
                                image,
                                class.unwrap_or(first_class),
                                x0,
                                y0,
                                x1,
                                y1,
                                false,
                                false,
                                AUTHOR,
                                stamp
                            ])
                            .at(&path)?;
                        if rows.is_empty() {
                            set_state.execute(params![image, "labeled"]).at(&path)?;
                        }
                    }
                }
                changed += 1;
            }
        }
        tx.commit().at(&path)?;
        Ok(changed)
    }

    /// For benchmarks: marks every image of the catalog present (`status = 'ok'`). Generated
    /// catalogs ([`Catalog::insert_synthetic_images`]) have 5% "missing" images to exercise
    /// filters; a freeze leaves those out, so a benchmark that wants every generated image in
    /// its versions calls this first. Returns the number of images changed.
    pub fn mark_synthetic_images_present(&mut self) -> Result<u64, CatalogError> {
        let n = self.conn.execute("UPDATE image SET status = 'ok' WHERE status != 'ok'", []).at(&self.path)?;
        Ok(n as u64)
    }

    /// For benchmarks: the bare read other steps are compared with — `SELECT` every column
    /// of every annotation row (table order, no joins, nothing decoded beyond SQLite's own
    /// values). Returns the number of rows and the bytes of text and blob values read.
    pub fn scan_annotation_rows(&self) -> Result<(u64, u64), CatalogError> {
        let path = &self.path;
        let mut stmt = self.conn.prepare("SELECT * FROM annotation").at(path)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).at(path)?;
        let (mut count, mut bytes) = (0u64, 0u64);
        while let Some(row) = rows.next().at(path)? {
            count += 1;
            for k in 0..columns {
                bytes += match row.get_ref(k).at(path)? {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => t.len() as u64,
                    _ => 0,
                };
            }
        }
        Ok((count, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_counts_average_exactly() {
        for count in [1u64, 2, 7, 1000, 1001] {
            let total: u64 = (0..count).map(|i| u64::from(box_count(3, i, count, 10))).sum();
            assert_eq!(total, count * 10, "{count}");
        }
        let counts: Vec<u32> = (0..10_000).map(|i| box_count(3, i, 10_000, 10)).collect();
        assert!(counts.iter().all(|&n| n <= 20));
        assert!(counts.contains(&0) && counts.contains(&20));
        assert_eq!(box_count(3, 17, 100, 10), box_count(3, 17, 100, 10));
    }

    #[test]
    fn boxes_stay_inside_the_image() {
        let mut rng = Rng::new(9);
        for _ in 0..10_000 {
            let [x0, y0, x1, y1] = random_box(&mut rng, 640, 480);
            assert!(0.0 <= x0 && x0 < x1 && x1 <= 640.0, "{x0} {x1}");
            assert!(0.0 <= y0 && y0 < y1 && y1 <= 480.0, "{y0} {y1}");
        }
    }

    #[test]
    fn generated_labels_and_their_perturbation() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut catalog = Catalog::create(&dir.path().join("c.sqlite")).expect("create");
        let root = catalog.upsert_root("/bench", 0).expect("root");
        catalog.insert_synthetic_images(root, 501, 1, 1_700_000_000).expect("images");
        let boxes =
            catalog.insert_synthetic_annotations(&["car", "person", "bike"], 4, 5, 10).expect("labels");
        assert_eq!(boxes, 501 * 4);
        assert_eq!(catalog.scan_annotation_rows().expect("scan").0, boxes);
        assert_eq!(catalog.label_classes(false).expect("classes").len(), 3);
        let events: i64 = catalog
            .conn
            .query_row("SELECT count(*) FROM annotation_event", [], |r| r.get(0))
            .expect("events");
        assert_eq!(events, 0);
        let labeled: i64 = catalog
            .conn
            .query_row(
                "SELECT count(*) FROM image_label WHERE state IN ('labeled', 'labeled_empty')",
                [],
                |r| r.get(0),
            )
            .expect("labels");
        assert_eq!(labeled, 501);
        let changed = catalog.perturb_synthetic_annotations(0.2, 6).expect("perturb");
        assert!((50..160).contains(&changed), "{changed}");
        // Same classes again: nothing new, ids reused.
        catalog.insert_synthetic_annotations(&["Car"], 1, 5, 10).expect("again");
        assert_eq!(catalog.label_classes(false).expect("classes").len(), 3);
    }
}
