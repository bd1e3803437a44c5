//! What an [`crate::Event`] carries: one payload type per event name. With the feature `ts`
//! they are written as TypeScript with the command types (the UI's `Events` map).

use std::path::PathBuf;

use lacuna_api::{ApiError, ImageId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An event's payload type and its name.
pub trait AppEvent: Serialize {
    const NAME: &'static str;
}

/// `project_opened`: a project was opened or created (views reload everything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProjectOpened {
    pub path: PathBuf,
}

impl AppEvent for ProjectOpened {
    const NAME: &'static str = "project_opened";
}

/// `labels_changed`: annotations or label states of these images changed (empty after an undo
/// or redo: any image may have).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LabelsChanged {
    /// Sorted, without duplicates.
    pub images: Vec<ImageId>,
}

impl AppEvent for LabelsChanged {
    const NAME: &'static str = "labels_changed";
}

/// `job_progress`: how far a job started through the command table is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JobProgress {
    pub job: u64,
    /// `import` | `prelabel` | `export`
    pub kind: String,
    /// By kind: `ImportProgress`, `PrelabelProgress` or [`ExportProgress`].
    #[cfg_attr(feature = "ts", ts(type = "ImportProgress | PrelabelProgress | ExportProgress"))]
    pub progress: Value,
}

impl AppEvent for JobProgress {
    const NAME: &'static str = "job_progress";
}

/// `job_finished`: how a job ended: `summary` when `ok`, `error` otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JobFinished {
    pub job: u64,
    /// `import` | `prelabel` | `export`
    pub kind: String,
    pub ok: bool,
    /// Whether the job was asked to stop (what it committed stays).
    pub cancelled: bool,
    /// By kind: `ImportSummary`, `PrelabelSummary` or `ExportSummary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "ImportSummary | PrelabelSummary | ExportSummary"))]
    pub summary: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub error: Option<ApiError>,
}

impl AppEvent for JobFinished {
    const NAME: &'static str = "job_finished";
}

/// The `progress` of an export job: images of the version written so far, and all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportProgress {
    pub done: u64,
    pub total: u64,
}
