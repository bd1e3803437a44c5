//! Probing one file: format, size, hash, EXIF, statistics and thumbnail from one read and one
//! reduced-size decode.

use std::fs::File;
use std::io::{Cursor, Read};
use std::panic::AssertUnwindSafe;
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat as CodecFormat, ImageReader};
use image::{Limits, RgbImage};
use lacuna_core::{ExifInfo, ImageFormat, ImageStats, ImportProblem, ProbedImage, ProblemKind};

use crate::error::io_problem;
use crate::jpeg::{self, JpegFailure};
use crate::sniff::{Sniffed, describe_non_image, sniff};
use crate::{content_hash, exif, stats};

/// Limits and sizes for probing.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Images whose header claims more pixels than this are refused (ProblemKind::TooLarge)
    /// before any pixel buffer is allocated. Default 250_000_000.
    pub max_pixels: u64,
    /// Long edge of thumbnails in pixels. Default 256. (The JPEG DCT scale is chosen as the
    /// smallest that still gives a long edge >= 7/8 of this, so a 1920x1080 JPEG decodes at 1/8
    /// = 240x135 and is used as is; larger reduced decodes are downscaled to this edge.)
    pub thumbnail_edge_px: u32,
    /// JPEG quality of thumbnails. Default 80.
    pub thumbnail_quality: u8,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self { max_pixels: 250_000_000, thumbnail_edge_px: 256, thumbnail_quality: 80 }
    }
}

/// Result of probing one file.
#[derive(Debug, Clone)]
pub struct Probe {
    pub image: ProbedImage,
    /// JPEG bytes of the thumbnail, EXIF orientation applied.
    pub thumbnail_jpeg: Vec<u8>,
}

/// Reads the file once into memory and calls [`probe_bytes`] with its modification time.
/// Maps I/O errors: not found becomes [`ProblemKind::Vanished`] ("the file disappeared during
/// the import"), permission denied [`ProblemKind::PermissionDenied`], others
/// [`ProblemKind::Io`]. `display_path` is what goes in [`ImportProblem::path`].
pub fn probe_file(path: &Path, display_path: &str, options: &ProbeOptions) -> Result<Probe, ImportProblem> {
    // Look before opening: opening a named pipe would block.
    let meta = std::fs::metadata(path).map_err(|e| io_problem(display_path, &e))?;
    if meta.is_dir() {
        return Err(ImportProblem::new(display_path, ProblemKind::Io, "this is a folder, not a file"));
    }
    if !meta.is_file() {
        return Err(ImportProblem::new(
            display_path,
            ProblemKind::Io,
            "this is not a regular file (a device, pipe or socket)",
        ));
    }
    let mut file = File::open(path).map_err(|e| io_problem(display_path, &e))?;
    // The metadata of the open file belongs to exactly the bytes we read.
    let meta = file.metadata().map_err(|e| io_problem(display_path, &e))?;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(usize::try_from(meta.len()).unwrap_or(0).saturating_add(1)).map_err(|_| {
        ImportProblem::new(display_path, ProblemKind::Io, "not enough memory to read the file")
    })?;
    file.read_to_end(&mut bytes).map_err(|e| io_problem(display_path, &e))?;
    probe_bytes(&bytes, crate::scan::mtime_ns(&meta), display_path, options)
}

/// Probes in-memory bytes (`file_size_bytes` = `bytes.len()`, `mtime_ns` given by the caller).
pub fn probe_bytes(
    bytes: &[u8],
    mtime_ns: i64,
    display_path: &str,
    options: &ProbeOptions,
) -> Result<Probe, ImportProblem> {
    let problem = |kind: ProblemKind, message: String| ImportProblem::new(display_path, kind, message);
    if bytes.is_empty() {
        return Err(problem(ProblemKind::EmptyFile, "the file is empty (0 bytes)".into()));
    }
    let format = match sniff(bytes) {
        Sniffed::Supported(format) => format,
        Sniffed::Unsupported(name) => {
            return Err(problem(
                ProblemKind::UnsupportedFormat,
                format!("{name} images are not supported; convert it to JPEG or PNG to import it"),
            ));
        }
        Sniffed::Unknown => {
            return Err(problem(
                ProblemKind::NotAnImage,
                format!("the file content is not an image (it looks like {})", describe_non_image(bytes)),
            ));
        }
    };
    // Decoders are third-party code fed untrusted bytes: a panic in one must cost this file,
    // not the whole import.
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| decode_and_describe(bytes, format, options)));
    let Described { format, thumbnail_jpeg, width_px, height_px, exif, stats } = match outcome {
        Ok(Ok(done)) => done,
        Ok(Err((kind, message))) => return Err(problem(kind, message)),
        Err(_) => {
            return Err(problem(
                ProblemKind::Corrupt,
                format!(
                    "the {} data could not be decoded (the decoder failed unexpectedly)",
                    format_name(format)
                ),
            ));
        }
    };
    Ok(Probe {
        image: ProbedImage {
            format,
            width_px,
            height_px,
            file_size_bytes: bytes.len() as u64,
            mtime_ns,
            content_hash: content_hash(bytes),
            exif,
            stats,
        },
        thumbnail_jpeg,
    })
}

/// Pixels for a model: RGB8, EXIF orientation applied, long edge at least `min_long_edge_px`
/// when the image is that large (JPEGs decode with the smallest DCT scale that still gives
/// it, so a 4000 px photo for a 640 px model decodes at 1/4).
#[derive(Debug, Clone)]
pub struct ModelPixels {
    /// Packed RGB8, `width_px * height_px * 3` bytes.
    pub rgb: Vec<u8>,
    pub width_px: u32,
    pub height_px: u32,
    /// The image's own size (orientation applied): boxes are reported in these pixels.
    pub full_width_px: u32,
    pub full_height_px: u32,
}

/// Reads and decodes `path` for inference; problems are worded like import problems.
pub fn decode_for_model(
    path: &Path,
    display_path: &str,
    min_long_edge_px: u32,
    max_pixels: u64,
) -> Result<ModelPixels, ImportProblem> {
    let bytes = std::fs::read(path).map_err(|e| io_problem(display_path, &e))?;
    let problem = |kind: ProblemKind, message: String| ImportProblem::new(display_path, kind, message);
    let format = match sniff(&bytes) {
        Sniffed::Supported(format) => format,
        Sniffed::Unsupported(name) => {
            return Err(problem(ProblemKind::UnsupportedFormat, format!("{name} images are not supported")));
        }
        Sniffed::Unknown => {
            return Err(problem(ProblemKind::NotAnImage, "the file content is not an image".into()));
        }
    };
    // Ask for a long edge of 8/7 of the target: the reduced decode may stop at 7/8 of it.
    let edge = min_long_edge_px.max(1).saturating_mul(8).div_ceil(7);
    let options = ProbeOptions { max_pixels, thumbnail_edge_px: edge, ..ProbeOptions::default() };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| match format {
        ImageFormat::Jpeg | ImageFormat::Mpo => decode_jpeg(&bytes, format, &options),
        _ => decode_with_image(&bytes, format, &options),
    }));
    let Decoded { small, full_width, full_height, exif, .. } = match outcome {
        Ok(Ok(decoded)) => decoded,
        Ok(Err((kind, message))) => return Err(problem(kind, message)),
        Err(_) => return Err(problem(ProblemKind::Corrupt, "the decoder failed unexpectedly".into())),
    };
    let pixels = oriented(small, exif.orientation);
    let (full_width_px, full_height_px) = oriented_size(full_width, full_height, exif.orientation);
    Ok(ModelPixels {
        width_px: pixels.width(),
        height_px: pixels.height(),
        rgb: pixels.into_raw(),
        full_width_px,
        full_height_px,
    })
}

/// `image` with EXIF orientation `orientation` (1..=8) applied.
fn oriented(image: RgbImage, orientation: u8) -> RgbImage {
    match Orientation::from_exif(orientation) {
        None | Some(Orientation::NoTransforms) => image,
        Some(transform) => {
            let mut dynamic = DynamicImage::ImageRgb8(image);
            dynamic.apply_orientation(transform);
            dynamic.into_rgb8()
        }
    }
}

/// The size a viewer shows: width and height swap for the orientations that rotate by 90°.
fn oriented_size(width: u32, height: u32, orientation: u8) -> (u32, u32) {
    if (5..=8).contains(&orientation) { (height, width) } else { (width, height) }
}

/// Everything the pixels and metadata tell, before the file-level fields are added.
struct Described {
    /// The sniffed format, or MPO when the MPF marker lies beyond the sniffing window.
    format: ImageFormat,
    thumbnail_jpeg: Vec<u8>,
    /// Size after EXIF orientation.
    width_px: u32,
    height_px: u32,
    exif: ExifInfo,
    stats: ImageStats,
}

fn decode_and_describe(
    bytes: &[u8],
    format: ImageFormat,
    options: &ProbeOptions,
) -> Result<Described, Failure> {
    let edge = options.thumbnail_edge_px.max(1);
    let decoded = match format {
        ImageFormat::Jpeg | ImageFormat::Mpo => decode_jpeg(bytes, format, options),
        _ => decode_with_image(bytes, format, options),
    }?;

    let Decoded { mut small, full_width, full_height, exif, format } = decoded;
    if small.width().max(small.height()) > edge {
        small = shrink(&small, edge);
    }
    let stats = stats::compute(small.as_raw(), small.width(), small.height());

    let small = oriented(small, exif.orientation);
    let (width_px, height_px) = oriented_size(full_width, full_height, exif.orientation);
    let thumbnail_jpeg =
        jpeg::encode_rgb(small.as_raw(), small.width(), small.height(), options.thumbnail_quality)
            .map_err(|e| (ProblemKind::Io, format!("could not make a thumbnail: {e}")))?;
    Ok(Described { format, thumbnail_jpeg, width_px, height_px, exif, stats })
}

/// A reduced image (long edge about the thumbnail edge) and what the header said.
struct Decoded {
    small: RgbImage,
    full_width: u32,
    full_height: u32,
    exif: ExifInfo,
    format: ImageFormat,
}

type Failure = (ProblemKind, String);

fn no_exif() -> ExifInfo {
    ExifInfo { orientation: 1, ..ExifInfo::default() }
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Mpo => "MPO",
        ImageFormat::Png => "PNG",
        ImageFormat::Webp => "WebP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Gif => "GIF",
    }
}

fn megapixels(pixels: u64) -> String {
    let mp = pixels as f64 / 1e6;
    let text = if mp >= 10.0 {
        format!("{mp:.0}")
    } else if mp >= 0.1 {
        format!("{mp:.1}")
    } else {
        format!("{mp:.3}")
    };
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    if text == "1" { "1 megapixel".to_owned() } else { format!("{text} megapixels") }
}

fn too_large(width: u32, height: u32, max_pixels: u64) -> Failure {
    let pixels = u64::from(width) * u64::from(height);
    (
        ProblemKind::TooLarge,
        format!(
            "the header claims {width} x {height} pixels ({}), more than the limit of {}",
            megapixels(pixels),
            megapixels(max_pixels)
        ),
    )
}

fn truncated(format: ImageFormat) -> Failure {
    (ProblemKind::Corrupt, format!("the {} data ends early (truncated or damaged file)", format_name(format)))
}

fn damaged(format: ImageFormat, detail: &str) -> Failure {
    (
        ProblemKind::Corrupt,
        format!("the {} data is damaged and cannot be decoded (decoder says: {detail})", format_name(format)),
    )
}

fn decode_jpeg(bytes: &[u8], format: ImageFormat, options: &ProbeOptions) -> Result<Decoded, Failure> {
    let markers = jpeg::read_markers(bytes, usize::MAX);
    let exif = markers.exif.map_or_else(no_exif, exif::from_tiff_structure);
    let format = if markers.is_mpo { ImageFormat::Mpo } else { format };
    match jpeg::decode_reduced(bytes, &markers, options.thumbnail_edge_px.max(1), options.max_pixels) {
        Ok((reduced, full_width, full_height)) => {
            let small = RgbImage::from_raw(reduced.width, reduced.height, reduced.rgb)
                .ok_or_else(|| damaged(format, "decoded size mismatch"))?;
            Ok(Decoded { small, full_width, full_height, exif, format })
        }
        Err(JpegFailure::TooLarge { width, height }) => Err(too_large(width, height, options.max_pixels)),
        Err(JpegFailure::Truncated) => Err(truncated(format)),
        Err(JpegFailure::Damaged(detail)) => Err(damaged(format, &detail)),
        Err(JpegFailure::HeaderWarning) => {
            // libjpeg-turbo's header reader stops at harmless defects that a lenient decoder
            // reads fine; decode at full size once instead of refusing the photo.
            let mut decoded = decode_with_image(bytes, format, options)?;
            decoded.exif = exif;
            Ok(decoded)
        }
    }
}

/// Width and height from a PNG's IHDR, read directly so that a header claiming a huge size is
/// refused even when the rest of the file is missing.
fn png_header_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Some((be(16), be(20)))
}

fn decode_with_image(bytes: &[u8], format: ImageFormat, options: &ProbeOptions) -> Result<Decoded, Failure> {
    let codec = match format {
        ImageFormat::Jpeg | ImageFormat::Mpo => CodecFormat::Jpeg,
        ImageFormat::Png => CodecFormat::Png,
        ImageFormat::Webp => CodecFormat::WebP,
        ImageFormat::Tiff => CodecFormat::Tiff,
        ImageFormat::Bmp => CodecFormat::Bmp,
        ImageFormat::Gif => CodecFormat::Gif,
    };
    let max_pixels = options.max_pixels;
    if format == ImageFormat::Png
        && let Some((w, h)) = png_header_size(bytes)
        && u64::from(w) * u64::from(h) > max_pixels
    {
        return Err(too_large(w, h, max_pixels));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), codec);
    let mut limits = Limits::default();
    // Up to 16 bytes a pixel (RGBA float) for images within the pixel limit, and never less
    // than the library's default.
    limits.max_alloc = Some(max_pixels.saturating_mul(16).max(512 * 1024 * 1024));
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|e| image_failure(e, format, bytes))?;
    let (full_width, full_height) = decoder.dimensions();
    if u64::from(full_width) * u64::from(full_height) > max_pixels {
        return Err(too_large(full_width, full_height, max_pixels));
    }
    if full_width == 0 || full_height == 0 {
        return Err(damaged(format, "the image has no pixels"));
    }
    let image = DynamicImage::from_decoder(decoder).map_err(|e| image_failure(e, format, bytes))?;
    let edge = options.thumbnail_edge_px.max(1);
    let image = if image.width().max(image.height()) > edge {
        let (w, h) = fit(image.width(), image.height(), edge);
        image.thumbnail_exact(w, h)
    } else {
        image
    };
    let small = into_rgb8_on_white(image);
    let exif = match format {
        ImageFormat::Tiff => exif::from_tiff_structure(bytes),
        ImageFormat::Png | ImageFormat::Webp => exif::from_container(bytes),
        ImageFormat::Jpeg | ImageFormat::Mpo => {
            jpeg::read_markers(bytes, usize::MAX).exif.map_or_else(no_exif, exif::from_tiff_structure)
        }
        ImageFormat::Bmp | ImageFormat::Gif => no_exif(),
    };
    Ok(Decoded { small, full_width, full_height, exif, format })
}

fn image_failure(err: ImageError, format: ImageFormat, bytes: &[u8]) -> Failure {
    // A RIFF (WebP) file states its length: shorter data was cut off.
    if format == ImageFormat::Webp && bytes.len() >= 8 {
        let declared = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if u64::from(declared) + 8 > bytes.len() as u64 {
            return truncated(format);
        }
    }
    match err {
        ImageError::Limits(e) => {
            (ProblemKind::TooLarge, format!("decoding it would need more memory than allowed ({e})"))
        }
        ImageError::Unsupported(e) => (
            ProblemKind::UnsupportedFormat,
            format!("this kind of {} file is not supported ({e})", format_name(format)),
        ),
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => truncated(format),
        other => {
            let detail = other.to_string();
            let lower = detail.to_ascii_lowercase();
            if lower.contains("eof") || lower.contains("end of file") || lower.contains("unexpected end") {
                truncated(format)
            } else {
                damaged(format, &detail)
            }
        }
    }
}

/// Transparent pixels are shown over white, as most viewers do.
fn into_rgb8_on_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
    for px in rgba.as_raw().chunks_exact(4) {
        let a = u32::from(px[3]);
        for &c in &px[..3] {
            rgb.push(((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8);
        }
    }
    RgbImage::from_raw(w, h, rgb).unwrap_or_default()
}

/// The size with long edge `edge` and the aspect ratio of `w` x `h` (rounded, at least 1).
fn fit(w: u32, h: u32, edge: u32) -> (u32, u32) {
    let scaled = |short: u32, long: u32| {
        ((u64::from(short) * u64::from(edge) + u64::from(long) / 2) / u64::from(long)).max(1) as u32
    };
    if w >= h { (edge, scaled(h, w)) } else { (scaled(w, h), edge) }
}

/// Fast area-averaging downscale so that the long edge is `edge`.
fn shrink(image: &RgbImage, edge: u32) -> RgbImage {
    let (nw, nh) = fit(image.width(), image.height(), edge);
    image::imageops::thumbnail(image, nw, nh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn megapixel_wording() {
        assert_eq!(megapixels(10_000_000_000), "10000 megapixels");
        assert_eq!(megapixels(250_000_000), "250 megapixels");
        assert_eq!(megapixels(2_073_600), "2.1 megapixels");
        assert_eq!(megapixels(1000), "0.001 megapixels");
        assert_eq!(megapixels(1_000_000), "1 megapixel");
        let (kind, msg) = too_large(100_000, 100_000, 250_000_000);
        assert_eq!(kind, ProblemKind::TooLarge);
        assert_eq!(
            msg,
            "the header claims 100000 x 100000 pixels (10000 megapixels), more than the limit of 250 megapixels"
        );
    }

    #[test]
    fn alpha_is_composited_on_white() {
        let rgba = image::RgbaImage::from_raw(2, 1, vec![0, 0, 0, 0, 10, 20, 30, 255]).expect("2x1");
        let rgb = into_rgb8_on_white(DynamicImage::ImageRgba8(rgba));
        assert_eq!(rgb.as_raw(), &vec![255, 255, 255, 10, 20, 30]);
    }

    #[test]
    fn shrink_keeps_aspect_ratio() {
        let img = RgbImage::new(500, 375);
        assert_eq!(shrink(&img, 256).dimensions(), (256, 192));
        let tall = RgbImage::new(10, 4000);
        assert_eq!(shrink(&tall, 256).dimensions(), (1, 256));
    }
}
