use serde::{Deserialize, Serialize};

use crate::ContentHash;

/// Container format, decided from the file's first bytes (never from its extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Jpeg,
    /// Multi-picture JPEG (stereo cameras such as the Nintendo 3DS); read as its first JPEG.
    Mpo,
    Png,
    Webp,
    Tiff,
    Bmp,
    /// Only the first frame of an animated GIF is used.
    Gif,
}

impl ImageFormat {
    /// The stable lower-case name stored in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Mpo => "mpo",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Tiff => "tiff",
            Self::Bmp => "bmp",
            Self::Gif => "gif",
        }
    }

    /// Inverse of [`ImageFormat::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "jpeg" => Self::Jpeg,
            "mpo" => Self::Mpo,
            "png" => Self::Png,
            "webp" => Self::Webp,
            "tiff" => Self::Tiff,
            "bmp" => Self::Bmp,
            "gif" => Self::Gif,
            _ => return None,
        })
    }
}

/// Whether a catalogued file is still where the last import found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageStatus {
    Ok,
    /// Not found by the last complete scan of its folder. Everything attached to the image is
    /// kept; the image comes back to `ok` when the file reappears (at its path or, by hash, at
    /// another).
    Missing,
}

impl ImageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Missing => "missing",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ok" => Some(Self::Ok),
            "missing" => Some(Self::Missing),
            _ => None,
        }
    }
}

/// Capture time as the camera recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureTime {
    /// Local wall-clock time, `YYYY-MM-DDTHH:MM:SS` (sortable as text).
    pub local: String,
    /// Offset from UTC in minutes, when the file records one (EXIF `OffsetTimeOriginal`).
    pub utc_offset_min: Option<i32>,
}

impl CaptureTime {
    /// RFC 3339 when the offset is known, the bare local time otherwise.
    pub fn to_rfc3339(&self) -> String {
        match self.utc_offset_min {
            Some(offset) => {
                let sign = if offset < 0 { '-' } else { '+' };
                let abs = offset.unsigned_abs();
                format!("{}{sign}{:02}:{:02}", self.local, abs / 60, abs % 60)
            }
            None => self.local.clone(),
        }
    }
}

/// GPS position from EXIF, in decimal degrees (south and west negative).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GpsPosition {
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub altitude_m: Option<f64>,
}

/// What EXIF says about the shot. Strings are cleaned of NUL and space padding; empty strings
/// become `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExifInfo {
    pub camera_make: Option<String>,
    pub camera_model: Option<String>,
    pub body_serial: Option<String>,
    pub lens_model: Option<String>,
    pub capture_time: Option<CaptureTime>,
    pub gps: Option<GpsPosition>,
    /// EXIF orientation 1..=8 (1 when absent).
    pub orientation: u8,
}

impl ExifInfo {
    /// The camera identity used for filters and coverage; see [`camera_id`].
    pub fn camera_id(&self) -> Option<String> {
        camera_id(self.camera_make.as_deref(), self.camera_model.as_deref(), self.body_serial.as_deref())
    }
}

/// Camera identity: make, model and body serial joined with spaces, each cleaned; the make is
/// not repeated when the model already starts with it ("Canon Canon EOS 40D" becomes
/// "Canon EOS 40D").
pub fn camera_id(make: Option<&str>, model: Option<&str>, serial: Option<&str>) -> Option<String> {
    let make = make.and_then(clean_exif_text);
    let model = model.and_then(clean_exif_text);
    let serial = serial.and_then(clean_exif_text);
    let mut parts: Vec<String> = Vec::with_capacity(3);
    match (make, model) {
        (Some(make), Some(model)) => {
            let first_word = make.split_whitespace().next().unwrap_or(&make).to_lowercase();
            if !model.to_lowercase().starts_with(&first_word) {
                parts.push(make);
            }
            parts.push(model);
        }
        (Some(one), None) | (None, Some(one)) => parts.push(one),
        (None, None) => {}
    }
    if parts.is_empty() {
        return None;
    }
    if let Some(serial) = serial {
        parts.push(format!("#{serial}"));
    }
    Some(parts.join(" "))
}

/// Trims the NULs, spaces and other control characters that cameras pad EXIF strings with,
/// and collapses inner runs of whitespace. Returns `None` when nothing is left.
pub fn clean_exif_text(raw: &str) -> Option<String> {
    // Some cameras pad with NULs in the middle ("Canon\0\0\0"): everything after the first NUL
    // is padding.
    let head = raw.split('\0').next().unwrap_or("");
    let cleaned: Vec<&str> =
        head.split(|c: char| c.is_whitespace() || c.is_control()).filter(|part| !part.is_empty()).collect();
    if cleaned.is_empty() { None } else { Some(cleaned.join(" ")) }
}

/// Statistics of an image, computed on a reduced-size decode. Luminance values are in 0..=1
/// (Rec. 601 luma of 8-bit sRGB values).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ImageStats {
    pub luma_mean: f32,
    pub luma_p05: f32,
    pub luma_p50: f32,
    pub luma_p95: f32,
    /// RMS contrast: standard deviation of luma.
    pub contrast: f32,
    /// Mean HSV saturation, 0..=1.
    pub saturation_mean: f32,
    /// Variance of the 4-neighbour Laplacian of luma (0..=1 scale); low means blurry.
    pub sharpness: f32,
}

/// Everything probing one file tells us.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbedImage {
    pub format: ImageFormat,
    /// Width after EXIF orientation is applied (what a viewer shows).
    pub width_px: u32,
    /// Height after EXIF orientation is applied.
    pub height_px: u32,
    pub file_size_bytes: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    pub content_hash: ContentHash,
    pub exif: ExifInfo,
    pub stats: ImageStats,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_exif_text_strips_nul_and_space_padding() {
        assert_eq!(clean_exif_text("PENTAX Corporation \0\0\0"), Some("PENTAX Corporation".into()));
        assert_eq!(clean_exif_text("Canon\0garbage"), Some("Canon".into()));
        assert_eq!(clean_exif_text("  QV-R51   "), Some("QV-R51".into()));
        assert_eq!(clean_exif_text("\0\0\0"), None);
        assert_eq!(clean_exif_text("    "), None);
    }

    #[test]
    fn camera_id_does_not_repeat_the_make() {
        assert_eq!(camera_id(Some("Canon"), Some("Canon EOS 40D"), None), Some("Canon EOS 40D".into()));
        assert_eq!(
            camera_id(Some("CASIO COMPUTER CO.,LTD."), Some("QV-R51 "), Some("1234\0")),
            Some("CASIO COMPUTER CO.,LTD. QV-R51 #1234".into())
        );
        assert_eq!(camera_id(Some("\0"), None, Some("77")), None);
    }

    #[test]
    fn capture_time_rfc3339() {
        let t = CaptureTime { local: "2024-01-03T22:10:05".into(), utc_offset_min: Some(-330) };
        assert_eq!(t.to_rfc3339(), "2024-01-03T22:10:05-05:30");
        let t = CaptureTime { local: "2024-01-03T22:10:05".into(), utc_offset_min: None };
        assert_eq!(t.to_rfc3339(), "2024-01-03T22:10:05");
    }

    #[test]
    fn format_names_round_trip() {
        for f in [
            ImageFormat::Jpeg,
            ImageFormat::Mpo,
            ImageFormat::Png,
            ImageFormat::Webp,
            ImageFormat::Tiff,
            ImageFormat::Bmp,
            ImageFormat::Gif,
        ] {
            assert_eq!(ImageFormat::from_name(f.as_str()), Some(f));
        }
    }
}
