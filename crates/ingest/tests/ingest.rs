//! Integration tests of lacuna-ingest: fixtures are generated in temporary folders; real photos
//! come from `assets/sample`.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use lacuna_core::{ImageFormat, ImportProblem, ProblemKind};
use lacuna_ingest::{
    FoundFile, Probe, ProbeOptions, ScanItem, Sniffed, content_hash, decode_jpeg_reduced, encode_jpeg,
    probe_bytes, probe_file, scan, sniff,
};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/sample");

fn sample(rel: &str) -> PathBuf {
    Path::new(SAMPLES).join(rel)
}

fn read_sample(rel: &str) -> Vec<u8> {
    std::fs::read(sample(rel)).expect("sample photo exists")
}

fn opts() -> ProbeOptions {
    ProbeOptions::default()
}

fn probe_ok(bytes: &[u8]) -> Probe {
    probe_bytes(bytes, 0, "test", &opts()).expect("probe succeeds")
}

fn probe_err(bytes: &[u8]) -> ImportProblem {
    probe_bytes(bytes, 0, "test", &opts()).expect_err("probe fails")
}

/// Deterministic pseudo-random bytes (xorshift).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// A smooth gradient with some noise: compresses like a photo.
fn photo_like_rgb(w: u32, h: u32, seed: u64) -> Vec<u8> {
    let jitter = noise((w * h) as usize, seed);
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let n = i32::from(jitter[(y * w + x) as usize] % 16) - 8;
            let r = (x * 255 / w.max(1)) as i32 + n;
            let g = (y * 255 / h.max(1)) as i32 + n;
            let b = ((x + y) * 127 / (w + h).max(1)) as i32 + 64 + n;
            rgb.extend([r, g, b].map(|v| v.clamp(0, 255) as u8));
        }
    }
    rgb
}

fn jpeg_fixture(w: u32, h: u32) -> Vec<u8> {
    encode_jpeg(&photo_like_rgb(w, h, 7), w, h, 90).expect("encodes")
}

fn png_bytes(image: &image::DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).expect("encodes PNG");
    out.into_inner()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

fn decode_thumbnail(probe: &Probe) -> image::RgbImage {
    image::load_from_memory_with_format(&probe.thumbnail_jpeg, image::ImageFormat::Jpeg)
        .expect("thumbnail is a JPEG")
        .into_rgb8()
}

/// Inserts an APP1 EXIF segment with the given orientation right after SOI.
fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn collect_scan(root: &Path) -> Vec<ScanItem> {
    let mut items = Vec::new();
    scan(root, |item| {
        items.push(item);
        ControlFlow::Continue(())
    })
    .expect("root is readable");
    items
}

fn files(items: &[ScanItem]) -> Vec<&FoundFile> {
    items
        .iter()
        .filter_map(|i| match i {
            ScanItem::File(f) => Some(f),
            _ => None,
        })
        .collect()
}

fn problems(items: &[ScanItem]) -> Vec<&ImportProblem> {
    items
        .iter()
        .filter_map(|i| match i {
            ScanItem::Problem(p) => Some(p),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Problems with single files

#[test]
fn zero_byte_file_is_empty_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("empty.jpg");
    std::fs::write(&path, b"").expect("write");
    let problem = probe_file(&path, "empty.jpg", &opts()).expect_err("empty");
    assert_eq!(problem.kind, ProblemKind::EmptyFile);
    assert_eq!(problem.path, "empty.jpg");
    assert_eq!(probe_err(b"").kind, ProblemKind::EmptyFile);
}

#[test]
fn truncated_jpeg_is_corrupt_not_silently_decoded() {
    let dog = read_sample("photos/dog.jpg");
    // Half the scan data missing.
    let problem = probe_err(&dog[..dog.len() / 2]);
    assert_eq!(problem.kind, ProblemKind::Corrupt, "{problem:?}");
    assert_eq!(problem.message, "the JPEG data ends early (truncated or damaged file)");
    // Only the EOI marker missing: still truncated.
    assert_eq!(probe_err(&dog[..dog.len() - 2]).kind, ProblemKind::Corrupt);
    // Cut inside the header.
    for cut in [300, 1000, 5000] {
        let problem = probe_err(&dog[..cut]);
        assert_eq!(problem.kind, ProblemKind::Corrupt, "cut at {cut}: {problem:?}");
        assert!(problem.message.contains("ends early"), "cut at {cut}: {}", problem.message);
    }
    // The whole file is fine.
    probe_ok(&dog);
}

#[test]
fn damaged_jpeg_scan_data_is_corrupt() {
    let mut jpeg = jpeg_fixture(320, 240);
    // Overwrite the middle of the entropy-coded data with marker-like garbage.
    let mid = jpeg.len() / 2;
    for b in &mut jpeg[mid..mid + 64] {
        *b = 0xFF;
    }
    let problem = probe_err(&jpeg);
    assert_eq!(problem.kind, ProblemKind::Corrupt, "{problem:?}");
}

#[test]
fn truncated_png_and_other_formats_are_corrupt() {
    let img = image::DynamicImage::ImageRgb8(
        image::RgbImage::from_raw(300, 200, photo_like_rgb(300, 200, 3)).expect("size"),
    );
    let png = png_bytes(&img);
    probe_ok(&png);
    let problem = probe_err(&png[..png.len() / 2]);
    assert_eq!(problem.kind, ProblemKind::Corrupt, "{problem:?}");
    assert_eq!(problem.message, "the PNG data ends early (truncated or damaged file)");
    // The same for the other formats read through the `image` crate.
    for (format, name) in [
        (image::ImageFormat::Tiff, "TIFF"),
        (image::ImageFormat::Gif, "GIF"),
        (image::ImageFormat::WebP, "WebP"),
        (image::ImageFormat::Bmp, "BMP"),
    ] {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encodes");
        let bytes = out.into_inner();
        let problem = probe_err(&bytes[..bytes.len() / 2]);
        assert_eq!(problem.kind, ProblemKind::Corrupt, "{name}: {problem:?}");
        assert_eq!(problem.message, format!("the {name} data ends early (truncated or damaged file)"));
    }
}

#[test]
fn random_bytes_named_jpg_are_not_an_image() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("photo.jpg");
    std::fs::write(&path, noise(4096, 42)).expect("write");
    let problem = probe_file(&path, "photo.jpg", &opts()).expect_err("not an image");
    assert_eq!(problem.kind, ProblemKind::NotAnImage, "{problem:?}");
    assert!(problem.message.starts_with("the file content is not an image"), "{}", problem.message);
}

#[test]
fn text_file_named_png_is_not_an_image() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.png");
    std::fs::write(&path, "These are my notes, not a picture.\nSecond line.\n").expect("write");
    let problem = probe_file(&path, "notes.png", &opts()).expect_err("text");
    assert_eq!(problem.kind, ProblemKind::NotAnImage);
    assert_eq!(problem.message, "the file content is not an image (it looks like text)");
}

#[test]
fn unsupported_formats_are_named() {
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\x08free";
    let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf\0\0\0\x08free";
    let mut psd = b"8BPS\0\x01\0\0\0\0\0\0\0\x03".to_vec();
    psd.extend_from_slice(&[0; 32]);
    for (bytes, name) in [(&heic[..], "HEIC"), (&avif[..], "AVIF"), (&psd[..], "PSD")] {
        let problem = probe_err(bytes);
        assert_eq!(problem.kind, ProblemKind::UnsupportedFormat, "{name}");
        assert!(problem.message.contains(name), "{name}: {}", problem.message);
    }
}

#[test]
fn png_claiming_100000_squared_pixels_is_refused_before_decoding() {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    png_chunk(&mut png, b"IEND", &[]);
    let problem = probe_err(&png);
    assert_eq!(problem.kind, ProblemKind::TooLarge, "{problem:?}");
    assert_eq!(
        problem.message,
        "the header claims 100000 x 100000 pixels (10000 megapixels), more than the limit of 250 megapixels"
    );
    // Also with nothing after the header.
    assert_eq!(probe_err(&png[..33]).kind, ProblemKind::TooLarge);
}

#[test]
fn jpeg_sof_claiming_65000_squared_pixels_is_refused() {
    let mut jpeg = jpeg_fixture(64, 48);
    // Find the SOF0 marker and patch height and width.
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).expect("baseline SOF");
    jpeg[sof + 5..sof + 7].copy_from_slice(&65000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&65000u16.to_be_bytes());
    let problem = probe_err(&jpeg);
    assert_eq!(problem.kind, ProblemKind::TooLarge, "{problem:?}");
    assert!(problem.message.contains("65000 x 65000"), "{}", problem.message);
    assert!(problem.message.contains("4225 megapixels"), "{}", problem.message);
}

#[test]
fn pixel_limit_is_configurable() {
    let small_limit = ProbeOptions { max_pixels: 100_000, ..ProbeOptions::default() };
    let dog = read_sample("photos/dog.jpg"); // 768 x 576
    let problem = probe_bytes(&dog, 0, "dog.jpg", &small_limit).expect_err("over the limit");
    assert_eq!(problem.kind, ProblemKind::TooLarge);
    assert!(problem.message.contains("768 x 576"), "{}", problem.message);
    assert!(problem.message.contains("limit of 0.1 megapixels"), "{}", problem.message);
    let png = png_bytes(&image::DynamicImage::new_rgb8(400, 300));
    let problem = probe_bytes(&png, 0, "x.png", &small_limit).expect_err("over the limit");
    assert_eq!(problem.kind, ProblemKind::TooLarge);
    // Within the limit.
    let tiny = read_sample("exif-cameras/r_canon.jpg"); // 80 x 80
    probe_bytes(&tiny, 0, "r_canon.jpg", &small_limit).expect("small image passes");
}

#[test]
fn file_deleted_between_scan_and_probe_is_vanished() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.jpg"), jpeg_fixture(32, 32)).expect("write");
    let items = collect_scan(dir.path());
    let found = files(&items);
    assert_eq!(found.len(), 1);
    std::fs::remove_file(&found[0].abs_path).expect("delete");
    let problem = probe_file(&found[0].abs_path, &found[0].rel_path, &opts()).expect_err("gone");
    assert_eq!(problem.kind, ProblemKind::Vanished);
    assert_eq!(problem.message, "the file disappeared during the import");
    assert_eq!(problem.path, "a.jpg");
}

#[cfg(unix)]
#[test]
fn unreadable_file_is_permission_denied() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("locked.jpg");
    std::fs::write(&path, jpeg_fixture(32, 32)).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    if std::fs::File::open(&path).is_ok() {
        // Root (or CAP_DAC_OVERRIDE) reads anything; the error mapping is unit-tested in
        // `error::tests::io_errors_map_to_problem_kinds`.
        println!("note: running with privileges that ignore file permissions; skipped the filesystem part");
        return;
    }
    let problem = probe_file(&path, "locked.jpg", &opts()).expect_err("unreadable");
    assert_eq!(problem.kind, ProblemKind::PermissionDenied);
}

#[cfg(unix)]
#[test]
fn unreadable_folder_is_reported_and_walk_continues() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    std::fs::write(locked.join("inside.jpg"), b"x").expect("write");
    std::fs::write(dir.path().join("z.jpg"), b"x").expect("write");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let privileged = std::fs::read_dir(&locked).is_ok();
    let items = collect_scan(dir.path());
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
    let names: Vec<&str> = files(&items).iter().map(|f| f.rel_path.as_str()).collect();
    if privileged {
        println!("note: running with privileges that ignore folder permissions; skipped the check");
        assert_eq!(names, ["locked/inside.jpg", "z.jpg"]);
        return;
    }
    assert_eq!(names, ["z.jpg"]);
    let problems = problems(&items);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].kind, ProblemKind::PermissionDenied);
    assert!(problems[0].path.ends_with("locked"));
}

#[test]
fn corrupt_exif_does_not_fail_the_probe() {
    let jpeg = jpeg_fixture(64, 48);
    let mut payload = b"Exif\0\0II*\0\xff\xff\xff\x7f".to_vec();
    payload.extend_from_slice(&noise(200, 9));
    let mut bad = jpeg[..2].to_vec();
    bad.extend_from_slice(&[0xFF, 0xE1]);
    bad.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    bad.extend_from_slice(&payload);
    bad.extend_from_slice(&jpeg[2..]);
    let probe = probe_ok(&bad);
    assert_eq!(probe.image.exif.orientation, 1);
    assert_eq!(probe.image.exif.camera_make, None);
    assert_eq!((probe.image.width_px, probe.image.height_px), (64, 48));
}

// ---------------------------------------------------------------------------------------------
// Formats and pixels

#[test]
fn exif_orientation_6_swaps_dimensions_and_rotates_thumbnail() {
    // Left half black, right half white.
    let (w, h) = (64u32, 32u32);
    let mut rgb = Vec::new();
    for _y in 0..h {
        for x in 0..w {
            rgb.extend_from_slice(&[if x < w / 2 { 0 } else { 255 }; 3]);
        }
    }
    let jpeg = with_orientation(&encode_jpeg(&rgb, w, h, 95).expect("encodes"), 6);
    let probe = probe_ok(&jpeg);
    assert_eq!(probe.image.exif.orientation, 6);
    assert_eq!((probe.image.width_px, probe.image.height_px), (32, 64));
    // Rotated 90 degrees clockwise: the left (black) half is now on top.
    let thumb = decode_thumbnail(&probe);
    assert_eq!(thumb.dimensions(), (32, 64));
    assert!(thumb.get_pixel(16, 8)[0] < 40, "top should be dark");
    assert!(thumb.get_pixel(16, 56)[0] > 215, "bottom should be bright");

    // Orientation 3 keeps the dimensions; an invalid value counts as 1.
    let upside_down = probe_ok(&with_orientation(&jpeg_fixture(64, 32), 3));
    assert_eq!((upside_down.image.width_px, upside_down.image.height_px), (64, 32));
    let invalid = probe_ok(&with_orientation(&jpeg_fixture(64, 32), 9));
    assert_eq!(invalid.image.exif.orientation, 1);
}

#[test]
fn other_formats_decode_including_16_bit_grey_and_alpha() {
    let rgb = image::RgbImage::from_raw(300, 200, photo_like_rgb(300, 200, 5)).expect("size");
    let base = image::DynamicImage::ImageRgb8(rgb);
    let variants = [
        ("rgb8", base.clone()),
        ("luma16", image::DynamicImage::ImageLuma16(base.to_luma16())),
        ("rgba16", image::DynamicImage::ImageRgba16(base.to_rgba16())),
        ("luma_alpha8", image::DynamicImage::ImageLumaA8(base.to_luma_alpha8())),
        ("rgb32f", image::DynamicImage::ImageRgb32F(base.to_rgb32f())),
    ];
    for (name, img) in variants {
        let format = if name == "rgb32f" { image::ImageFormat::Tiff } else { image::ImageFormat::Png };
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encodes");
        let probe = probe_ok(out.get_ref());
        assert_eq!((probe.image.width_px, probe.image.height_px), (300, 200), "{name}");
        let thumb = decode_thumbnail(&probe);
        assert_eq!(thumb.dimensions(), (256, 171), "{name}");
        // Float TIFFs are taken as linear light, so they come out brighter.
        let luma = probe.image.stats.luma_mean;
        assert!(luma > 0.3 && luma < 0.95, "{name}: {:?}", probe.image.stats);
    }
    // BMP, GIF (first frame), lossless WebP, TIFF.
    for (format, expected) in [
        (image::ImageFormat::Bmp, ImageFormat::Bmp),
        (image::ImageFormat::Gif, ImageFormat::Gif),
        (image::ImageFormat::WebP, ImageFormat::Webp),
        (image::ImageFormat::Tiff, ImageFormat::Tiff),
    ] {
        let img = if format == image::ImageFormat::WebP || format == image::ImageFormat::Gif {
            image::DynamicImage::ImageRgba8(base.to_rgba8())
        } else {
            base.clone()
        };
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encodes");
        assert_eq!(sniff(out.get_ref()), Sniffed::Supported(expected));
        let probe = probe_ok(out.get_ref());
        assert_eq!(probe.image.format, expected);
        assert_eq!((probe.image.width_px, probe.image.height_px), (300, 200), "{expected:?}");
    }
}

#[test]
fn transparent_png_thumbnail_is_white() {
    let img = image::DynamicImage::ImageRgba8(image::RgbaImage::new(50, 40));
    let probe = probe_ok(&png_bytes(&img));
    let stats = probe.image.stats;
    assert!(stats.luma_mean > 0.99, "{stats:?}");
    assert!(stats.contrast < 0.01);
}

#[test]
fn thumbnails_have_long_edge_at_most_256() {
    for (w, h) in [(1920, 1080), (1080, 1920), (4000, 3000), (1600, 1200), (300, 200), (17, 9)] {
        let probe = probe_ok(&jpeg_fixture(w, h));
        let thumb = decode_thumbnail(&probe);
        let long = thumb.width().max(thumb.height());
        assert!(long <= 256, "{w}x{h} -> {:?}", thumb.dimensions());
        if w.max(h) >= 256 {
            assert!(long >= 224, "{w}x{h} -> {:?}", thumb.dimensions());
        }
        assert_eq!((probe.image.width_px, probe.image.height_px), (w, h));
    }
    // 1920x1080 decodes at 1/8 and is used as is.
    let thumb = decode_thumbnail(&probe_ok(&jpeg_fixture(1920, 1080)));
    assert_eq!(thumb.dimensions(), (240, 135));
    for rel in ["photos/kite.jpg", "photos/xmp_test.jpg", "photos/ifd_tag_type.tiff", "photos/frozenpond.mpo"]
    {
        let thumb = decode_thumbnail(&probe_ok(&read_sample(rel)));
        assert!(thumb.width().max(thumb.height()) <= 256, "{rel}");
    }
}

#[test]
fn thumbnail_quality_and_edge_are_configurable() {
    let jpeg = jpeg_fixture(800, 600);
    let small = ProbeOptions { thumbnail_edge_px: 64, thumbnail_quality: 50, ..ProbeOptions::default() };
    let probe = probe_bytes(&jpeg, 0, "x", &small).expect("probe");
    assert_eq!(decode_thumbnail(&probe).dimensions(), (64, 48));
    let big = ProbeOptions { thumbnail_edge_px: 512, thumbnail_quality: 95, ..ProbeOptions::default() };
    let probe_big = probe_bytes(&jpeg, 0, "x", &big).expect("probe");
    assert_eq!(decode_thumbnail(&probe_big).dimensions(), (512, 384));
    assert!(probe_big.thumbnail_jpeg.len() > probe.thumbnail_jpeg.len());
}

#[test]
fn content_hash_is_blake3_of_the_file_bytes() {
    let bytes = read_sample("photos/flower.jpg");
    let expected = *blake3::hash(&bytes).as_bytes();
    assert_eq!(content_hash(&bytes).0, expected);
    assert_eq!(content_hash(&bytes), content_hash(&bytes.clone()));
    let probe = probe_file(&sample("photos/flower.jpg"), "flower.jpg", &opts()).expect("probe");
    assert_eq!(probe.image.content_hash.0, expected);
    assert_eq!(probe.image.file_size_bytes, bytes.len() as u64);
    let again = probe_file(&sample("photos/flower.jpg"), "flower.jpg", &opts()).expect("probe");
    assert_eq!(again.image, probe.image);
    assert_eq!(again.thumbnail_jpeg, probe.thumbnail_jpeg);
    assert_ne!(content_hash(b"a"), content_hash(b"b"));
}

#[test]
fn probe_file_reports_mtime() {
    let path = sample("photos/dog.jpg");
    let probe = probe_file(&path, "dog.jpg", &opts()).expect("probe");
    let meta = std::fs::metadata(&path).expect("metadata");
    let expected =
        meta.modified().expect("mtime").duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_nanos()
            as i64;
    assert_eq!(probe.image.mtime_ns, expected);
    assert_eq!(
        probe_bytes(&read_sample("photos/dog.jpg"), 1234, "x", &opts()).expect("ok").image.mtime_ns,
        1234
    );
}

#[test]
fn helpers_decode_and_encode() {
    let jpeg = jpeg_fixture(1920, 1080);
    assert_eq!(decode_jpeg_reduced(&jpeg, 8).expect("decodes"), (240, 135));
    assert_eq!(decode_jpeg_reduced(&jpeg, 2).expect("decodes"), (960, 540));
    assert!(decode_jpeg_reduced(&jpeg, 3).is_err());
    assert!(decode_jpeg_reduced(b"nope", 8).is_err());
    assert!(encode_jpeg(&[1, 2, 3], 2, 2, 80).is_err());
}

// ---------------------------------------------------------------------------------------------
// Real photos

#[test]
fn exif_strings_padded_with_nuls_and_spaces_come_back_clean() {
    let pen = probe_ok(&read_sample("exif-cameras/r_pen.jpg")).image.exif;
    assert_eq!(pen.camera_make.as_deref(), Some("OLYMPUS IMAGING CORP."));
    assert_eq!(pen.camera_model.as_deref(), Some("E-P3"));
    let ricoh = probe_ok(&read_sample("exif-cameras/r_ricoh.jpg")).image.exif;
    assert_eq!(ricoh.camera_make.as_deref(), Some("PENTAX RICOH IMAGING"));
    assert_eq!(ricoh.camera_model.as_deref(), Some("GR"));
    assert_eq!(ricoh.lens_model.as_deref(), Some("GR LENS"));
    for exif in [&pen, &ricoh] {
        for s in [&exif.camera_make, &exif.camera_model].into_iter().flatten() {
            assert!(!s.contains('\0') && s.trim() == s, "{s:?}");
        }
    }
    // Casio writes binary junk into BodySerialNumber: no serial rather than garbage.
    let casio = probe_ok(&read_sample("exif-cameras/r_casio.jpg")).image.exif;
    assert_eq!(casio.camera_model.as_deref(), Some("EX-100"));
    assert_eq!(casio.body_serial, None);
}

#[test]
fn every_sample_photo_probes_with_plausible_values() {
    let mut count = 0;
    for dir in ["photos", "exif-cameras"] {
        for entry in std::fs::read_dir(sample(dir)).expect("samples") {
            let path = entry.expect("entry").path();
            let probe = probe_file(&path, &path.display().to_string(), &opts())
                .unwrap_or_else(|p| panic!("{} failed: {p}", path.display()));
            let img = &probe.image;
            assert!(img.width_px >= 16 && img.height_px >= 16, "{}", path.display());
            let s = img.stats;
            for v in [s.luma_mean, s.luma_p05, s.luma_p50, s.luma_p95, s.contrast, s.saturation_mean] {
                assert!((0.0..=1.0).contains(&v), "{}: {s:?}", path.display());
            }
            assert!(s.luma_p05 <= s.luma_p50 && s.luma_p50 <= s.luma_p95);
            assert!(s.sharpness >= 0.0);
            assert!((1..=8).contains(&img.exif.orientation));
            assert!(decode_thumbnail(&probe).width() > 0);
            count += 1;
        }
    }
    assert!(count >= 24, "{count}");

    let dims = |rel: &str| {
        let img = probe_ok(&read_sample(rel)).image;
        (img.width_px, img.height_px)
    };
    assert_eq!(dims("photos/dog.jpg"), (768, 576));
    assert_eq!(dims("photos/kite.jpg"), (1352, 900));
    assert_eq!(dims("photos/xmp_test.jpg"), (2000, 1072));
    assert_eq!(dims("photos/L01.jpg"), (300, 400));
    assert_eq!(dims("exif-cameras/r_sony.jpg"), (80, 80));

    for rel in ["photos/dog.jpg", "photos/flower.jpg", "photos/kite.jpg", "photos/xmp_test.jpg"] {
        let exif = probe_ok(&read_sample(rel)).image.exif;
        assert_eq!(exif.camera_make.as_deref(), Some("Canon"), "{rel}");
    }
    let kite = probe_ok(&read_sample("photos/kite.jpg")).image.exif;
    assert_eq!(kite.camera_model.as_deref(), Some("Canon EOS REBEL T1i"));
    assert_eq!(kite.body_serial.as_deref(), Some("270130204"));
    assert_eq!(kite.capture_time.as_ref().expect("time").local, "2010-06-06T12:27:25");
    assert_eq!(kite.camera_id().as_deref(), Some("Canon EOS REBEL T1i #270130204"));

    let mpo = probe_ok(&read_sample("photos/frozenpond.mpo")).image;
    assert_eq!(mpo.format, ImageFormat::Mpo);
    assert_eq!((mpo.width_px, mpo.height_px), (640, 480));
    assert_eq!(mpo.exif.camera_model.as_deref(), Some("Nintendo 3DS"));

    // FLIR thermal TIFF: 16-bit grey, Exif and GPS pointers typed IFD (13) rather than LONG.
    let tiff = probe_ok(&read_sample("photos/ifd_tag_type.tiff")).image;
    assert_eq!(tiff.format, ImageFormat::Tiff);
    assert_eq!((tiff.width_px, tiff.height_px), (640, 512));
    assert_eq!(tiff.exif.camera_make.as_deref(), Some("FLIR"));
    let gps = tiff.exif.gps.expect("GPS present");
    assert!((gps.latitude_deg - 35.6).abs() < 0.01, "{gps:?}");
    assert!((gps.longitude_deg + 111.66).abs() < 0.01, "{gps:?}");
    assert!(gps.altitude_m.is_some_and(|a| (a - 1845.7).abs() < 1.0), "{gps:?}");
    assert_eq!(tiff.exif.capture_time.expect("time").local, "2019-10-02T15:12:43");

    // The Casio QV-R51 shots were taken at night by the camera's clock. (02.jpg's
    // DateTimeOriginal is 21:19; its 01:48 DateTime is a later edit.)
    let dog_luma = probe_ok(&read_sample("photos/dog.jpg")).image.stats.luma_mean;
    for rel in ["photos/L01.jpg", "photos/L02.jpg", "photos/02.jpg", "photos/large.jpg"] {
        let img = probe_ok(&read_sample(rel)).image;
        assert_eq!(img.exif.camera_model.as_deref(), Some("QV-R51"), "{rel}");
        let time = img.exif.capture_time.expect("capture time");
        let hour: u32 = time.local[11..13].parse().expect("hour");
        assert!(matches!(hour, 21..=23 | 0..=1), "{rel}: {}", time.local);
        assert_eq!(time.utc_offset_min, None);
        // The pictures themselves are daylight scenes (the clock was off), so their
        // brightness is ordinary, within reach of dog.jpg's.
        assert!((img.stats.luma_mean - dog_luma).abs() < 0.2, "{rel}: {}", img.stats.luma_mean);
    }
}

// ---------------------------------------------------------------------------------------------
// Scanning

#[test]
fn scan_ignores_text_and_json_and_finds_extensionless_jpeg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("sub/deeper")).expect("mkdir");
    std::fs::write(root.join("b.JPG"), jpeg_fixture(16, 16)).expect("write");
    std::fs::write(root.join("a.txt"), "hello").expect("write");
    std::fs::write(root.join("labels.json"), "{}").expect("write");
    std::fs::write(root.join("sub/no_extension"), jpeg_fixture(16, 16)).expect("write");
    std::fs::write(root.join("sub/deeper/c.png"), b"x").expect("write");
    std::fs::write(root.join(".hidden.jpg"), b"x").expect("write");
    std::fs::create_dir(root.join(".git")).expect("mkdir");
    std::fs::write(root.join(".git/d.jpg"), b"x").expect("write");
    std::fs::create_dir(root.join("demo.lacuna")).expect("mkdir");
    std::fs::write(root.join("demo.lacuna/thumb.jpg"), b"x").expect("write");

    let items = collect_scan(root);
    let found: Vec<&str> = files(&items).iter().map(|f| f.rel_path.as_str()).collect();
    assert_eq!(found, ["b.JPG", "sub/deeper/c.png", "sub/no_extension"]);
    let ignored: Vec<String> = items
        .iter()
        .filter_map(|i| match i {
            ScanItem::Ignored(p) => Some(p.file_name().expect("name").to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(ignored, ["a.txt", "labels.json"]);
    assert!(problems(&items).is_empty());

    let extensionless = files(&items)[2];
    assert!(extensionless.abs_path.is_absolute());
    assert_eq!(extensionless.file_size_bytes, jpeg_fixture(16, 16).len() as u64);
    assert!(extensionless.mtime_ns > 0);
    let probe = probe_file(&extensionless.abs_path, &extensionless.rel_path, &opts()).expect("probe");
    assert_eq!(probe.image.format, ImageFormat::Jpeg);
}

#[test]
fn scan_of_a_single_file_yields_exactly_that_file() {
    let path = sample("photos/flower.jpg");
    let items = collect_scan(&path);
    assert_eq!(items.len(), 1);
    let ScanItem::File(found) = &items[0] else { panic!("{items:?}") };
    assert_eq!(found.rel_path, "flower.jpg");
    assert_eq!(found.file_size_bytes, std::fs::metadata(&path).expect("meta").len());
    assert!(found.abs_path.ends_with("photos/flower.jpg"));
}

#[test]
fn scan_stops_when_asked_and_fails_only_on_a_bad_root() {
    let mut seen = 0;
    scan(&sample("photos"), |_| {
        seen += 1;
        ControlFlow::Break(())
    })
    .expect("scan");
    assert_eq!(seen, 1);
    let missing = scan(Path::new("/definitely/not/here"), |_| ControlFlow::Continue(()));
    let problem = missing.expect_err("missing root");
    assert_eq!(problem.kind, ProblemKind::Vanished);
    assert_eq!(problem.path, "/definitely/not/here");
}

#[test]
fn scan_sorts_by_file_name() {
    let items = collect_scan(Path::new(SAMPLES));
    let names: Vec<&str> = files(&items).iter().map(|f| f.rel_path.as_str()).collect();
    assert!(names.len() >= 24, "{names:?}");
    for expected in ["exif-cameras/r_canon.jpg", "photos/02.jpg", "photos/frozenpond.mpo"] {
        assert!(names.contains(&expected), "{expected} missing");
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[cfg(unix)]
#[test]
fn non_utf8_file_name_is_reported_and_scan_continues() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let bad_name = OsStr::from_bytes(b"caf\xe9.jpg");
    std::fs::write(root.join(bad_name), jpeg_fixture(16, 16)).expect("write");
    std::fs::write(root.join("good.jpg"), jpeg_fixture(16, 16)).expect("write");
    let bad_dir = root.join(OsStr::from_bytes(b"dossier-\xff"));
    std::fs::create_dir(&bad_dir).expect("mkdir");
    std::fs::write(bad_dir.join("inside.jpg"), b"x").expect("write");

    let items = collect_scan(root);
    let found: Vec<&str> = files(&items).iter().map(|f| f.rel_path.as_str()).collect();
    assert_eq!(found, ["good.jpg"]);
    let problems = problems(&items);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().all(|p| p.kind == ProblemKind::NonUtf8Name));
    assert!(problems.iter().any(|p| p.path.ends_with("caf\u{FFFD}.jpg")), "{problems:?}");
    assert!(problems.iter().any(|p| p.path.ends_with("dossier-\u{FFFD}")), "{problems:?}");
}

#[cfg(unix)]
#[test]
fn symlink_loop_is_reported_and_scan_terminates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("dir/sub")).expect("mkdir");
    std::fs::write(root.join("dir/a.jpg"), b"x").expect("write");
    std::fs::write(root.join("dir/sub/b.jpg"), b"x").expect("write");
    std::os::unix::fs::symlink("..", root.join("dir/sub/loop")).expect("symlink");
    // A symlinked folder outside the loop is followed.
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("c.jpg"), b"x").expect("write");
    std::os::unix::fs::symlink(outside.path(), root.join("linked")).expect("symlink");
    // A broken link with an image name is a problem, not a crash.
    std::os::unix::fs::symlink(root.join("nowhere.jpg"), root.join("broken.jpg")).expect("symlink");

    let items = collect_scan(root);
    let found: Vec<&str> = files(&items).iter().map(|f| f.rel_path.as_str()).collect();
    assert_eq!(found, ["dir/a.jpg", "dir/sub/b.jpg", "linked/c.jpg"]);
    let problems = problems(&items);
    let loops: Vec<_> = problems.iter().filter(|p| p.kind == ProblemKind::SymlinkLoop).collect();
    assert_eq!(loops.len(), 1, "{problems:?}");
    assert!(loops[0].path.ends_with("dir/sub/loop"), "{}", loops[0].path);
    assert!(loops[0].message.contains("loop"));
    let broken: Vec<_> = problems.iter().filter(|p| p.path.ends_with("broken.jpg")).collect();
    assert_eq!(broken.len(), 1, "{problems:?}");
    assert!(broken[0].message.contains("broken link"));
}

// ---------------------------------------------------------------------------------------------
// JPEG variants seen in the wild

#[test]
fn jpeg_with_stray_bytes_is_still_read() {
    let jpeg = jpeg_fixture(320, 240);
    // Stray bytes before EOI: libjpeg warns "extraneous bytes before marker 0xd9"; the pixels
    // are complete.
    let mut before_eoi = jpeg[..jpeg.len() - 2].to_vec();
    before_eoi.extend_from_slice(&[0, 0, 0, 0xFF, 0xD9]);
    let probe = probe_ok(&before_eoi);
    assert_eq!((probe.image.width_px, probe.image.height_px), (320, 240));
    // Stray bytes between header segments: libjpeg-turbo's header reader gives up, the fallback
    // decoder reads it.
    // After SOI and the APP0 (JFIF) segment.
    assert_eq!(&jpeg[2..4], &[0xFF, 0xE0]);
    let app0_end = 4 + usize::from(u16::from_be_bytes([jpeg[4], jpeg[5]]));
    let mut in_header = jpeg[..app0_end].to_vec();
    in_header.extend_from_slice(&[0, 0]);
    in_header.extend_from_slice(&jpeg[app0_end..]);
    let probe = probe_ok(&in_header);
    assert_eq!((probe.image.width_px, probe.image.height_px), (320, 240));
    assert!(decode_thumbnail(&probe).width() == 256);
    // Trailing data after EOI (cameras append all sorts of things) is fine.
    let mut trailing = jpeg.clone();
    trailing.extend_from_slice(&noise(1000, 3));
    probe_ok(&trailing);
}

#[test]
fn progressive_grey_and_cmyk_jpegs_are_read() {
    let (w, h) = (400u32, 300u32);
    let rgb = photo_like_rgb(w, h, 11);
    fn image(pixels: &[u8], w: u32, h: u32, format: turbojpeg::PixelFormat) -> turbojpeg::Image<&[u8]> {
        turbojpeg::Image {
            pixels,
            width: w as usize,
            pitch: w as usize * format.size(),
            height: h as usize,
            format,
        }
    }
    let mut c = turbojpeg::Compressor::new().expect("compressor");
    c.set_quality(85).expect("quality");
    c.set_progressive(true).expect("progressive");
    let progressive = c.compress_to_vec(image(&rgb, w, h, turbojpeg::PixelFormat::RGB)).expect("encodes");
    let probe = probe_ok(&progressive);
    assert_eq!((probe.image.width_px, probe.image.height_px), (w, h));
    assert_eq!(decode_thumbnail(&probe).dimensions(), (256, 192));

    let mut c = turbojpeg::Compressor::new().expect("compressor");
    c.set_subsamp(turbojpeg::Subsamp::Gray).expect("grey");
    let grey = c.compress_to_vec(image(&rgb, w, h, turbojpeg::PixelFormat::RGB)).expect("encodes");
    let probe = probe_ok(&grey);
    assert!(probe.image.stats.saturation_mean < 0.01);

    // CMYK (Adobe convention, as Photoshop writes it: 255 = no ink): pure red everywhere.
    let cmyk: Vec<u8> = (0..w * h).flat_map(|_| [255u8, 0, 0, 255]).collect();
    let mut c = turbojpeg::Compressor::new().expect("compressor");
    c.set_subsamp(turbojpeg::Subsamp::None).expect("subsamp");
    c.set_quality(95).expect("quality");
    let cmyk_jpeg = c.compress_to_vec(image(&cmyk, w, h, turbojpeg::PixelFormat::CMYK)).expect("encodes");
    let probe = probe_ok(&cmyk_jpeg);
    let px = *decode_thumbnail(&probe).get_pixel(100, 100);
    assert!(px[0] > 200 && px[1] < 60 && px[2] < 60, "{px:?}");
}

// ---------------------------------------------------------------------------------------------
// Timing (run with `cargo test -p lacuna-ingest --release -- --ignored --nocapture`)

/// A 1920x1080 photo-like frame: smooth gradients, a few shapes, mild noise.
fn synthetic_photo(w: u32, h: u32, seed: u64, noise_buf: &[u8]) -> Vec<u8> {
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    let s = seed as f32;
    let shapes: Vec<(f32, f32, f32, [f32; 3])> = (0..6)
        .map(|i| {
            let k = (seed * 31 + i * 17) as f32;
            (
                (k * 97.0) % w as f32,
                (k * 53.0) % h as f32,
                60.0 + (k * 13.0) % 240.0,
                [(k * 7.0) % 255.0, (k * 11.0) % 255.0, (k * 5.0) % 255.0],
            )
        })
        .collect();
    let offset = (seed as usize * 7919) % (noise_buf.len() / 2);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let mut c = [
                90.0 + 120.0 * fx + 20.0 * (fy * 6.0 + s).sin(),
                60.0 + 100.0 * fy + 25.0 * (fx * 9.0 + s * 0.5).cos(),
                140.0 - 60.0 * fx * fy + 30.0 * ((fx + fy) * 4.0).sin(),
            ];
            for &(cx, cy, r, col) in &shapes {
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                if dx * dx + dy * dy < r * r {
                    let t = 0.5 + 0.5 * (dx / r);
                    for ch in 0..3 {
                        c[ch] = col[ch] * (0.7 + 0.3 * t);
                    }
                }
            }
            let i = (y * w + x) as usize;
            let n = f32::from(noise_buf[offset + i]) / 255.0 * 12.0 - 6.0;
            for ch in 0..3 {
                rgb[i * 3 + ch] = (c[ch] + n).clamp(0.0, 255.0) as u8;
            }
        }
    }
    rgb
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn timing_1080p_jpegs() {
    use std::time::Instant;
    let (w, h, count) = (1920u32, 1080u32, 200usize);
    let dir = tempfile::tempdir().expect("tempdir");
    let noise_buf = noise((w * h) as usize * 2, 99);
    let started = Instant::now();
    let mut paths = Vec::new();
    for i in 0..count {
        let rgb = synthetic_photo(w, h, i as u64 + 1, &noise_buf);
        let jpeg = encode_jpeg(&rgb, w, h, 90).expect("encodes");
        let path = dir.path().join(format!("img_{i:03}.jpg"));
        std::fs::write(&path, &jpeg).expect("write");
        paths.push(path);
    }
    let files: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).expect("read")).collect();
    let total_bytes: usize = files.iter().map(Vec::len).sum();
    println!(
        "generated {count} JPEGs {w}x{h} q90, mean {:.0} KB, in {:.1} s",
        total_bytes as f64 / count as f64 / 1024.0,
        started.elapsed().as_secs_f64()
    );

    let per_image_ms = |f: &mut dyn FnMut(&[u8])| {
        // One warm-up pass, then the best of three.
        for bytes in &files {
            f(bytes);
        }
        (0..3)
            .map(|_| {
                let t = Instant::now();
                for bytes in &files {
                    f(bytes);
                }
                t.elapsed().as_secs_f64() * 1000.0 / count as f64
            })
            .fold(f64::INFINITY, f64::min)
    };
    let decode = per_image_ms(&mut |b| {
        assert_eq!(decode_jpeg_reduced(b, 8).expect("decodes"), (240, 135));
    });
    let options = opts();
    let probe = per_image_ms(&mut |b| {
        let p = probe_bytes(b, 0, "x", &options).expect("probes");
        assert_eq!(p.image.width_px, w);
    });
    let hash = per_image_ms(&mut |b| {
        std::hint::black_box(content_hash(b));
    });
    let t = Instant::now();
    for (path, _) in paths.iter().zip(&files) {
        probe_file(path, "x", &options).expect("probes");
    }
    let probe_file_ms = t.elapsed().as_secs_f64() * 1000.0 / count as f64;
    println!("(a) decode_jpeg_reduced 1/8: {decode:.3} ms/image");
    println!("(b) probe_bytes:             {probe:.3} ms/image");
    println!("(c) content_hash:            {hash:.3} ms/image");
    println!("    probe_file (with read):  {probe_file_ms:.3} ms/image (page cache warm)");
    println!("probe rate / bare decode rate = {:.1}%", decode / probe * 100.0);
}

#[test]
fn decode_for_model_uses_dct_scaling_but_never_goes_below_the_target() {
    // 1352x900 for a 640 px model: 1/2 scale (676x450) is the smallest that is large enough.
    let kite = lacuna_ingest::decode_for_model(&sample("photos/kite.jpg"), "kite.jpg", 640, 250_000_000)
        .expect("decodes");
    assert_eq!((kite.full_width_px, kite.full_height_px), (1352, 900));
    assert_eq!((kite.width_px, kite.height_px), (676, 450));
    assert_eq!(kite.rgb.len(), 676 * 450 * 3);
    // Smaller than the target: full size.
    let dog = lacuna_ingest::decode_for_model(&sample("photos/dog.jpg"), "dog.jpg", 640, 250_000_000)
        .expect("decodes");
    assert_eq!((dog.width_px, dog.height_px), (768, 576));
    // Other formats go through the image crate; the TIFF is 640x512.
    let tiff = lacuna_ingest::decode_for_model(&sample("photos/ifd_tag_type.tiff"), "t", 640, 250_000_000)
        .expect("decodes");
    assert_eq!((tiff.full_width_px, tiff.full_height_px), (640, 512));
    let err =
        lacuna_ingest::decode_for_model(&sample("photos/dog.jpg"), "dog.jpg", 640, 1000).expect_err("limit");
    assert_eq!(err.kind, ProblemKind::TooLarge);
}
