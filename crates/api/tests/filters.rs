//! The catalog's condition, class and prediction filters through the API: validation, lazy
//! condition derivation, agreement with the coverage table's resolution, class names.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use lacuna_api::{CATALOG_FILE, ErrorCode, FixedClock, ImageId, ImageQuery, Project};
use lacuna_catalog::{Catalog, ConditionClaim, SyntheticRanking};

mod common;

use common::NOW;

fn project_with_images(dir: &Path, images: u64) -> Project {
    let mut catalog = Catalog::create(&dir.join(CATALOG_FILE)).expect("catalog");
    let root = catalog.upsert_root("/data", NOW).expect("root");
    catalog.insert_synthetic_images(root, images, 9, NOW).expect("images");
    drop(catalog);
    Project::open(dir, Arc::new(FixedClock(NOW))).expect("open")
}

fn all_ids(project: &Project, query: &ImageQuery) -> Vec<i64> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = project
            .list_images(&ImageQuery { cursor: cursor.clone(), limit: Some(37), ..query.clone() })
            .expect("page");
        out.extend(page.items.iter().map(|i| i.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(project.count_images(query).expect("count"), out.len() as u64, "{query:?}");
    out
}

fn condition(key: &str, value: &str) -> ImageQuery {
    ImageQuery {
        condition_key: Some(key.into()),
        condition_value: Some(value.into()),
        ..ImageQuery::default()
    }
}

#[test]
fn a_condition_filter_derives_conditions_first_and_agrees_with_coverage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = project_with_images(dir.path(), 300);
    // Nothing has derived conditions yet: the filter must do it (as coverage would).
    let night = ImageQuery { status: Some("ok".into()), ..condition("time_of_day", "night") };
    let before = all_ids(&project, &night);
    assert!(!before.is_empty(), "EXIF time of day derived on first use");

    // A person's word outranks EXIF: move two night images to day, one day image to night.
    let day = ImageQuery { status: Some("ok".into()), ..condition("time_of_day", "day") };
    let day_ids = all_ids(&project, &day);
    project.set_condition(ImageId(before[0]), "time_of_day", "day").expect("set");
    project.set_condition(ImageId(before[1]), "time_of_day", " day ").expect("set");
    project.set_condition(ImageId(day_ids[0]), "time_of_day", "night").expect("set");
    let after = all_ids(&project, &night);
    assert_eq!(after.len(), before.len() - 1);
    assert!(!after.contains(&before[0]) && after.contains(&day_ids[0]));

    // Every subset of sources claiming a key, each with its own value: which value wins shows
    // the whole trust order.
    let mut catalog = Catalog::open(&dir.path().join(CATALOG_FILE), NOW).expect("second connection");
    let sources = ["human", "sidecar", "path", "exif", "estimated"];
    let mut claims = Vec::new();
    for image in 1..=300i64 {
        let subset = image % 31 + 1;
        for (bit, source) in sources.iter().enumerate() {
            if subset & (1 << bit) != 0 {
                let value = format!("from_{source}");
                let confidence = 1.0 - bit as f32 / 5.0;
                claims.push(ConditionClaim {
                    image: ImageId(image),
                    key: "probe".into(),
                    value,
                    source: (*source).into(),
                    confidence,
                });
            }
        }
    }
    catalog.upsert_conditions(&claims, NOW).expect("claims");
    drop(catalog);

    // Every coverage bar lists exactly its pool (present images, the most trusted claim per
    // key, resolved in Rust by lacuna-select): the SQL rule and `resolve` agree.
    let coverage = project.coverage().expect("coverage");
    assert!(coverage.rows.len() > 5, "{:?}", coverage.rows);
    let keys: BTreeSet<&str> = coverage.rows.iter().map(|r| r.key.as_str()).collect();
    assert!(keys.contains("time_of_day") && keys.contains("camera") && keys.contains("probe"), "{keys:?}");
    assert_eq!(coverage.rows.iter().filter(|r| r.key == "probe").count(), 5);
    for row in &coverage.rows {
        let query = ImageQuery { status: Some("ok".into()), ..condition(&row.key, &row.value) };
        assert_eq!(project.count_images(&query).expect("count"), row.pool, "{} = {}", row.key, row.value);
    }
    // Images added later (another process: the counter moves) are derived on the next use.
    let mut catalog = Catalog::open(&dir.path().join(CATALOG_FILE), NOW).expect("second connection");
    let root = catalog.upsert_root("/more", NOW).expect("root");
    catalog.insert_synthetic_images(root, 100, 10, NOW).expect("images");
    drop(catalog);
    let more = ImageQuery { folder: Some("/more".into()), ..night.clone() };
    assert!(!all_ids(&project, &more).is_empty(), "new images derived too");

    // Seek goes through the same filter.
    let cursor = project.seek_images(&night, 2).expect("seek").expect("a cursor");
    let page = project.list_images(&ImageQuery { cursor: Some(cursor), limit: Some(1), ..night.clone() });
    assert_eq!(page.expect("page").items[0].id, after[2]);
}

#[test]
fn class_and_predicted_class_are_resolved_by_name_in_any_case() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = common::pre_labeled_project(dir.path(), 120);

    // Predicted class: the newest run's unflipped boxes, as `predictions` lists them.
    let predictions = project.predictions(None, Some(0.0), false).expect("predictions");
    let class = predictions[0].class.clone();
    let expected = |min: f32, max: f32| -> Vec<i64> {
        let set: BTreeSet<i64> = predictions
            .iter()
            .filter(|p| p.class == class && p.score >= min && p.score < max)
            .map(|p| p.image_id)
            .collect();
        set.into_iter().collect()
    };
    let predicted = |min: Option<f32>, max: Option<f32>| ImageQuery {
        predicted_class: Some(class.to_uppercase()),
        score_min: min,
        score_max: max,
        ..ImageQuery::default()
    };
    let any = expected(0.0, f32::INFINITY);
    assert!(!any.is_empty());
    assert_eq!(all_ids(&project, &predicted(None, None)), any);
    assert_eq!(all_ids(&project, &predicted(Some(0.3), Some(0.6))), expected(0.3, 0.6));
    assert_eq!(all_ids(&project, &predicted(Some(0.5), None)), expected(0.5, f32::INFINITY));

    // Annotated class: accepting a prediction makes an annotation of that class.
    project.create_class("lead", &class, None, None).expect("class");
    let strong = predictions.iter().find(|p| p.class == class && p.score >= 0.6).expect("a confident one");
    let offered = project.image_predictions(ImageId(strong.image_id), None).expect("offered");
    let chosen = offered.iter().find(|p| p.class == class).expect("one of the class");
    project
        .decide_predictions(
            "expert",
            &[lacuna_api::PredictionDecision { prediction: chosen.id, accept: true, class: None }],
        )
        .expect("accept");
    let annotated =
        ImageQuery { class: Some(format!(" {} ", class.to_uppercase())), ..ImageQuery::default() };
    assert_eq!(all_ids(&project, &annotated), [strong.image_id]);
}

#[test]
fn bad_filters_name_the_field_and_the_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = project_with_images(dir.path(), 10);
    let q = ImageQuery::default;
    let cases = [
        (ImageQuery { condition_key: Some("weather".into()), ..q() }, "condition_value", "weather"),
        (ImageQuery { condition_value: Some("rain".into()), ..q() }, "condition_key", "rain"),
        (
            ImageQuery { condition_key: Some("weather".into()), condition_value: Some("  ".into()), ..q() },
            "condition_value",
            "weather",
        ),
        (ImageQuery { class: Some("unicorn".into()), ..q() }, "class", "unicorn"),
        // No run yet: no prediction can match.
        (ImageQuery { predicted_class: Some("car".into()), ..q() }, "predicted_class", "pre-labeling"),
        (ImageQuery { score_min: Some(0.2), ..q() }, "score_min", "pre-labeling"),
        (ImageQuery { score_min: Some(1.5), ..q() }, "score_min", "1.5"),
        (ImageQuery { score_max: Some(-0.1), ..q() }, "score_max", "-0.1"),
        (ImageQuery { score_min: Some(f32::NAN), ..q() }, "score_min", "NaN"),
        (ImageQuery { score_min: Some(0.8), score_max: Some(0.2), ..q() }, "score_min", "0.2"),
    ];
    for (query, field, mentions) in &cases {
        for err in [
            project.list_images(query).expect_err(field),
            project.count_images(query).expect_err(field),
            project.seek_images(query, 5).expect_err(field),
        ] {
            assert_eq!(err.code, ErrorCode::InvalidInput, "{field}");
            assert!(err.message.starts_with(field), "{field}: {}", err.message);
            assert!(err.message.contains(mentions), "{field}: {}", err.message);
        }
    }

    // With a run, an unknown class of its model is named with the classes it has.
    let mut catalog = Catalog::open(&dir.path().join(CATALOG_FILE), NOW).expect("catalog");
    let spec = SyntheticRanking {
        seed: 1,
        dim: 4,
        clusters: 2,
        labeled: 0,
        night_share: 0.2,
        night_labeled_share: 0.0,
        classes: 2,
    };
    catalog.insert_synthetic_ranking(&spec, NOW).expect("run");
    drop(catalog);
    let err = project
        .count_images(&ImageQuery { predicted_class: Some("unicorn".into()), ..q() })
        .expect_err("unknown class");
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.starts_with("predicted_class: \"unicorn\""), "{}", err.message);
    assert!(err.message.contains("classes: "), "{}", err.message);
    // A band alone is fine once there is a run.
    project.count_images(&ImageQuery { score_min: Some(0.2), ..q() }).expect("band");
    // Blank strings are no filter.
    let blank = ImageQuery { class: Some(String::new()), predicted_class: Some(" ".into()), ..q() };
    assert_eq!(project.count_images(&blank).expect("blank"), 10);
}
