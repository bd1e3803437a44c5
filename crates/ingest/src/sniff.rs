//! Format detection from the first bytes of a file (never from its name).

use lacuna_core::ImageFormat;

use crate::jpeg;

/// How far into a JPEG [`sniff`] looks for the APP2 "MPF" segment of an MPO.
const MPO_WINDOW: usize = 64 * 1024;

/// What the first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Supported(ImageFormat),
    /// A known image format we do not read, with its name ("HEIC", "AVIF", "PSD", "JPEG 2000",
    /// "JPEG XL", "ICO", ...).
    Unsupported(&'static str),
    /// Not an image we recognise.
    Unknown,
}

/// Decides the format from the first bytes. Needs at most the first 64 bytes, except to tell an
/// MPO from a plain JPEG: an MPO is a JPEG whose APP2 segment (within the first 64 KiB) starts
/// with "MPF\0", so pass the whole buffer when you have it.
pub fn sniff(head: &[u8]) -> Sniffed {
    if let Some(found) = sniff_supported(head) {
        return Sniffed::Supported(found);
    }
    match sniff_unsupported(head) {
        Some(name) => Sniffed::Unsupported(name),
        None => Sniffed::Unknown,
    }
}

fn sniff_supported(head: &[u8]) -> Option<ImageFormat> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        let markers = jpeg::read_markers(head, MPO_WINDOW);
        return Some(if markers.is_mpo { ImageFormat::Mpo } else { ImageFormat::Jpeg });
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(ImageFormat::Png);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some(ImageFormat::Webp);
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Some(ImageFormat::Gif);
    }
    if is_bmp(head) {
        return Some(ImageFormat::Bmp);
    }
    if tiff_raw_name(head).is_some() {
        // TIFF-structured raw formats that say so in their header are not plain TIFFs.
        return None;
    }
    if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        return Some(ImageFormat::Tiff);
    }
    None
}

/// "BM", then a header whose DIB header size is one of the known ones and whose reserved
/// fields are zero.
fn is_bmp(head: &[u8]) -> bool {
    if head.len() < 26 || !head.starts_with(b"BM") {
        return false;
    }
    let le32 = |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    let reserved_zero = head[6..10].iter().all(|&b| b == 0);
    let dib_size = le32(14);
    let pixel_offset = le32(10);
    reserved_zero
        && matches!(dib_size, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124)
        && pixel_offset >= 14 + dib_size
}

/// TIFF-based raw formats recognisable from the first bytes.
fn tiff_raw_name(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"II*\0") && head.len() >= 10 && &head[8..10] == b"CR" {
        return Some("Canon CR2 raw");
    }
    if head.starts_with(b"IIRO") || head.starts_with(b"IIRS") || head.starts_with(b"MMOR") {
        return Some("Olympus ORF raw");
    }
    if head.starts_with(b"IIU\0") {
        return Some("Panasonic RW2 raw");
    }
    None
}

fn sniff_unsupported(head: &[u8]) -> Option<&'static str> {
    if let Some(raw) = tiff_raw_name(head) {
        return Some(raw);
    }
    if let Some(name) = iso_bmff_image(head) {
        return Some(name);
    }
    const MAGICS: &[(&[u8], &str)] = &[
        (b"8BPS", "PSD"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
        (b"\xff\x4f\xff\x51", "JPEG 2000"),
        (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
        (b"\xff\x0a", "JPEG XL"),
        (b"FUJIFILMCCD-RAW", "Fujifilm RAF raw"),
        (b"qoif", "QOI"),
        (b"\x76\x2f\x31\x01", "OpenEXR"),
        (b"DDS ", "DDS"),
        (b"#?RADIANCE", "Radiance HDR"),
        (b"#?RGBE", "Radiance HDR"),
        (b"BPG\xfb", "BPG"),
        (b"farbfeld", "farbfeld"),
        (b"gimp xcf", "GIMP XCF"),
    ];
    for (magic, name) in MAGICS {
        if head.starts_with(magic) {
            return Some(name);
        }
    }
    if is_ico(head) {
        return Some(if head[2] == 1 { "ICO" } else { "CUR" });
    }
    if is_pnm(head) {
        return Some("PNM");
    }
    if is_svg(head) {
        return Some("SVG");
    }
    None
}

/// HEIC/HEIF/AVIF/CR3/JPEG XL in an ISO base media file: "ftyp" box with an image brand as
/// major or compatible brand. Videos (mp4, mov) are not images.
fn iso_bmff_image(head: &[u8]) -> Option<&'static str> {
    if head.len() < 16 || &head[4..8] != b"ftyp" {
        return None;
    }
    let box_len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let end = box_len.clamp(16, head.len().min(64));
    let major = &head[8..12];
    // Major brand, then compatible brands (skipping the minor version at 12..16).
    let brands = std::iter::once(major).chain(head[16..end].chunks_exact(4));
    let mut heif = false;
    for brand in brands {
        match brand {
            b"avif" | b"avis" => return Some("AVIF"),
            b"crx " => return Some("Canon CR3 raw"),
            b"jxl " => return Some("JPEG XL"),
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"hevm" | b"hevs" => {
                return Some("HEIC");
            }
            b"mif1" | b"msf1" | b"mif2" => heif = true,
            _ => {}
        }
    }
    heif.then_some("HEIF")
}

fn is_ico(head: &[u8]) -> bool {
    // Reserved 0, type 1 (icon) or 2 (cursor), 1..=255 images, first entry's reserved byte 0,
    // colour planes 0 or 1 (icons).
    head.len() >= 22
        && head[0] == 0
        && head[1] == 0
        && (head[2] == 1 || head[2] == 2)
        && head[3] == 0
        && head[4] != 0
        && head[5] == 0
        && head[9] == 0
}

fn is_pnm(head: &[u8]) -> bool {
    head.len() >= 3
        && head[0] == b'P'
        && (b'1'..=b'7').contains(&head[1])
        && head[2].is_ascii_whitespace()
        && head[3..].iter().take_while(|b| b.is_ascii_whitespace()).count() < 64
        && head[3..]
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| b.is_ascii_digit() || *b == b'#' || *b == b'W')
}

fn is_svg(head: &[u8]) -> bool {
    let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
    let text = &head[start..];
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
    text.starts_with(b"<svg") || (text.starts_with(b"<?xml") && contains(head, b"<svg"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A plain-language guess at what a non-image file is, for the NotAnImage message.
pub(crate) fn describe_non_image(bytes: &[u8]) -> &'static str {
    let head = &bytes[..bytes.len().min(1024)];
    const KNOWN: &[(&[u8], &str)] = &[
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
        (b"\x1f\x8b", "a gzip-compressed file"),
        (b"Rar!", "a RAR archive"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
        (b"\x7fELF", "a program"),
        (b"MZ", "a Windows program"),
        (b"SQLite format 3\0", "an SQLite database"),
        (b"ID3", "an MP3 audio file"),
        (b"OggS", "an Ogg audio or video file"),
        (b"fLaC", "a FLAC audio file"),
        (b"\x1a\x45\xdf\xa3", "a video (Matroska/WebM)"),
    ];
    for (magic, what) in KNOWN {
        if head.starts_with(magic) {
            return what;
        }
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return "a video or audio file (MP4/QuickTime)";
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" {
        return "a RIFF file (audio or video, not a WebP image)";
    }
    if looks_like_text(head) {
        return "text";
    }
    "data in no image format Lacuna recognises"
}

/// Valid UTF-8 (allowing a character cut at the end) without control characters other than
/// tab, newline, carriage return and form feed.
fn looks_like_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(s) => s,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    !valid.is_empty() && valid.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn supported(bytes: &[u8]) -> Option<ImageFormat> {
        match sniff(bytes) {
            Sniffed::Supported(f) => Some(f),
            _ => None,
        }
    }

    #[test]
    fn jpeg_and_mpo() {
        assert_eq!(supported(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16]), Some(ImageFormat::Jpeg));
        // SOI, APP2 "MPF\0" segment, then more.
        let mut mpo = vec![0xFF, 0xD8, 0xFF, 0xE2, 0x00, 0x08];
        mpo.extend_from_slice(b"MPF\0II");
        mpo.extend_from_slice(&[0xFF, 0xDA, 0, 2]);
        assert_eq!(supported(&mpo), Some(ImageFormat::Mpo));
        // APP2 that is an ICC profile is a plain JPEG.
        let mut icc = vec![0xFF, 0xD8, 0xFF, 0xE2, 0x00, 0x08];
        icc.extend_from_slice(b"ICC_PR");
        assert_eq!(supported(&icc), Some(ImageFormat::Jpeg));
        // FF D8 without the third FF is not a JPEG.
        assert_eq!(sniff(&[0xFF, 0xD8, 0x00, 0x00]), Sniffed::Unknown);
    }

    #[test]
    fn png_webp_gif_tiff() {
        assert_eq!(supported(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(ImageFormat::Png));
        assert_eq!(supported(b"RIFF\x10\0\0\0WEBPVP8 "), Some(ImageFormat::Webp));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), Sniffed::Unknown);
        assert_eq!(supported(b"GIF87a\x01\0\x01\0"), Some(ImageFormat::Gif));
        assert_eq!(supported(b"GIF89a\x01\0\x01\0"), Some(ImageFormat::Gif));
        assert_eq!(supported(b"II*\0\x08\0\0\0"), Some(ImageFormat::Tiff));
        assert_eq!(supported(b"MM\0*\0\0\0\x08"), Some(ImageFormat::Tiff));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a"), Sniffed::Unknown);
    }

    #[test]
    fn bmp_needs_a_plausible_header() {
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&1000u32.to_le_bytes()); // file size
        bmp.extend_from_slice(&[0; 4]); // reserved
        bmp.extend_from_slice(&54u32.to_le_bytes()); // pixel offset
        bmp.extend_from_slice(&40u32.to_le_bytes()); // BITMAPINFOHEADER
        bmp.extend_from_slice(&[0; 16]);
        assert_eq!(supported(&bmp), Some(ImageFormat::Bmp));
        assert_eq!(sniff(b"BM this is just text that starts with BM"), Sniffed::Unknown);
        assert_eq!(sniff(b"BM"), Sniffed::Unknown);
    }

    #[test]
    fn unsupported_formats_are_named() {
        let cases: &[(&[u8], &str)] = &[
            (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", "HEIC"),
            (b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic", "HEIC"),
            (b"\0\0\0\x18ftypmif1\0\0\0\0mif1miaf", "HEIF"),
            (b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf", "AVIF"),
            (b"\0\0\0\x18ftypcrx \0\0\0\x01crx isom", "Canon CR3 raw"),
            (b"8BPS\0\x01\0\0\0\0\0\0", "PSD"),
            (b"\0\0\0\x0cjP  \r\n\x87\n\0\0\0\x14ftypjp2 ", "JPEG 2000"),
            (b"\xff\x4f\xff\x51\0\x2f\0\0", "JPEG 2000"),
            (b"\0\0\0\x0cJXL \r\n\x87\n\0\0\0\x14ftypjxl ", "JPEG XL"),
            (b"\xff\x0a\xfa\x7f", "JPEG XL"),
            (b"\0\0\x01\0\x01\0\x10\x10\0\0\x01\0\x20\0\x68\x04\0\0\x16\0\0\0", "ICO"),
            (b"\0\0\x02\0\x01\0\x20\x20\0\0\x01\0\x20\0\x68\x04\0\0\x16\0\0\0", "CUR"),
            (b"II*\0\x10\0\0\0CR\x02\0", "Canon CR2 raw"),
            (b"IIRO\x08\0\0\0", "Olympus ORF raw"),
            (b"IIU\0\x18\0\0\0", "Panasonic RW2 raw"),
            (b"FUJIFILMCCD-RAW 0201", "Fujifilm RAF raw"),
            (b"qoif\0\0\0\x10\0\0\0\x10\x04\0", "QOI"),
            (b"\x76\x2f\x31\x01\x02\0\0\0", "OpenEXR"),
            (b"DDS \x7c\0\0\0", "DDS"),
            (b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n", "Radiance HDR"),
            (b"P6\n640 480\n255\n", "PNM"),
            (b"P5 # comment\n", "PNM"),
            (b"<svg xmlns=\"http://www.w3.org/2000/svg\">", "SVG"),
            (b"<?xml version=\"1.0\"?>\n<svg>", "SVG"),
        ];
        for (bytes, name) in cases {
            assert_eq!(sniff(bytes), Sniffed::Unsupported(name), "{name}");
        }
    }

    #[test]
    fn videos_text_and_noise_are_unknown() {
        assert_eq!(sniff(b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2"), Sniffed::Unknown);
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  \0\0\0\0qt  "), Sniffed::Unknown);
        assert_eq!(sniff(b"hello, world\n"), Sniffed::Unknown);
        assert_eq!(sniff(b"Pictures of 2024"), Sniffed::Unknown);
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><project/>"), Sniffed::Unknown);
        assert_eq!(sniff(&[0x13, 0x77, 0x00, 0xA1, 0x42]), Sniffed::Unknown);
        assert_eq!(sniff(&[]), Sniffed::Unknown);
    }

    #[test]
    fn describes_non_images() {
        assert_eq!(describe_non_image(b"just some words\nand lines\n"), "text");
        assert_eq!(describe_non_image("caf\u{e9} \u{1F600}".as_bytes()), "text");
        assert_eq!(describe_non_image(b"%PDF-1.7\n"), "a PDF document");
        assert_eq!(
            describe_non_image(&[0x13, 0x77, 0x00, 0xA1, 0x42]),
            "data in no image format Lacuna recognises"
        );
        // A UTF-8 character cut at the end of the window is still text.
        let mut long = "a".repeat(1023).into_bytes();
        long.extend_from_slice("\u{e9}".as_bytes());
        assert_eq!(describe_non_image(&long), "text");
    }
}
