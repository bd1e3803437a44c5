//! Transport types: what crosses the boundary to the CLI, the desktop shell and HTTP. All
//! serialisable with serde; field names are the JSON names scripts see.

use std::path::PathBuf;

use lacuna_catalog::{ImageRow, ImportCounts, JobRow, ProblemRow};
use serde::{Deserialize, Serialize};

use crate::ApiError;

/// What to import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportRequest {
    /// Folders (walked recursively) and single files.
    pub paths: Vec<PathBuf>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub options: ImportOptions,
}

/// Knobs of an import. Defaults suit a laptop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct ImportOptions {
    /// Images whose header claims more pixels than this are refused (never allocated).
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub max_pixels: u64,
    /// Worker threads for probing; 0 means one per core.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub threads: usize,
    /// Rows per catalog transaction.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub batch_size: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self { max_pixels: 250_000_000, threads: 0, batch_size: 1000 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ImportPhase {
    /// Walking folders and probing files (both run at once).
    Importing,
    /// Marking vanished files missing and recording the outcome.
    Finishing,
}

/// Counts of what an import did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportCountsDto {
    pub files_found: u64,
    pub added: u64,
    pub updated: u64,
    pub moved: u64,
    pub unchanged: u64,
    pub duplicates: u64,
    pub marked_missing: u64,
    pub problems: u64,
    pub ignored: u64,
}

impl ImportCountsDto {
    /// Files dealt with (imported, skipped as unchanged, recorded as duplicate or problem).
    pub fn files_done(&self) -> u64 {
        self.added + self.updated + self.moved + self.unchanged + self.duplicates + self.problems
    }
}

impl From<ImportCounts> for ImportCountsDto {
    fn from(c: ImportCounts) -> Self {
        Self {
            files_found: c.files_found,
            added: c.added,
            updated: c.updated,
            moved: c.moved,
            unchanged: c.unchanged,
            duplicates: c.duplicates,
            marked_missing: c.marked_missing,
            problems: c.problems,
            ignored: c.ignored,
        }
    }
}

impl From<ImportCountsDto> for ImportCounts {
    fn from(c: ImportCountsDto) -> Self {
        Self {
            files_found: c.files_found,
            added: c.added,
            updated: c.updated,
            moved: c.moved,
            unchanged: c.unchanged,
            duplicates: c.duplicates,
            marked_missing: c.marked_missing,
            problems: c.problems,
            ignored: c.ignored,
        }
    }
}

/// A progress event of a running import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportProgress {
    pub job: i64,
    pub phase: ImportPhase,
    /// True once every folder has been walked, so `counts.files_found` is the total.
    pub scan_complete: bool,
    pub counts: ImportCountsDto,
    pub elapsed_ms: u64,
    /// Files dealt with per second so far.
    pub rate_files_per_s: f64,
    /// Estimated time left; only once the walk is complete.
    pub eta_s: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Every file found was imported (or was unchanged, or a duplicate).
    Finished,
    /// The import ran to the end, but some files could not be taken: see the problems.
    FinishedWithProblems,
    /// Stopped on request; what was committed stays, and a re-run resumes.
    Cancelled,
}

/// How an import ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportSummary {
    pub job: i64,
    pub status: ImportStatus,
    pub counts: ImportCountsDto,
    pub elapsed_ms: u64,
    pub rate_files_per_s: f64,
}

/// Filters and paging for [`crate::Project::list_images`]. Every field set narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(default)]
pub struct ImageQuery {
    /// `ok` or `missing`.
    pub status: Option<String>,
    /// A folder: absolute (inside an imported folder) or relative to an imported folder.
    /// Matches the folder and everything below it.
    pub folder: Option<String>,
    /// Exact camera id as `lacuna status` lists it.
    pub camera: Option<String>,
    /// Capture time lower bound, inclusive: `YYYY-MM-DD[THH:MM:SS]`.
    pub captured_from: Option<String>,
    /// Capture time upper bound, exclusive.
    pub captured_before: Option<String>,
    /// Only images that have (true) or have not (false) exact duplicates.
    pub has_duplicates: Option<bool>,
    /// Only images in this label state: `unlabeled` (never touched included), `in_progress`,
    /// `labeled`, `labeled_empty`, `reviewed`, `skipped`.
    pub label_state: Option<String>,
    /// A condition key (`time_of_day`, `weather`, `camera`, ...); with `condition_value`, only
    /// images whose effective value of the key is that value: the claim of the most trusted
    /// source (human, sidecar, path, EXIF, estimated), as the coverage table counts it. One
    /// without the other is an error.
    pub condition_key: Option<String>,
    /// The value `condition_key` must have (`night`, `fog_haze`, ...).
    pub condition_value: Option<String>,
    /// A label class name (any case): only images with an annotation of that class that review
    /// has not rejected.
    pub class: Option<String>,
    /// A class name of the newest pre-labeling run's model (any case): only images that run
    /// predicted it on (unflipped boxes; with `score_min` / `score_max`, within the band).
    pub predicted_class: Option<String>,
    /// Only images with a prediction of the newest run (of `predicted_class` when given) whose
    /// score is at least this, 0..=1.
    pub score_min: Option<f32>,
    /// ... and below this (exclusive), 0..=1, not below `score_min`.
    pub score_max: Option<f32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1..=1000 (default 100).
    pub limit: Option<u32>,
}

/// One page of images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImagePage {
    pub items: Vec<ImageSummary>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// An image as the grid shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImageSummary {
    pub id: i64,
    /// Path relative to its imported folder, `/`-separated.
    pub path: String,
    pub root: String,
    pub status: String,
    pub format: String,
    pub width_px: u32,
    pub height_px: u32,
    pub camera: Option<String>,
    pub captured_at: Option<String>,
    pub duplicate_count: u32,
    /// Where its labeling stands (`unlabeled` when nobody touched it).
    pub label_state: lacuna_core::ImageLabelState,
}

impl From<&ImageRow> for ImageSummary {
    fn from(row: &ImageRow) -> Self {
        Self {
            id: row.id.0,
            path: row.rel_path.clone(),
            root: row.root_path.clone(),
            status: row.status.as_str().to_owned(),
            format: row.probed.format.as_str().to_owned(),
            width_px: row.probed.width_px,
            height_px: row.probed.height_px,
            camera: row.camera.clone(),
            captured_at: row.probed.exif.capture_time.as_ref().map(|t| t.to_rfc3339()),
            duplicate_count: row.duplicate_count,
            label_state: lacuna_core::ImageLabelState::Unlabeled,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GpsDto {
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub altitude_m: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExifDto {
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    pub body_serial: Option<String>,
    pub lens_model: Option<String>,
    /// RFC 3339 when the offset is known, local time otherwise.
    pub captured_at: Option<String>,
    pub gps: Option<GpsDto>,
    pub orientation: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImageStatsDto {
    pub luma_mean: f32,
    pub luma_p05: f32,
    pub luma_p50: f32,
    pub luma_p95: f32,
    pub contrast: f32,
    pub saturation_mean: f32,
    pub sharpness: f32,
}

/// Everything about one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImageDetails {
    #[serde(flatten)]
    pub summary: ImageSummary,
    /// Absolute path of the file.
    pub abs_path: String,
    pub content_hash: String,
    pub file_size_bytes: u64,
    pub mtime_ns: i64,
    pub exif: ExifDto,
    pub stats: ImageStatsDto,
    /// Absolute paths of files with exactly the same content (not imported twice).
    pub duplicates: Vec<String>,
}

impl ImageDetails {
    pub(crate) fn new(row: &ImageRow, duplicates: Vec<String>) -> Self {
        let exif = &row.probed.exif;
        let stats = &row.probed.stats;
        Self {
            summary: ImageSummary::from(row),
            abs_path: join_root(&row.root_path, &row.rel_path),
            content_hash: row.probed.content_hash.to_hex(),
            file_size_bytes: row.probed.file_size_bytes,
            mtime_ns: row.probed.mtime_ns,
            exif: ExifDto {
                camera_make: exif.camera_make.clone(),
                camera_model: exif.camera_model.clone(),
                body_serial: exif.body_serial.clone(),
                lens_model: exif.lens_model.clone(),
                captured_at: exif.capture_time.as_ref().map(|t| t.to_rfc3339()),
                gps: exif.gps.map(|g| GpsDto {
                    latitude_deg: g.latitude_deg,
                    longitude_deg: g.longitude_deg,
                    altitude_m: g.altitude_m,
                }),
                orientation: exif.orientation,
            },
            stats: ImageStatsDto {
                luma_mean: stats.luma_mean,
                luma_p05: stats.luma_p05,
                luma_p50: stats.luma_p50,
                luma_p95: stats.luma_p95,
                contrast: stats.contrast,
                saturation_mean: stats.saturation_mean,
                sharpness: stats.sharpness,
            },
            duplicates,
        }
    }
}

/// Joins a root's absolute path and a `/`-separated relative path.
pub(crate) fn join_root(root: &str, rel_path: &str) -> String {
    PathBuf::from(root).join(rel_path).to_string_lossy().into_owned()
}

/// A file an import could not take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProblemDto {
    pub job: i64,
    pub path: String,
    /// Stable code, e.g. `corrupt`, `too_large`, `not_an_image`.
    pub kind: String,
    pub message: String,
}

impl From<&ProblemRow> for ProblemDto {
    fn from(p: &ProblemRow) -> Self {
        Self {
            job: p.job.0,
            path: p.path.clone(),
            kind: p.kind.as_str().to_owned(),
            message: p.message.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CameraCount {
    /// `None`: no camera in EXIF.
    pub camera: Option<String>,
    pub images: u64,
}

/// One past or running job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JobDto {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub counts: ImportCountsDto,
    pub error: Option<String>,
    pub started_at_unix_s: i64,
    pub finished_at_unix_s: Option<i64>,
}

impl From<&JobRow> for JobDto {
    fn from(j: &JobRow) -> Self {
        Self {
            id: j.id.0,
            kind: j.kind.clone(),
            status: j.status.as_str().to_owned(),
            counts: j.counts.into(),
            error: j.error.clone(),
            started_at_unix_s: j.started_at_unix_s,
            finished_at_unix_s: j.finished_at_unix_s,
        }
    }
}

/// What `lacuna status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProjectStatus {
    pub project: String,
    pub schema_version: u32,
    pub folders: Vec<String>,
    pub images: u64,
    pub images_ok: u64,
    pub images_missing: u64,
    pub duplicate_files: u64,
    pub problems_last_import: u64,
    pub cameras: Vec<CameraCount>,
    pub last_import: Option<JobDto>,
}

/// Parses the opaque cursor (`i<id>`).
pub(crate) fn parse_cursor(cursor: &str) -> Result<i64, ApiError> {
    cursor
        .strip_prefix('i')
        .and_then(|rest| rest.parse::<i64>().ok())
        .ok_or_else(|| ApiError::invalid(format!("cursor: {cursor:?} is not a cursor this server issued")))
}

pub(crate) fn make_cursor(last_id: i64) -> String {
    format!("i{last_id}")
}
