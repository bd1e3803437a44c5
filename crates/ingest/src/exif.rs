//! EXIF through kamadak-exif, from the in-memory file. Damaged EXIF never fails a probe: what
//! can be read is used, the rest is `None`.

use std::io::Cursor;

use exif::{Exif, In, Reader, Tag, Value};
use lacuna_core::{CaptureTime, ExifInfo, GpsPosition, clean_exif_text};

/// Parses a raw EXIF TIFF structure (a JPEG APP1 payload or a whole TIFF file).
pub(crate) fn from_tiff_structure(tiff: &[u8]) -> ExifInfo {
    let mut data = tiff.to_vec();
    normalise_ifd_pointers(&mut data);
    parse(Reader::new().continue_on_error(true).read_raw(data))
}

/// Finds and parses the EXIF of a PNG (eXIf chunk) or WebP (EXIF chunk) file.
pub(crate) fn from_container(bytes: &[u8]) -> ExifInfo {
    let mut cursor = Cursor::new(bytes);
    parse(Reader::new().continue_on_error(true).read_from_container(&mut cursor))
}

fn parse(result: Result<Exif, exif::Error>) -> ExifInfo {
    match result.or_else(|e| e.distill_partial_result(|_ignored| {})) {
        Ok(exif) => extract(&exif),
        Err(_) => ExifInfo { orientation: 1, ..ExifInfo::default() },
    }
}

/// The IFD pointer tags (Exif, GPS, Interoperability) may be typed IFD (13) instead of LONG (4)
/// (TIFF-EP and Adobe allow it; FLIR cameras write it). kamadak-exif only follows LONG
/// pointers, so such pointers are retyped in our private copy of the data.
fn normalise_ifd_pointers(data: &mut [u8]) {
    let little = match data.get(..4) {
        Some(b"II*\0") => true,
        Some(b"MM\0*") => false,
        _ => return,
    };
    let rd16 = |d: &[u8], at: usize| -> Option<u16> {
        let b = d.get(at..at + 2)?;
        Some(if little { u16::from_le_bytes([b[0], b[1]]) } else { u16::from_be_bytes([b[0], b[1]]) })
    };
    let rd32 = |d: &[u8], at: usize| -> Option<u32> {
        let b = d.get(at..at + 4)?;
        let arr = [b[0], b[1], b[2], b[3]];
        Some(if little { u32::from_le_bytes(arr) } else { u32::from_be_bytes(arr) })
    };
    let Some(first) = rd32(data, 4) else { return };
    // IFD0 and the Exif IFD can hold pointers; a handful of IFDs at most.
    let mut todo = vec![first as usize];
    let mut seen = Vec::new();
    while let Some(ifd) = todo.pop() {
        if seen.contains(&ifd) || seen.len() > 8 {
            continue;
        }
        seen.push(ifd);
        let Some(count) = rd16(data, ifd) else { continue };
        for i in 0..usize::from(count) {
            let entry = ifd + 2 + 12 * i;
            let (Some(tag), Some(typ), Some(cnt)) =
                (rd16(data, entry), rd16(data, entry + 2), rd32(data, entry + 4))
            else {
                break;
            };
            // ExifIFDPointer, GPSInfoIFDPointer, InteroperabilityIFDPointer.
            if !matches!(tag, 0x8769 | 0x8825 | 0xA005) || cnt != 1 {
                continue;
            }
            if typ == 13 {
                let long: [u8; 2] = if little { 4u16.to_le_bytes() } else { 4u16.to_be_bytes() };
                data[entry + 2..entry + 4].copy_from_slice(&long);
            }
            if tag == 0x8769
                && matches!(typ, 4 | 13)
                && let Some(child) = rd32(data, entry + 8)
            {
                todo.push(child as usize);
            }
        }
    }
}

fn extract(exif: &Exif) -> ExifInfo {
    let text = |tag: Tag| exif.get_field(tag, In::PRIMARY).and_then(|f| value_text(&f.value));
    let capture_time = [
        (Tag::DateTimeOriginal, Tag::OffsetTimeOriginal),
        (Tag::DateTimeDigitized, Tag::OffsetTimeDigitized),
        (Tag::DateTime, Tag::OffsetTime),
    ]
    .into_iter()
    .find_map(|(date_tag, offset_tag)| {
        let local = parse_datetime(&text(date_tag)?)?;
        let utc_offset_min =
            text(offset_tag).or_else(|| text(Tag::OffsetTime)).and_then(|o| parse_offset(&o));
        Some(CaptureTime { local, utc_offset_min })
    });
    let orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .filter(|o| (1..=8).contains(o))
        .map_or(1, |o| o as u8);
    ExifInfo {
        camera_make: text(Tag::Make),
        camera_model: text(Tag::Model),
        body_serial: exif.get_field(Tag::BodySerialNumber, In::PRIMARY).and_then(|f| serial_text(&f.value)),
        lens_model: text(Tag::LensModel),
        capture_time,
        gps: gps(exif),
        orientation,
    }
}

/// ASCII (or, from sloppy writers, BYTE/UNDEFINED) value as cleaned text. Everything from the
/// first NUL on is padding. UTF-8 is taken as such, other bytes as Latin-1; text with control
/// characters is binary junk (some cameras fill unused fields with it) and gives `None`.
fn value_text(value: &Value) -> Option<String> {
    let bytes: &[u8] = match value {
        Value::Ascii(parts) => parts.iter().find(|p| !p.is_empty())?,
        Value::Byte(b) | Value::Undefined(b, _) => b,
        _ => return None,
    };
    let head = bytes.split(|&b| b == 0).next().unwrap_or_default();
    let text = match std::str::from_utf8(head) {
        Ok(s) => s.to_owned(),
        Err(_) => head.iter().map(|&b| char::from(b)).collect(),
    };
    if text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return None;
    }
    clean_exif_text(&text)
}

/// Serial numbers are letters, digits and a little punctuation; anything else is junk.
fn serial_text(value: &Value) -> Option<String> {
    value_text(value).filter(|s| {
        s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '/' | ':' | '#'))
    })
}

/// "YYYY:MM:DD HH:MM:SS" (also with '-' and 'T') to "YYYY-MM-DDTHH:MM:SS"; `None` for blank,
/// zero or impossible dates.
pub(crate) fn parse_datetime(raw: &str) -> Option<String> {
    let s = raw.trim();
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &b[range];
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter().try_fold(0u32, |acc, d| Some(acc * 10 + u32::from(d - b'0')))
    };
    let date_sep = |c: u8| c == b':' || c == b'-';
    if !date_sep(b[4]) || !date_sep(b[7]) || !(b[10] == b' ' || b[10] == b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, mut second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1800..=2200).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=days_in_month).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // A leap second does not sort as text; the second before it is close enough.
    second = second.min(59);
    Some(format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}"))
}

/// "+09:00" / "-05:30" to minutes east of UTC.
pub(crate) fn parse_offset(raw: &str) -> Option<i32> {
    let b = raw.trim().as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = [b[1], b[2], b[4], b[5]];
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let d = |i: usize| i32::from(digits[i] - b'0');
    let (hours, minutes) = (d(0) * 10 + d(1), d(2) * 10 + d(3));
    if hours > 14 || minutes > 59 || hours * 60 + minutes > 14 * 60 {
        return None;
    }
    Some(sign * (hours * 60 + minutes))
}

fn gps(exif: &Exif) -> Option<GpsPosition> {
    let field = |tag: Tag| exif.get_field(tag, In::PRIMARY).map(|f| &f.value);
    let reference = |tag: Tag| -> Option<u8> {
        match field(tag)? {
            Value::Ascii(parts) => parts.first()?.first().map(u8::to_ascii_uppercase),
            _ => None,
        }
    };
    let degrees = |tag: Tag| -> Option<f64> {
        let Value::Rational(parts) = field(tag)? else { return None };
        if parts.is_empty() {
            return None;
        }
        let part = |i: usize| parts.get(i).map_or(Some(0.0), |r| finite(r.to_f64()));
        Some(part(0)? + part(1)? / 60.0 + part(2)? / 3600.0)
    };
    let mut latitude = degrees(Tag::GPSLatitude)?;
    let mut longitude = degrees(Tag::GPSLongitude)?;
    match reference(Tag::GPSLatitudeRef) {
        Some(b'S') => latitude = -latitude,
        Some(b'N') | None => {}
        Some(_) => return None,
    }
    match reference(Tag::GPSLongitudeRef) {
        Some(b'W') => longitude = -longitude,
        Some(b'E') | None => {}
        Some(_) => return None,
    }
    if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
        return None;
    }
    // Cameras without a fix often write zeros.
    if latitude == 0.0 && longitude == 0.0 {
        return None;
    }
    let altitude = match field(Tag::GPSAltitude) {
        Some(Value::Rational(parts)) => parts.first().and_then(|r| finite(r.to_f64())),
        _ => None,
    };
    let below_sea = matches!(field(Tag::GPSAltitudeRef), Some(Value::Byte(b)) if b.first() == Some(&1));
    let altitude_m = altitude.map(|a| if below_sea { -a } else { a });
    Some(GpsPosition { latitude_deg: latitude, longitude_deg: longitude, altitude_m })
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("2024:01:03 22:10:05"), Some("2024-01-03T22:10:05".into()));
        assert_eq!(parse_datetime("2024-01-03T22:10:05"), Some("2024-01-03T22:10:05".into()));
        assert_eq!(parse_datetime(" 2004:02:29 00:00:60 "), Some("2004-02-29T00:00:59".into()));
        assert_eq!(parse_datetime("2023:02:29 10:00:00"), None);
        assert_eq!(parse_datetime("0000:00:00 00:00:00"), None);
        assert_eq!(parse_datetime("    :  :     :  :  "), None);
        assert_eq!(parse_datetime("2024:13:01 10:00:00"), None);
        assert_eq!(parse_datetime("2024:01:01 24:00:00"), None);
        assert_eq!(parse_datetime("garbage"), None);
        assert_eq!(parse_datetime(""), None);
        assert_eq!(parse_datetime("2024:01:0x 10:00:00"), None);
    }

    #[test]
    fn text_values() {
        let ascii = |b: &[u8]| Value::Ascii(vec![b.to_vec()]);
        assert_eq!(value_text(&ascii(b"PENTAX Corporation  ")), Some("PENTAX Corporation".into()));
        assert_eq!(value_text(&ascii(b"Caf\xe9")), Some("Caf\u{e9}".into()));
        assert_eq!(value_text(&ascii("Caf\u{e9}".as_bytes())), Some("Caf\u{e9}".into()));
        assert_eq!(value_text(&ascii(b"\x10\x15`\x12\x95")), None);
        assert_eq!(value_text(&Value::Undefined(b"Nikon\0\0".to_vec(), 0)), Some("Nikon".into()));
        assert_eq!(value_text(&Value::Ascii(vec![])), None);
        assert_eq!(serial_text(&ascii(b"022070029137")), Some("022070029137".into()));
        assert_eq!(serial_text(&ascii(b"`\xe9")), None);
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("+09:00"), Some(540));
        assert_eq!(parse_offset("-05:30"), Some(-330));
        assert_eq!(parse_offset("+00:00"), Some(0));
        assert_eq!(parse_offset("+15:00"), None);
        assert_eq!(parse_offset("   :  "), None);
        assert_eq!(parse_offset("0900"), None);
    }

    #[test]
    fn damaged_exif_gives_defaults() {
        let info = from_tiff_structure(b"II*\0\xff\xff\xff\xff");
        assert_eq!(info.orientation, 1);
        assert_eq!(info.camera_make, None);
        assert_eq!(from_tiff_structure(b"").orientation, 1);
        assert_eq!(from_container(b"\x89PNG\r\n\x1a\n").orientation, 1);
    }

    #[test]
    fn ifd_typed_pointer_is_followed() {
        // IFD0 with Make and an Exif pointer typed IFD (13); Exif IFD with DateTimeOriginal.
        let mut t = b"II*\0\x08\0\0\0".to_vec();
        // IFD0 at 8: 2 entries.
        t.extend_from_slice(&2u16.to_le_bytes());
        // Make, ASCII, 4, "Abc\0" inline.
        t.extend_from_slice(&0x010Fu16.to_le_bytes());
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&4u32.to_le_bytes());
        t.extend_from_slice(b"Abc\0");
        // ExifIFDPointer, IFD type, 1, offset 38.
        t.extend_from_slice(&0x8769u16.to_le_bytes());
        t.extend_from_slice(&13u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&38u32.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes()); // next IFD
        assert_eq!(t.len(), 38);
        // Exif IFD: 1 entry, DateTimeOriginal, ASCII, 20, at offset 56.
        t.extend_from_slice(&1u16.to_le_bytes());
        t.extend_from_slice(&0x9003u16.to_le_bytes());
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&20u32.to_le_bytes());
        t.extend_from_slice(&56u32.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(t.len(), 56);
        t.extend_from_slice(b"2020:05:06 07:08:09\0");
        let info = from_tiff_structure(&t);
        assert_eq!(info.camera_make.as_deref(), Some("Abc"));
        let time = info.capture_time.expect("date from the Exif IFD");
        assert_eq!(time.local, "2020-05-06T07:08:09");
        assert_eq!(time.utc_offset_min, None);
    }
}
