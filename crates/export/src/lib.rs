//! Lacuna's dataset formats and versions, as code that touches no catalog: the API crate
//! reads the catalog and hands plain records in.
//!
//! Key types:
//! - [`Format`] (COCO, YOLO detect/seg, Pascal VOC, PNG masks) and [`ImageMode`] (copy,
//!   hard-link, reference, none);
//! - reading: [`read_labels`] / [`detect_format`] → [`LabelSet`] of [`LabeledImage`]s with
//!   [`LabelProblem`]s (malformed lines and fields named, unknown classes, clipped boxes);
//! - writing: [`write_dataset`] takes an [`ExportRequest`] and a [`DatasetSource`] that yields
//!   [`DatasetImage`] + [`DatasetAnnotation`]s one image at a time (memory stays flat), writes
//!   into a staging folder renamed into place when complete, and writes `manifest.json`
//!   (version, class map, counts per split / class / condition, every file with its BLAKE3,
//!   per-image provenance);
//! - versions: [`SplitConfig`] (stable hash-based splits by a [`GroupBy`] key),
//!   [`FrozenAnnotation`] and [`VersionHasher`] (the content hash that is a version's id),
//!   [`DiffBuilder`] → [`VersionDiff`].

mod dataset;
mod error;
pub mod formats;
pub mod frozen;
mod model;
mod output;
mod version;

use std::path::Path;

pub use dataset::{DatasetSource, ExportRequest, ExportSummary, MANIFEST_FILE, write_dataset};
pub use error::ExportError;
pub use model::{
    Coordinates, DatasetAnnotation, DatasetImage, Format, ImageMode, LabelProblem, LabelProblemKind,
    LabelSet, LabeledAnnotation, LabeledImage, Location, Provenance,
};
pub use output::{OutputDir, OutputFile, WrittenFile};
pub use version::{
    AnnotationChange, AnnotationOnly, DiffBuilder, DiffCounts, DiffSide, FrozenAnnotation, GroupBy,
    SplitChange, SplitConfig, VersionDiff, VersionHasher, VersionInfo, canonical_order,
};

/// BLAKE3 of `bytes` (the hash Lacuna uses everywhere).
pub fn blake3_hash(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

/// Guesses the format of a label file or dataset folder: `.json` is COCO; `.yaml`/`.yml`
/// (an Ultralytics `data.yaml`), a `.txt` label file or a folder with `labels/`, `data.yaml`
/// or `classes.txt` is YOLO; `.xml` or a folder with `Annotations/` or `.xml` files is VOC.
pub fn detect_format(path: &Path) -> Result<Format, ExportError> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    if path.is_file() {
        return match ext.as_deref() {
            Some("json") => Ok(Format::Coco),
            Some("yaml" | "yml" | "txt") => Ok(Format::Yolo),
            Some("xml") => Ok(Format::Voc),
            _ => Err(ExportError::Invalid(format!(
                "{}: cannot tell the label format from the file name; pass --format coco|yolo|voc",
                path.display()
            ))),
        };
    }
    if !path.is_dir() {
        return Err(ExportError::Io { path: path.to_path_buf(), message: "no such file or folder".into() });
    }
    let has = |name: &str| path.join(name).exists();
    if has("data.yaml") || has("data.yml") || has("labels") || has("classes.txt") {
        return Ok(Format::Yolo);
    }
    if has("Annotations") {
        return Ok(Format::Voc);
    }
    let mut exts = std::collections::BTreeSet::new();
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            if let Some(x) = e.path().extension().and_then(|x| x.to_str()) {
                exts.insert(x.to_ascii_lowercase());
            }
        }
    }
    match (exts.contains("xml"), exts.contains("txt"), exts.contains("json")) {
        (true, false, false) => Ok(Format::Voc),
        (false, true, false) => Ok(Format::Yolo),
        (false, false, true) => Err(ExportError::Invalid(format!(
            "{}: a folder of JSON files; import the COCO file itself (e.g. annotations/instances_train.json)",
            path.display()
        ))),
        _ => Err(ExportError::Invalid(format!(
            "{}: cannot tell the label format of this folder; pass --format coco|yolo|voc",
            path.display()
        ))),
    }
}

/// Reads labels from `path` (format detected when `format` is `None`). Problems in parts of
/// the input are collected in [`LabelSet::problems`]; only an unusable whole is an error.
pub fn read_labels(path: &Path, format: Option<Format>) -> Result<LabelSet, ExportError> {
    let format = match format {
        Some(f) => f,
        None => detect_format(path)?,
    };
    match format {
        Format::Coco => formats::coco::read(path),
        Format::Yolo | Format::YoloSeg => formats::yolo::read(path),
        Format::Voc => formats::voc::read(path),
        Format::Masks => Err(ExportError::Invalid(
            "PNG masks are an export format only; import COCO (RLE) for masks".into(),
        )),
    }
}
