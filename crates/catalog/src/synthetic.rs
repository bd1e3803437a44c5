//! Deterministic fake images for [`crate::Catalog::insert_synthetic_images`].

use lacuna_core::{CaptureTime, ContentHash, ExifInfo, GpsPosition, ImageFormat, ImageStats, ProbedImage};

/// Number of folders the images are spread over (`set-NN/FFFF`, 50 per set).
const FOLDERS: u64 = 1000;
/// Capture days span two years from 2022-01-01.
const DAYS: u64 = 730;
/// Days from 1970-01-01 to 2022-01-01.
const FIRST_DAY: i64 = 18_993;

/// SplitMix64: tiny, fast, good enough for test data (shared with `synthetic_labels.rs`).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

#[derive(Debug, Clone)]
struct Camera {
    make: &'static str,
    model: String,
    serial: Option<String>,
}

/// One generated image.
#[derive(Debug, Clone)]
pub(crate) struct SyntheticImage {
    pub(crate) rel_path: String,
    pub(crate) probed: ProbedImage,
    pub(crate) missing: bool,
    /// Where a duplicate of this image lies, if it has one.
    pub(crate) duplicate_rel_path: Option<String>,
}

/// Generates image `i` of `count` from `seed`; the same inputs always give the same image.
#[derive(Debug, Clone)]
pub(crate) struct Generator {
    seed: u64,
    count: u64,
    now_unix_s: i64,
    cameras: Vec<Camera>,
    /// Cumulative weights (Zipf, s = 1) for picking a camera.
    cumulative: Vec<f64>,
}

impl Generator {
    pub(crate) fn new(seed: u64, count: u64, now_unix_s: i64) -> Self {
        const MAKES: [(&str, &str); 10] = [
            ("Canon", "Canon EOS"),
            ("NIKON CORPORATION", "NIKON D"),
            ("SONY", "ILCE-"),
            ("FUJIFILM", "X-T"),
            ("Panasonic", "DMC-GH"),
            ("OLYMPUS IMAGING CORP.", "E-M"),
            ("Apple", "iPhone "),
            ("samsung", "SM-G"),
            ("Google", "Pixel "),
            ("PENTAX", "PENTAX K-"),
        ];
        let cameras: Vec<Camera> = (0..50)
            .map(|k: usize| {
                let (make, prefix) = MAKES[k % MAKES.len()];
                Camera {
                    make,
                    model: format!("{prefix}{}", 10 + k),
                    // A few bodies are told apart by serial number.
                    serial: (k % 7 == 3).then(|| format!("{:06}", 100_000 + k * 7919)),
                }
            })
            .collect();
        let mut total = 0.0;
        let cumulative = (0..cameras.len())
            .map(|k| {
                total += 1.0 / (k as f64 + 1.0);
                total
            })
            .collect();
        Self { seed, count, now_unix_s, cameras, cumulative }
    }

    pub(crate) fn image(&self, index: u64) -> SyntheticImage {
        let mut rng = Rng::new(self.seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let folder = index * FOLDERS / self.count.max(1);
        let png = rng.chance(0.05);
        let ext = if png { "png" } else { "jpg" };
        let rel_path = format!("set-{:02}/{folder:04}/IMG_{:x}_{index:07}.{ext}", folder / 50, self.seed);

        let camera = if rng.chance(0.03) {
            None
        } else {
            let total = self.cumulative.last().copied().unwrap_or(1.0);
            let x = rng.unit() * total;
            let k = self.cumulative.partition_point(|c| *c <= x).min(self.cameras.len() - 1);
            self.cameras.get(k)
        };
        let capture_time = if rng.chance(0.03) {
            None
        } else {
            // Mostly the folder's day (one event per folder), sometimes any day.
            let day = if rng.chance(0.1) { rng.below(DAYS) } else { folder * DAYS / FOLDERS };
            let second = rng.below(86_400);
            let (y, m, d) = civil_from_days(FIRST_DAY + day as i64);
            let local = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
                second / 3600,
                second / 60 % 60,
                second % 60
            );
            let utc_offset_min = match rng.below(3) {
                0 => None,
                1 => Some(60),
                _ => Some(120),
            };
            Some(CaptureTime { local, utc_offset_min })
        };
        let gps = rng.chance(0.2).then(|| GpsPosition {
            latitude_deg: rng.unit() * 130.0 - 60.0,
            longitude_deg: rng.unit() * 360.0 - 180.0,
            altitude_m: rng.chance(0.5).then(|| rng.unit() * 2000.0),
        });
        const SIZES: [(u32, u32); 5] = [(6000, 4000), (4000, 3000), (4032, 3024), (1920, 1080), (3000, 4000)];
        let (width_px, height_px) = SIZES[rng.below(SIZES.len() as u64) as usize];
        let mut hash = [0u8; 32];
        for chunk in hash.chunks_exact_mut(8) {
            chunk.copy_from_slice(&rng.next().to_le_bytes());
        }
        let two_years_ns = 2 * 365 * 86_400 * 1_000_000_000u64;
        let luma_p50 = rng.unit() as f32;
        let probed = ProbedImage {
            format: if png { ImageFormat::Png } else { ImageFormat::Jpeg },
            width_px,
            height_px,
            file_size_bytes: 500_000 + rng.below(12_000_000),
            mtime_ns: self.now_unix_s * 1_000_000_000 - rng.below(two_years_ns) as i64,
            content_hash: ContentHash(hash),
            exif: ExifInfo {
                camera_make: camera.map(|c| c.make.to_owned()),
                camera_model: camera.map(|c| c.model.clone()),
                body_serial: camera.and_then(|c| c.serial.clone()),
                lens_model: camera.filter(|_| rng.chance(0.5)).map(|c| format!("{} lens", c.model)),
                capture_time,
                gps,
                orientation: if rng.chance(0.1) { 6 } else { 1 },
            },
            stats: ImageStats {
                luma_mean: luma_p50,
                luma_p05: luma_p50 * 0.2,
                luma_p50,
                luma_p95: (luma_p50 + 0.3).min(1.0),
                contrast: rng.unit() as f32 * 0.3,
                saturation_mean: rng.unit() as f32,
                sharpness: rng.unit() as f32 * 0.01,
            },
        };
        let missing = rng.chance(0.05);
        let duplicate_rel_path =
            rng.chance(0.01).then(|| format!("dups/{:x}/{index:07}-copy.{ext}", self.seed));
        SyntheticImage { rel_path, probed, missing, duplicate_rel_path }
    }
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian; Howard Hinnant's
/// algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(FIRST_DAY), (2022, 1, 1));
        assert_eq!(civil_from_days(FIRST_DAY + 59), (2022, 3, 1));
        assert_eq!(civil_from_days(FIRST_DAY + 730), (2024, 1, 1));
    }

    #[test]
    fn deterministic_and_spread() {
        let g = Generator::new(7, 10_000, 1_700_000_000);
        assert_eq!(g.image(42).rel_path, g.image(42).rel_path);
        assert_eq!(g.image(42).probed, g.image(42).probed);
        let images: Vec<_> = (0..10_000).map(|i| g.image(i)).collect();
        let missing = images.iter().filter(|i| i.missing).count();
        assert!((300..700).contains(&missing), "{missing}");
        let dups = images.iter().filter(|i| i.duplicate_rel_path.is_some()).count();
        assert!((50..150).contains(&dups), "{dups}");
        let cameras: std::collections::HashSet<_> =
            images.iter().map(|i| i.probed.exif.camera_id()).collect();
        assert!(cameras.len() > 40, "{}", cameras.len());
        let folders: std::collections::HashSet<_> =
            images.iter().map(|i| i.rel_path.rsplit_once('/').map(|(d, _)| d.to_owned())).collect();
        assert_eq!(folders.len(), 1000);
    }
}
