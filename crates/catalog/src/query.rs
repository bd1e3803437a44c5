//! How [`crate::Catalog::list_images`] and [`crate::Catalog::count_images`] turn an
//! [`ImageFilter`] into SQL.
//!
//! Pages are keyset-paginated by id (`id > ?after ORDER BY id LIMIT ?n`), so the fastest plan
//! is one that visits rows in id order and stops after `n` matches. Which index does that
//! best depends on the data, and SQLite's planner has no statistics to go on (we never run
//! `ANALYZE`: plans must not change under the user's feet), so the plan is chosen here:
//!
//! - every filter that has an index is a candidate *driver*: the index the query walks;
//!   the other filters are checked row by row;
//! - equality filters (status, camera, root, has-duplicates) have *ordered* drivers: their
//!   index holds `(value, id)`, so matches come out in id order and the walk stops early;
//! - range filters (root + folder prefix, capture time) have *unordered* drivers: every match
//!   must be read and sorted by id, which is only cheap when there are few;
//! - each candidate is *probed* by counting its matches after `after`, stopping at
//!   [`PROBE_LIMIT`] (an index-only scan, a millisecond or two);
//! - the candidate with the fewest matches below the limit drives (its cost is bounded by the
//!   limit whatever kind it is);
//! - when all have more and there is no range filter, the first ordered candidate drives (or
//!   the table, in id order, when there is none);
//! - when all have more and there is a range filter, the matches are many but may all lie far
//!   from `after` (ids, folders and capture times are correlated: an import walks folder by
//!   folder, and new photos come in later), so walking in id order could read most of the
//!   table before it finds one. The ordered driver is walked for at most [`WALK_BUDGET`]
//!   rows — with matches spread evenly (at least `PROBE_LIMIT` of them) that fills a page.
//!   If it does not, the range driver finishes the page from where the walk stopped,
//!   sorting its matches: a cost proportional to the range, about 65 ns per match, plus a
//!   row lookup per match when other filters must be checked too. In that last case the
//!   range's first id after the walk is looked up first (index only) and the walk tried once
//!   more from there: when the range's ids are clustered, that finds the page without
//!   reading every row of the range.
//!
//! The driver is forced with `INDEXED BY` / `NOT INDEXED`, so the plan is exactly the one
//! chosen (and a missing index is a loud error, not a silent full scan).
//!
//! Some filters never drive: label state, condition, class and prediction are checked per
//! candidate row (a few primary-key or index seeks each, see [`Part`]). A filter made only of
//! them walks the table in id order.
//!
//! The folder filter is the subtree of a folder: `rel_dir = f OR rel_dir LIKE 'f/%'`, which
//! is the same set as `rel_path >= 'f/' AND rel_path < 'f0'` ('0' is the character after '/'):
//! a range on the `(root_id, rel_path)` unique index, never a LIKE scan. "a/bc" is not under
//! "a/b" because 'c' > '0'.

use std::borrow::Cow;

use lacuna_core::ImageStatus;
use rusqlite::types::Value;

use crate::ImageFilter;
use crate::conditions::effective_condition_sql;

/// How many matches a probe counts before calling a filter unselective. An unordered driver
/// chosen directly therefore sorts fewer rows than this for a page.
pub(crate) const PROBE_LIMIT: i64 = 20_000;

/// The index a query walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Driver {
    /// The table itself, in id order.
    PrimaryKey,
    /// `duplicate_file (of_image_id)`: images that have duplicates, in id order.
    Duplicates,
    /// `image (camera)`.
    Camera,
    /// `image (root_id)`.
    Root,
    /// `image (status)`.
    Status,
    /// `image (root_id, rel_path)`: a folder subtree under a root; not in id order.
    Folder,
    /// `image (captured_local)`: a capture-time range; not in id order.
    Captured,
}

impl Driver {
    /// Whether the driver yields matches in id order.
    pub(crate) fn is_ordered(self) -> bool {
        !matches!(self, Self::Folder | Self::Captured)
    }

    fn index(self) -> Option<&'static str> {
        match self {
            Self::PrimaryKey => None,
            Self::Duplicates => Some("duplicate_file_of_image"),
            Self::Camera => Some("image_camera"),
            Self::Root => Some("image_root"),
            Self::Status => Some("image_status"),
            Self::Folder => Some("image_root_path"),
            Self::Captured => Some("image_captured"),
        }
    }
}

/// Which filter a condition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Status,
    Root,
    Folder,
    Camera,
    Captured,
    HasDuplicates,
    /// Never drives: checked per candidate row (one primary-key lookup in `image_label`).
    LabelState,
    /// Never drives: the effective condition value, two primary-key seeks in `condition`.
    Condition,
    /// Never drives: a non-rejected annotation of a class, a seek in `annotation_image`.
    Class,
    /// Never drives: a prediction of a run, a seek in `prediction_run_image`.
    Prediction,
}

impl Part {
    fn drives(self, driver: Driver) -> bool {
        matches!(
            (driver, self),
            (Driver::Status, Part::Status)
                | (Driver::Camera, Part::Camera)
                | (Driver::Root, Part::Root)
                | (Driver::Folder, Part::Root | Part::Folder)
                | (Driver::Captured, Part::Captured)
                | (Driver::Duplicates, Part::HasDuplicates)
        )
    }
}

/// One `AND`ed condition on `image i`, with its parameters (`?` placeholders, in order).
#[derive(Debug, Clone)]
struct Cond {
    part: Part,
    sql: Cow<'static, str>,
    params: Vec<Value>,
}

/// An [`ImageFilter`] as SQL conditions.
#[derive(Debug, Clone)]
pub(crate) struct FilterSql {
    conds: Vec<Cond>,
    has_duplicates: Option<bool>,
}

/// A statement and its parameters.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) sql: String,
    pub(crate) params: Vec<Value>,
}

/// What a driver is chosen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    List,
    Count,
}

/// Normalises a folder filter: no leading or trailing slashes; `None` when it matches
/// everything.
pub(crate) fn normalize_folder(folder: &str) -> Option<&str> {
    let trimmed = folder.trim_matches('/');
    (!trimmed.is_empty()).then_some(trimmed)
}

impl FilterSql {
    pub(crate) fn new(filter: &ImageFilter) -> Self {
        let mut conds = Vec::new();
        if let Some(status) = filter.status {
            let status = match status {
                ImageStatus::Ok => "ok",
                ImageStatus::Missing => "missing",
            };
            conds.push(Cond {
                part: Part::Status,
                sql: "i.status = ?".into(),
                params: vec![Value::Text(status.to_owned())],
            });
        }
        if let Some(root) = filter.root {
            conds.push(Cond {
                part: Part::Root,
                sql: "i.root_id = ?".into(),
                params: vec![Value::Integer(root.0)],
            });
        }
        if let Some(folder) = filter.folder.as_deref().and_then(normalize_folder) {
            conds.push(Cond {
                part: Part::Folder,
                sql: "i.rel_path >= ? AND i.rel_path < ?".into(),
                params: vec![Value::Text(format!("{folder}/")), Value::Text(format!("{folder}0"))],
            });
        }
        if let Some(camera) = &filter.camera {
            conds.push(Cond {
                part: Part::Camera,
                sql: "i.camera = ?".into(),
                params: vec![Value::Text(camera.clone())],
            });
        }
        if let Some(from) = &filter.captured_from {
            conds.push(Cond {
                part: Part::Captured,
                sql: "i.captured_local >= ?".into(),
                params: vec![Value::Text(from.clone())],
            });
        }
        if let Some(before) = &filter.captured_before {
            conds.push(Cond {
                part: Part::Captured,
                sql: "i.captured_local < ?".into(),
                params: vec![Value::Text(before.clone())],
            });
        }
        match filter.has_duplicates {
            Some(true) => conds.push(Cond {
                part: Part::HasDuplicates,
                sql: "EXISTS (SELECT 1 FROM duplicate_file dx WHERE dx.of_image_id = i.id)".into(),
                params: Vec::new(),
            }),
            Some(false) => conds.push(Cond {
                part: Part::HasDuplicates,
                sql: "NOT EXISTS (SELECT 1 FROM duplicate_file dx WHERE dx.of_image_id = i.id)".into(),
                params: Vec::new(),
            }),
            None => {}
        }
        if let Some(state) = filter.label_state {
            conds.push(Cond {
                part: Part::LabelState,
                sql: "coalesce((SELECT l.state FROM image_label l WHERE l.image_id = i.id), 'unlabeled') = ?"
                    .into(),
                params: vec![Value::Text(state.as_str().to_owned())],
            });
        }
        if let Some(c) = &filter.condition {
            conds.push(Cond {
                part: Part::Condition,
                sql: effective_condition_sql().into(),
                params: vec![
                    Value::Text(c.key.clone()),
                    Value::Text(c.value.clone()),
                    Value::Text(c.key.clone()),
                ],
            });
        }
        if let Some(class) = filter.class {
            conds.push(Cond {
                part: Part::Class,
                sql: "EXISTS (SELECT 1 FROM annotation ax INDEXED BY annotation_image \
                      WHERE ax.image_id = i.id AND ax.class_id = ? AND ax.review_state != 'rejected')"
                    .into(),
                params: vec![Value::Integer(class.0)],
            });
        }
        if let Some(p) = &filter.prediction {
            conds.push(prediction_cond(p));
        }
        Self { conds, has_duplicates: filter.has_duplicates }
    }

    fn has(&self, part: Part) -> bool {
        self.conds.iter().any(|c| c.part == part)
    }

    /// Drivers that could serve this filter, in order of preference when no probe settles it.
    pub(crate) fn candidates(&self, purpose: Purpose) -> Vec<Driver> {
        let available = |d: Driver| match d {
            Driver::PrimaryKey => false,
            Driver::Duplicates => self.has_duplicates == Some(true),
            Driver::Camera => self.has(Part::Camera),
            Driver::Root => self.has(Part::Root),
            Driver::Status => self.has(Part::Status),
            Driver::Folder => self.has(Part::Root) && self.has(Part::Folder),
            Driver::Captured => self.has(Part::Captured),
        };
        let order: &[Driver] = match purpose {
            // Ordered drivers first: with no probe below the limit, one of them drives.
            Purpose::List => &[
                Driver::Duplicates,
                Driver::Camera,
                Driver::Root,
                Driver::Status,
                Driver::Folder,
                Driver::Captured,
            ],
            // Counting reads every match anyway: prefer the narrowest, covering scans.
            Purpose::Count => &[
                Driver::Duplicates,
                Driver::Camera,
                Driver::Folder,
                Driver::Root,
                Driver::Captured,
                Driver::Status,
            ],
        };
        order.iter().copied().filter(|d| available(*d)).collect()
    }

    /// Counts the driver's own matches with id > `after`, stopping at `limit`
    /// ([`PROBE_LIMIT`] but in tests).
    pub(crate) fn probe(&self, driver: Driver, after: i64, limit: i64) -> Query {
        if driver == Driver::Duplicates {
            return Query {
                sql: "SELECT count(*) FROM (SELECT 1 FROM duplicate_file d \
                      INDEXED BY duplicate_file_of_image WHERE d.of_image_id > ? LIMIT ?)"
                    .to_owned(),
                params: vec![Value::Integer(after), Value::Integer(limit)],
            };
        }
        let (wheres, mut params) = self.driver_conditions(driver, after);
        params.push(Value::Integer(limit));
        Query {
            sql: format!(
                "SELECT count(*) FROM (SELECT 1 FROM image i {} WHERE {} LIMIT ?)",
                hint(driver),
                wheres.join(" AND ")
            ),
            params,
        }
    }

    fn where_clause(&self, driver: Driver, extra: Option<(&'static str, i64)>) -> Query {
        let mut wheres = Vec::new();
        let mut params = Vec::new();
        for cond in &self.conds {
            // The join with duplicate_file already says "has duplicates".
            if driver == Driver::Duplicates && cond.part == Part::HasDuplicates {
                continue;
            }
            wheres.push(cond.sql.as_ref());
            params.extend(cond.params.iter().cloned());
        }
        if let Some((sql, value)) = extra {
            wheres.push(sql);
            params.push(Value::Integer(value));
        }
        let sql = if wheres.is_empty() { String::new() } else { format!(" WHERE {}", wheres.join(" AND ")) };
        Query { sql, params }
    }

    /// Ids of the first `limit` matches with id > `after`, ascending.
    pub(crate) fn list(&self, driver: Driver, after: i64, limit: u32) -> Query {
        let mut query = if driver == Driver::Duplicates {
            let w = self.where_clause(driver, Some(("d.of_image_id > ?", after)));
            Query {
                sql: format!(
                    "SELECT d.of_image_id FROM duplicate_file d INDEXED BY duplicate_file_of_image \
                     CROSS JOIN image i ON i.id = d.of_image_id{} \
                     GROUP BY d.of_image_id ORDER BY d.of_image_id LIMIT ?",
                    w.sql
                ),
                params: w.params,
            }
        } else {
            let w = self.where_clause(driver, Some(("i.id > ?", after)));
            Query {
                sql: format!("SELECT i.id FROM image i {}{} ORDER BY i.id LIMIT ?", hint(driver), w.sql),
                params: w.params,
            }
        };
        query.params.push(Value::Integer(i64::from(limit)));
        query
    }

    /// The budgeted walk: of the first `budget` rows of ordered `driver` with id > `after`,
    /// the ids of those that match every condition, at most `limit`.
    pub(crate) fn walk(&self, driver: Driver, after: i64, budget: i64, limit: u32) -> Query {
        let mut checks = Vec::new();
        let mut params = Vec::new();
        for cond in self.conds.iter().filter(|c| !c.part.drives(driver)) {
            checks.push(format!("({})", cond.sql));
            params.extend(cond.params.iter().cloned());
        }
        let check = if checks.is_empty() { "1".to_owned() } else { checks.join(" AND ") };
        let (inner, inner_params) = self.driver_rows(driver, after, budget, 0);
        params.extend(inner_params);
        params.push(Value::Integer(i64::from(limit)));
        Query { sql: format!("SELECT id FROM (SELECT {check} AS m, {inner}) WHERE m LIMIT ?"), params }
    }

    /// Whether some condition is not answered by `driver`'s index alone.
    /// The conditions `driver`'s index answers by itself, plus `id > after`, with their
    /// parameters.
    fn driver_conditions(&self, driver: Driver, after: i64) -> (Vec<&str>, Vec<Value>) {
        let mut wheres = Vec::new();
        let mut params = Vec::new();
        for cond in self.conds.iter().filter(|c| c.part.drives(driver)) {
            wheres.push(cond.sql.as_ref());
            params.extend(cond.params.iter().cloned());
        }
        wheres.push("i.id > ?");
        params.push(Value::Integer(after));
        (wheres, params)
    }

    pub(crate) fn has_conditions_beyond(&self, driver: Driver) -> bool {
        self.conds.iter().any(|c| !c.part.drives(driver))
    }

    /// The smallest id > `after` among the driver's own matches (NULL when none): an
    /// index-only scan.
    pub(crate) fn first_match(&self, driver: Driver, after: i64) -> Query {
        let (wheres, params) = self.driver_conditions(driver, after);
        Query {
            sql: format!("SELECT min(i.id) FROM image i {} WHERE {}", hint(driver), wheres.join(" AND ")),
            params,
        }
    }

    /// The id of the last row the walk with this `budget` examines, if it has that many.
    pub(crate) fn walk_end(&self, driver: Driver, after: i64, budget: i64) -> Query {
        let (inner, params) = self.driver_rows(driver, after, 1, budget - 1);
        Query { sql: format!("SELECT {inner}"), params }
    }

    /// `<id> AS id FROM ... WHERE <driver's own conditions> AND id > ? ORDER BY id LIMIT ?
    /// OFFSET ?` (without the SELECT keyword) for an ordered driver.
    fn driver_rows(&self, driver: Driver, after: i64, limit: i64, offset: i64) -> (String, Vec<Value>) {
        let mut params = Vec::new();
        let sql = if driver == Driver::Duplicates {
            "d.of_image_id AS id FROM duplicate_file d INDEXED BY duplicate_file_of_image \
             CROSS JOIN image i ON i.id = d.of_image_id WHERE d.of_image_id > ? \
             GROUP BY d.of_image_id ORDER BY d.of_image_id LIMIT ? OFFSET ?"
                .to_owned()
        } else {
            let mut wheres = Vec::new();
            for cond in self.conds.iter().filter(|c| c.part.drives(driver)) {
                wheres.push(cond.sql.as_ref());
                params.extend(cond.params.iter().cloned());
            }
            wheres.push("i.id > ?");
            format!(
                "i.id AS id FROM image i {} WHERE {} ORDER BY i.id LIMIT ? OFFSET ?",
                hint(driver),
                wheres.join(" AND ")
            )
        };
        params.extend([Value::Integer(after), Value::Integer(limit), Value::Integer(offset)]);
        (sql, params)
    }

    /// Number of matches.
    pub(crate) fn count(&self, driver: Driver) -> Query {
        let w = self.where_clause(driver, None);
        let sql = match driver {
            // Only "has duplicates": the index alone answers (foreign keys guarantee the image).
            Driver::Duplicates if w.params.is_empty() && w.sql.is_empty() => {
                "SELECT count(*) FROM (SELECT 1 FROM duplicate_file d \
                 INDEXED BY duplicate_file_of_image GROUP BY d.of_image_id)"
                    .to_owned()
            }
            Driver::Duplicates => format!(
                "SELECT count(*) FROM (SELECT 1 FROM duplicate_file d \
                 INDEXED BY duplicate_file_of_image \
                 CROSS JOIN image i ON i.id = d.of_image_id{} GROUP BY d.of_image_id)",
                w.sql
            ),
            // No index filter: let SQLite count the smallest index.
            Driver::PrimaryKey => format!("SELECT count(*) FROM image i{}", w.sql),
            _ => format!("SELECT count(*) FROM image i {}{}", hint(driver), w.sql),
        };
        Query { sql, params: w.params }
    }
}

/// `EXISTS` an unflipped prediction of the run matching the class ids and score band.
fn prediction_cond(p: &crate::PredictionFilter) -> Cond {
    let mut sql = "EXISTS (SELECT 1 FROM prediction px INDEXED BY prediction_run_image \
                   WHERE px.run_id = ? AND px.image_id = i.id AND px.flipped = 0"
        .to_owned();
    let mut params = vec![Value::Integer(p.run.0)];
    if let Some(ids) = &p.class_ids {
        if ids.is_empty() {
            sql.push_str(" AND 0");
        } else {
            let marks = vec!["?"; ids.len()].join(", ");
            sql.push_str(&format!(" AND px.class_id IN ({marks})"));
            params.extend(ids.iter().map(|&id| Value::Integer(id)));
        }
    }
    // Scores are stored as widened f32: widening the bounds the same way compares as f32 would.
    if let Some(min) = p.score_min {
        sql.push_str(" AND px.score >= ?");
        params.push(Value::Real(f64::from(min)));
    }
    if let Some(max) = p.score_max {
        sql.push_str(" AND px.score < ?");
        params.push(Value::Real(f64::from(max)));
    }
    sql.push(')');
    Cond { part: Part::Prediction, sql: sql.into(), params }
}

fn hint(driver: Driver) -> String {
    match driver.index() {
        Some(index) => format!("INDEXED BY {index}"),
        None => "NOT INDEXED".to_owned(),
    }
}

/// How to find a page (or a count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Run the query with this driver.
    Direct(Driver),
    /// Walk ordered driver `walk` for at most [`WALK_BUDGET`] rows; if that does not fill
    /// the page, finish it with unordered driver `then` after the last row walked.
    Walk { walk: Driver, then: Driver },
}

/// Rows the budgeted walk examines before it gives up on finding a page nearby.
pub(crate) const WALK_BUDGET: i64 = 10_000;

/// Picks the plan from the probe counts made with `limit` (candidates in preference order),
/// following the module docs.
pub(crate) fn choose(candidates: &[(Driver, i64)], purpose: Purpose, limit: i64) -> Plan {
    let best = candidates.iter().filter(|(_, n)| *n < limit).min_by_key(|(_, n)| *n);
    if let Some((driver, _)) = best {
        return Plan::Direct(*driver);
    }
    if purpose == Purpose::Count {
        return Plan::Direct(candidates.first().map_or(Driver::PrimaryKey, |(d, _)| *d));
    }
    let ordered = candidates.iter().map(|(d, _)| *d).find(|d| d.is_ordered());
    let unordered = candidates.iter().map(|(d, _)| *d).find(|d| !d.is_ordered());
    match unordered {
        Some(then) => Plan::Walk { walk: ordered.unwrap_or(Driver::PrimaryKey), then },
        None => Plan::Direct(ordered.unwrap_or(Driver::PrimaryKey)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_normalisation() {
        assert_eq!(normalize_folder(""), None);
        assert_eq!(normalize_folder("/"), None);
        assert_eq!(normalize_folder("a/b/"), Some("a/b"));
        assert_eq!(normalize_folder("/a"), Some("a"));
    }

    #[test]
    fn subtree_bounds_exclude_siblings_with_the_same_prefix() {
        // The range used for folder "a/b".
        let (lo, hi) = ("a/b/", "a/b0");
        let inside = |p: &str| p >= lo && p < hi;
        assert!(inside("a/b/x.jpg"));
        assert!(inside("a/b/c/d/x.jpg"));
        assert!(!inside("a/bc/x.jpg"));
        assert!(!inside("a/b.d/x.jpg"));
        assert!(!inside("a/b0/x.jpg"));
        assert!(!inside("a/x.jpg"));
    }

    #[test]
    fn choose_prefers_fewest_matches_then_a_budgeted_walk() {
        use Driver::*;
        let list = Purpose::List;
        let max = PROBE_LIMIT;
        assert_eq!(choose(&[], list, max), Plan::Direct(PrimaryKey));
        assert_eq!(choose(&[(Camera, max), (Captured, 10)], list, max), Plan::Direct(Captured));
        assert_eq!(choose(&[(Camera, 5), (Captured, 10)], list, max), Plan::Direct(Camera));
        assert_eq!(choose(&[(Camera, max), (Status, max)], list, max), Plan::Direct(Camera));
        assert_eq!(
            choose(&[(Camera, max), (Folder, max), (Captured, max)], list, max),
            Plan::Walk { walk: Camera, then: Folder }
        );
        assert_eq!(choose(&[(Captured, max)], list, max), Plan::Walk { walk: PrimaryKey, then: Captured });
        assert_eq!(choose(&[(Captured, max)], Purpose::Count, max), Plan::Direct(Captured));
    }
}
