use lacuna_core::{ClassId, ImageId, ImageStatus, JobId, ProbedImage, ProblemKind, RootId, RunId};
use serde::{Deserialize, Serialize};

/// An imported folder (or the folder of an imported single file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootRow {
    pub id: RootId,
    /// Absolute, canonical path.
    pub path: String,
    pub added_at_unix_s: i64,
}

/// What the catalog knows of a file under a root, for incremental re-import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFile {
    pub id: ImageId,
    /// Path relative to its root, `/`-separated.
    pub rel_path: String,
    pub file_size_bytes: u64,
    pub mtime_ns: i64,
    pub status: ImageStatus,
}

/// A file recorded as an exact duplicate of a catalogued image, for incremental re-import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDuplicate {
    pub rel_path: String,
    pub file_size_bytes: u64,
    pub mtime_ns: i64,
}

/// A catalogued image with the same content hash as a newly probed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashMatch {
    pub id: ImageId,
    pub root_path: String,
    pub rel_path: String,
    pub status: ImageStatus,
}

/// One change an import wants. Applied in order within a batch.
#[derive(Debug, Clone)]
pub enum ImportOp {
    /// A new image.
    Insert { root: RootId, rel_path: String, probed: ProbedImage },
    /// A known file whose size or mtime changed, re-probed. Sets status `ok`.
    Update { id: ImageId, probed: ProbedImage },
    /// A known image found at a new path (recognised by hash). Sets status `ok`; the image
    /// keeps its id and everything attached to it.
    Move { id: ImageId, root: RootId, rel_path: String, probed: ProbedImage },
    /// A file with the same content as image `of`: recorded, not imported twice. Upserts on
    /// (root, rel_path).
    Duplicate { root: RootId, rel_path: String, of: ImageId, file_size_bytes: u64, mtime_ns: i64 },
    /// A known image whose file is present again and unchanged: set status back to `ok`.
    Present { id: ImageId },
    /// A file the import could not take.
    Problem { root: Option<RootId>, path: String, kind: ProblemKind, message: String },
}

/// Filters for [`crate::Catalog::list_images`]; every field set narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageFilter {
    pub status: Option<ImageStatus>,
    pub root: Option<RootId>,
    /// Folder relative to its root, `/`-separated, without trailing slash; matches the folder
    /// and everything below it. Empty string matches everything.
    pub folder: Option<String>,
    /// Exact camera id (see [`lacuna_core::camera_id`]).
    pub camera: Option<String>,
    /// Capture time, local `YYYY-MM-DDTHH:MM:SS` (a prefix such as `2024-01-03` works), inclusive.
    pub captured_from: Option<String>,
    /// Capture time upper bound, exclusive.
    pub captured_before: Option<String>,
    /// `Some(true)`: only images that have exact duplicates; `Some(false)`: only those without.
    pub has_duplicates: Option<bool>,
    /// Only images in this label state (`Unlabeled` includes images never touched).
    pub label_state: Option<lacuna_core::ImageLabelState>,
    /// Only images whose effective value of a condition key is the given value.
    pub condition: Option<ConditionFilter>,
    /// Only images with at least one annotation of this class that review has not rejected.
    pub class: Option<ClassId>,
    /// Only images with a matching prediction of one run.
    pub prediction: Option<PredictionFilter>,
}

/// `key = value` on an image's effective conditions: of the claims about `key` (one per
/// source), the one of the most trusted source present (human, sidecar, path, EXIF, estimated;
/// the order `lacuna_select::conditions::resolve` uses), whatever the others say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionFilter {
    pub key: String,
    pub value: String,
}

/// Images with at least one prediction of `run` (the unflipped pass: flipped test-time boxes
/// do not count) that matches every field set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionFilter {
    pub run: RunId,
    /// Model class ids (`prediction.class_id`); `None`: any class. Empty matches nothing.
    pub class_ids: Option<Vec<i64>>,
    /// Score lower bound, inclusive.
    pub score_min: Option<f32>,
    /// Score upper bound, exclusive.
    pub score_max: Option<f32>,
}

/// A catalogued image with everything import learned about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRow {
    pub id: ImageId,
    pub root: RootId,
    pub root_path: String,
    pub rel_path: String,
    pub status: ImageStatus,
    pub probed: ProbedImage,
    /// `camera_id` derived from EXIF at import time.
    pub camera: Option<String>,
    pub duplicate_count: u32,
    pub imported_at_unix_s: i64,
    pub updated_at_unix_s: i64,
}

/// A file that is an exact duplicate of a catalogued image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateRow {
    pub of: ImageId,
    pub root: RootId,
    pub root_path: String,
    pub rel_path: String,
}

/// A file an import could not take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemRow {
    pub id: i64,
    pub job: JobId,
    pub path: String,
    pub kind: ProblemKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Finished,
    FinishedWithProblems,
    Cancelled,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Finished => "finished",
            Self::FinishedWithProblems => "finished_with_problems",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "running" => Self::Running,
            "finished" => Self::Finished,
            "finished_with_problems" => Self::FinishedWithProblems,
            "cancelled" => Self::Cancelled,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// What one import run did. Stored with its job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    /// Files the walk found that could be images (by extension or content).
    pub files_found: u64,
    pub added: u64,
    pub updated: u64,
    pub moved: u64,
    pub unchanged: u64,
    pub duplicates: u64,
    pub marked_missing: u64,
    pub problems: u64,
    /// Files skipped because their names say they are not images (`.txt`, `.json`, ...).
    pub ignored: u64,
}

/// One import run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRow {
    pub id: JobId,
    pub kind: String,
    pub status: JobStatus,
    /// Free-form JSON describing the request (folders, options).
    pub request_json: String,
    pub counts: ImportCounts,
    pub error: Option<String>,
    pub started_at_unix_s: i64,
    pub finished_at_unix_s: Option<i64>,
}

/// Totals for `lacuna status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogCounts {
    pub roots: u64,
    pub images: u64,
    pub images_ok: u64,
    pub images_missing: u64,
    pub duplicate_files: u64,
    /// Problems recorded by the most recent import job.
    pub problems_last_import: u64,
}
