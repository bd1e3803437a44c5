//! Lacuna's domain types, shared by every other crate. No I/O happens here.
//!
//! Key types:
//! - ids: [`ImageId`], [`RootId`], [`JobId`], [`ModelId`], [`RunId`];
//! - [`ContentHash`]: the BLAKE3 hash that identifies an image's bytes;
//! - [`ImageFormat`], [`ExifInfo`], [`CaptureTime`], [`GpsPosition`], [`ImageStats`]: what
//!   probing a file tells us, gathered in [`ProbedImage`];
//! - [`BinaryMask`], [`Rle`] (COCO run-length encoding), [`Polygon`] and
//!   [`polygons_from_mask`]: mask geometry;
//! - [`ImageStatus`]: whether a catalogued file is still where we found it;
//! - [`ProblemKind`] and [`ImportProblem`]: per-file reasons an import skipped something;
//! - labels: [`LabelClass`], [`Annotation`] with its [`Geometry`] (box, polygon parts, RLE
//!   mask), [`Attributes`], [`AnnotationSource`] and [`ReviewState`]; [`ImageLabelState`] for a
//!   whole image; [`Split`] for dataset versions.

mod annotation;
mod geometry;
mod hash;
mod ids;
mod image;
mod problem;

pub use annotation::{
    ActionId, Annotation, AnnotationId, AnnotationSource, Attributes, BoxXyxy, ClassId, Geometry,
    GeometryError, GeometryKind, ImageLabelState, LabelClass, ReviewState, Split, default_class_color,
    parse_color, part_area,
};
pub use geometry::{
    BinaryMask, Polygon, Rle, RleError, mask_from_polygons, polygon_area, polygons_from_mask,
};
pub use hash::{ContentHash, ParseHashError};
pub use ids::{ImageId, JobId, ModelId, RootId, RunId};
pub use image::{
    CaptureTime, ExifInfo, GpsPosition, ImageFormat, ImageStats, ImageStatus, ProbedImage, camera_id,
    clean_exif_text,
};
pub use problem::{ImportProblem, ProblemKind};
