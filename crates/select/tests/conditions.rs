//! Tests of `lacuna_select::conditions`: sources and resolution, times and the sun, time of day,
//! EXIF conditions, estimates from image statistics (with their measured accuracy on labeled
//! examples), path rules and sidecar files.

use std::collections::BTreeMap;

use lacuna_core::ImageStats;
use lacuna_select::conditions::*;

// ------------------------------------------------------------------------------------------------
// Sources, claims, resolution
// ------------------------------------------------------------------------------------------------

#[test]
fn source_names_round_trip_and_trust_is_ordered() {
    let names = ["human", "sidecar", "path", "exif", "estimated"];
    for (source, name) in ConditionSource::ALL.into_iter().zip(names) {
        assert_eq!(source.as_str(), name);
        assert_eq!(ConditionSource::parse(name), Some(source));
        assert_eq!(source.to_string(), name);
        let json = serde_json::to_string(&source).expect("serialise a source");
        assert_eq!(json, format!("\"{name}\""));
        let back: ConditionSource = serde_json::from_str(&json).expect("deserialise a source");
        assert_eq!(back, source);
    }
    assert_eq!(ConditionSource::parse("Human"), None);
    assert_eq!(ConditionSource::parse(""), None);
    let trust: Vec<u8> = ConditionSource::ALL.iter().map(|s| s.trust()).collect();
    assert!(trust.windows(2).all(|w| w[0] > w[1]), "most trusted first: {trust:?}");
    assert!(ConditionSource::Human.trust() > ConditionSource::Sidecar.trust());
    assert!(ConditionSource::Exif.trust() > ConditionSource::Estimated.trust());
    assert!(!ConditionSource::Human.is_derived());
    assert!(!ConditionSource::Sidecar.is_derived());
    assert!(ConditionSource::Path.is_derived() && ConditionSource::Exif.is_derived());
    assert!(ConditionSource::Estimated.is_derived());
}

#[test]
fn condition_serde_round_trip_and_clamped_confidence() {
    let c = Condition::new("weather", "fog_haze", ConditionSource::Estimated, 0.42);
    let json = serde_json::to_string(&c).expect("serialise");
    assert_eq!(json, r#"{"key":"weather","value":"fog_haze","source":"estimated","confidence":0.42}"#);
    let back: Condition = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, c);
    assert_eq!(Condition::new("k", "v", ConditionSource::Human, 1.7).confidence, 1.0);
    assert_eq!(Condition::new("k", "v", ConditionSource::Human, -0.2).confidence, 0.0);
    assert_eq!(Condition::new("k", "v", ConditionSource::Human, f32::NAN).confidence, 0.0);
}

#[test]
fn resolve_prefers_trust_then_confidence_and_sorts_by_key() {
    let claims = vec![
        Condition::new(WEATHER, "clear", ConditionSource::Estimated, 0.6),
        Condition::new(TIME_OF_DAY, "night", ConditionSource::Exif, 0.5),
        Condition::new(WEATHER, "overcast", ConditionSource::Sidecar, 0.2),
        Condition::new(CAMERA, "Canon EOS 40D", ConditionSource::Exif, 1.0),
        Condition::new(TIME_OF_DAY, "day", ConditionSource::Exif, 0.9),
        Condition::new("site", "north", ConditionSource::Path, 1.0),
        Condition::new("site", "south", ConditionSource::Human, 0.1),
    ];
    let resolved = resolve(&claims);
    let got: Vec<(&str, &str, ConditionSource)> =
        resolved.iter().map(|c| (c.key.as_str(), c.value.as_str(), c.source)).collect();
    assert_eq!(
        got,
        vec![
            (CAMERA, "Canon EOS 40D", ConditionSource::Exif),
            ("site", "south", ConditionSource::Human),
            (TIME_OF_DAY, "day", ConditionSource::Exif),
            (WEATHER, "overcast", ConditionSource::Sidecar),
        ]
    );
    assert!(resolve(&[]).is_empty());
}

#[test]
fn resolve_breaks_full_ties_the_same_way_whatever_the_order() {
    let a = Condition::new("site", "b-side", ConditionSource::Sidecar, 1.0);
    let b = Condition::new("site", "a-side", ConditionSource::Sidecar, 1.0);
    assert_eq!(resolve(&[a.clone(), b.clone()]), vec![b.clone()]);
    assert_eq!(resolve(&[b.clone(), a.clone()]), vec![b.clone()]);
    assert!(b.outranks(&a));
    assert!(!a.outranks(&b));
    assert!(!a.outranks(&a));
}

// ------------------------------------------------------------------------------------------------
// Time
// ------------------------------------------------------------------------------------------------

fn utc(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> UtcTime {
    UtcTime::new(year, month, day, hour, minute, second).expect("a valid test time")
}

#[test]
fn utc_time_from_local_applies_the_offset() {
    let t = UtcTime::from_local("2024-03-10T01:30:00", 120).expect("valid");
    assert_eq!(t, utc(2024, 3, 9, 23, 30, 0));
    let t = UtcTime::from_local("2024-01-03T22:10:05", -330).expect("valid");
    assert_eq!(t, utc(2024, 1, 4, 3, 40, 5));
    let t = UtcTime::from_local("2024-12-31T23:00:00", -120).expect("valid");
    assert_eq!(t, utc(2025, 1, 1, 1, 0, 0));
    let t = UtcTime::from_local("2024-03-01T00:30:00", 60).expect("valid");
    assert_eq!(t, utc(2024, 2, 29, 23, 30, 0), "leap day");
    let t = UtcTime::from_local("2023-03-01T00:30:00", 60).expect("valid");
    assert_eq!(t, utc(2023, 2, 28, 23, 30, 0));
    assert_eq!(t.to_string(), "2023-02-28T23:30:00Z");
}

#[test]
fn utc_time_accepts_exif_space_and_fraction_forms() {
    let expected = utc(2008, 5, 30, 15, 56, 1);
    for text in
        ["2008:05:30 15:56:01", "2008-05-30 15:56:01", "2008-05-30T15:56:01", " 2008-05-30T15:56:01.25 "]
    {
        assert_eq!(UtcTime::from_local(text, 0).expect(text), expected, "{text}");
    }
}

#[test]
fn utc_time_rejects_bad_times_and_offsets() {
    for text in [
        "",
        "garbage",
        "0000:00:00 00:00:00",
        "2024-02-30T12:00:00",
        "2023-02-29T12:00:00",
        "2024-13-01T12:00:00",
        "2024-01-01T24:00:00",
        "2024-01-01T12:60:00",
        "2024-01-01T12:00:61",
        "2024-01-01T12:00:00+02:00",
        "2024-01-01T12:00:00.",
        "2024-01-01X12:00:00",
        "2024/01/01T12:00:00",
        "2024-0a-01T12:00:00",
    ] {
        assert!(UtcTime::from_local(text, 0).is_err(), "{text:?} should be rejected");
    }
    let err = UtcTime::from_local("2024-01-01T12:00:00", 19 * 60).expect_err("offset too large");
    assert!(err.contains("18 h"), "{err}");
    let err = UtcTime::new(2024, 2, 30, 0, 0, 0).expect_err("no such day");
    assert!(err.contains("2024-02"), "{err}");
}

#[test]
fn unix_seconds_and_day_of_year_known_values() {
    assert_eq!(utc(1970, 1, 1, 0, 0, 0).unix_seconds(), 0);
    // Well-known epoch values.
    assert_eq!(utc(2000, 1, 1, 0, 0, 0).unix_seconds(), 946_684_800);
    assert_eq!(utc(2001, 9, 9, 1, 46, 40).unix_seconds(), 1_000_000_000);
    assert_eq!(utc(1969, 12, 31, 23, 59, 59).unix_seconds(), -1);
    for seconds in [-86_401_i64, -1, 0, 951_782_400, 1_709_208_000, 4_102_444_800, 253_402_300_799] {
        let t = UtcTime::from_unix_seconds(seconds).expect("in range");
        assert_eq!(t.unix_seconds(), seconds, "{t}");
    }
    assert!(UtcTime::from_unix_seconds(253_402_300_800).is_err(), "year 10000");
    assert_eq!(utc(2024, 1, 1, 0, 0, 0).day_of_year(), 1);
    assert_eq!(utc(2024, 3, 1, 0, 0, 0).day_of_year(), 61);
    assert_eq!(utc(2023, 3, 1, 0, 0, 0).day_of_year(), 60);
    assert_eq!(utc(2024, 12, 31, 0, 0, 0).day_of_year(), 366);
    assert_eq!(utc(2100, 12, 31, 0, 0, 0).day_of_year(), 365, "2100 is not a leap year");
    assert_eq!(utc(2000, 12, 31, 0, 0, 0).day_of_year(), 366, "2000 is");
}

// ------------------------------------------------------------------------------------------------
// The sun
// ------------------------------------------------------------------------------------------------

/// Highest and lowest elevation over one UTC day, sampled every minute.
fn day_extremes(lat: f64, lon: f64, year: i32, month: u32, day: u32) -> (f64, f64) {
    let (mut high, mut low) = (f64::MIN, f64::MAX);
    for minute in 0..24 * 60 {
        let e = solar_elevation_deg(lat, lon, utc(year, month, day, minute / 60, minute % 60, 0));
        high = high.max(e);
        low = low.min(e);
    }
    (high, low)
}

#[test]
fn solar_position_intermediate_values_match_the_formula_by_hand() {
    // 2024-03-20T12:00:00Z at (0°, 0°). Expected values evaluated independently (Python, the
    // formulas of NOAA's "General Solar Position Calculations" typed in again):
    // γ = 2π/366 · (80 − 1 + 0) = 1.356207 rad, eqtime = −7.9244 min, decl = −0.15119°,
    // hour angle = (720 − 7.9244)/4 − 180 = −1.9811°, elevation = 88.0131°.
    let p = solar_position(0.0, 0.0, utc(2024, 3, 20, 12, 0, 0));
    assert!((p.fractional_year_rad - 1.356_207).abs() < 1e-6, "{p:?}");
    assert!((p.equation_of_time_min - -7.924_41).abs() < 1e-3, "{p:?}");
    assert!((p.declination_deg - -0.151_19).abs() < 1e-4, "{p:?}");
    assert!((p.hour_angle_deg - -1.981_10).abs() < 1e-4, "{p:?}");
    assert!((p.elevation_deg - 88.0131).abs() < 1e-3, "{p:?}");
    assert!((p.zenith_deg + p.elevation_deg - 90.0).abs() < 1e-9);

    // Boulder, Colorado (40.015°N, 105.2705°W), 2023-06-21T10:30:00Z (04:30 MDT, before dawn):
    // γ = 2.942553, eqtime = −1.3145 min, decl = 23.4516°, elevation = −10.2321°.
    let p = solar_position(40.015, -105.2705, utc(2023, 6, 21, 10, 30, 0));
    assert!((p.fractional_year_rad - 2.942_553).abs() < 1e-6, "{p:?}");
    assert!((p.equation_of_time_min - -1.3145).abs() < 1e-3, "{p:?}");
    assert!((p.declination_deg - 23.4516).abs() < 1e-3, "{p:?}");
    assert!((p.elevation_deg - -10.2321).abs() < 1e-3, "{p:?}");
}

#[test]
fn equinox_noon_at_the_equator_is_nearly_overhead() {
    // At an equinox the sun crosses the equator: at solar noon on the equator it stands at the
    // zenith (within the day's change in declination, about 0.4°, and the formula's error).
    let (high, low) = day_extremes(0.0, 0.0, 2024, 3, 20);
    assert!(high > 89.0, "{high}");
    assert!((low - -high).abs() < 2.0, "midnight mirrors noon: {low} vs {high}");
    let (high, _) = day_extremes(0.0, 0.0, 2023, 9, 23);
    assert!(high > 89.0, "{high}");
}

#[test]
fn noon_elevation_is_ninety_minus_latitude_plus_declination() {
    // At solar noon, elevation = 90° − |latitude − declination|; the declination at the June
    // solstice is +23.44°, at the December solstice −23.44° (the obliquity of the ecliptic).
    let cases = [
        // London (51.5074°N, 0.1278°W)
        (51.5074, -0.1278, 6, 21, 90.0 - 51.5074 + 23.44),
        (51.5074, -0.1278, 12, 21, 90.0 - 51.5074 - 23.44),
        // Sydney (33.8688°S, 151.2093°E): high in December, low in June.
        (-33.8688, 151.2093, 12, 21, 90.0 - 33.8688 + 23.44),
        (-33.8688, 151.2093, 6, 21, 90.0 - 33.8688 - 23.44),
        // On the Tropic of Cancer at the June solstice, overhead.
        (23.44, 45.0, 6, 21, 90.0),
    ];
    for (lat, lon, month, day, expected) in cases {
        let (high, _) = day_extremes(lat, lon, 2024, month, day);
        assert!((high - expected).abs() < 0.7, "({lat}, {lon}) {month}-{day}: {high} vs {expected}");
    }
}

#[test]
fn polar_night_and_midnight_sun_at_80_north() {
    // Late December at 80°N: polar night, the sun never rises (its highest is about
    // 90 − 80 − 23.44 = −13.4°).
    for (year, day) in [(2023, 21), (2024, 20), (2025, 28)] {
        let (high, _) = day_extremes(80.0, 15.0, year, 12, day);
        assert!(high < -10.0, "{year}-12-{day}: {high}");
    }
    let (high, _) = day_extremes(80.0, 15.0, 2023, 12, 21);
    assert!((high - -13.44).abs() < 0.7, "{high}");
    // Late June: midnight sun, never below about 80 + 23.44 − 90 = +13.4°.
    let (_, low) = day_extremes(80.0, 15.0, 2024, 6, 21);
    assert!(low > 10.0 && (low - 13.44).abs() < 0.7, "{low}");
    // And the mirror image at 80°S.
    let (high, _) = day_extremes(-80.0, 0.0, 2024, 6, 21);
    assert!(high < -10.0, "{high}");
}

/// NOAA's spreadsheet algorithm (NOAA_Solar_Calculations_day.xls, after Meeus, "Astronomical
/// Algorithms"), an independent and more precise reference: Julian century, geometric mean
/// longitude and anomaly, equation of centre, apparent longitude, corrected obliquity,
/// declination, equation of time, true solar time, hour angle, zenith (no refraction).
fn noaa_spreadsheet_elevation(lat: f64, lon: f64, t: UtcTime) -> f64 {
    let julian_day = t.unix_seconds() as f64 / 86_400.0 + 2_440_587.5;
    let jc = (julian_day - 2_451_545.0) / 36_525.0;
    let l0 = (280.46646 + jc * (36000.76983 + jc * 0.0003032)).rem_euclid(360.0);
    let m = 357.52911 + jc * (35999.05029 - 0.0001537 * jc);
    let e = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc);
    let c = m.to_radians().sin() * (1.914602 - jc * (0.004817 + 0.000014 * jc))
        + (2.0 * m).to_radians().sin() * (0.019993 - 0.000101 * jc)
        + (3.0 * m).to_radians().sin() * 0.000289;
    let omega = 125.04 - 1934.136 * jc;
    let apparent_long = l0 + c - 0.00569 - 0.00478 * omega.to_radians().sin();
    let mean_obliquity =
        23.0 + (26.0 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60.0) / 60.0;
    let obliquity = mean_obliquity + 0.00256 * omega.to_radians().cos();
    let declination = (obliquity.to_radians().sin() * apparent_long.to_radians().sin()).asin();
    let y = (obliquity / 2.0).to_radians().tan().powi(2);
    let (l0r, mr) = (l0.to_radians(), m.to_radians());
    let eq_time = 4.0
        * (y * (2.0 * l0r).sin() - 2.0 * e * mr.sin() + 4.0 * e * y * mr.sin() * (2.0 * l0r).cos()
            - 0.5 * y * y * (4.0 * l0r).sin()
            - 1.25 * e * e * (2.0 * mr).sin())
        .to_degrees();
    let true_solar_time = (t.fractional_hour() * 60.0 + eq_time + 4.0 * lon).rem_euclid(1440.0);
    let hour_angle = if true_solar_time / 4.0 < 0.0 {
        true_solar_time / 4.0 + 180.0
    } else {
        true_solar_time / 4.0 - 180.0
    };
    let lat = lat.to_radians();
    let cos_zenith =
        lat.sin() * declination.sin() + lat.cos() * declination.cos() * hour_angle.to_radians().cos();
    90.0 - cos_zenith.clamp(-1.0, 1.0).acos().to_degrees()
}

#[test]
fn agrees_with_noaa_spreadsheet_algorithm_within_a_degree() {
    let mut worst: f64 = 0.0;
    let mut count = 0;
    for year in (1990..=2050).step_by(4).chain([2023, 2025, 2026]) {
        for month in 1..=12 {
            let day = (month * 7) % 28 + 1;
            for lat in (-80..=80).step_by(16) {
                for lon in (-180..=180).step_by(40) {
                    for hour in (0..24).step_by(2) {
                        let t = utc(year, month, day, hour, 17, 30);
                        let (lat, lon) = (f64::from(lat), f64::from(lon));
                        let diff = (solar_elevation_deg(lat, lon, t)
                            - noaa_spreadsheet_elevation(lat, lon, t))
                        .abs();
                        worst = worst.max(diff);
                        count += 1;
                    }
                }
            }
        }
    }
    println!("general formula vs spreadsheet: worst difference {worst:.3}° over {count} cases");
    assert!(worst < 0.75, "{worst}");
    // The reference itself: equinox noon at the equator in 2024 (equinox 2024-03-20 03:06 UTC).
    let noon = noaa_spreadsheet_elevation(0.0, 0.0, utc(2024, 3, 20, 12, 7, 0));
    assert!(noon > 89.5, "{noon}");
}

// ------------------------------------------------------------------------------------------------
// Time of day
// ------------------------------------------------------------------------------------------------

const PARIS: (f64, f64) = (48.8566, 2.3522);

fn tod(local: &str, offset: Option<i32>, gps: Option<(f64, f64)>) -> (String, f32) {
    let c = time_of_day(local, offset, gps).expect("a readable time");
    assert_eq!(c.key, TIME_OF_DAY);
    assert_eq!(c.source, ConditionSource::Exif);
    (c.value, c.confidence)
}

#[test]
fn time_of_day_from_the_sun_with_gps_and_offset() {
    // Paris on the June solstice (CEST, UTC+2). Sun elevations (this formula; NOAA's spreadsheet
    // agrees within 0.06°): 14:00 +64.5°, 21:00 +7.1°, 22:00 −1.1° (sunset is about 21:58),
    // 23:30 −11.0°, 02:00 −17.7°.
    assert_eq!(tod("2024-06-21T14:00:00", Some(120), Some(PARIS)), (DAY.into(), 0.9));
    assert_eq!(tod("2024-06-21T22:00:00", Some(120), Some(PARIS)), (DUSK_DAWN.into(), 0.9));
    assert_eq!(tod("2024-06-21T23:30:00", Some(120), Some(PARIS)), (NIGHT.into(), 0.9));
    assert_eq!(tod("2024-06-21T02:00:00", Some(120), Some(PARIS)), (NIGHT.into(), 0.9));
    // 21:00 is +7.1°: day, but within 2° of the boundary, so less sure.
    assert_eq!(tod("2024-06-21T21:00:00", Some(120), Some(PARIS)), (DAY.into(), 0.75));
    // The clock rule alone would call 21:00 and 22:00 night.
    assert_eq!(tod("2024-06-21T22:00:00", Some(120), None).0, NIGHT);
}

#[test]
fn time_of_day_polar_noon_is_twilight_not_day() {
    // Tromsø (69.65°N, 18.96°E) at noon on the December solstice: the sun stays about 3° below
    // the horizon all day (polar night with civil twilight at noon).
    assert_eq!(tod("2024-12-21T12:00:00", Some(60), Some((69.6496, 18.956))).0, DUSK_DAWN);
    assert_eq!(tod("2024-12-21T12:00:00", None, None).0, DAY, "the clock rule cannot know");
}

#[test]
fn time_of_day_with_gps_but_no_offset_guesses_it_from_longitude() {
    // Tokyo (139.65°E): longitude / 15 = 9.3 h, rounded to UTC+9, which is JST.
    let tokyo = Some((35.6762, 139.6503));
    assert_eq!(tod("2024-05-01T12:00:00", None, tokyo), (DAY.into(), 0.7));
    assert_eq!(tod("2024-05-01T01:00:00", None, tokyo), (NIGHT.into(), 0.7));
    assert_eq!(tod("2024-05-01T12:00:00", Some(540), tokyo), (DAY.into(), 0.9));
    // Paris at 22:00 in June without an offset: guessed UTC+0 instead of UTC+2, two hours off;
    // the sun at the guessed time (22:00 UTC) is at −11.0°.
    let (value, confidence) = tod("2024-06-21T22:00:00", None, Some(PARIS));
    assert_eq!(value, NIGHT);
    assert!(confidence <= 0.7);
    // An offset beyond ±18 h is ignored like a missing one.
    assert_eq!(tod("2024-05-01T12:00:00", Some(100 * 60), tokyo), (DAY.into(), 0.7));
}

#[test]
fn time_of_day_confidence_drops_near_the_boundaries() {
    // Walk a Paris evening minute by minute: near ±6° the confidence is lower.
    for minute in 0..24 * 60 {
        let local = format!("2024-06-21T{:02}:{:02}:00", minute / 60, minute % 60);
        let t = UtcTime::from_local(&local, 120).expect("valid");
        let e = solar_elevation_deg(PARIS.0, PARIS.1, t);
        let (value, confidence) = tod(&local, Some(120), Some(PARIS));
        let expected = if e > 6.0 {
            DAY
        } else if e >= -6.0 {
            DUSK_DAWN
        } else {
            NIGHT
        };
        assert_eq!(value, expected, "{local}: {e}");
        let near = (e.abs() - 6.0).abs() < 2.0;
        assert_eq!(confidence, if near { 0.75 } else { 0.9 }, "{local}: {e}");
    }
}

#[test]
fn time_of_day_without_gps_uses_clock_hours() {
    let cases = [
        ("00:00:00", NIGHT, 0.5),
        ("05:59:59", NIGHT, 0.5),
        ("06:00:00", DUSK_DAWN, 0.4),
        ("07:59:59", DUSK_DAWN, 0.4),
        ("08:00:00", DAY, 0.5),
        ("12:30:00", DAY, 0.5),
        ("16:59:59", DAY, 0.5),
        ("17:00:00", DUSK_DAWN, 0.4),
        ("19:59:59", DUSK_DAWN, 0.4),
        ("20:00:00", NIGHT, 0.5),
        ("23:59:59", NIGHT, 0.5),
    ];
    for (clock, value, confidence) in cases {
        let local = format!("2024-10-05T{clock}");
        assert_eq!(tod(&local, None, None), (value.into(), confidence), "{clock}");
        assert_eq!(tod(&local, Some(-300), None), (value.into(), confidence), "offset alone changes nothing");
    }
}

#[test]
fn time_of_day_ignores_bogus_gps_and_unreadable_times() {
    // (0, 0) is what cameras without a fix write; out-of-range and NaN positions are ignored too.
    for gps in [(0.0, 0.0), (91.0, 10.0), (10.0, 181.0), (f64::NAN, 10.0), (10.0, f64::INFINITY)] {
        assert_eq!(tod("2024-06-21T12:00:00", Some(0), Some(gps)), (DAY.into(), 0.5), "{gps:?}");
    }
    assert!(time_of_day("", None, None).is_none());
    assert!(time_of_day("0000:00:00 00:00:00", Some(0), Some(PARIS)).is_none());
    assert!(time_of_day("yesterday", None, Some(PARIS)).is_none());
}

#[test]
fn exif_conditions_give_camera_and_time_of_day() {
    let c =
        exif_conditions(Some("PENTAX K10D #123 \0\0"), Some("2024-06-21T14:00:00"), Some(120), Some(PARIS));
    assert_eq!(c.len(), 2);
    assert_eq!(c[0], Condition::new(CAMERA, "PENTAX K10D #123", ConditionSource::Exif, 1.0));
    assert_eq!((c[1].key.as_str(), c[1].value.as_str()), (TIME_OF_DAY, DAY));
    assert_eq!(c[1].confidence, 0.9);
    let c = exif_conditions(Some(" \0 "), Some("2024-06-21T03:00:00"), None, None);
    assert_eq!(c.len(), 1, "an empty camera string gives no camera: {c:?}");
    assert_eq!(c[0].value, NIGHT);
    assert!(exif_conditions(None, None, None, None).is_empty());
    assert!(exif_conditions(None, Some("not a time"), Some(60), Some(PARIS)).is_empty());
    let camera_only = exif_conditions(Some("Canon EOS 40D"), None, None, None);
    assert_eq!(camera_only, vec![Condition::new(CAMERA, "Canon EOS 40D", ConditionSource::Exif, 1.0)]);
}

// ------------------------------------------------------------------------------------------------
// Estimates from image statistics
// ------------------------------------------------------------------------------------------------

fn stats(p05: f32, p50: f32, p95: f32, contrast: f32, saturation: f32) -> ImageStats {
    ImageStats {
        luma_mean: p50,
        luma_p05: p05,
        luma_p50: p50,
        luma_p95: p95,
        contrast,
        saturation_mean: saturation,
        sharpness: 0.01,
    }
}

fn estimate(s: &ImageStats) -> (String, f32, String, f32) {
    let c = estimated_conditions(s);
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!((c[0].key.as_str(), c[1].key.as_str()), (LIGHT, WEATHER));
    assert!(c.iter().all(|c| c.source == ConditionSource::Estimated));
    (c[0].value.clone(), c[0].confidence, c[1].value.clone(), c[1].confidence)
}

#[test]
fn estimates_follow_what_the_statistics_mean() {
    // Night street: dark median, lamps far above it.
    let (light, _, weather, _) = estimate(&stats(0.01, 0.06, 0.45, 0.15, 0.4));
    assert_eq!((light.as_str(), weather.as_str()), (NIGHT, UNKNOWN));
    // Night brightened by auto exposure, lamps still far above the median.
    assert_eq!(estimate(&stats(0.03, 0.16, 0.60, 0.18, 0.4)).0, NIGHT);
    // Night without lamps: just very dark.
    assert_eq!(estimate(&stats(0.0, 0.02, 0.05, 0.01, 0.5)).0, NIGHT);
    // Dim, nothing bright: low light.
    let (light, _, weather, _) = estimate(&stats(0.04, 0.15, 0.28, 0.07, 0.3));
    assert_eq!((light.as_str(), weather.as_str()), (LOW_LIGHT, UNKNOWN));
    // Sunny: contrasty and colourful.
    assert_eq!(estimate(&stats(0.08, 0.45, 0.85, 0.22, 0.35)), (DAY.into(), 0.7, CLEAR.into(), 0.6));
    // Fog: lifted blacks, flat, colourless, bright.
    let (light, _, weather, _) = estimate(&stats(0.65, 0.75, 0.82, 0.04, 0.03));
    assert_eq!((light.as_str(), weather.as_str()), (DAY, FOG_HAZE));
    // Overcast: dull and soft, but dark things stay dark.
    let (light, _, weather, _) = estimate(&stats(0.12, 0.45, 0.70, 0.13, 0.10));
    assert_eq!((light.as_str(), weather.as_str()), (DAY, OVERCAST));
    // Colourful but flat: no rule applies.
    assert_eq!(estimate(&stats(0.3, 0.5, 0.7, 0.10, 0.4)).2, UNKNOWN);
}

#[test]
fn greyscale_pictures_get_no_weather_and_a_doubtful_light() {
    let (light, light_conf, weather, _) = estimate(&stats(0.1, 0.5, 0.9, 0.25, 0.0));
    assert_eq!((light.as_str(), weather.as_str()), (DAY, UNKNOWN));
    assert!(light_conf <= 0.4, "{light_conf}");
}

#[test]
fn estimate_confidence_is_lower_near_thresholds() {
    // Median luma 0.29 vs the low-light threshold 0.30, with p95 below 0.42: barely low light.
    let (light, near, _, _) = estimate(&stats(0.05, 0.29, 0.35, 0.08, 0.3));
    assert_eq!(light, LOW_LIGHT);
    let (light, far, _, _) = estimate(&stats(0.05, 0.15, 0.25, 0.08, 0.3));
    assert_eq!(light, LOW_LIGHT);
    assert!(near < far, "{near} vs {far}");
    // Saturation 0.21 vs the clear threshold 0.20.
    let (_, _, weather, near) = estimate(&stats(0.08, 0.45, 0.85, 0.22, 0.21));
    assert_eq!(weather, CLEAR);
    let (_, _, weather, far) = estimate(&stats(0.08, 0.45, 0.85, 0.22, 0.40));
    assert_eq!(weather, CLEAR);
    assert!(near < far, "{near} vs {far}");
}

#[test]
fn estimates_are_always_listed_values_with_hint_confidences() {
    let grid = [0.0_f32, 0.03, 0.07, 0.12, 0.2, 0.3, 0.42, 0.55, 0.7, 0.85, 1.0];
    let mut seen_light = BTreeMap::new();
    let mut seen_weather = BTreeMap::new();
    for &p05 in &grid {
        for &p50 in grid.iter().filter(|&&v| v >= p05) {
            for &p95 in grid.iter().filter(|&&v| v >= p50) {
                for &contrast in &[0.0_f32, 0.05, 0.12, 0.17, 0.3] {
                    for &saturation in &[0.0_f32, 0.1, 0.18, 0.25, 0.6] {
                        let s = stats(p05, p50, p95, contrast, saturation);
                        let (light, lc, weather, wc) = estimate(&s);
                        assert!(LIGHT_VALUES.contains(&light.as_str()), "{light}");
                        assert!(WEATHER_VALUES.contains(&weather.as_str()), "{weather}");
                        assert!((0.3..=0.7).contains(&lc), "{lc} for {s:?}");
                        assert!((0.3..=0.6).contains(&wc), "{wc} for {s:?}");
                        assert!(wc <= lc.max(0.3), "weather never surer than light: {s:?}");
                        *seen_light.entry(light).or_insert(0) += 1;
                        *seen_weather.entry(weather).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    assert_eq!(seen_light.len(), 3, "{seen_light:?}");
    assert_eq!(seen_weather.len(), 4, "{seen_weather:?}");
    // Every estimate ranks below every other source, whatever its confidence.
    let estimated = Condition::new(LIGHT, NIGHT, ConditionSource::Estimated, 1.0);
    let exif = Condition::new(LIGHT, DAY, ConditionSource::Exif, 0.0);
    assert_eq!(resolve(&[estimated, exif.clone()]), vec![exif]);
}

#[test]
fn missing_or_broken_statistics_give_no_estimate() {
    assert!(estimated_conditions(&ImageStats::default()).is_empty());
    assert!(estimate_light(&ImageStats::default()).is_none());
    let nan = ImageStats { luma_p50: f32::NAN, ..stats(0.1, 0.5, 0.9, 0.2, 0.3) };
    assert!(estimated_conditions(&nan).is_empty());
    let out_of_range = ImageStats { luma_p95: 1.5, ..stats(0.1, 0.5, 0.9, 0.2, 0.3) };
    assert!(estimated_conditions(&out_of_range).is_empty());
}

/// The statistics of packed RGB8 pixels, computed as `crates/ingest/src/stats.rs` does (Rec.
/// 601 luma of 8-bit values, a 256-bin histogram for the percentiles, RMS contrast, mean HSV
/// saturation; sharpness left out).
fn pixel_stats(rgb: &[[u8; 3]]) -> ImageStats {
    let n = rgb.len();
    let mut histogram = [0u32; 256];
    let (mut sum, mut sum_sq, mut sat) = (0f64, 0f64, 0f64);
    for px in rgb {
        let y = 0.299 * f32::from(px[0]) + 0.587 * f32::from(px[1]) + 0.114 * f32::from(px[2]);
        histogram[(y + 0.5) as usize & 0xFF] += 1;
        sum += f64::from(y);
        sum_sq += f64::from(y) * f64::from(y);
        let max = px[0].max(px[1]).max(px[2]);
        if max > 0 {
            sat += f64::from(max - px[0].min(px[1]).min(px[2])) / f64::from(max);
        }
    }
    let percentile = |p: f64| {
        let needed = ((n as f64 * p).ceil() as u64).max(1);
        let mut cumulative = 0u64;
        for (bin, &count) in histogram.iter().enumerate() {
            cumulative += u64::from(count);
            if cumulative >= needed {
                return bin as f32 / 255.0;
            }
        }
        1.0
    };
    let mean = sum / n as f64;
    ImageStats {
        luma_mean: (mean / 255.0) as f32,
        luma_p05: percentile(0.05),
        luma_p50: percentile(0.5),
        luma_p95: percentile(0.95),
        contrast: ((sum_sq / n as f64 - mean * mean).max(0.0).sqrt() / 255.0) as f32,
        saturation_mean: (sat / n as f64) as f32,
        sharpness: 0.01,
    }
}

/// A procedural outdoor scene, 96 × 64: sky above, a textured field below with a hard shadow
/// and a red object, under a given light.
fn scene(kind: &str) -> Vec<[u8; 3]> {
    let (w, h) = (96usize, 64usize);
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let texture = ((x * 7 + y * 13) % 9) as f32 / 8.0 - 0.5; // -0.5..0.5
            let sky = y < h * 2 / 5;
            let shadow = !sky && x < w / 3 && y > h / 2;
            let object = !sky && (60..72).contains(&x) && (30..44).contains(&y);
            let sunny: [f32; 3] = if sky {
                let t = y as f32 / (h as f32 * 0.4);
                [90.0 + 50.0 * t, 150.0 + 40.0 * t, 235.0 + 15.0 * t]
            } else if object {
                [200.0, 30.0, 25.0]
            } else if shadow {
                [20.0 + 10.0 * texture, 50.0 + 15.0 * texture, 15.0]
            } else {
                [60.0 + 30.0 * texture, 140.0 + 40.0 * texture, 40.0 + 15.0 * texture]
            };
            let grey = |c: [f32; 3]| 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
            let px: [f32; 3] = match kind {
                "sunny" => sunny,
                "overcast" => {
                    if sky {
                        [205.0, 208.0, 212.0]
                    } else {
                        // No cast shadow, duller colours, detail kept.
                        let base = if object { [150.0, 80.0, 75.0] } else { [95.0, 115.0, 85.0] };
                        [base[0] + 25.0 * texture, base[1] + 25.0 * texture, base[2] + 20.0 * texture]
                    }
                }
                "fog" => {
                    let t = if sky { 0.1 } else { 0.3 };
                    let g = grey(sunny);
                    let desaturated = sunny.map(|c| g + (c - g) * 0.5);
                    desaturated.map(|c| c * t + 200.0 * (1.0 - t))
                }
                "low_light" => sunny.map(|c| c * 0.3),
                "night_dark" => sunny.map(|c| c * 0.05),
                "night_lamps" => {
                    let lamps = [(10.0, 20.0), (40.0, 22.0), (70.0, 18.0), (88.0, 30.0)];
                    let d = lamps
                        .iter()
                        .map(|&(lx, ly)| ((x as f32 - lx).powi(2) + (y as f32 - ly).powi(2)).sqrt())
                        .fold(f32::MAX, f32::min);
                    if d < 4.0 {
                        [255.0, 225.0, 170.0]
                    } else if d < 10.0 {
                        [120.0, 95.0, 60.0]
                    } else {
                        sunny.map(|c| c * 0.06)
                    }
                }
                other => panic!("no scene {other}"),
            };
            out.push(px.map(|c| c.round().clamp(0.0, 255.0) as u8));
        }
    }
    out
}

#[test]
fn procedural_scenes_through_pixel_statistics() {
    let cases = [
        ("sunny", DAY, CLEAR),
        ("overcast", DAY, OVERCAST),
        ("fog", DAY, FOG_HAZE),
        ("low_light", LOW_LIGHT, UNKNOWN),
        ("night_dark", NIGHT, UNKNOWN),
        ("night_lamps", NIGHT, UNKNOWN),
    ];
    for (kind, light, weather) in cases {
        let s = pixel_stats(&scene(kind));
        let (got_light, _, got_weather, _) = estimate(&s);
        assert_eq!((got_light.as_str(), got_weather.as_str()), (light, weather), "{kind}: {s:?}");
    }
}

// ------------------------------------------------------------------------------------------------
// Measured accuracy on labeled examples
// ------------------------------------------------------------------------------------------------

/// Labeled examples made by `scripts/condition_examples.py`: the real daytime photos of
/// `assets/sample/photos` and synthetic night, low-light, fog, haze and overcast variants of
/// each, with the statistics the importer computes.
const EXAMPLES: &str = include_str!("fixtures/condition_examples.csv");

struct Example {
    photo: String,
    variant: String,
    split: String,
    light: String,
    weather: String,
    stats: ImageStats,
}

fn examples() -> Vec<Example> {
    let mut lines = EXAMPLES.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    assert_eq!(
        header,
        [
            "photo",
            "variant",
            "split",
            "light",
            "weather",
            "luma_mean",
            "luma_p05",
            "luma_p50",
            "luma_p95",
            "contrast",
            "saturation_mean",
            "sharpness"
        ]
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let num = |i: usize| f[i].parse::<f32>().expect("a number in the fixture");
            Example {
                photo: f[0].into(),
                variant: f[1].into(),
                split: f[2].into(),
                light: f[3].into(),
                weather: f[4].into(),
                stats: ImageStats {
                    luma_mean: num(5),
                    luma_p05: num(6),
                    luma_p50: num(7),
                    luma_p95: num(8),
                    contrast: num(9),
                    saturation_mean: num(10),
                    sharpness: num(11),
                },
            }
        })
        .collect()
}

/// Per true class: (count, predicted value → count).
type Confusion = BTreeMap<String, (usize, BTreeMap<String, usize>)>;

fn confusion(
    examples: &[&Example],
    truth: impl Fn(&Example) -> &str,
    predict: impl Fn(&ImageStats) -> String,
) -> Confusion {
    let mut out = Confusion::new();
    for e in examples {
        let t = truth(e);
        if t == "-" {
            continue;
        }
        let entry = out.entry(t.to_string()).or_default();
        entry.0 += 1;
        *entry.1.entry(predict(&e.stats)).or_default() += 1;
    }
    out
}

fn recall(c: &Confusion, class: &str) -> f64 {
    let (n, predicted) = &c[class];
    predicted.get(class).copied().unwrap_or(0) as f64 / *n as f64
}

fn print_confusion(title: &str, c: &Confusion) {
    println!("{title}");
    for (class, (n, predicted)) in c {
        println!("  {class:<10} n={n:<3} correct={:.2}  predicted {predicted:?}", recall(c, class));
    }
}

#[test]
fn estimated_conditions_accuracy_on_labeled_examples() {
    let all = examples();
    assert!(all.len() >= 200, "{}", all.len());
    let light = |s: &ImageStats| estimate_light(s).expect("usable statistics").0.to_string();
    let weather = |s: &ImageStats| estimate_weather(s).expect("usable statistics").0.to_string();
    for split in ["tune", "test", "all"] {
        let chosen: Vec<&Example> = all.iter().filter(|e| split == "all" || e.split == split).collect();
        print_confusion(
            &format!("[{split}] light ({} examples)", chosen.len()),
            &confusion(&chosen, |e| &e.light, light),
        );
        print_confusion(&format!("[{split}] weather"), &confusion(&chosen, |e| &e.weather, weather));
    }
    for e in &all {
        let (l, w) = (light(&e.stats), weather(&e.stats));
        if l != e.light || (e.weather != "-" && w != e.weather) {
            println!("  miss {} {}: {l}/{w}, labeled {}/{}", e.photo, e.variant, e.light, e.weather);
        }
    }

    // Floors a little under what was measured (see docs/conditions.md), on the held-out photos
    // (rules fixed before they were measured) and on all of them.
    let test: Vec<&Example> = all.iter().filter(|e| e.split == "test").collect();
    let everything: Vec<&Example> = all.iter().collect();
    let light_test = confusion(&test, |e| &e.light, light);
    let light_all = confusion(&everything, |e| &e.light, light);
    assert!(recall(&light_test, DAY) >= 0.95);
    assert!(recall(&light_test, NIGHT) >= 0.9);
    assert!(recall(&light_test, LOW_LIGHT) >= 0.75);
    assert!(recall(&light_all, DAY) >= 0.95);
    assert!(recall(&light_all, NIGHT) >= 0.9);
    assert!(recall(&light_all, LOW_LIGHT) >= 0.8);
    let weather_test = confusion(&test, |e| &e.weather, weather);
    let weather_all = confusion(&everything, |e| &e.weather, weather);
    assert!(recall(&weather_test, FOG_HAZE) >= 0.9);
    assert!(recall(&weather_test, OVERCAST) >= 0.75);
    assert!(recall(&weather_test, CLEAR) >= 0.75);
    assert!(recall(&weather_all, FOG_HAZE) >= 0.9);
    assert!(recall(&weather_all, OVERCAST) >= 0.6);
    assert!(recall(&weather_all, CLEAR) >= 0.8);

    // Every real photo is daylight; say so.
    for e in all.iter().filter(|e| e.variant == "original") {
        assert_eq!(light(&e.stats), DAY, "{}", e.photo);
    }
}

#[test]
fn sample_casio_clock_says_night_where_the_pixels_say_day() {
    // assets/sample/photos/L01.jpg: EXIF DateTimeOriginal 2006:02:15 23:39:07, no offset, no GPS,
    // yet a sunlit street (the four Casio QV-R51 photos all read 21:19-01:36; a clock left on
    // another time zone would do this). EXIF's time of day and the pixels' light disagree, and
    // both stay in the catalog under their own keys.
    let tod = time_of_day("2006:02:15 23:39:07", None, None).expect("readable");
    assert_eq!((tod.value.as_str(), tod.confidence), (NIGHT, 0.5));
    let all = examples();
    let l01 = all.iter().find(|e| e.photo == "L01.jpg" && e.variant == "original").expect("in the fixture");
    let estimated = estimated_conditions(&l01.stats);
    assert_eq!(estimated[0].value, DAY);
    let resolved = resolve(&[vec![tod], estimated].concat());
    let keys: Vec<&str> = resolved.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, vec![LIGHT, TIME_OF_DAY, WEATHER]);
}

#[test]
fn estimate_confidence_is_higher_when_right() {
    let all = examples();
    let (mut right, mut wrong) = (Vec::new(), Vec::new());
    for e in &all {
        let (value, confidence) = estimate_light(&e.stats).expect("usable");
        if value == e.light { right.push(confidence) } else { wrong.push(confidence) }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
    println!(
        "light: mean confidence {:.3} when right (n={}), {:.3} when wrong (n={})",
        mean(&right),
        right.len(),
        mean(&wrong),
        wrong.len()
    );
    assert!(!wrong.is_empty() && mean(&right) > mean(&wrong));
}

// ------------------------------------------------------------------------------------------------
// Path rules
// ------------------------------------------------------------------------------------------------

fn pairs(list: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn rule(pattern: &str) -> PathRule {
    PathRule::parse(pattern).expect("a valid pattern")
}

#[test]
fn path_rule_camera_date_star() {
    let r = rule("{camera}/{date}/*");
    assert_eq!(r.apply("cam1/2024-05-01/img_0001.jpg"), pairs(&[("camera", "cam1"), ("date", "2024-05-01")]));
    assert_eq!(r.apply("cam1\\2024-05-01\\img.jpg"), pairs(&[("camera", "cam1"), ("date", "2024-05-01")]));
    assert_eq!(r.apply("./cam1//2024-05-01/img.jpg"), pairs(&[("camera", "cam1"), ("date", "2024-05-01")]));
    assert_eq!(r.apply("cam1/2024-05-01/extra/img.jpg"), None, "`*` is exactly one segment");
    assert_eq!(r.apply("cam1/img.jpg"), None);
    assert_eq!(r.apply(""), None);
    assert_eq!(r.keys(), vec!["camera", "date"]);
    assert_eq!(r.pattern(), "{camera}/{date}/*");
    assert_eq!(r.to_string(), "{camera}/{date}/*");
}

#[test]
fn path_rule_literals_around_captures_and_any_depth() {
    let r = rule("site-{site}/cam{camera}/**");
    assert_eq!(r.apply("site-north/cam07/a/b/c.jpg"), pairs(&[("site", "north"), ("camera", "07")]));
    assert_eq!(
        r.apply("SITE-north/CAM07/x.jpg"),
        pairs(&[("site", "north"), ("camera", "07")]),
        "literals ignore case"
    );
    assert_eq!(
        r.apply("site-north/cam07"),
        pairs(&[("site", "north"), ("camera", "07")]),
        "`**` may match nothing"
    );
    assert_eq!(r.apply("north/cam07/x.jpg"), None);
    assert_eq!(r.apply("site-/cam07/x.jpg"), None, "a capture takes at least one character");
    let r = rule("**/{camera}/*");
    assert_eq!(r.apply("a/b/cam3/x.jpg"), pairs(&[("camera", "cam3")]));
    assert_eq!(r.apply("cam3/x.jpg"), pairs(&[("camera", "cam3")]));
    assert_eq!(r.apply("x.jpg"), None);
    let r = rule("{site}/**/{sequence}/*");
    assert_eq!(r.apply("s1/2024/06/seq9/x.jpg"), pairs(&[("site", "s1"), ("sequence", "seq9")]));
}

#[test]
fn path_rule_glob_inside_a_segment() {
    let r = rule("{sequence}/*.jpg");
    assert_eq!(r.apply("seq_12/IMG_0001.JPG"), pairs(&[("sequence", "seq_12")]));
    assert_eq!(r.apply("seq_12/.jpg"), pairs(&[("sequence", "seq_12")]), "`*` may match nothing");
    assert_eq!(r.apply("seq_12/IMG_0001.png"), None);
    let r = rule("{day}_*/{camera}-*.jpg");
    assert_eq!(
        r.apply("2024-06-01_rainy/cam2-0001.jpg"),
        pairs(&[("day", "2024-06-01"), ("camera", "cam2")])
    );
    let r = rule("*/{site}/*");
    assert_eq!(r.apply("Zürich/Höngg/bild.jpg"), pairs(&[("site", "Höngg")]), "non-ASCII text is kept");
}

#[test]
fn path_rule_captures_take_the_shortest_text() {
    let r = rule("{a}_{b}/*");
    assert_eq!(r.apply("x_y_z/f.jpg"), pairs(&[("a", "x"), ("b", "y_z")]));
    let r = rule("{date}T{time}/*");
    assert_eq!(r.apply("2024-01-01T12-00/f.jpg"), pairs(&[("date", "2024-01-01"), ("time", "12-00")]));
}

#[test]
fn path_rule_conditions_come_from_path_source() {
    let got = rule("{site}/*").conditions("north/x.jpg").expect("matches");
    assert_eq!(got, vec![Condition::new("site", "north", ConditionSource::Path, 1.0)]);
    assert!(rule("{site}/*").conditions("x.jpg").is_none());
}

#[test]
fn path_rule_errors_name_the_pattern_and_the_problem() {
    let cases = [
        ("", "is empty"),
        ("   ", "is empty"),
        ("{camera/*", "unclosed `{`"),
        ("{}/*", "empty capture name"),
        ("{ }/*", "empty capture name"),
        ("{a}{b}/*", "no literal text between them"),
        ("{a}*/*", "between the capture and `*`"),
        ("*{a}/*", "between `*` and the capture"),
        ("{a}/x**/*", "`**` must be a whole segment"),
        ("{a}//*", "segment 2 is empty"),
        ("{a}/*/", "segment 3 is empty"),
        ("/{a}/*", "starts with `/`"),
        ("{a}\\*", "`\\`"),
        ("{a}/{a}/*", "captures `{a}` twice"),
        ("*/*.jpg", "has no `{name}` capture"),
        ("{a}}/*", "`}` without a `{`"),
        ("{a{b}}/*", "`{` inside a capture"),
        ("{cam era}/*", "contains ` `"),
        ("{cam.id}/*", "contains `.`"),
    ];
    for (pattern, what) in cases {
        let err = PathRule::parse(pattern).expect_err(pattern);
        assert!(err.contains(&format!("`{pattern}`")), "{pattern}: {err}");
        assert!(err.contains(what), "{pattern}: {err} (wanted {what})");
    }
    // Accepted spellings.
    assert!(PathRule::parse("./{a}/*").is_ok());
    assert!(PathRule::parse("**/**/{a}").is_ok());
    assert!(PathRule::parse("{site_id}/{cam-2}/*").is_ok());
}

// ------------------------------------------------------------------------------------------------
// Sidecar files
// ------------------------------------------------------------------------------------------------

fn rows(parsed: &SidecarRows) -> Vec<(&str, &str, &str, usize)> {
    parsed.rows.iter().map(|r| (r.path.as_str(), r.key.as_str(), r.value.as_str(), r.line)).collect()
}

fn csv(text: &str) -> SidecarRows {
    parse_sidecar(text, SidecarFormat::Csv).expect("a readable CSV")
}

fn json(text: &str) -> SidecarRows {
    parse_sidecar(text, SidecarFormat::Json).expect("a readable JSON")
}

#[test]
fn csv_sidecar_basic() {
    let parsed = csv("path,Weather, Site \ncam1/a.jpg,rain,north\n./cam1/b.jpg, fog ,\n");
    assert_eq!(
        rows(&parsed),
        vec![
            ("cam1/a.jpg", "weather", "rain", 2),
            ("cam1/a.jpg", "site", "north", 2),
            ("cam1/b.jpg", "weather", "fog", 3),
        ]
    );
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    let conditions = parsed.conditions();
    assert_eq!(
        conditions[0],
        ("cam1/a.jpg".into(), Condition::new("weather", "rain", ConditionSource::Sidecar, 1.0))
    );
}

#[test]
fn csv_sidecar_rfc4180_quoting() {
    let text = "file,note,sensor\r\n\"a,b.jpg\",\"said \"\"hi\"\", then left\",s1\r\n\"c.jpg\",\"two\nlines\",s2\r\nd.jpg,plain,s3\r\n";
    let parsed = csv(text);
    assert_eq!(
        rows(&parsed),
        vec![
            ("a,b.jpg", "note", "said \"hi\", then left", 2),
            ("a,b.jpg", "sensor", "s1", 2),
            ("c.jpg", "note", "two\nlines", 3),
            ("c.jpg", "sensor", "s2", 3),
            ("d.jpg", "note", "plain", 5),
            ("d.jpg", "sensor", "s3", 5),
        ]
    );
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
}

#[test]
fn csv_sidecar_path_column_names_bom_and_delimiters() {
    let parsed = csv("\u{feff}Image;weather\nx.jpg;clear\n");
    assert_eq!(rows(&parsed), vec![("x.jpg", "weather", "clear", 2)]);
    let parsed = csv("filename\tweather\nx.jpg\tclear\n");
    assert_eq!(rows(&parsed), vec![("x.jpg", "weather", "clear", 2)]);
    // `path` is preferred over `image`, which then is an ordinary key.
    let parsed = csv("image,path\nsome label,x.jpg\n");
    assert_eq!(rows(&parsed), vec![("x.jpg", "image", "some label", 2)]);
    let parsed = csv("path,weather\n\n\nx.jpg,clear\n\n");
    assert_eq!(rows(&parsed), vec![("x.jpg", "weather", "clear", 4)], "blank lines are skipped");
    assert_eq!(parsed.problems, vec![]);
}

#[test]
fn csv_sidecar_row_problems_are_collected_with_lines() {
    let text = "path,weather,site\n\
                ,rain,north\n\
                a.jpg,,\n\
                b.jpg,fog,north,extra\n\
                c.jpg,clear\n\
                b.jpg,rain,\n";
    let parsed = csv(text);
    assert_eq!(
        rows(&parsed),
        vec![
            ("b.jpg", "weather", "rain", 6),
            ("b.jpg", "site", "north", 4),
            ("c.jpg", "weather", "clear", 5)
        ]
    );
    let problems: Vec<(usize, &str)> = parsed.problems.iter().map(|p| (p.line, p.message.as_str())).collect();
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert_eq!(problems[0].0, 2);
    assert!(problems[0].1.contains("no path"), "{problems:?}");
    assert_eq!(problems[1].0, 3);
    assert!(problems[1].1.contains("no values"), "{problems:?}");
    assert_eq!(problems[2].0, 4);
    assert!(problems[2].1.contains("4 fields but the header has 3"), "{problems:?}");
    assert_eq!(problems[3].0, 6);
    assert!(problems[3].1.contains("given again (first on line 4)"), "{problems:?}");
    assert_eq!(parsed.problems[0].to_string(), format!("line 2: {}", parsed.problems[0].message));
}

#[test]
fn csv_sidecar_header_problems() {
    let parsed = csv("path,weather,,Weather\nx.jpg,clear,a,b\n");
    assert_eq!(rows(&parsed), vec![("x.jpg", "weather", "clear", 2)]);
    assert_eq!(parsed.problems.len(), 2, "{:?}", parsed.problems);
    assert!(parsed.problems[0].message.contains("column 3 has no name"));
    assert!(parsed.problems[1].message.contains("`weather` appears twice"));
}

#[test]
fn csv_sidecar_fatal_errors() {
    assert_eq!(parse_sidecar("", SidecarFormat::Csv), Err(SidecarError::Empty));
    assert_eq!(parse_sidecar(" \n\n", SidecarFormat::Csv), Err(SidecarError::Empty));
    assert_eq!(parse_sidecar("\u{feff}", SidecarFormat::Json), Err(SidecarError::Empty));
    let err = parse_sidecar("name,weather\nx.jpg,clear\n", SidecarFormat::Csv).expect_err("no path column");
    assert_eq!(err, SidecarError::NoPathColumn { columns: vec!["name".into(), "weather".into()] });
    assert!(err.to_string().contains("\"name\""), "{err}");
    let err = parse_sidecar("path,weather\nx.jpg,\"clear\ny.jpg,fog\n", SidecarFormat::Csv)
        .expect_err("open quote");
    assert_eq!(
        err,
        SidecarError::Syntax { line: 2, column: 7, message: "quoted field is never closed".into() }
    );
    assert_eq!(err.to_string(), "line 2, column 7: quoted field is never closed");
}

#[test]
fn json_sidecar_array_of_objects() {
    let text = r#"[
  {"path": "a.jpg", "weather": "rain", "temperature_c": 12.5, "night": true},
  {"file": "b.jpg", "Site": " north ", "note": null, "tags": ["x"]},
  {"weather": "fog"},
  "c.jpg",
  {"path": "", "weather": "fog"}
]"#;
    let parsed = json(text);
    let mut got = rows(&parsed);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("a.jpg", "night", "true", 2),
            ("a.jpg", "temperature_c", "12.5", 2),
            ("a.jpg", "weather", "rain", 2),
            ("b.jpg", "site", "north", 3),
        ]
    );
    let problems: Vec<(usize, &str)> = parsed.problems.iter().map(|p| (p.line, p.message.as_str())).collect();
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert_eq!(problems[0].0, 3);
    assert!(problems[0].1.contains("`tags` is not text"), "{problems:?}");
    assert_eq!(problems[1].0, 4);
    assert!(problems[1].1.contains("entry 3 has no path"), "{problems:?}");
    assert_eq!(problems[2].0, 5);
    assert!(problems[2].1.contains("entry 4 is not an object"), "{problems:?}");
    assert_eq!(problems[3].0, 6);
    assert!(problems[3].1.contains("entry 5"), "{problems:?}");
}

#[test]
fn json_sidecar_object_mapping_paths() {
    let text = "{\n  \"cam1/a.jpg\": {\"weather\": \"rain\", \"site\": \"north\"},\n  \"cam1/b.jpg\": {\"weather\": \"\"},\n  \"cam1/c.jpg\": \"fog\",\n  \"cam1\\\\d.jpg\": {\"sequence\": 7}\n}";
    let parsed = json(text);
    assert_eq!(
        rows(&parsed),
        vec![
            ("cam1/a.jpg", "site", "north", 2),
            ("cam1/a.jpg", "weather", "rain", 2),
            ("cam1/d.jpg", "sequence", "7", 5),
        ]
    );
    let problems: Vec<(usize, &str)> = parsed.problems.iter().map(|p| (p.line, p.message.as_str())).collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].0, 3);
    assert!(problems[0].1.contains("no values"), "{problems:?}");
    assert_eq!(problems[1].0, 4);
    assert!(problems[1].1.contains("does not map to an object"), "{problems:?}");
    assert_eq!(json("{}"), SidecarRows::default());
    assert_eq!(json("[]"), SidecarRows::default());
}

#[test]
fn json_sidecar_fatal_errors() {
    let err = parse_sidecar("[\n  {\"path\": \"a.jpg\",\n   \"weather\": rain}\n]", SidecarFormat::Json)
        .expect_err("bad JSON");
    match &err {
        SidecarError::Syntax { line, column, message } => {
            assert_eq!(*line, 3, "{err}");
            assert!(*column > 0, "{err}");
            assert!(!message.contains(" at line "), "{message}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    assert!(err.to_string().starts_with("line 3, column "), "{err}");
    let err = parse_sidecar("\"just text\"", SidecarFormat::Json).expect_err("scalar");
    assert!(matches!(err, SidecarError::Shape(_)), "{err:?}");
    let err =
        parse_sidecar("{\"a.jpg\": \"fog\", \"b.jpg\": 3}", SidecarFormat::Json).expect_err("flat object");
    assert!(err.to_string().contains("array of objects"), "{err}");
}

#[test]
fn sidecar_format_from_file_name() {
    assert_eq!(SidecarFormat::from_file_name("conditions.CSV"), Some(SidecarFormat::Csv));
    assert_eq!(SidecarFormat::from_file_name("a/b/meta.tsv"), Some(SidecarFormat::Csv));
    assert_eq!(SidecarFormat::from_file_name("json"), Some(SidecarFormat::Json));
    assert_eq!(SidecarFormat::from_file_name("meta.yaml"), None);
    let json_name = serde_json::to_string(&SidecarFormat::Json).expect("serialise");
    assert_eq!(json_name, "\"json\"");
}
