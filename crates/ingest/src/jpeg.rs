//! JPEG through libjpeg-turbo: marker walk (EXIF, MPF, frame size), reduced-size decode with
//! DCT scaling, and thumbnail encoding. Compressor and decompressor handles are kept per
//! thread, so a probe does not pay for creating them.

use std::cell::RefCell;

use turbojpeg::{Compressor, Decompressor, Image, PixelFormat, ScalingFactor, Subsamp};

use crate::error::{IngestError, turbojpeg_message};

thread_local! {
    static DECOMPRESSOR: RefCell<Option<Decompressor>> = const { RefCell::new(None) };
    static COMPRESSOR: RefCell<Option<Compressor>> = const { RefCell::new(None) };
}

/// Progressive JPEGs with more scans than this are refused: a few hundred crafted scans can make
/// a small file take minutes to decode. Real encoders write about ten.
const MAX_SCANS: u32 = 500;

/// What the segments before the first scan say.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct JpegMarkers<'a> {
    /// TIFF structure of the first APP1 "Exif" segment (after the 6-byte "Exif\0\0" header).
    pub exif: Option<&'a [u8]>,
    /// An APP2 "MPF\0" segment: a multi-picture file (MPO).
    pub is_mpo: bool,
    /// An APP14 "Adobe" segment: CMYK data is stored inverted.
    pub adobe: bool,
    /// Width and height from the frame header (SOFn).
    pub frame: Option<(u32, u32)>,
    /// The data ended inside the header, before the first scan.
    pub header_cut: bool,
}

/// Walks the marker segments of a JPEG from SOI to the first SOS (or `limit` bytes). Never
/// fails: whatever cannot be parsed ends the walk.
pub(crate) fn read_markers(bytes: &[u8], limit: usize) -> JpegMarkers<'_> {
    let mut out = JpegMarkers::default();
    let end = bytes.len().min(limit);
    if end < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return out;
    }
    let mut pos = 2;
    loop {
        if pos + 2 > end {
            out.header_cut = end == bytes.len();
            break;
        }
        if bytes[pos] != 0xFF {
            // Garbage between segments: libjpeg would warn and resync; we just stop looking.
            break;
        }
        let marker = bytes[pos + 1];
        if marker == 0xFF {
            // Fill byte.
            pos += 1;
            continue;
        }
        pos += 2;
        match marker {
            // Standalone markers without a length.
            0x01 | 0xD0..=0xD8 => continue,
            // End of image or start of scan: the header is over.
            0xD9 | 0xDA => break,
            _ => {}
        }
        if pos + 2 > end {
            out.header_cut = end == bytes.len();
            break;
        }
        let len = usize::from(u16::from_be_bytes([bytes[pos], bytes[pos + 1]]));
        if len < 2 {
            break;
        }
        let seg_end = pos + len;
        let payload = &bytes[pos + 2..seg_end.min(bytes.len())];
        let complete = seg_end <= bytes.len();
        match marker {
            0xE1 if out.exif.is_none() && complete && payload.starts_with(b"Exif\0") => {
                out.exif = payload.get(6..);
            }
            0xE2 if payload.starts_with(b"MPF\0") => out.is_mpo = true,
            0xEE if payload.starts_with(b"Adobe") => out.adobe = true,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) && payload.len() >= 5 => {
                let height = u32::from(u16::from_be_bytes([payload[1], payload[2]]));
                let width = u32::from(u16::from_be_bytes([payload[3], payload[4]]));
                out.frame = Some((width, height));
            }
            _ => {}
        }
        if !complete {
            out.header_cut = end == bytes.len();
            break;
        }
        pos = seg_end;
    }
    out
}

/// A reduced-size decode: packed RGB8.
#[derive(Debug)]
pub(crate) struct Reduced {
    pub rgb: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Why a JPEG could not be decoded with libjpeg-turbo.
#[derive(Debug)]
pub(crate) enum JpegFailure {
    /// The header claims more pixels than allowed; nothing was decoded.
    TooLarge { width: u32, height: u32 },
    /// The data ends before the image does.
    Truncated,
    /// The data is damaged (the decoder's message).
    Damaged(String),
    /// The header has a harmless defect (for example stray bytes between segments) that makes
    /// libjpeg-turbo's header reader give up; another decoder may still read it.
    HeaderWarning,
}

/// Warnings that leave the decoded pixels intact.
fn is_harmless_warning(msg: &str) -> bool {
    const HARMLESS: [&str; 4] = [
        "extraneous bytes before marker",
        "unknown JFIF revision",
        "Unknown Adobe color transform",
        "bad ICC marker",
    ];
    HARMLESS.iter().any(|h| msg.contains(h))
}

fn is_truncation(msg: &str) -> bool {
    msg.contains("Premature end of") || msg.contains("premature end of data segment")
}

fn with_decompressor<T>(
    f: impl FnOnce(&mut Decompressor) -> Result<T, turbojpeg::Error>,
) -> Result<T, turbojpeg::Error> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let decompressor = match slot.as_mut() {
            Some(d) => d,
            None => slot.insert(Decompressor::new()?),
        };
        let result = f(decompressor);
        if result.is_err() {
            // Start the next image with a fresh handle rather than trusting one that failed.
            *slot = None;
        }
        result
    })
}

fn with_compressor<T>(
    f: impl FnOnce(&mut Compressor) -> Result<T, turbojpeg::Error>,
) -> Result<T, turbojpeg::Error> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compressor = match slot.as_mut() {
            Some(c) => c,
            None => slot.insert(Compressor::new()?),
        };
        let result = f(compressor);
        if result.is_err() {
            *slot = None;
        }
        result
    })
}

/// The smallest DCT scale (1/8, 1/4, 1/2, 1) whose long edge is at least 7/8 of `target_edge`.
pub(crate) fn choose_scale(width: u32, height: u32, target_edge: u32) -> ScalingFactor {
    let long = u64::from(width.max(height));
    let needed = (u64::from(target_edge) * 7).div_ceil(8);
    for denom in [8u64, 4, 2] {
        if long.div_ceil(denom) >= needed {
            return ScalingFactor::new(1, denom as usize);
        }
    }
    ScalingFactor::ONE
}

/// Decodes a JPEG (or the first picture of an MPO) at the smallest DCT scale that still gives
/// a long edge of about `target_edge`, after checking the header against `max_pixels`.
/// Returns the reduced image and the full size from the header.
pub(crate) fn decode_reduced(
    bytes: &[u8],
    markers: &JpegMarkers<'_>,
    target_edge: u32,
    max_pixels: u64,
) -> Result<(Reduced, u32, u32), JpegFailure> {
    let classify = |err: turbojpeg::Error, in_header: bool| {
        let msg = turbojpeg_message(&err);
        if is_truncation(&msg) {
            JpegFailure::Truncated
        } else if in_header && is_harmless_warning(&msg) {
            JpegFailure::HeaderWarning
        } else {
            JpegFailure::Damaged(msg)
        }
    };

    let mut failure = None;
    let result = with_decompressor(|d| {
        let header = match d.read_header(bytes) {
            Ok(h) => h,
            Err(_) if markers.header_cut => {
                failure = Some(JpegFailure::Truncated);
                return Err(turbojpeg::Error::Null);
            }
            Err(err) => {
                failure = Some(classify(err, true));
                return Err(turbojpeg::Error::Null);
            }
        };
        let (width, height) = (
            u32::try_from(header.width).unwrap_or(u32::MAX),
            u32::try_from(header.height).unwrap_or(u32::MAX),
        );
        if width == 0 || height == 0 {
            failure = Some(JpegFailure::Damaged("the image has no pixels".into()));
            return Err(turbojpeg::Error::Null);
        }
        if u64::from(width) * u64::from(height) > max_pixels {
            failure = Some(JpegFailure::TooLarge { width, height });
            // Not a decoder failure: keep the handle.
            return Ok(None);
        }
        let scale =
            if header.is_lossless { ScalingFactor::ONE } else { choose_scale(width, height, target_edge) };
        d.set_scaling_factor(scale)?;
        d.set_scan_limit(MAX_SCANS)?;
        let scaled = header.scaled(scale);
        let cmyk = matches!(header.colorspace, turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK);
        let format = if cmyk { PixelFormat::CMYK } else { PixelFormat::RGB };
        let pitch = scaled.width * format.size();
        let mut pixels = vec![0u8; pitch * scaled.height];
        let image = Image {
            pixels: pixels.as_mut_slice(),
            width: scaled.width,
            pitch,
            height: scaled.height,
            format,
        };
        if let Err(err) = d.decompress(bytes, image) {
            let msg = turbojpeg_message(&err);
            if !is_harmless_warning(&msg) || is_truncation(&msg) {
                failure = Some(classify(err, false));
                return Err(turbojpeg::Error::Null);
            }
            // A harmless warning after the whole image was decoded: keep the pixels.
        }
        let rgb = if cmyk { cmyk_to_rgb(&pixels, markers.adobe) } else { pixels };
        Ok(Some((Reduced { rgb, width: scaled.width as u32, height: scaled.height as u32 }, width, height)))
    });
    match (result, failure) {
        (_, Some(failure)) => Err(failure),
        (Ok(Some(done)), None) => Ok(done),
        (Ok(None), None) => Err(JpegFailure::Damaged("no image".into())),
        (Err(err), None) => Err(JpegFailure::Damaged(turbojpeg_message(&err))),
    }
}

/// CMYK (as libjpeg returns it) to RGB. Adobe files store the channels inverted.
fn cmyk_to_rgb(cmyk: &[u8], adobe_inverted: bool) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let (c, m, y, k) = if adobe_inverted {
            (u32::from(px[0]), u32::from(px[1]), u32::from(px[2]), u32::from(px[3]))
        } else {
            (255 - u32::from(px[0]), 255 - u32::from(px[1]), 255 - u32::from(px[2]), 255 - u32::from(px[3]))
        };
        rgb.push(((c * k + 127) / 255) as u8);
        rgb.push(((m * k + 127) / 255) as u8);
        rgb.push(((y * k + 127) / 255) as u8);
    }
    rgb
}

/// Bare reduced decode to RGB (the benchmark baseline); see [`crate::decode_jpeg_reduced`].
pub(crate) fn decode_scaled(bytes: &[u8], scale_denom: u8) -> Result<(u32, u32), IngestError> {
    if !matches!(scale_denom, 1 | 2 | 4 | 8) {
        return Err(IngestError::InvalidInput(format!(
            "scale denominator must be 1, 2, 4 or 8, not {scale_denom}"
        )));
    }
    let dims = with_decompressor(|d| {
        let scale = ScalingFactor::new(1, usize::from(scale_denom));
        d.set_scaling_factor(scale)?;
        let header = d.read_header(bytes)?.scaled(scale);
        let pitch = header.width * 3;
        let mut pixels = vec![0u8; pitch * header.height];
        let image = Image {
            pixels: pixels.as_mut_slice(),
            width: header.width,
            pitch,
            height: header.height,
            format: PixelFormat::RGB,
        };
        d.decompress(bytes, image)?;
        Ok((header.width, header.height))
    })?;
    let to_u32 = |v: usize| u32::try_from(v).map_err(|_| IngestError::Jpeg("image too wide".into()));
    Ok((to_u32(dims.0)?, to_u32(dims.1)?))
}

/// Packed RGB8 to baseline JPEG with 4:2:0 chroma subsampling; see [`crate::encode_jpeg`].
pub(crate) fn encode_rgb(rgb: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, IngestError> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 {
        return Err(IngestError::InvalidInput(format!("empty image ({width} x {height})")));
    }
    let expected = w.checked_mul(h).and_then(|n| n.checked_mul(3));
    if expected != Some(rgb.len()) {
        return Err(IngestError::InvalidInput(format!(
            "{} bytes of pixels do not make a {width} x {height} RGB image",
            rgb.len()
        )));
    }
    let quality = i32::from(quality.clamp(1, 100));
    Ok(with_compressor(|c| {
        c.set_quality(quality)?;
        c.set_subsamp(Subsamp::Sub2x2)?;
        c.compress_to_vec(Image { pixels: rgb, width: w, pitch: w * 3, height: h, format: PixelFormat::RGB })
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_choice_keeps_long_edge_near_target() {
        // 1920 / 8 = 240 >= 224 (7/8 of 256).
        assert_eq!(choose_scale(1920, 1080, 256), ScalingFactor::ONE_EIGHTH);
        assert_eq!(choose_scale(1080, 1920, 256), ScalingFactor::ONE_EIGHTH);
        // 1600 / 8 = 200 < 224, 1600 / 4 = 400.
        assert_eq!(choose_scale(1600, 1200, 256), ScalingFactor::ONE_QUARTER);
        assert_eq!(choose_scale(640, 480, 256), ScalingFactor::ONE_HALF);
        assert_eq!(choose_scale(300, 200, 256), ScalingFactor::ONE);
        assert_eq!(choose_scale(80, 80, 256), ScalingFactor::ONE);
        assert_eq!(choose_scale(6000, 4000, 256), ScalingFactor::ONE_EIGHTH);
        // Exactly 7/8: 1792 / 8 = 224.
        assert_eq!(choose_scale(1792, 100, 256), ScalingFactor::ONE_EIGHTH);
        // 1785 / 8 rounds up to 224 like libjpeg does; 1784 / 8 = 223.
        assert_eq!(choose_scale(1785, 100, 256), ScalingFactor::ONE_EIGHTH);
        assert_eq!(choose_scale(1784, 100, 256), ScalingFactor::ONE_QUARTER);
    }

    #[test]
    fn markers_of_encoded_jpeg() {
        let rgb = vec![128u8; 32 * 16 * 3];
        let jpeg = encode_rgb(&rgb, 32, 16, 80).expect("encodes");
        let markers = read_markers(&jpeg, usize::MAX);
        assert_eq!(markers.frame, Some((32, 16)));
        assert!(!markers.header_cut);
        assert!(read_markers(&jpeg[..100], usize::MAX).header_cut);
        assert!(!markers.is_mpo);
        assert!(markers.exif.is_none());
        assert!(read_markers(b"not a jpeg", usize::MAX).frame.is_none());
        // A cut header does not panic.
        for cut in 0..jpeg.len().min(700) {
            let _ = read_markers(&jpeg[..cut], usize::MAX);
        }
    }

    #[test]
    fn classifies_decoder_complaints() {
        let rgb: Vec<u8> = (0..64 * 48 * 3).map(|i| (i * 7 % 251) as u8).collect();
        let jpeg = encode_rgb(&rgb, 64, 48, 90).expect("encodes");
        let decode = |bytes: &[u8]| decode_reduced(bytes, &read_markers(bytes, usize::MAX), 256, 1_000_000);
        assert!(decode(&jpeg).is_ok());
        // Stray bytes between header segments stop libjpeg-turbo's header reader.
        let app0_end = 4 + usize::from(u16::from_be_bytes([jpeg[4], jpeg[5]]));
        let mut stray = jpeg[..app0_end].to_vec();
        stray.extend_from_slice(&[0, 0]);
        stray.extend_from_slice(&jpeg[app0_end..]);
        assert!(matches!(decode(&stray), Err(JpegFailure::HeaderWarning)));
        // Before EOI they are harmless.
        let mut before_eoi = jpeg[..jpeg.len() - 2].to_vec();
        before_eoi.extend_from_slice(&[0, 0, 0xFF, 0xD9]);
        assert!(decode(&before_eoi).is_ok());
        assert!(matches!(decode(&jpeg[..jpeg.len() - 100]), Err(JpegFailure::Truncated)));
        assert!(matches!(decode(&jpeg[..200]), Err(JpegFailure::Truncated)));
        assert!(matches!(
            decode_reduced(&jpeg, &read_markers(&jpeg, usize::MAX), 256, 100),
            Err(JpegFailure::TooLarge { width: 64, height: 48 })
        ));
    }

    #[test]
    fn cmyk_conversion() {
        // Adobe: 255 means no ink.
        assert_eq!(cmyk_to_rgb(&[255, 255, 255, 255], true), vec![255, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[255, 0, 255, 255], true), vec![255, 0, 255]);
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 0], false), vec![255, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 255], false), vec![0, 0, 0]);
    }

    #[test]
    fn encode_rejects_bad_sizes() {
        assert!(encode_rgb(&[0; 5], 1, 2, 80).is_err());
        assert!(encode_rgb(&[], 0, 0, 80).is_err());
        assert!(decode_scaled(b"xx", 3).is_err());
    }
}
