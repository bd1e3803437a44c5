//! What the format readers return and the writers take: plain data, no catalog ids beyond an
//! opaque per-image key.

use std::path::PathBuf;

use lacuna_core::{Attributes, ContentHash, Geometry, Split};
use serde::{Deserialize, Serialize};

/// A dataset format Lacuna reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// COCO instances JSON (boxes, polygons, RLE masks).
    Coco,
    /// Ultralytics YOLO detection: `class cx cy w h`, normalised.
    Yolo,
    /// Ultralytics YOLO segmentation: `class x1 y1 x2 y2 ...`, normalised.
    YoloSeg,
    /// Pascal VOC XML, one file per image.
    Voc,
    /// PNG class and instance masks (write only).
    Masks,
}

impl Format {
    pub const ALL: [Self; 5] = [Self::Coco, Self::Yolo, Self::YoloSeg, Self::Voc, Self::Masks];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Coco => "coco",
            Self::Yolo => "yolo",
            Self::YoloSeg => "yolo-seg",
            Self::Voc => "voc",
            Self::Masks => "masks",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// How image files reach an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum ImageMode {
    /// Copied into the export (the copy is hashed and checked against the catalog).
    #[default]
    Copy,
    /// Hard-linked into the export; copied where the file system cannot link.
    Hardlink,
    /// Not placed: label files name the original absolute paths (COCO, VOC only).
    Reference,
    /// Not placed and not named: label files only.
    None,
}

impl ImageMode {
    pub const ALL: [Self; 4] = [Self::Copy, Self::Hardlink, Self::Reference, Self::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Copy => "copy",
            Self::Hardlink => "hardlink",
            Self::Reference => "reference",
            Self::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// One image of a dataset being written.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetImage {
    /// Opaque, unique per image (the catalog's image id); also the COCO image id.
    pub key: i64,
    /// Path inside the export's image folder of its split, `/`-separated, unique within the
    /// version (e.g. `cam1/2024-05-01/0001.jpg`).
    pub path: String,
    /// The original file (absolute), for copy, hard-link and reference.
    pub source_path: PathBuf,
    pub content_hash: ContentHash,
    pub file_size_bytes: u64,
    /// Size as a viewer shows it (EXIF orientation applied): what coordinates refer to.
    pub width_px: u32,
    pub height_px: u32,
    /// EXIF orientation of the file (1..=8). Formats that store pixels' own orientation
    /// (YOLO reads the file with EXIF applied) need nothing; it is listed in the manifest.
    pub orientation: u8,
    pub split: Split,
    /// Why this image is in the dataset and who touched it, for the manifest.
    pub provenance: Provenance,
}

/// Who and what put an image into a version (listed per image in the manifest).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// Why the image was picked for labeling, in words ("night: 4% of labeled vs 21% of pool"),
    /// or how its labels arrived ("labels imported from instances.json").
    pub selected_because: Option<String>,
    /// The model run that pre-labeled it (`"yolov12n (run 3)"`).
    pub prelabeled_by: Option<String>,
    /// Authors of its annotations, sorted.
    pub labeled_by: Vec<String>,
    /// Reviewers of its annotations, sorted.
    pub reviewed_by: Vec<String>,
    /// Condition key → value (camera, capture day, ...), sorted by key.
    pub conditions: Vec<(String, String)>,
}

/// One annotation of a dataset being written: class by its index in the export's class list.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetAnnotation {
    pub class_index: usize,
    pub geometry: Geometry,
    pub attributes: Attributes,
}

/// Where a reader found something: file, and line (1-based) or field when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub file: PathBuf,
    pub line: Option<u64>,
    /// A JSON path or XML element (`annotations[17].bbox`, `object[2]/bndbox/xmin`).
    pub field: Option<String>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, " ({field})")?;
        }
        Ok(())
    }
}

/// Units of the coordinates in a label file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coordinates {
    /// Image pixels.
    Pixels,
    /// Fractions of the image's width and height (YOLO); the importer scales them by the
    /// catalogued image's size.
    Normalized,
}

/// Labels read from a file or dataset folder, before matching to the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSet {
    pub format: Format,
    /// Class names in the file's own order (index = the file's class id for YOLO; for COCO
    /// sorted by category id).
    pub classes: Vec<String>,
    pub images: Vec<LabeledImage>,
    /// Things skipped or changed while reading (never fatal unless the whole file is unusable).
    pub problems: Vec<LabelProblem>,
}

/// One image named in a label file, with its annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledImage {
    /// The image's path as the file gives it, `/`-separated (COCO `file_name`; YOLO the
    /// image's path relative to the dataset's `images/<split>/` folder, or the label file's
    /// with the image's extension unknown; VOC `folder/filename`).
    pub path: String,
    /// Size the file states, if any (COCO, VOC).
    pub width_px: Option<u32>,
    pub height_px: Option<u32>,
    pub coordinates: Coordinates,
    /// True when [`Self::path`] has no extension because the file does not say it (a YOLO
    /// label file whose image is not next to it): match catalog images by path without
    /// extension.
    pub match_stem: bool,
    /// Split the file puts it in, if any (from a `train`/`val`/`test` folder or file name).
    pub split: Option<Split>,
    pub annotations: Vec<LabeledAnnotation>,
    pub location: Location,
}

/// One annotation read from a label file.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledAnnotation {
    /// Class name (resolved from the file's class list).
    pub class: String,
    pub geometry: Geometry,
    pub attributes: Attributes,
    pub location: Location,
}

/// What went wrong with part of a label file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelProblemKind {
    /// The file or a line/field cannot be parsed; that part is skipped.
    Malformed,
    /// A class id the file's class list does not define; the annotation is skipped.
    UnknownClass,
    /// The image is not in the catalog; its annotations are skipped.
    UnknownImage,
    /// A file name matches several catalogued images; skipped.
    AmbiguousImage,
    /// Geometry outside the image: clipped to it and kept (the annotation is tagged `clipped`).
    Clipped,
    /// Geometry that cannot be used (empty box, polygon of fewer than 3 points); skipped.
    InvalidGeometry,
}

impl LabelProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownClass => "unknown_class",
            Self::UnknownImage => "unknown_image",
            Self::AmbiguousImage => "ambiguous_image",
            Self::Clipped => "clipped",
            Self::InvalidGeometry => "invalid_geometry",
        }
    }
}

/// A problem found while reading or matching labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelProblem {
    pub kind: LabelProblemKind,
    pub location: Location,
    pub message: String,
}

impl LabelProblem {
    /// A problem at `file`, optionally a line and a field.
    pub fn new(
        kind: LabelProblemKind,
        file: &std::path::Path,
        line: Option<u64>,
        field: Option<String>,
        message: String,
    ) -> Self {
        Self { kind, location: Location { file: file.to_path_buf(), line, field }, message }
    }
}

impl std::fmt::Display for LabelProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}
