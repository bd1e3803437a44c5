//! Lacuna's catalog: one SQLite file per project (`catalog.sqlite`), the only user of
//! `rusqlite` in the workspace.
//!
//! Key types:
//! - [`Catalog`]: an open connection (WAL, foreign keys on) with typed reads and writes;
//!   [`Catalog::create`] / [`Catalog::open`] run forward-only migrations tracked by
//!   `PRAGMA user_version`, backing the file up first when an older catalog is migrated;
//! - [`ImportOp`]: one change an import wants, applied in batches by
//!   [`Catalog::apply_import_batch`], each batch one transaction;
//! - [`ImageFilter`] + [`Catalog::list_images`]: filtered, keyset-paginated reads; the
//!   query plan for each filter is chosen by this crate (probing the filter indexes), not
//!   left to SQLite, so that a page stays fast on a catalog of millions of images;
//! - [`ImageRow`], [`DuplicateRow`], [`ProblemRow`], [`JobRow`], [`RootRow`], [`CatalogCounts`]:
//!   what reads return;
//! - [`CatalogError`]: what can go wrong, with a clear message for a catalog made by a newer
//!   version of Lacuna;
//! - [`SCHEMA_VERSION`]: the schema this build writes; the migrations are the SQL files in
//!   `crates/catalog/migrations/`, compiled in.
//!
//! [`Catalog::insert_synthetic_images`] fills a catalog with generated rows for benchmarks;
//! the ignored test `million_row_catalog_timings` uses it to time the reads on 1,000,000
//! images.

mod annotations;
mod catalog;
mod conditions;
mod error;
mod migrations;
mod models;
mod query;
mod ranking;
mod synthetic;
mod synthetic_labels;
mod synthetic_ranking;
mod types;
mod versions;

pub use annotations::{
    ActionSummary, AnnotationPatch, ClassPatch, EventRow, ImageLabelRow, ImportImageLabels,
    LabelImportCounts, NewAnnotation,
};
pub use catalog::Catalog;
pub use conditions::{ConditionClaim, DeriveInput, PoolImage};
pub use error::CatalogError;
pub use migrations::SCHEMA_VERSION;
pub use models::{
    AdoptablePrediction, ModelRecord, ModelRunRow, PredictionRecord, PredictionRow, RankPrediction,
    RunImageResult, RunParams, RunProblem,
};
pub use ranking::{RankState, UncertaintySummary};
pub use synthetic_ranking::{SyntheticRanking, SyntheticRankingSummary};
pub use types::{
    CatalogCounts, ConditionFilter, DuplicateRow, HashMatch, ImageFilter, ImageRow, ImportCounts, ImportOp,
    JobRow, JobStatus, KnownDuplicate, KnownFile, PredictionFilter, ProblemRow, RootRow,
};
pub use versions::{FreezeSourceImage, ImageKey, VersionImageRecord, VersionImageRow, VersionRow};
