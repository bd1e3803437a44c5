//! Conditions per image: what is known about how, where and when a picture was taken (camera,
//! time of day, light, weather look, site, sensor, sequence...), each claim with its source and
//! a confidence.
//!
//! Sources, from most to least trusted ([`ConditionSource::trust`]):
//! 1. [`ConditionSource::Human`]: set by a person in the app or the CLI;
//! 2. [`ConditionSource::Sidecar`]: a CSV or JSON file the user imports ([`parse_sidecar`]);
//! 3. [`ConditionSource::Path`]: rules the user writes over folder names ([`PathRule`]);
//! 4. [`ConditionSource::Exif`]: camera identity and time of day ([`exif_conditions`],
//!    [`time_of_day`], which uses the sun's elevation from [`solar_elevation_deg`] when the file
//!    has GPS);
//! 5. [`ConditionSource::Estimated`]: light level and weather look guessed from the image
//!    statistics ([`estimated_conditions`]). These are hints: see `docs/conditions.md` for how
//!    often they are right.
//!
//! [`resolve`] keeps, per key, the claim of the most trusted source.
//!
//! Everything here is a pure function: no I/O, no clock.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::f64::consts::PI;
use std::fmt;

use lacuna_core::ImageStats;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Key: camera identity (make, model and body serial; see [`lacuna_core::camera_id`]).
pub const CAMERA: &str = "camera";
/// Key: time of day from the capture time; values [`TIME_OF_DAY_VALUES`].
pub const TIME_OF_DAY: &str = "time_of_day";
/// Key: light level estimated from the pixels; values [`LIGHT_VALUES`].
pub const LIGHT: &str = "light";
/// Key: weather-like look estimated from the pixels; values [`WEATHER_VALUES`].
pub const WEATHER: &str = "weather";

/// Value of [`TIME_OF_DAY`] and [`LIGHT`]: daylight.
pub const DAY: &str = "day";
/// Value of [`TIME_OF_DAY`]: twilight, the sun within 6° of the horizon.
pub const DUSK_DAWN: &str = "dusk_dawn";
/// Value of [`TIME_OF_DAY`] and [`LIGHT`]: night.
pub const NIGHT: &str = "night";
/// Value of [`LIGHT`]: a dim picture without the lamp highlights of a night scene.
pub const LOW_LIGHT: &str = "low_light";
/// Value of [`WEATHER`]: contrasty and colourful, as in sunshine.
pub const CLEAR: &str = "clear";
/// Value of [`WEATHER`]: flat, dull light.
pub const OVERCAST: &str = "overcast";
/// Value of [`WEATHER`]: low contrast, washed out, lifted blacks.
pub const FOG_HAZE: &str = "fog_haze";
/// Value of [`WEATHER`]: cannot tell (dark, greyscale, or no rule applies).
pub const UNKNOWN: &str = "unknown";

/// The values [`time_of_day`] gives, in display order.
pub const TIME_OF_DAY_VALUES: [&str; 3] = [DAY, DUSK_DAWN, NIGHT];
/// The values [`estimated_conditions`] gives for [`LIGHT`], in display order.
pub const LIGHT_VALUES: [&str; 3] = [DAY, LOW_LIGHT, NIGHT];
/// The values [`estimated_conditions`] gives for [`WEATHER`], in display order.
pub const WEATHER_VALUES: [&str; 4] = [CLEAR, OVERCAST, FOG_HAZE, UNKNOWN];

// ------------------------------------------------------------------------------------------------
// Sources and claims
// ------------------------------------------------------------------------------------------------

/// Where a condition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ConditionSource {
    /// Set by a person in the app or the CLI.
    Human,
    /// Read from a CSV or JSON file the user imported.
    Sidecar,
    /// Extracted from folder names by a path rule the user wrote.
    Path,
    /// Read from the file's metadata (camera, capture time, GPS).
    Exif,
    /// Guessed from the image statistics.
    Estimated,
}

impl ConditionSource {
    /// All sources, most trusted first.
    pub const ALL: [ConditionSource; 5] =
        [Self::Human, Self::Sidecar, Self::Path, Self::Exif, Self::Estimated];

    /// Rank of trust: higher wins in [`resolve`]. Human 5, sidecar 4, path 3, EXIF 2,
    /// estimated 1.
    pub fn trust(self) -> u8 {
        match self {
            Self::Human => 5,
            Self::Sidecar => 4,
            Self::Path => 3,
            Self::Exif => 2,
            Self::Estimated => 1,
        }
    }

    /// The stable lower-case name stored in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Sidecar => "sidecar",
            Self::Path => "path",
            Self::Exif => "exif",
            Self::Estimated => "estimated",
        }
    }

    /// Inverse of [`ConditionSource::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|source| source.as_str() == name)
    }

    /// Whether claims from this source are derived by Lacuna itself (and recomputed when an
    /// image is probed again), rather than given by the user.
    pub fn is_derived(self) -> bool {
        matches!(self, Self::Path | Self::Exif | Self::Estimated)
    }
}

impl fmt::Display for ConditionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One claim about an image: `key = value`, from `source`, with a confidence in 0..=1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Condition {
    pub key: String,
    pub value: String,
    pub source: ConditionSource,
    pub confidence: f32,
}

impl Condition {
    /// A claim; the confidence is clamped to 0..=1 (NaN becomes 0).
    pub fn new(
        key: impl Into<String>,
        value: impl Into<String>,
        source: ConditionSource,
        confidence: f32,
    ) -> Self {
        Self { key: key.into(), value: value.into(), source, confidence: clamp_unit(confidence) }
    }

    /// Whether this claim beats `other` for the same key: more trusted source first, then higher
    /// confidence, then (for a stable answer) the smaller value.
    pub fn outranks(&self, other: &Condition) -> bool {
        rank(self, other) == Ordering::Greater
    }
}

fn rank(a: &Condition, b: &Condition) -> Ordering {
    a.source
        .trust()
        .cmp(&b.source.trust())
        .then_with(|| clamp_unit(a.confidence).total_cmp(&clamp_unit(b.confidence)))
        .then_with(|| b.value.cmp(&a.value))
}

fn clamp_unit(x: f32) -> f32 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

/// Per key, the claim of the most trusted source (ties: higher confidence, then the smaller
/// value), sorted by key.
pub fn resolve(conditions: &[Condition]) -> Vec<Condition> {
    let mut best: BTreeMap<&str, &Condition> = BTreeMap::new();
    for c in conditions {
        best.entry(c.key.as_str())
            .and_modify(|current| {
                if c.outranks(current) {
                    *current = c;
                }
            })
            .or_insert(c);
    }
    best.into_values().cloned().collect()
}

// ------------------------------------------------------------------------------------------------
// Time
// ------------------------------------------------------------------------------------------------

/// A moment in UTC, to the second (proleptic Gregorian calendar).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl UtcTime {
    /// A checked time: year 1..=9999, a real calendar day, 00:00:00..=23:59:59.
    pub fn new(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Result<Self, String> {
        if !(1..=9999).contains(&year) {
            return Err(format!("year {year} is out of range 1..=9999"));
        }
        if !(1..=12).contains(&month) {
            return Err(format!("month {month} is out of range 1..=12"));
        }
        let last = days_in_month(year, month);
        if day < 1 || day > last {
            return Err(format!("day {day} does not exist in {year:04}-{month:02} (1..={last})"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(format!("time {hour:02}:{minute:02}:{second:02} is not a valid time of day"));
        }
        Ok(Self { year, month, day, hour, minute, second })
    }

    /// The UTC time of a local wall-clock time `YYYY-MM-DDTHH:MM:SS` (a space instead of the
    /// `T`, EXIF's `YYYY:MM:DD HH:MM:SS`, and a fraction of a second are accepted) taken at
    /// `utc_offset_min` minutes east of UTC (e.g. +120 for UTC+2).
    pub fn from_local(local: &str, utc_offset_min: i32) -> Result<Self, String> {
        if utc_offset_min.abs() > 18 * 60 {
            return Err(format!("UTC offset {utc_offset_min} min is beyond ±18 h"));
        }
        let t = parse_local_time(local)?;
        let seconds = t.unix_seconds() - i64::from(utc_offset_min) * 60;
        Self::from_unix_seconds(seconds)
    }

    /// Seconds since 1970-01-01T00:00:00 UTC.
    pub fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), i64::from(self.month), i64::from(self.day));
        days * 86_400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
    }

    /// Inverse of [`UtcTime::unix_seconds`] (errors outside years 1..=9999).
    pub fn from_unix_seconds(seconds: i64) -> Result<Self, String> {
        let days = seconds.div_euclid(86_400);
        let secs = seconds.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let year = i32::try_from(y).map_err(|_| format!("year {y} is out of range"))?;
        // Each part is in range by construction; `new` re-checks the year.
        Self::new(
            year,
            m as u32,
            d as u32,
            (secs / 3600) as u32,
            (secs % 3600 / 60) as u32,
            (secs % 60) as u32,
        )
    }

    /// Day of the year, 1 for January 1st.
    pub fn day_of_year(&self) -> u32 {
        let jan1 = days_from_civil(i64::from(self.year), 1, 1);
        let today = days_from_civil(i64::from(self.year), i64::from(self.month), i64::from(self.day));
        (today - jan1 + 1) as u32
    }

    /// Hours since midnight, with the fraction.
    pub fn fractional_hour(&self) -> f64 {
        f64::from(self.hour) + f64::from(self.minute) / 60.0 + f64::from(self.second) / 3600.0
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Parses a local wall-clock time into its parts (kept in a [`UtcTime`] only as a container).
fn parse_local_time(local: &str) -> Result<UtcTime, String> {
    let s = local.trim();
    let bad = || format!("`{local}` is not a time of the form YYYY-MM-DDTHH:MM:SS");
    let b = s.as_bytes();
    if b.len() < 19 || !b[..19].is_ascii() {
        return Err(bad());
    }
    let date_sep = b[4];
    if !(date_sep == b'-' || date_sep == b':') || b[7] != date_sep {
        return Err(bad());
    }
    if !(b[10] == b'T' || b[10] == b' ') || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    // Anything after the seconds must be a fraction of a second.
    let rest = &s[19..];
    if !rest.is_empty() {
        let fraction = rest.strip_prefix('.').ok_or_else(bad)?;
        if fraction.is_empty() || !fraction.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
    }
    let num = |range: std::ops::Range<usize>| -> Result<u32, String> {
        let part = &s[range];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse::<u32>().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let year = num(0..4)? as i32;
    UtcTime::new(year, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?)
        .map_err(|e| format!("`{local}`: {e}"))
}

// ------------------------------------------------------------------------------------------------
// The sun
// ------------------------------------------------------------------------------------------------

/// Where the sun is, with the intermediate values of the calculation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolarPosition {
    /// Fractional year γ in radians.
    pub fractional_year_rad: f64,
    /// Equation of time in minutes (true solar time minus mean solar time).
    pub equation_of_time_min: f64,
    /// Solar declination in degrees.
    pub declination_deg: f64,
    /// Hour angle in degrees (0 at solar noon, negative in the morning).
    pub hour_angle_deg: f64,
    /// Solar zenith angle in degrees.
    pub zenith_deg: f64,
    /// Elevation above the horizon in degrees (90 − zenith), without atmospheric refraction.
    pub elevation_deg: f64,
}

/// The sun's position by NOAA's "General Solar Position Calculations" (NOAA Global Monitoring
/// Laboratory; the Fourier series for the equation of time and the declination are Spencer's,
/// 1971): fractional year γ = 2π/N · (day_of_year − 1 + (hour − 12)/24) with N = 365 or 366,
/// then the equation of time, the declination, true solar time = minutes of the day (UTC) +
/// equation of time + 4 · longitude, hour angle = true solar time / 4 − 180°, and
/// cos(zenith) = sin φ sin δ + cos φ cos δ cos(hour angle).
///
/// Accuracy: the elevation stays within about 0.6° of NOAA's more precise spreadsheet
/// algorithm (after Meeus, good to about 0.01°): the series tie the seasons to the calendar day
/// and ignore where a year falls in the leap-year cycle, which moves the equinox by up to a
/// quarter of a day (about 0.3° of declination near the equinoxes). The tests compare the two
/// over a grid of places and dates, 1990–2050. Atmospheric refraction (about +0.5° at the
/// horizon, nothing below it) is not added. Both are far below what matters for the ±6°
/// twilight thresholds used here, where an error of 0.6° is two to four minutes of clock time.
///
/// `lat_deg` is clamped to −90..=90; longitudes are east-positive and may wrap.
pub fn solar_position(lat_deg: f64, lon_deg: f64, utc: UtcTime) -> SolarPosition {
    let days_in_year = if is_leap(utc.year) { 366.0 } else { 365.0 };
    let hour = utc.fractional_hour();
    let gamma = 2.0 * PI / days_in_year * (f64::from(utc.day_of_year()) - 1.0 + (hour - 12.0) / 24.0);
    let equation_of_time_min = 229.18
        * (0.000075 + 0.001868 * gamma.cos()
            - 0.032077 * gamma.sin()
            - 0.014615 * (2.0 * gamma).cos()
            - 0.040849 * (2.0 * gamma).sin());
    let declination = 0.006918 - 0.399912 * gamma.cos() + 0.070257 * gamma.sin()
        - 0.006758 * (2.0 * gamma).cos()
        + 0.000907 * (2.0 * gamma).sin()
        - 0.002697 * (3.0 * gamma).cos()
        + 0.00148 * (3.0 * gamma).sin();
    // Time offset in minutes for a UTC clock (time zone 0).
    let time_offset = equation_of_time_min + 4.0 * lon_deg;
    let true_solar_time = hour * 60.0 + time_offset;
    let hour_angle_deg = true_solar_time / 4.0 - 180.0;
    let lat = lat_deg.clamp(-90.0, 90.0).to_radians();
    let cos_zenith =
        lat.sin() * declination.sin() + lat.cos() * declination.cos() * hour_angle_deg.to_radians().cos();
    let zenith_deg = cos_zenith.clamp(-1.0, 1.0).acos().to_degrees();
    SolarPosition {
        fractional_year_rad: gamma,
        equation_of_time_min,
        declination_deg: declination.to_degrees(),
        hour_angle_deg: (hour_angle_deg + 180.0).rem_euclid(360.0) - 180.0,
        zenith_deg,
        elevation_deg: 90.0 - zenith_deg,
    }
}

/// The sun's elevation above the horizon in degrees at a place and a UTC time; see
/// [`solar_position`] for the formula, its source and its accuracy.
pub fn solar_elevation_deg(lat_deg: f64, lon_deg: f64, utc: UtcTime) -> f64 {
    solar_position(lat_deg, lon_deg, utc).elevation_deg
}

// ------------------------------------------------------------------------------------------------
// EXIF: camera and time of day
// ------------------------------------------------------------------------------------------------

/// Sun elevation (degrees) above which it is day, and below minus which it is night: civil
/// twilight ends when the sun is 6° below the horizon, and below about 6° above it the light
/// is low, warm and changing fast (the "golden hour").
pub const TWILIGHT_ELEVATION_DEG: f64 = 6.0;

/// Confidence of a time of day from GPS and a recorded UTC offset. The sun's position is exact
/// to a fraction of a degree; what goes wrong is the camera's clock (not set, not moved to
/// daylight saving time, not moved when travelling).
pub const CONFIDENCE_SUN_WITH_OFFSET: f32 = 0.9;
/// Same, within [`NEAR_TWILIGHT_WITH_OFFSET_DEG`] of a boundary: at mid latitudes the sun moves
/// about 10° an hour near the horizon, so a clock an hour off crosses the boundary.
pub const CONFIDENCE_SUN_WITH_OFFSET_NEAR_BOUNDARY: f32 = 0.75;
const NEAR_TWILIGHT_WITH_OFFSET_DEG: f64 = 2.0;
/// Confidence of a time of day from GPS with the UTC offset guessed from the longitude
/// (longitude / 15 hours): civil time zones differ from that by an hour or more in many places
/// (daylight saving time, China, Spain, Argentina...).
pub const CONFIDENCE_SUN_GUESSED_OFFSET: f32 = 0.7;
/// Same, within [`NEAR_TWILIGHT_GUESSED_OFFSET_DEG`] of a boundary.
pub const CONFIDENCE_SUN_GUESSED_OFFSET_NEAR_BOUNDARY: f32 = 0.55;
const NEAR_TWILIGHT_GUESSED_OFFSET_DEG: f64 = 8.0;
/// Confidence of a time of day from the clock hour alone (no GPS): right for most of the day
/// in most places, but dusk moves by hours with the seasons and the latitude.
pub const CONFIDENCE_CLOCK: f32 = 0.5;
/// Same, for the hours the rule calls dusk/dawn, the most season-dependent ones.
pub const CONFIDENCE_CLOCK_DUSK_DAWN: f32 = 0.4;

/// The time of day of a capture: from the sun's elevation when GPS is known (elevation above 6°
/// day, −6°..=6° dusk/dawn, below −6° night), with the recorded UTC offset or, without one, an
/// offset guessed from the longitude (lower confidence); without GPS, from the local clock hour
/// (08:00–16:59 day, 06:00–07:59 and 17:00–19:59 dusk/dawn, else night; low confidence).
/// Source [`ConditionSource::Exif`]. `None` when the time cannot be read.
///
/// A GPS position of exactly (0, 0), outside −90..=90 / −180..=180 or not finite is treated as
/// absent (cameras write (0, 0) when they have no fix).
pub fn time_of_day(
    captured_local: &str,
    utc_offset_min: Option<i32>,
    gps: Option<(f64, f64)>,
) -> Option<Condition> {
    let local = parse_local_time(captured_local).ok()?;
    let gps = gps.filter(|&(lat, lon)| usable_gps(lat, lon));
    let (value, confidence) = match gps {
        Some((lat, lon)) => {
            let (offset, known) = match utc_offset_min {
                Some(offset) if offset.abs() <= 18 * 60 => (offset, true),
                _ => ((lon / 15.0).round() as i32 * 60, false),
            };
            let utc = UtcTime::from_local(captured_local, offset).ok()?;
            let elevation = solar_elevation_deg(lat, lon, utc);
            let value = sun_time_of_day(elevation);
            let to_boundary = (elevation.abs() - TWILIGHT_ELEVATION_DEG).abs();
            let confidence = match known {
                true if to_boundary < NEAR_TWILIGHT_WITH_OFFSET_DEG => {
                    CONFIDENCE_SUN_WITH_OFFSET_NEAR_BOUNDARY
                }
                true => CONFIDENCE_SUN_WITH_OFFSET,
                false if to_boundary < NEAR_TWILIGHT_GUESSED_OFFSET_DEG => {
                    CONFIDENCE_SUN_GUESSED_OFFSET_NEAR_BOUNDARY
                }
                false => CONFIDENCE_SUN_GUESSED_OFFSET,
            };
            (value, confidence)
        }
        None => {
            let value = clock_time_of_day(local.hour);
            let confidence = if value == DUSK_DAWN { CONFIDENCE_CLOCK_DUSK_DAWN } else { CONFIDENCE_CLOCK };
            (value, confidence)
        }
    };
    Some(Condition::new(TIME_OF_DAY, value, ConditionSource::Exif, confidence))
}

fn usable_gps(lat: f64, lon: f64) -> bool {
    lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon)
        && !(lat == 0.0 && lon == 0.0)
}

/// Day above +6°, dusk/dawn between −6° and +6°, night below −6°.
fn sun_time_of_day(elevation_deg: f64) -> &'static str {
    if elevation_deg > TWILIGHT_ELEVATION_DEG {
        DAY
    } else if elevation_deg >= -TWILIGHT_ELEVATION_DEG {
        DUSK_DAWN
    } else {
        NIGHT
    }
}

/// 08–17 day, 06–08 and 17–20 dusk/dawn, else night.
fn clock_time_of_day(hour: u32) -> &'static str {
    match hour {
        8..=16 => DAY,
        6..=7 | 17..=19 => DUSK_DAWN,
        _ => NIGHT,
    }
}

/// The conditions EXIF gives: the camera identity (confidence 1, cleaned of NUL and space
/// padding; pass [`lacuna_core::ExifInfo::camera_id`]) and the [`time_of_day`].
pub fn exif_conditions(
    camera: Option<&str>,
    captured_local: Option<&str>,
    utc_offset_min: Option<i32>,
    gps: Option<(f64, f64)>,
) -> Vec<Condition> {
    let mut out = Vec::with_capacity(2);
    if let Some(camera) = camera.and_then(lacuna_core::clean_exif_text) {
        out.push(Condition::new(CAMERA, camera, ConditionSource::Exif, 1.0));
    }
    if let Some(tod) = captured_local.and_then(|local| time_of_day(local, utc_offset_min, gps)) {
        out.push(tod);
    }
    out
}

// ------------------------------------------------------------------------------------------------
// Estimates from the image statistics
// ------------------------------------------------------------------------------------------------

/// Lowest and highest confidence of an estimated light level: every estimate ranks below every
/// other source anyway; the confidence only orders estimates among themselves.
const LIGHT_CONFIDENCE: (f32, f32) = (0.35, 0.7);
/// Lowest and highest confidence of an estimated weather look (less reliable than the light).
const WEATHER_CONFIDENCE: (f32, f32) = (0.3, 0.6);
/// Confidence of `weather = unknown`.
const UNKNOWN_CONFIDENCE: f32 = 0.3;
/// A greyscale picture (mean saturation below this) tells nothing about colour; trail cameras
/// also switch to greyscale infrared at night, so its light level is doubtful too.
const MONOCHROME_SATURATION: f32 = 0.015;
const MONOCHROME_LIGHT_CONFIDENCE: f32 = 0.4;

/// How far `x` lies above `threshold`, in units of `width`, clamped to −1..=1 (negative: below).
fn above(x: f32, threshold: f32, width: f32) -> f32 {
    ((x - threshold) / width).clamp(-1.0, 1.0)
}

fn below(x: f32, threshold: f32, width: f32) -> f32 {
    ((threshold - x) / width).clamp(-1.0, 1.0)
}

fn confidence_from_margin(margin: f32, (low, high): (f32, f32)) -> f32 {
    low + (high - low) * margin.clamp(0.0, 1.0)
}

fn usable_stats(s: &ImageStats) -> bool {
    let values = [s.luma_mean, s.luma_p05, s.luma_p50, s.luma_p95, s.contrast, s.saturation_mean];
    values.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)) && *s != ImageStats::default()
}

/// The light level a picture shows, with a confidence: `night`, `low_light` or `day`.
///
/// - night: a very dark median (p50 < 0.07), or a dark median (p50 < 0.25) with bright
///   highlights far above it (p95 ≥ 0.30 and (p95 + 0.02) / (p50 + 0.02) ≥ 2.5: lamps, lit
///   windows, headlights);
/// - low light: otherwise dim (p50 < 0.30) with nothing bright (p95 < 0.42): in daylight nearly
///   every scene has sky or highlights above that;
/// - day: the rest.
///
/// The confidence grows with the distance from the nearest threshold (0.35 on it, 0.7 well
/// clear of it), and is at most 0.4 for greyscale pictures. `None` for statistics that are all
/// zero (not computed) or out of range.
pub fn estimate_light(stats: &ImageStats) -> Option<(&'static str, f32)> {
    if !usable_stats(stats) {
        return None;
    }
    let (p50, p95) = (stats.luma_p50, stats.luma_p95);
    let ratio = (p95 + 0.02) / (p50 + 0.02);
    let very_dark = below(p50, 0.07, 0.04);
    let lamps = below(p50, 0.25, 0.08).min(above(p95, 0.30, 0.10)).min(above(ratio, 2.5, 1.0));
    let night = very_dark.max(lamps);
    let dim = below(p50, 0.30, 0.08).min(below(p95, 0.42, 0.10));
    let (value, margin) = if night > 0.0 {
        (NIGHT, night)
    } else if dim > 0.0 {
        (LOW_LIGHT, dim.min(-night))
    } else {
        (DAY, (-dim).min(-night))
    };
    let mut confidence = confidence_from_margin(margin, LIGHT_CONFIDENCE);
    if stats.saturation_mean < MONOCHROME_SATURATION {
        confidence = confidence.min(MONOCHROME_LIGHT_CONFIDENCE);
    }
    Some((value, confidence))
}

/// The weather-like look of a daylight picture, with a confidence: `fog_haze`, `overcast`,
/// `clear` or `unknown`.
///
/// - unknown: not daylight by [`estimate_light`] (colour and contrast at night say little), or
///   greyscale;
/// - fog/haze: lifted blacks (p05 ≥ 0.40), low contrast (< 0.13) and little colour
///   (saturation < 0.15): the scene is seen through bright grey air;
/// - overcast: otherwise dull (saturation < 0.20) and not contrasty (contrast < 0.20): soft
///   light without hard shadows;
/// - clear: colourful (saturation ≥ 0.20) and contrasty (contrast ≥ 0.15), as in sunshine;
/// - unknown: the rest.
///
/// The confidence grows with the distance from the nearest threshold (0.3 on it, 0.6 well
/// clear of it) and never exceeds the light estimate's. Close-ups, snow, sand and colourless
/// subjects fool these rules: see `docs/conditions.md`.
pub fn estimate_weather(stats: &ImageStats) -> Option<(&'static str, f32)> {
    let (light, light_confidence) = estimate_light(stats)?;
    if light != DAY || stats.saturation_mean < MONOCHROME_SATURATION {
        return Some((UNKNOWN, UNKNOWN_CONFIDENCE));
    }
    let (p05, contrast, saturation) = (stats.luma_p05, stats.contrast, stats.saturation_mean);
    let fog = above(p05, 0.40, 0.10).min(below(contrast, 0.13, 0.04)).min(below(saturation, 0.15, 0.05));
    let overcast = below(saturation, 0.20, 0.05).min(below(contrast, 0.20, 0.04));
    let clear = above(saturation, 0.20, 0.05).min(above(contrast, 0.15, 0.04));
    let (value, margin) = if fog > 0.0 {
        (FOG_HAZE, fog)
    } else if overcast > 0.0 {
        (OVERCAST, overcast.min(-fog))
    } else if clear > 0.0 {
        (CLEAR, clear)
    } else {
        return Some((UNKNOWN, UNKNOWN_CONFIDENCE));
    };
    Some((value, confidence_from_margin(margin, WEATHER_CONFIDENCE).min(light_confidence)))
}

/// The [`LIGHT`] and [`WEATHER`] estimates of an image (source
/// [`ConditionSource::Estimated`]); empty when the statistics are missing (all zero) or out of
/// range. See [`estimate_light`] and [`estimate_weather`] for the rules.
pub fn estimated_conditions(stats: &ImageStats) -> Vec<Condition> {
    let mut out = Vec::with_capacity(2);
    if let Some((value, confidence)) = estimate_light(stats) {
        out.push(Condition::new(LIGHT, value, ConditionSource::Estimated, confidence));
    }
    if let Some((value, confidence)) = estimate_weather(stats) {
        out.push(Condition::new(WEATHER, value, ConditionSource::Estimated, confidence));
    }
    out
}

// ------------------------------------------------------------------------------------------------
// Path rules
// ------------------------------------------------------------------------------------------------

/// A rule that extracts conditions from an image's path relative to its imported folder, such
/// as `{camera}/{date}/*`, `site-{site}/cam{camera}/**` or `{sequence}/*.jpg`.
///
/// - Segments are separated by `/` and match whole path segments (folder or file names).
/// - `{name}` captures part of a segment (at least one character) as the condition `name`;
///   literal text around it must match (`site-{site}` matches `site-north`, capturing
///   `north`). Names are letters, digits, `_` and `-`.
/// - `*` inside a segment matches any text within it (`*.jpg`); a segment that is only `*`
///   matches exactly one segment; a segment `**` matches any number of segments, none included.
/// - Literal text matches ignoring ASCII case (`*.jpg` matches `A.JPG`); captures keep the
///   path's spelling.
/// - When several splits fit (`{a}_{b}` on `x_y_z`), a capture takes the shortest text that
///   lets the rest match (`a = x`, `b = y_z`), and `**` the fewest segments.
/// - The whole path must match: `{camera}/*` does not match `cam1/day1/a.jpg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    pattern: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `**`: any number of segments.
    AnyDepth,
    /// A sequence of literal text, `*` and captures, matched against one segment.
    Parts(Vec<Part>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Star,
    Capture(String),
}

impl PathRule {
    /// Parses a pattern; the error names the pattern and what is wrong with it.
    pub fn parse(pattern: &str) -> Result<PathRule, String> {
        let err = |what: String| format!("path rule `{pattern}`: {what}");
        let trimmed = pattern.trim();
        if trimmed.is_empty() {
            return Err(err("is empty".into()));
        }
        if trimmed.contains('\\') {
            return Err(err("uses `\\`: separate folders with `/`".into()));
        }
        let body = trimmed.strip_prefix("./").unwrap_or(trimmed);
        if body.starts_with('/') {
            return Err(err("starts with `/`: rules match paths relative to the imported folder".into()));
        }
        let mut segments: Vec<Segment> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for (index, raw) in body.split('/').enumerate() {
            let position = index + 1;
            if raw.is_empty() {
                return Err(err(format!(
                    "segment {position} is empty (two `/` in a row, or a trailing `/`)"
                )));
            }
            if raw == "**" {
                if segments.last() != Some(&Segment::AnyDepth) {
                    segments.push(Segment::AnyDepth);
                }
                continue;
            }
            let parts =
                parse_segment(raw).map_err(|what| err(format!("segment {position} `{raw}`: {what}")))?;
            for part in &parts {
                if let Part::Capture(name) = part {
                    if names.contains(name) {
                        return Err(err(format!("captures `{{{name}}}` twice")));
                    }
                    names.push(name.clone());
                }
            }
            segments.push(Segment::Parts(parts));
        }
        if names.is_empty() {
            return Err(err("has no `{name}` capture, so it would extract nothing".into()));
        }
        Ok(PathRule { pattern: trimmed.to_string(), segments })
    }

    /// The pattern as written (trimmed).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The names the rule captures, in pattern order.
    pub fn keys(&self) -> Vec<&str> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Parts(parts) => Some(parts),
                Segment::AnyDepth => None,
            })
            .flatten()
            .filter_map(|p| match p {
                Part::Capture(name) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The `(name, value)` pairs the rule captures from `rel_path` (relative to the imported
    /// folder, `/` or `\` separated), in pattern order; `None` when the path does not match.
    pub fn apply(&self, rel_path: &str) -> Option<Vec<(String, String)>> {
        let normalised = rel_path.replace('\\', "/");
        let path: Vec<&str> = normalised.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
        let mut captures = Vec::new();
        match_segments(&self.segments, &path, &mut captures).then_some(captures)
    }

    /// [`PathRule::apply`] as conditions from [`ConditionSource::Path`] with confidence 1.
    pub fn conditions(&self, rel_path: &str) -> Option<Vec<Condition>> {
        self.apply(rel_path).map(|pairs| {
            pairs.into_iter().map(|(k, v)| Condition::new(k, v, ConditionSource::Path, 1.0)).collect()
        })
    }
}

impl fmt::Display for PathRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

fn parse_segment(raw: &str) -> Result<Vec<Part>, String> {
    let mut parts: Vec<Part> = Vec::new();
    let mut literal = String::new();
    let mut chars = raw.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for (_, n) in chars.by_ref() {
                    match n {
                        '}' => {
                            closed = true;
                            break;
                        }
                        '{' => return Err(format!("`{{` inside a capture at character {}", at + 1)),
                        _ => name.push(n),
                    }
                }
                if !closed {
                    return Err(format!("unclosed `{{` at character {}", at + 1));
                }
                let name = name.trim().to_string();
                if name.is_empty() {
                    return Err("empty capture name `{}`".into());
                }
                if let Some(bad) = name.chars().find(|c| !(c.is_alphanumeric() || *c == '_' || *c == '-')) {
                    return Err(format!(
                        "capture name `{name}` contains `{bad}`; use letters, digits, `_` or `-`"
                    ));
                }
                push_part(&mut parts, &mut literal, Part::Capture(name))?;
            }
            '}' => return Err(format!("`}}` without a `{{` at character {}", at + 1)),
            '*' => {
                if matches!(parts.last(), Some(Part::Star)) && literal.is_empty() {
                    return Err("`**` must be a whole segment (use `*` to match within a segment)".into());
                }
                push_part(&mut parts, &mut literal, Part::Star)?;
            }
            _ => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(parts)
}

/// Appends a capture or `*` after any pending literal, refusing two wildcards in a row where one
/// is a capture: where one ends and the next begins would be a guess.
fn push_part(parts: &mut Vec<Part>, literal: &mut String, part: Part) -> Result<(), String> {
    if literal.is_empty() {
        match (parts.last(), &part) {
            (Some(Part::Capture(a)), Part::Capture(b)) => {
                return Err(format!(
                    "two captures `{{{a}}}{{{b}}}` with no literal text between them: where one ends is ambiguous"
                ));
            }
            (Some(Part::Capture(a)), Part::Star) => {
                return Err(format!("`{{{a}}}*` has no literal text between the capture and `*`"));
            }
            (Some(Part::Star), Part::Capture(b)) => {
                return Err(format!("`*{{{b}}}` has no literal text between `*` and the capture"));
            }
            _ => {}
        }
    } else {
        parts.push(Part::Literal(std::mem::take(literal)));
    }
    parts.push(part);
    Ok(())
}

fn match_segments(pattern: &[Segment], path: &[&str], captures: &mut Vec<(String, String)>) -> bool {
    let Some((first, rest)) = pattern.split_first() else {
        return path.is_empty();
    };
    match first {
        Segment::AnyDepth => (0..=path.len()).any(|skip| {
            let mark = captures.len();
            let ok = match_segments(rest, &path[skip..], captures);
            if !ok {
                captures.truncate(mark);
            }
            ok
        }),
        Segment::Parts(parts) => {
            let Some((segment, path_rest)) = path.split_first() else {
                return false;
            };
            let mark = captures.len();
            if match_parts(parts, segment, captures) && match_segments(rest, path_rest, captures) {
                return true;
            }
            captures.truncate(mark);
            false
        }
    }
}

fn match_parts(parts: &[Part], text: &str, captures: &mut Vec<(String, String)>) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return text.is_empty();
    };
    match first {
        Part::Literal(literal) => match text.get(..literal.len()) {
            Some(head) if head.eq_ignore_ascii_case(literal) => {
                match_parts(rest, &text[literal.len()..], captures)
            }
            _ => false,
        },
        Part::Star => text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .any(|split| match_parts(rest, &text[split..], captures)),
        Part::Capture(name) => {
            if text.is_empty() {
                return false;
            }
            for (split, _) in text.char_indices().skip(1).chain([(text.len(), ' ')]) {
                let mark = captures.len();
                captures.push((name.clone(), text[..split].to_string()));
                if match_parts(rest, &text[split..], captures) {
                    return true;
                }
                captures.truncate(mark);
            }
            false
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Sidecar files
// ------------------------------------------------------------------------------------------------

/// The format of a sidecar file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SidecarFormat {
    /// A header row naming a path column (`path`, `file`, `filename`, `file_name`, `image` or
    /// `image_path`) and any other columns as keys; RFC 4180 quoting. The delimiter is `,`, or
    /// `;` or a tab when the header has no comma.
    Csv,
    /// An array of objects with a path member and keys, or an object mapping path to
    /// `{key: value}`.
    Json,
}

impl SidecarFormat {
    /// The format from a file name or extension (`.csv`, `.tsv`, `.json`; any case).
    pub fn from_file_name(name: &str) -> Option<Self> {
        let ext = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "tsv" => Some(Self::Csv),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// One value of one key for one image, as the sidecar file gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SidecarRow {
    /// The image path as written in the file (trimmed; `\` turned into `/`, a leading `./`
    /// removed).
    pub path: String,
    /// The column or member name, trimmed and lower-cased.
    pub key: String,
    /// The value, trimmed; never empty.
    pub value: String,
    /// The line of the file the row comes from (1-based; for JSON, where its entry starts).
    pub line: usize,
}

/// A row or entry of a sidecar file that was skipped or changed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SidecarProblem {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for SidecarProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// What a sidecar file gives: its rows, and the problems met on the way (not fatal).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SidecarRows {
    pub rows: Vec<SidecarRow>,
    pub problems: Vec<SidecarProblem>,
}

impl SidecarRows {
    /// The rows as `(path, condition)` with source [`ConditionSource::Sidecar`] and
    /// confidence 1.
    pub fn conditions(&self) -> Vec<(String, Condition)> {
        self.rows
            .iter()
            .map(|r| (r.path.clone(), Condition::new(&r.key, &r.value, ConditionSource::Sidecar, 1.0)))
            .collect()
    }
}

/// Why a sidecar file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidecarError {
    #[error("the sidecar file is empty")]
    Empty,
    #[error("line {line}, column {column}: {message}")]
    Syntax { line: usize, column: usize, message: String },
    #[error(
        "no path column: the header has {columns:?}; name the column of image paths `path`, `file`, `filename` or `image`"
    )]
    NoPathColumn { columns: Vec<String> },
    #[error("{0}")]
    Shape(String),
}

/// Column or member names taken as the image path, in order of preference (compared ignoring
/// case).
pub const PATH_COLUMNS: [&str; 6] = ["path", "file", "filename", "file_name", "image", "image_path"];

/// Reads a sidecar file into rows `{path, key, value}`. Rows without a path, unusable values
/// and repeated `(path, key)` pairs (the later value wins) are reported in
/// [`SidecarRows::problems`] with their line; empty values are skipped silently (a sidecar may
/// leave cells blank). A file that cannot be parsed at all is an error naming the line and
/// column.
pub fn parse_sidecar(text: &str, format: SidecarFormat) -> Result<SidecarRows, SidecarError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(SidecarError::Empty);
    }
    let mut out = Collector::default();
    match format {
        SidecarFormat::Csv => parse_csv_sidecar(text, &mut out)?,
        SidecarFormat::Json => parse_json_sidecar(text, &mut out)?,
    }
    Ok(out.finish())
}

#[derive(Default)]
struct Collector {
    rows: Vec<SidecarRow>,
    problems: Vec<SidecarProblem>,
    seen: HashMap<(String, String), usize>,
}

impl Collector {
    fn problem(&mut self, line: usize, message: impl Into<String>) {
        self.problems.push(SidecarProblem { line, message: message.into() });
    }

    fn push(&mut self, path: &str, key: &str, value: &str, line: usize) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        let row = SidecarRow { path: path.to_string(), key: key.to_string(), value: value.to_string(), line };
        match self.seen.get(&(row.path.clone(), row.key.clone())) {
            Some(&index) => {
                let first = self.rows[index].line;
                self.problem(
                    line,
                    format!(
                        "`{}` `{}` given again (first on line {first}); the later value is used",
                        row.path, row.key
                    ),
                );
                self.rows[index] = row;
            }
            None => {
                self.seen.insert((row.path.clone(), row.key.clone()), self.rows.len());
                self.rows.push(row);
            }
        }
    }

    fn finish(mut self) -> SidecarRows {
        self.problems.sort_by_key(|p| p.line);
        SidecarRows { rows: self.rows, problems: self.problems }
    }
}

fn normalise_path(raw: &str) -> String {
    let path = raw.trim().replace('\\', "/");
    let mut path = path.as_str();
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    path.to_string()
}

fn normalise_key(raw: &str) -> String {
    raw.trim().to_lowercase()
}

fn is_path_name(name: &str) -> Option<usize> {
    let name = normalise_key(name);
    PATH_COLUMNS.iter().position(|p| *p == name)
}

struct CsvRecord {
    line: usize,
    fields: Vec<String>,
}

/// Splits CSV text into records (RFC 4180: quoted fields may hold the delimiter, line breaks and
/// doubled quotes). Text after a closing quote is kept, as spreadsheets do; a quote that is never
/// closed is an error.
fn csv_records(text: &str, delimiter: char) -> Result<Vec<CsvRecord>, SidecarError> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let (mut line, mut column) = (1usize, 0usize);
    loop {
        if chars.peek().is_none() {
            break;
        }
        let record_line = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut at_field_start = true;
        loop {
            let Some(c) = chars.next() else {
                fields.push(std::mem::take(&mut field));
                break;
            };
            column += 1;
            if c == '"' && at_field_start {
                let (open_line, open_column) = (line, column);
                loop {
                    match chars.next() {
                        None => {
                            return Err(SidecarError::Syntax {
                                line: open_line,
                                column: open_column,
                                message: "quoted field is never closed".into(),
                            });
                        }
                        Some('"') => {
                            column += 1;
                            if chars.peek() == Some(&'"') {
                                chars.next();
                                column += 1;
                                field.push('"');
                            } else {
                                break;
                            }
                        }
                        Some('\n') => {
                            line += 1;
                            column = 0;
                            field.push('\n');
                        }
                        Some(other) => {
                            column += 1;
                            field.push(other);
                        }
                    }
                }
                at_field_start = false;
                continue;
            }
            at_field_start = false;
            if c == delimiter {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
            } else if c == '\n' || c == '\r' {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                line += 1;
                column = 0;
                fields.push(std::mem::take(&mut field));
                break;
            } else {
                field.push(c);
            }
        }
        let blank = fields.len() == 1 && fields[0].trim().is_empty();
        if !blank {
            records.push(CsvRecord { line: record_line, fields });
        }
    }
    Ok(records)
}

/// `,` unless the first line has none outside quotes and has a `;` or a tab.
fn detect_delimiter(text: &str) -> char {
    let (mut in_quotes, mut semicolons, mut tabs) = (false, 0, 0);
    for c in text.chars() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => return ',',
            ';' if !in_quotes => semicolons += 1,
            '\t' if !in_quotes => tabs += 1,
            '\n' if !in_quotes => break,
            _ => {}
        }
    }
    if tabs > semicolons {
        '\t'
    } else if semicolons > 0 {
        ';'
    } else {
        ','
    }
}

fn parse_csv_sidecar(text: &str, out: &mut Collector) -> Result<(), SidecarError> {
    let records = csv_records(text, detect_delimiter(text))?;
    let Some((header, body)) = records.split_first() else {
        return Err(SidecarError::Empty);
    };
    let path_column = header
        .fields
        .iter()
        .enumerate()
        .filter_map(|(i, name)| is_path_name(name).map(|rank| (rank, i)))
        .min()
        .map(|(_, i)| i)
        .ok_or_else(|| SidecarError::NoPathColumn {
            columns: header.fields.iter().map(|f| f.trim().to_string()).collect(),
        })?;
    // The key columns: named, not the path, not repeated.
    let mut keys: Vec<(usize, String)> = Vec::new();
    for (i, raw) in header.fields.iter().enumerate() {
        if i == path_column {
            continue;
        }
        let key = normalise_key(raw);
        if key.is_empty() {
            out.problem(header.line, format!("column {} has no name; it is ignored", i + 1));
        } else if keys.iter().any(|(_, k)| *k == key) {
            out.problem(header.line, format!("column `{key}` appears twice; column {} is ignored", i + 1));
        } else {
            keys.push((i, key));
        }
    }
    let width = header.fields.len();
    for record in body {
        if record.fields.len() > width && record.fields[width..].iter().any(|f| !f.trim().is_empty()) {
            out.problem(
                record.line,
                format!(
                    "{} fields but the header has {width}; the extra ones are ignored",
                    record.fields.len()
                ),
            );
        }
        let path = normalise_path(record.fields.get(path_column).map(String::as_str).unwrap_or(""));
        if path.is_empty() {
            out.problem(record.line, "no path; the row is skipped");
            continue;
        }
        let mut any = false;
        for (i, key) in &keys {
            let value = record.fields.get(*i).map(String::as_str).unwrap_or("");
            if !value.trim().is_empty() {
                any = true;
                out.push(&path, key, value, record.line);
            }
        }
        if !any {
            out.problem(record.line, format!("`{path}` has no values; nothing to import"));
        }
    }
    Ok(())
}

/// The line on which each top-level entry of a JSON document begins: array elements in order,
/// or object members by name.
fn json_entry_lines(text: &str) -> (Vec<usize>, HashMap<String, usize>) {
    let (mut elements, mut members) = (Vec::new(), HashMap::new());
    let (mut depth, mut line) = (0usize, 1usize);
    let mut container = ' ';
    let mut expecting = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => line += 1,
            b' ' | b'\t' | b'\r' | b':' => {}
            b'"' => {
                let (start, start_line) = (i, line);
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    } else if bytes[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                if depth == 1 && expecting {
                    expecting = false;
                    if container == '[' {
                        elements.push(start_line);
                    } else if let Some(raw) = text.get(start..(i + 1).min(text.len()))
                        && let Ok(name) = serde_json::from_str::<String>(raw)
                    {
                        members.insert(name, start_line);
                    }
                }
            }
            b'[' | b'{' => {
                if depth == 1 && expecting && container == '[' {
                    elements.push(line);
                    expecting = false;
                }
                depth += 1;
                if depth == 1 {
                    container = c as char;
                    expecting = true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' => {
                if depth == 1 {
                    expecting = true;
                }
            }
            _ => {
                if depth == 1 && expecting && container == '[' {
                    elements.push(line);
                }
                if depth == 1 {
                    expecting = false;
                }
            }
        }
        i += 1;
    }
    (elements, members)
}

fn json_scalar(value: &Value) -> Option<Option<String>> {
    match value {
        Value::String(s) => Some(Some(s.clone())),
        Value::Number(n) => Some(Some(n.to_string())),
        Value::Bool(b) => Some(Some(b.to_string())),
        Value::Null => Some(None),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn json_pairs(
    path: &str,
    members: &serde_json::Map<String, Value>,
    skip: Option<&str>,
    line: usize,
    out: &mut Collector,
) {
    let before = out.rows.len() + out.problems.len();
    let mut any = false;
    for (name, value) in members {
        if Some(name.as_str()) == skip {
            continue;
        }
        let key = normalise_key(name);
        if key.is_empty() {
            out.problem(line, format!("`{path}`: a member with an empty name is ignored"));
            continue;
        }
        match json_scalar(value) {
            Some(Some(text)) => {
                if !text.trim().is_empty() {
                    any = true;
                }
                out.push(path, &key, &text, line);
            }
            Some(None) => {}
            None => {
                out.problem(line, format!("`{path}`: `{name}` is not text, a number or true/false; skipped"))
            }
        }
    }
    if !any && out.rows.len() + out.problems.len() == before {
        out.problem(line, format!("`{path}` has no values; nothing to import"));
    }
}

fn parse_json_sidecar(text: &str, out: &mut Collector) -> Result<(), SidecarError> {
    let document: Value = serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        let message = match message.find(" at line ") {
            Some(at) => message[..at].to_string(),
            None => message,
        };
        SidecarError::Syntax { line: e.line(), column: e.column(), message }
    })?;
    let (element_lines, member_lines) = json_entry_lines(text);
    match document {
        Value::Array(entries) => {
            for (index, entry) in entries.iter().enumerate() {
                let line = element_lines.get(index).copied().unwrap_or(1);
                let Value::Object(members) = entry else {
                    out.problem(line, format!("entry {} is not an object; skipped", index + 1));
                    continue;
                };
                let path_member = members
                    .iter()
                    .filter_map(|(name, value)| is_path_name(name).map(|rank| (rank, name, value)))
                    .min_by_key(|(rank, _, _)| *rank);
                let Some((_, path_name, path_value)) = path_member else {
                    out.problem(line, format!("entry {} has no path member; skipped", index + 1));
                    continue;
                };
                let path = match path_value {
                    Value::String(s) => normalise_path(s),
                    _ => String::new(),
                };
                if path.is_empty() {
                    out.problem(
                        line,
                        format!("entry {}: `{path_name}` is not a non-empty text; skipped", index + 1),
                    );
                    continue;
                }
                json_pairs(&path, members, Some(path_name.as_str()), line, out);
            }
        }
        Value::Object(map) => {
            if !map.is_empty() && !map.values().any(Value::is_object) {
                return Err(SidecarError::Shape(
                    "a JSON sidecar is an array of objects with a `path` member, or an object mapping each \
                     path to an object of keys and values; this object's members are not objects"
                        .into(),
                ));
            }
            for (raw_path, value) in &map {
                let line = member_lines.get(raw_path).copied().unwrap_or(1);
                let path = normalise_path(raw_path);
                if path.is_empty() {
                    out.problem(line, "an entry with an empty path; skipped");
                    continue;
                }
                let Value::Object(members) = value else {
                    out.problem(
                        line,
                        format!("`{path}` does not map to an object of keys and values; skipped"),
                    );
                    continue;
                };
                json_pairs(&path, members, None, line, out);
            }
        }
        _ => {
            return Err(SidecarError::Shape(
                "a JSON sidecar is an array of objects or an object mapping paths to objects, not a single value"
                    .into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip_over_four_centuries() {
        // Every day from 1600-01-01 to 2400-12-31 maps to the next number and back.
        let start = days_from_civil(1600, 1, 1);
        let end = days_from_civil(2400, 12, 31);
        let mut expected = (1600, 1, 1);
        for z in start..=end {
            let (y, m, d) = civil_from_days(z);
            assert_eq!((y, m, d), expected, "day {z}");
            assert_eq!(days_from_civil(y, m, d), z);
            let last = i64::from(days_in_month(y as i32, m as u32));
            expected = if d < last {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn json_entry_lines_of_arrays_and_objects() {
        let (elements, members) = json_entry_lines("[\n 1,\n \"a,[\\\"b\",\n {\"x\": [1,\n 2]},\n\n [3]\n]");
        assert_eq!(elements, vec![2, 3, 4, 7]);
        assert!(members.is_empty());
        let (elements, members) =
            json_entry_lines("{\"a\": {\"in\": 1},\n\"b\\u0041\":\n 2,\n \"c\": \"d\"}");
        assert!(elements.is_empty());
        assert_eq!(members.get("a"), Some(&1));
        assert_eq!(members.get("bA"), Some(&2));
        assert_eq!(members.get("c"), Some(&4));
        assert_eq!(members.get("in"), None, "only top-level members");
    }

    #[test]
    fn delimiter_detection_looks_at_the_header_outside_quotes() {
        assert_eq!(detect_delimiter("path,weather\nx;y"), ',');
        assert_eq!(detect_delimiter("path;weather\nx,y"), ';');
        assert_eq!(detect_delimiter("path\tweather;x\tz"), '\t');
        assert_eq!(detect_delimiter("\"a,b\";c\n"), ';');
        assert_eq!(detect_delimiter("path\n"), ',');
    }

    #[test]
    fn margins_and_confidences() {
        assert_eq!(above(0.5, 0.3, 0.1), 1.0);
        assert_eq!(below(0.5, 0.3, 0.1), -1.0);
        assert!((above(0.35, 0.3, 0.1) - 0.5).abs() < 1e-6);
        assert_eq!(confidence_from_margin(-0.3, (0.3, 0.6)), 0.3);
        assert_eq!(confidence_from_margin(2.0, (0.3, 0.6)), 0.6);
    }

    #[test]
    fn sun_and_clock_buckets() {
        assert_eq!(sun_time_of_day(6.01), DAY);
        assert_eq!(sun_time_of_day(6.0), DUSK_DAWN);
        assert_eq!(sun_time_of_day(-6.0), DUSK_DAWN);
        assert_eq!(sun_time_of_day(-6.01), NIGHT);
        let buckets: Vec<&str> = (0..24).map(clock_time_of_day).collect();
        assert_eq!(buckets.iter().filter(|v| **v == DAY).count(), 9);
        assert_eq!(buckets.iter().filter(|v| **v == DUSK_DAWN).count(), 5);
        assert_eq!(buckets.iter().filter(|v| **v == NIGHT).count(), 10);
    }
}
