//! Readers and writers, one module per format.
//!
//! Writers implement [`FormatWriter`]: [`crate::write_dataset`] calls
//! [`FormatWriter::image`] once per image in version order (single pass, so memory stays flat),
//! then [`FormatWriter::finish`]. Readers return a [`crate::LabelSet`].

pub mod coco;
pub mod masks;
pub mod voc;
pub mod yolo;

use crate::output::OutputDir;
use crate::{DatasetAnnotation, DatasetImage, ExportError, ImageMode, VersionInfo};

/// What every writer is told up front.
#[derive(Debug, Clone)]
pub struct WriteContext<'a> {
    /// Class names; a [`DatasetAnnotation::class_index`] indexes this list.
    pub classes: &'a [String],
    pub images: ImageMode,
    pub version: &'a VersionInfo,
}

/// One export format's writer.
pub trait FormatWriter {
    /// Writes one image's labels (and places the image file through
    /// [`OutputDir::place_image`]); returns the path the export lists the image under
    /// (relative to the export folder, or the absolute original for referenced images; for
    /// [`ImageMode::None`] the path it would have had).
    fn image(
        &mut self,
        out: &mut OutputDir<'_>,
        image: &DatasetImage,
        annotations: &[DatasetAnnotation],
    ) -> Result<String, ExportError>;

    /// Writes what can only be written at the end (closing COCO files, `data.yaml`, image
    /// lists).
    fn finish(self: Box<Self>, out: &mut OutputDir<'_>) -> Result<(), ExportError>;

    /// Annotations this writer could not express (e.g. boxes in a mask export), by reason.
    fn skipped(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
}

/// The writer for `format`, or an error when the format cannot use `ctx.images`.
pub fn writer(format: crate::Format, ctx: &WriteContext<'_>) -> Result<Box<dyn FormatWriter>, ExportError> {
    use crate::Format;
    match format {
        Format::Coco => Ok(Box::new(coco::CocoWriter::new(ctx)?)),
        Format::Yolo => Ok(Box::new(yolo::YoloWriter::new(ctx, false)?)),
        Format::YoloSeg => Ok(Box::new(yolo::YoloWriter::new(ctx, true)?)),
        Format::Voc => Ok(Box::new(voc::VocWriter::new(ctx)?)),
        Format::Masks => Ok(Box::new(masks::MasksWriter::new(ctx)?)),
    }
}

/// `path` with its extension replaced by `ext` (no dot), `/`-separated.
pub fn with_extension(path: &str, ext: &str) -> String {
    let (dir, name) = match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    };
    let stem = match name.rfind('.') {
        Some(0) | None => name,
        Some(i) => &name[..i],
    };
    format!("{dir}{stem}.{ext}")
}

/// The split a folder or file name stands for (`train`, `val`/`valid`/`validation`,
/// `test`), as whole words of the name (`instances_val2017.json` is val).
pub fn split_from_name(name: &str) -> Option<lacuna_core::Split> {
    use lacuna_core::Split;
    let lower = name.to_ascii_lowercase();
    let words = lower.split(|c: char| !c.is_ascii_alphabetic()).filter(|w| !w.is_empty());
    for w in words {
        match w {
            "train" | "training" => return Some(Split::Train),
            "val" | "valid" | "validation" => return Some(Split::Val),
            "test" | "testing" => return Some(Split::Test),
            _ => {}
        }
    }
    None
}

/// Formats a coordinate the shortest way that reads back to the same `f64` (`12`, `12.5`).
pub fn fmt_f64(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_is_replaced_in_the_file_name_only() {
        assert_eq!(with_extension("a.b/c.jpg", "txt"), "a.b/c.txt");
        assert_eq!(with_extension("c", "txt"), "c.txt");
        assert_eq!(with_extension("d/.hidden", "txt"), "d/.hidden.txt");
    }

    #[test]
    fn split_names() {
        use lacuna_core::Split;
        assert_eq!(split_from_name("instances_val2017.json"), Some(Split::Val));
        assert_eq!(split_from_name("train"), Some(Split::Train));
        assert_eq!(split_from_name("valid"), Some(Split::Val));
        assert_eq!(split_from_name("contest"), None);
    }

    #[test]
    fn coordinates_print_shortest_round_trip() {
        for v in [0.0, 12.0, 12.5, 0.1, 1.0 / 3.0, 1234.5678, -2.0] {
            assert_eq!(fmt_f64(v).parse::<f64>().ok(), Some(v));
        }
        assert_eq!(fmt_f64(12.0), "12");
        assert_eq!(fmt_f64(0.1), "0.1");
    }
}
