//! The file side of import: walk folders, decide formats by magic bytes, hash, read EXIF,
//! compute image statistics and thumbnails from a reduced-size decode. Writes no SQL: it
//! returns records, and the caller (the API crate) stores them.
//!
//! Key items:
//! - [`scan`]: walks a folder (or takes a single file) and yields [`ScanItem`]s;
//! - [`probe_file`] / [`probe_bytes`]: everything about one file as a [`Probe`]
//!   ([`lacuna_core::ProbedImage`] plus thumbnail bytes) or an [`lacuna_core::ImportProblem`];
//! - [`ProbeOptions`]: pixel limit and thumbnail size;
//! - [`sniff`] / [`Sniffed`]: format from the first bytes;
//! - [`encode_jpeg`], [`decode_jpeg_reduced`]: thin JPEG helpers used by benchmarks and
//!   generators.
//!
//! JPEG (and MPO) is decoded by libjpeg-turbo with DCT scaling (1/8, 1/4, 1/2), so a 1080p
//! photo never decodes at full size; other formats go through the `image` crate.

// Modules written by the implementer.
