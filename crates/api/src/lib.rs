//! Lacuna's use cases, one function each, shared by the `lacuna` CLI, the desktop shell and
//! the HTTP server. Transport types (DTOs) live here and are converted to domain types at this
//! boundary.
//!
//! Key types:
//! - [`Project`]: an open project directory (`catalog.sqlite`, `thumbs/`); created with
//!   [`Project::create`], opened with [`Project::open`];
//! - [`ImportRequest`] → [`Project::start_import`] → [`ImportJob`] (progress events as
//!   [`ImportProgress`], cancel, [`ImportSummary`] at the end);
//! - [`ImageQuery`] → [`Project::list_images`] → [`ImagePage`] of [`ImageSummary`] (keyset
//!   pagination with an opaque cursor); [`Project::image_details`] → [`ImageDetails`];
//!   [`Project::thumbnail_jpeg`]; [`Project::problems`] → [`ProblemDto`];
//!   [`Project::status`] → [`ProjectStatus`];
//! - [`PrelabelRequest`] → [`Project::start_prelabel`] → [`PrelabelJob`] (progress as
//!   [`PrelabelProgress`], cancel, resume by rerunning, [`PrelabelSummary`]);
//! - [`ApiError`] with a stable [`ErrorCode`], so callers never match on message text;
//! - [`Clock`]: time is passed in, never read deep in logic.

mod clock;
mod dto;
mod error;
mod import;
mod job;
mod labels;
mod prelabel;
mod project;
mod ranking;
mod select;
mod versions;

pub use clock::{Clock, FixedClock, SystemClock};
pub use dto::{
    CameraCount, ExifDto, GpsDto, ImageDetails, ImagePage, ImageQuery, ImageStatsDto, ImageSummary,
    ImportCountsDto, ImportOptions, ImportPhase, ImportProgress, ImportRequest, ImportStatus, ImportSummary,
    JobDto, ProblemDto, ProjectStatus,
};
pub use error::{ApiError, ErrorCode};
pub use job::{ImportJob, Job, PrelabelJob};
pub use labels::{
    AnnotationEdit, AnnotationInput, ClassDto, ClassEdit, ImagePrediction, LabelImportReport,
    LabelImportRequest, LabelStateCount, PredictionDecision,
};
pub use lacuna_catalog::{ActionSummary, EventRow};
/// Domain types that appear in this crate's requests and answers.
pub use lacuna_core::{
    Annotation, AnnotationId, AnnotationSource, Attributes, BoxXyxy, ClassId, Geometry, ImageId,
    ImageLabelState, LabelClass, ReviewState, Rle, RunId, Split,
};
pub use lacuna_export::{ExportSummary, Format, ImageMode, LabelProblem, VersionDiff};
pub use lacuna_select::conditions::{Condition, ConditionSource};
pub use lacuna_select::coverage::CoverageRow;
pub use lacuna_select::queue::Weights;
pub use prelabel::{
    DEFAULT_MODEL_FILE, DecodeBusy, MODEL_ENV, PredictionDto, PrelabelProgress, PrelabelRequest,
    PrelabelStages, PrelabelStatus, PrelabelSummary, RunDto,
};
pub use project::{CATALOG_FILE, Project, THUMBNAIL_DIR};
pub use select::{
    ConditionImportReport, CoverageReport, QueueEntry, QueueRequest, QueueResult, ReviewItem, ReviewRequest,
};
pub use versions::{ExportVersionRequest, FreezeRequest, FreezeResult, VersionDiffDto, VersionDto};
