use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use lacuna_catalog::{Catalog, ConditionFilter, ImageFilter, JobStatus, PredictionFilter};
use lacuna_core::{ClassId, ContentHash, ImageId, ImageStatus, JobId};

use crate::dto::{join_root, make_cursor, parse_cursor};
use crate::{
    ApiError, CameraCount, Clock, ErrorCode, ImageDetails, ImagePage, ImageQuery, ImageSummary, JobDto,
    ProblemDto, ProjectStatus,
};

/// File name of the catalog inside a project directory.
pub const CATALOG_FILE: &str = "catalog.sqlite";
/// Folder of the thumbnail cache inside a project directory.
pub const THUMBNAIL_DIR: &str = "thumbs";
const LOCK_FILE: &str = "import.lock";

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

/// An open project: a directory holding `catalog.sqlite`, the thumbnail cache and (later)
/// exports. Image folders are only ever read.
#[derive(Debug)]
pub struct Project {
    dir: PathBuf,
    catalog: Mutex<Catalog>,
    clock: Arc<dyn Clock>,
    /// The labeling queue and coverage kept between calls (see `ranking.rs`).
    pub(crate) ranking: Mutex<Option<crate::ranking::KeptRanking>>,
    /// The catalog's `ranking_inputs` counter when every image's conditions were last found
    /// derived (see `derive_conditions_for`).
    conditions_derived_at: Mutex<Option<i64>>,
}

impl Project {
    /// Creates a project in `dir` (made if needed; it must not hold a catalog yet).
    pub fn create(dir: &Path, clock: Arc<dyn Clock>) -> Result<Self, ApiError> {
        std::fs::create_dir_all(dir).map_err(|e| ApiError::io(dir, &e))?;
        let catalog_path = dir.join(CATALOG_FILE);
        if catalog_path.exists() {
            return Err(ApiError::new(
                ErrorCode::ProjectExists,
                format!("{}: a project already exists here", dir.display()),
            ));
        }
        let catalog = Catalog::create(&catalog_path)?;
        std::fs::create_dir_all(dir.join(THUMBNAIL_DIR)).map_err(|e| ApiError::io(dir, &e))?;
        Self::from_parts(dir, catalog, clock)
    }

    /// Opens the project in `dir`, migrating an older catalog (after a backup copy).
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<Self, ApiError> {
        let catalog_path = dir.join(CATALOG_FILE);
        if !catalog_path.is_file() {
            return Err(ApiError::new(
                ErrorCode::ProjectNotFound,
                format!(
                    "{}: no Lacuna project here (no {CATALOG_FILE}); create one with `lacuna init`",
                    dir.display()
                ),
            ));
        }
        let catalog = Catalog::open(&catalog_path, clock.now_unix_s())?;
        Self::from_parts(dir, catalog, clock)
    }

    /// Opens the project in `dir`, creating it when there is none.
    pub fn open_or_create(dir: &Path, clock: Arc<dyn Clock>) -> Result<Self, ApiError> {
        if dir.join(CATALOG_FILE).is_file() { Self::open(dir, clock) } else { Self::create(dir, clock) }
    }

    fn from_parts(dir: &Path, catalog: Catalog, clock: Arc<dyn Clock>) -> Result<Self, ApiError> {
        let dir = dir.canonicalize().map_err(|e| ApiError::io(dir, &e))?;
        Ok(Self {
            dir,
            catalog: Mutex::new(catalog),
            clock,
            ranking: Mutex::new(None),
            conditions_derived_at: Mutex::new(None),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn catalog_path(&self) -> PathBuf {
        self.dir.join(CATALOG_FILE)
    }

    pub(crate) fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    pub(crate) fn catalog(&self) -> Result<MutexGuard<'_, Catalog>, ApiError> {
        self.catalog.lock().map_err(|_| ApiError::internal("catalog lock poisoned by an earlier panic"))
    }

    /// Where the thumbnail of content `hash` lives (written once, shared by duplicates).
    pub fn thumbnail_path(&self, hash: &ContentHash) -> PathBuf {
        thumbnail_path(&self.dir, hash)
    }

    /// Totals, folders, cameras and the last import.
    pub fn status(&self) -> Result<ProjectStatus, ApiError> {
        let catalog = self.catalog()?;
        let counts = catalog.counts()?;
        let roots = catalog.roots()?;
        let cameras = catalog
            .counts_by_camera()?
            .into_iter()
            .map(|(camera, images)| CameraCount { camera, images })
            .collect();
        let last_import = catalog.import_jobs()?.first().map(JobDto::from);
        Ok(ProjectStatus {
            project: self.dir.to_string_lossy().into_owned(),
            schema_version: catalog.schema_version()?,
            folders: roots.into_iter().map(|r| r.path).collect(),
            images: counts.images,
            images_ok: counts.images_ok,
            images_missing: counts.images_missing,
            duplicate_files: counts.duplicate_files,
            problems_last_import: counts.problems_last_import,
            cameras,
            last_import,
        })
    }

    /// Import jobs, newest first.
    pub fn jobs(&self) -> Result<Vec<JobDto>, ApiError> {
        Ok(self.catalog()?.import_jobs()?.iter().map(JobDto::from).collect())
    }

    /// One page of images matching `query`, by ascending id.
    pub fn list_images(&self, query: &ImageQuery) -> Result<ImagePage, ApiError> {
        let limit = query.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::invalid(format!("limit: {limit} is outside 1..={MAX_PAGE}")));
        }
        let after = query.cursor.as_deref().map(parse_cursor).transpose()?.map(ImageId);
        self.derive_conditions_for(query)?;
        let catalog = self.catalog()?;
        let filter = self.filter_from_query(&catalog, query)?;
        let rows = catalog.list_images(&filter, after, limit)?;
        let next_cursor =
            if rows.len() == limit as usize { rows.last().map(|r| make_cursor(r.id.0)) } else { None };
        let ids: Vec<ImageId> = rows.iter().map(|r| r.id).collect();
        let states = catalog.label_states_of(&ids)?;
        let items = rows
            .iter()
            .map(|r| {
                let mut s = ImageSummary::from(r);
                s.label_state = states.get(&r.id).copied().unwrap_or(lacuna_core::ImageLabelState::Unlabeled);
                s
            })
            .collect();
        Ok(ImagePage { items, next_cursor })
    }

    /// The cursor of the page that starts at position `index` of `query`'s ordering (what a
    /// scrollbar jump needs: cursors are otherwise only learned page by page). `None` for the
    /// first page, or when `index` is past the end. Walks ids only, in large steps.
    pub fn seek_images(&self, query: &ImageQuery, index: u64) -> Result<Option<String>, ApiError> {
        const STEP: u64 = 50_000;
        if index == 0 {
            return Ok(None);
        }
        self.derive_conditions_for(query)?;
        let catalog = self.catalog()?;
        let filter = self.filter_from_query(&catalog, query)?;
        let mut after = query.cursor.as_deref().map(parse_cursor).transpose()?.map(ImageId);
        let mut left = index;
        loop {
            let take = left.min(STEP);
            let ids = catalog.list_image_ids(&filter, after, take as u32)?;
            if (ids.len() as u64) < take {
                return Ok(None);
            }
            after = ids.last().copied();
            left -= take;
            if left == 0 {
                return Ok(after.map(|id| make_cursor(id.0)));
            }
        }
    }

    /// Number of images matching `query`'s filters (paging fields ignored).
    pub fn count_images(&self, query: &ImageQuery) -> Result<u64, ApiError> {
        self.derive_conditions_for(query)?;
        let catalog = self.catalog()?;
        let filter = self.filter_from_query(&catalog, query)?;
        Ok(catalog.count_images(&filter)?)
    }

    /// Derives the conditions of images that have none yet (or were re-probed since) when
    /// `query` filters on a condition, as coverage does first: a filter must not miss an image
    /// only because nothing derived its conditions yet. Like the kept ranking, it trusts the
    /// `ranking_inputs` counter (moved by every new, re-probed or re-appearing image): while it
    /// has not moved since everything was found derived, there is nothing to look for (which
    /// costs a scan of the image table). Takes the catalog lock itself: call it before holding it.
    fn derive_conditions_for(&self, query: &ImageQuery) -> Result<(), ApiError> {
        // Half a condition is an error `filter_from_query` reports: nothing to derive for.
        if non_empty(&query.condition_key).is_none() || non_empty(&query.condition_value).is_none() {
            return Ok(());
        }
        let lock_error = || ApiError::internal("conditions lock poisoned by an earlier panic");
        let mut derived_at = self.conditions_derived_at.lock().map_err(|_| lock_error())?;
        loop {
            // Read before looking: a change after this read moves the counter past it.
            let counter = self.catalog()?.ranking_inputs_counter()?;
            if *derived_at == Some(counter) {
                return Ok(());
            }
            if self.refresh_conditions()? == 0 {
                *derived_at = Some(counter);
                return Ok(());
            }
        }
    }

    pub(crate) fn filter_from_query(
        &self,
        catalog: &Catalog,
        query: &ImageQuery,
    ) -> Result<ImageFilter, ApiError> {
        let status = match query.status.as_deref() {
            None => None,
            Some(s) => Some(
                ImageStatus::from_name(s)
                    .ok_or_else(|| ApiError::invalid(format!("status: {s:?} is not one of ok, missing")))?,
            ),
        };
        for (field, value) in
            [("captured_from", &query.captured_from), ("captured_before", &query.captured_before)]
        {
            if let Some(v) = value {
                check_time_prefix(field, v)?;
            }
        }
        let (root, folder) = match query.folder.as_deref() {
            None => (None, None),
            Some(folder) => {
                let folder_path = Path::new(folder);
                if folder_path.is_absolute() {
                    let canonical = folder_path.canonicalize().unwrap_or_else(|_| folder_path.to_path_buf());
                    let roots = catalog.roots()?;
                    let hit = roots.iter().find_map(|r| {
                        canonical.strip_prefix(&r.path).ok().map(|rel| (r.id, rel_to_slash(rel)))
                    });
                    match hit {
                        Some((root, rel)) => (Some(root), Some(rel)),
                        None => {
                            return Err(ApiError::invalid(format!(
                                "folder: {folder} is not inside any imported folder"
                            )));
                        }
                    }
                } else {
                    (None, Some(folder.trim_matches('/').to_owned()))
                }
            }
        };
        Ok(ImageFilter {
            status,
            root,
            folder,
            camera: query.camera.clone(),
            // Stored as `YYYY-MM-DDTHH:MM:SS`; a space separator is accepted on input.
            captured_from: query.captured_from.as_ref().map(|v| v.replace(' ', "T")),
            captured_before: query.captured_before.as_ref().map(|v| v.replace(' ', "T")),
            has_duplicates: query.has_duplicates,
            label_state: query
                .label_state
                .as_deref()
                .map(|s| {
                    lacuna_core::ImageLabelState::parse(s).ok_or_else(|| {
                        ApiError::invalid(format!(
                            "label state `{s}`: expected unlabeled, in_progress, labeled, labeled_empty, reviewed or skipped"
                        ))
                    })
                })
                .transpose()?,
            condition: condition_filter(query)?,
            class: class_filter(catalog, query)?,
            prediction: prediction_filter(catalog, query)?,
        })
    }

    /// Everything about one image.
    pub fn image_details(&self, id: i64) -> Result<ImageDetails, ApiError> {
        let catalog = self.catalog()?;
        let row = catalog
            .image(ImageId(id))?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("image {id}: no such image")))?;
        let duplicates = catalog
            .duplicates_of(ImageId(id))?
            .iter()
            .map(|d| join_root(&d.root_path, &d.rel_path))
            .collect();
        Ok(ImageDetails::new(&row, duplicates))
    }

    /// The thumbnail (JPEG, about 256 px on the long edge). Rebuilt from the original when the
    /// cache file was deleted.
    pub fn thumbnail_jpeg(&self, id: i64) -> Result<Vec<u8>, ApiError> {
        let row = self
            .catalog()?
            .image(ImageId(id))?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("image {id}: no such image")))?;
        let path = self.thumbnail_path(&row.probed.content_hash);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let original = join_root(&row.root_path, &row.rel_path);
                let probe = lacuna_ingest::probe_file(
                    Path::new(&original),
                    &original,
                    &lacuna_ingest::ProbeOptions::default(),
                )
                .map_err(|p| {
                    ApiError::new(ErrorCode::NotFound, format!("image {id}: thumbnail missing and {p}"))
                })?;
                write_thumbnail(&path, &probe.thumbnail_jpeg)?;
                Ok(probe.thumbnail_jpeg)
            }
            Err(e) => Err(ApiError::io(&path, &e)),
        }
    }

    /// Problems of `job`, or of the last import when `None`.
    pub fn problems(&self, job: Option<i64>) -> Result<Vec<ProblemDto>, ApiError> {
        Ok(self.catalog()?.problems(job.map(JobId))?.iter().map(ProblemDto::from).collect())
    }

    /// Jobs left `running` by a process that died: mark them failed.
    pub(crate) fn close_stale_jobs(&self, catalog: &mut Catalog) -> Result<(), ApiError> {
        let now = self.clock.now_unix_s();
        for job in catalog.import_jobs()? {
            if job.status == JobStatus::Running {
                catalog.finish_import_job(
                    job.id,
                    JobStatus::Failed,
                    &job.counts,
                    Some("interrupted: the process stopped before the import finished; what it committed is kept"),
                    now,
                )?;
            }
        }
        Ok(())
    }
}

/// `thumbs/ab/abcdef….jpg` under the project directory.
pub(crate) fn thumbnail_path(project_dir: &Path, hash: &ContentHash) -> PathBuf {
    let hex = hash.to_hex();
    project_dir.join(THUMBNAIL_DIR).join(&hex[..2]).join(format!("{hex}.jpg"))
}

/// Writes a thumbnail atomically (temp file + rename), so a crash never leaves half a file.
pub(crate) fn write_thumbnail(path: &Path, jpeg: &[u8]) -> Result<(), ApiError> {
    let dir = path.parent().ok_or_else(|| ApiError::internal("thumbnail path has no folder"))?;
    std::fs::create_dir_all(dir).map_err(|e| ApiError::io(dir, &e))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, jpeg).map_err(|e| ApiError::io(&tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| ApiError::io(path, &e))
}

/// The trimmed text of an optional field; `None` when absent or blank.
fn non_empty(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `condition_key` + `condition_value`: both or neither.
fn condition_filter(query: &ImageQuery) -> Result<Option<ConditionFilter>, ApiError> {
    match (non_empty(&query.condition_key), non_empty(&query.condition_value)) {
        (None, None) => Ok(None),
        (Some(key), Some(value)) => {
            Ok(Some(ConditionFilter { key: key.to_owned(), value: value.to_owned() }))
        }
        (Some(key), None) => Err(ApiError::invalid(format!(
            "condition_value: missing; a condition filter needs a value for key {key:?}"
        ))),
        (None, Some(value)) => Err(ApiError::invalid(format!(
            "condition_key: missing; a condition filter needs a key for value {value:?}"
        ))),
    }
}

/// `class`: a live label class, by name in any case.
fn class_filter(catalog: &Catalog, query: &ImageQuery) -> Result<Option<ClassId>, ApiError> {
    let Some(name) = non_empty(&query.class) else { return Ok(None) };
    let classes = catalog.label_classes(false)?;
    match classes.iter().find(|c| c.name.to_lowercase() == name.to_lowercase()) {
        Some(c) => Ok(Some(c.id)),
        None => Err(ApiError::invalid(format!(
            "class: {name:?} is not a class of this project (classes: {})",
            name_list(classes.iter().map(|c| c.name.as_str()))
        ))),
    }
}

/// `predicted_class`, `score_min`, `score_max`: predictions of the newest run, the one
/// `image_predictions` and `predictions` show by default.
fn prediction_filter(catalog: &Catalog, query: &ImageQuery) -> Result<Option<PredictionFilter>, ApiError> {
    for (field, value) in [("score_min", query.score_min), ("score_max", query.score_max)] {
        if let Some(v) = value
            && !(0.0..=1.0).contains(&v)
        {
            return Err(ApiError::invalid(format!("{field}: {v} is outside 0..=1")));
        }
    }
    if let (Some(min), Some(max)) = (query.score_min, query.score_max)
        && min > max
    {
        return Err(ApiError::invalid(format!("score_min: {min} is above score_max {max}")));
    }
    let class = non_empty(&query.predicted_class);
    let field = match (class, query.score_min, query.score_max) {
        (None, None, None) => return Ok(None),
        (Some(_), _, _) => "predicted_class",
        (None, Some(_), _) => "score_min",
        (None, None, Some(_)) => "score_max",
    };
    let Some(run) = catalog.model_runs()?.into_iter().next() else {
        return Err(ApiError::invalid(format!(
            "{field}: there are no predictions to filter on yet (no pre-labeling run)"
        )));
    };
    let class_ids = match class {
        None => None,
        Some(name) => {
            let names = catalog.model_classes(run.model)?;
            let ids: Vec<i64> = names
                .iter()
                .enumerate()
                .filter(|(_, n)| n.to_lowercase() == name.to_lowercase())
                .map(|(id, _)| id as i64)
                .collect();
            if ids.is_empty() {
                return Err(ApiError::invalid(format!(
                    "predicted_class: {name:?} is not a class of {} (the model of the newest pre-labeling run, {}; classes: {})",
                    run.model_name,
                    run.id,
                    name_list(names.iter().map(String::as_str))
                )));
            }
            Some(ids)
        }
    };
    Ok(Some(PredictionFilter {
        run: run.id,
        class_ids,
        score_min: query.score_min,
        score_max: query.score_max,
    }))
}

/// Names for an error message: the first few, then how many more.
fn name_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    const SHOWN: usize = 12;
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        return "none yet".to_owned();
    }
    let mut text = names.iter().take(SHOWN).copied().collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

fn rel_to_slash(rel: &Path) -> String {
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// Accepts `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDTHH[:MM[:SS]]` (space also allowed).
fn check_time_prefix(field: &str, value: &str) -> Result<(), ApiError> {
    const TEMPLATE: &[u8] = b"0000-00-00T00:00:00";
    let bytes = value.as_bytes();
    let valid_len = matches!(bytes.len(), 4 | 7 | 10 | 13 | 16 | 19);
    let shape_ok = valid_len
        && bytes.iter().zip(TEMPLATE).all(|(&c, &t)| match t {
            b'0' => c.is_ascii_digit(),
            b'T' => c == b'T' || c == b' ',
            other => c == other,
        });
    if shape_ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{field}: {value:?} is not a date or time like 2024-01-31 or 2024-01-31T22:00:00"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_prefixes() {
        for ok in
            ["2024", "2024-01", "2024-01-31", "2024-01-31T22", "2024-01-31 22:10", "2024-01-31T22:10:05"]
        {
            assert!(check_time_prefix("f", ok).is_ok(), "{ok}");
        }
        for bad in ["24", "2024-1-31", "2024/01/31", "yesterday", "2024-01-31T22:10:05Z"] {
            let err = check_time_prefix("captured_from", bad).expect_err(bad);
            assert_eq!(err.code, ErrorCode::InvalidInput);
            assert!(err.message.starts_with("captured_from:"), "{}", err.message);
        }
    }
}
