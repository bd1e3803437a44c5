//! The file side of import: walk folders, decide formats by magic bytes, hash, read EXIF,
//! compute image statistics and thumbnails from a reduced-size decode. Writes no SQL: it
//! returns records, and the caller (the API crate) stores them.
//!
//! Key items:
//! - [`scan`]: walks a folder (or takes a single file) and yields [`ScanItem`]s;
//! - [`probe_file`] / [`probe_bytes`]: everything about one file as a [`Probe`]
//!   ([`lacuna_core::ProbedImage`] plus thumbnail bytes) or an [`lacuna_core::ImportProblem`];
//! - [`ProbeOptions`]: pixel limit and thumbnail size;
//! - [`decode_for_model`] → [`ModelPixels`]: RGB pixels for inference, orientation applied;
//! - [`sniff`] / [`Sniffed`]: format from the first bytes;
//! - [`content_hash`]: BLAKE3 of a file's bytes;
//! - [`io_problem`]: an I/O error as a plain-language [`lacuna_core::ImportProblem`];
//! - [`encode_jpeg`], [`decode_jpeg_reduced`]: thin JPEG helpers used by benchmarks and
//!   generators.
//!
//! JPEG (and MPO) is decoded by libjpeg-turbo with DCT scaling (1/8, 1/4, 1/2), so a 1080p
//! photo never decodes at full size; other formats (and the rare JPEG whose header
//! libjpeg-turbo refuses over a harmless defect) go through the `image` crate. Every size is
//! checked against [`ProbeOptions::max_pixels`] from the header, before pixels are allocated.

mod error;
mod exif;
mod jpeg;
mod probe;
mod scan;
mod sniff;
mod stats;

pub use error::{IngestError, io_problem};
pub use probe::{ModelPixels, Probe, ProbeOptions, decode_for_model, probe_bytes, probe_file};
pub use scan::{FoundFile, ScanItem, scan};
pub use sniff::{Sniffed, sniff};

use lacuna_core::ContentHash;

/// BLAKE3 of `bytes`: the identity of a file's content.
pub fn content_hash(bytes: &[u8]) -> ContentHash {
    ContentHash(*blake3::hash(bytes).as_bytes())
}

/// For benchmarks: the bare reduced-size decode baseline — libjpeg-turbo decode of a JPEG at
/// `1/scale_denom` scale (DCT scaling; 1, 2, 4 or 8) to RGB, returning the (width, height) of
/// the reduced image.
pub fn decode_jpeg_reduced(bytes: &[u8], scale_denom: u8) -> Result<(u32, u32), IngestError> {
    jpeg::decode_scaled(bytes, scale_denom)
}

/// For generators: encodes packed RGB8 (`width_px * height_px * 3` bytes) to a baseline JPEG
/// with 4:2:0 chroma subsampling.
pub fn encode_jpeg(rgb: &[u8], width_px: u32, height_px: u32, quality: u8) -> Result<Vec<u8>, IngestError> {
    jpeg::encode_rgb(rgb, width_px, height_px, quality)
}
