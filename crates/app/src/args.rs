//! The arguments of each command of the table (see [`crate::COMMANDS`]): a JSON object decoded
//! into one of these (`null` counts as `{}`). Unknown fields are refused, so a misspelled field is
//! an `invalid_input` error that names it rather than a silently ignored option. Fields that may
//! be left out say so (`#[serde(default)]` or an `Option`).
//!
//! With the feature `ts` they derive `ts_rs::TS`: `scripts/gen-ts-types.sh` writes them, with
//! every answer type, to `ui/src/lib/api/generated/`.

use std::path::PathBuf;

use lacuna_api::{
    AnnotationEdit, AnnotationId, AnnotationInput, ClassEdit, ExportVersionRequest, ImageId, ImageLabelState,
    ImageQuery, PredictionDecision, PrelabelRequest, QueueRequest, ReviewRequest, ReviewState, RunId,
};
use serde::{Deserialize, Serialize};

/// No arguments: `{}` (or `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "Record<string, never>"))]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// `project_open`, `project_create`: the project's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct PathArgs {
    pub path: PathBuf,
}

/// `images`, `images_count`: which images (default: all, first page).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct QueryArgs {
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub query: ImageQuery,
}

/// `images_seek`: where the page at position `index` of `query`'s ordering starts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SeekArgs {
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub query: ImageQuery,
    /// 0-based position of the page's first image.
    pub index: u64,
}

/// `image`: one image by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct IdArgs {
    pub id: i64,
}

/// `annotations`, `image_predictions`, `image_conditions`: one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct ImageArgs {
    pub image: ImageId,
    /// `image_predictions` only: the run whose predictions (default: the newest).
    #[serde(default)]
    pub run: Option<RunId>,
}

/// `problems`: the import job (default: the last import).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct JobArgs {
    #[serde(default)]
    pub job: Option<i64>,
}

/// `job_cancel`: a job id as `Started` and the job events give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CancelArgs {
    pub job: u64,
}

/// `prelabel_start`: what to pre-label and how (default: every image, the default model).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct PrelabelStartArgs {
    #[serde(default)]
    pub request: Option<PrelabelRequest>,
}

/// `export_start`: which version, where and in which format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ExportStartArgs {
    pub request: ExportVersionRequest,
}

/// `review_queue`: the score band and size (default: 0.3..0.6, 50 items).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct ReviewQueueArgs {
    #[serde(default)]
    pub request: Option<ReviewRequest>,
}

/// `class_create`: a new class (colour from the palette and no hotkey unless given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct ClassCreateArgs {
    pub name: String,
    /// `#rrggbb`.
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub hotkey: Option<String>,
}

/// `class_update`: a class by name or id, and what changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ClassUpdateArgs {
    pub class: String,
    pub edit: ClassEdit,
}

/// `annotations_add`: annotations to draw, in one undo step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct AddArgs {
    pub inputs: Vec<AnnotationInput>,
}

/// `annotation_edit`: one annotation and what changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct EditArgs {
    pub id: AnnotationId,
    pub edit: AnnotationEdit,
}

/// `annotations_delete`: annotations by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct IdsArgs {
    pub ids: Vec<AnnotationId>,
}

/// `annotations_review`: annotations by id and their new review state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ReviewArgs {
    pub ids: Vec<AnnotationId>,
    pub state: ReviewState,
}

/// `image_state_set`: images and their new label state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct StateArgs {
    pub images: Vec<ImageId>,
    pub state: ImageLabelState,
}

/// `image_state_set_matching`: the label state of every image `query` matches (the catalog's
/// "select all" under filters, however many), in one undo step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct MatchingStateArgs {
    pub query: ImageQuery,
    pub state: ImageLabelState,
}

/// `conditions_set_matching`: a person's condition `key` = `value` on every image `query`
/// matches, in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct MatchingConditionArgs {
    pub query: ImageQuery,
    pub key: String,
    pub value: String,
}

/// `history`: journal events, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct HistoryArgs {
    /// Only this image's events.
    #[serde(default)]
    pub image: Option<ImageId>,
    /// Default 100.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `predictions_decide`: decisions on predictions, in one undo step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct DecideArgs {
    pub decisions: Vec<PredictionDecision>,
}

/// `conditions_set` (`value` required), `conditions_clear` (no `value`): a person's condition
/// `key` on images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct ConditionArgs {
    pub images: Vec<ImageId>,
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// `coverage_target_set`: the target share of `key = value` (no `share`: back to the pool's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct TargetArgs {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub share: Option<f64>,
}

/// `queue`: the ranked labeling queue (default request: equal weights, 50 items).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct QueueArgs {
    #[serde(default)]
    pub request: Option<QueueRequest>,
    /// Hand the picks to the acting person.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub assign: bool,
}

/// `version_freeze`: a new version of the finished images (the acting person is its author).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct FreezeArgs {
    /// Default `v<N>`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub notes: String,
    /// `train,val,test` ratios; default `0.8,0.1,0.1`.
    #[serde(default)]
    pub split: Option<String>,
    /// `image` (default) | `camera` | `capture_day` | `folder`.
    #[serde(default)]
    pub group_by: Option<String>,
}

/// `versions_diff`: two version references (name, id or unique id prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct DiffArgs {
    pub from: String,
    pub to: String,
    /// Entries per detail list (default 1000; counts are always complete).
    #[serde(default)]
    pub max_details: Option<usize>,
}
