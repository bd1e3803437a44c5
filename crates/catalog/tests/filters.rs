//! The per-row filters of `list_images` / `count_images`: effective condition, annotated class,
//! predicted class and score band; alone, combined with the indexed filters, and paged.

use std::collections::{BTreeSet, HashMap};

use lacuna_catalog::{
    Catalog, ConditionClaim, ConditionFilter, ImageFilter, ModelRecord, NewAnnotation, PredictionFilter,
    PredictionRecord, RunImageResult, RunParams,
};
use lacuna_core::{
    AnnotationSource, Attributes, BoxXyxy, ClassId, Geometry, ImageId, ImageLabelState, ImageStatus,
    ReviewState, RunId,
};

const NOW: i64 = 1_700_000_000;
const IMAGES: u64 = 600;
/// Most trusted first; the test's own copy of the rule, so a change in the catalog shows.
const SOURCES: [&str; 5] = ["human", "sidecar", "path", "exif", "estimated"];
const TIMES: [&str; 3] = ["day", "dusk_dawn", "night"];

/// SplitMix64, for reproducible test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn new_catalog(images: u64) -> (tempfile::TempDir, Catalog) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut catalog = Catalog::create(&dir.path().join("catalog.sqlite")).expect("create");
    let root = catalog.upsert_root("/data", NOW).expect("root");
    catalog.insert_synthetic_images(root, images, 11, NOW).expect("images");
    (dir, catalog)
}

fn claim(image: i64, key: &str, value: &str, source: &str, confidence: f32) -> ConditionClaim {
    ConditionClaim {
        image: ImageId(image),
        key: key.into(),
        value: value.into(),
        source: source.into(),
        confidence,
    }
}

fn boxed(image: ImageId, class: ClassId) -> NewAnnotation {
    NewAnnotation {
        image,
        class,
        geometry: Geometry::Box(BoxXyxy { x0: 1.0, y0: 2.0, x1: 30.0, y1: 40.0 }),
        attributes: Attributes::default(),
        source: AnnotationSource::Human,
        score: None,
        review_state: ReviewState::Unreviewed,
    }
}

fn model(catalog: &mut Catalog, hash: &str, classes: &[&str]) -> lacuna_core::ModelId {
    let record = ModelRecord {
        name: format!("model-{hash}"),
        family: "v12".into(),
        scale: "n".into(),
        task: "detect".into(),
        weights_path: format!("/models/{hash}.onnx"),
        weights_hash: hash.into(),
        input_size_px: 640,
        license: None,
        source: None,
        class_names: classes.iter().map(|c| (*c).to_owned()).collect(),
    };
    catalog.upsert_model(&record, NOW).expect("model")
}

fn run(catalog: &mut Catalog, model: lacuna_core::ModelId, keep: f32) -> RunId {
    let params = RunParams {
        device: "cpu".into(),
        precision: "f32".into(),
        batch_size: 4,
        keep_threshold: keep,
        display_threshold: 0.25,
        iou_threshold: 0.7,
        max_detections: 300,
        flip_tta: true,
    };
    catalog.open_model_run(model, &params, NOW).expect("run").0
}

fn prediction(class_id: u32, score: f32, flipped: bool) -> PredictionRecord {
    PredictionRecord {
        class_id,
        score,
        bbox_xyxy_px: [1.0, 2.0, 3.0, 4.0],
        class_probs: vec![score; 3],
        flipped,
        mask_rle: None,
        mask_polygons: None,
    }
}

fn ids(catalog: &Catalog, filter: &ImageFilter) -> Vec<i64> {
    let ids: Vec<i64> =
        catalog.list_image_ids(filter, None, 100_000).expect("ids").into_iter().map(|i| i.0).collect();
    assert_eq!(catalog.count_images(filter).expect("count"), ids.len() as u64, "{filter:?}");
    ids
}

fn condition(key: &str, value: &str) -> ImageFilter {
    ImageFilter {
        condition: Some(ConditionFilter { key: key.into(), value: value.into() }),
        ..Default::default()
    }
}

#[test]
fn the_most_trusted_source_decides_the_condition() {
    let (_dir, mut catalog) = new_catalog(4);
    let claims = [
        // 1: a person says day, the pixels say night.
        claim(1, "time_of_day", "day", "human", 1.0),
        claim(1, "time_of_day", "night", "estimated", 0.9),
        // 2: only the estimate.
        claim(2, "time_of_day", "night", "estimated", 0.2),
        // 3: EXIF beats a confident estimate; a sidecar beats both.
        claim(3, "time_of_day", "night", "exif", 0.1),
        claim(3, "time_of_day", "day", "estimated", 1.0),
        claim(3, "weather", "rain", "sidecar", 0.5),
        claim(3, "weather", "clear", "path", 1.0),
        // 4: two sources agree: listed once.
        claim(4, "time_of_day", "night", "exif", 1.0),
        claim(4, "time_of_day", "night", "estimated", 1.0),
    ];
    catalog.upsert_conditions(&claims, NOW).expect("claims");
    assert_eq!(ids(&catalog, &condition("time_of_day", "day")), [1]);
    assert_eq!(ids(&catalog, &condition("time_of_day", "night")), [2, 3, 4]);
    assert_eq!(ids(&catalog, &condition("weather", "rain")), [3]);
    assert!(ids(&catalog, &condition("weather", "clear")).is_empty());
    // Another key's value never counts.
    assert!(ids(&catalog, &condition("weather", "night")).is_empty());

    // Without the person's claim the estimate shows again.
    catalog.delete_condition(ImageId(1), "time_of_day", "human").expect("delete");
    assert_eq!(ids(&catalog, &condition("time_of_day", "night")), [1, 2, 3, 4]);
    assert!(ids(&catalog, &condition("time_of_day", "day")).is_empty());
}

#[test]
fn annotated_class_ignores_rejected_and_deleted_annotations() {
    let (_dir, mut catalog) = new_catalog(5);
    let car = catalog.create_class("ann", "car", None, None, NOW).expect("car").id;
    let dog = catalog.create_class("ann", "dog", None, None, NOW).expect("dog").id;
    let (_, made) = catalog
        .create_annotations(
            "ann",
            &[
                boxed(ImageId(1), car),
                boxed(ImageId(2), car),
                boxed(ImageId(2), dog),
                boxed(ImageId(3), car),
                boxed(ImageId(4), car),
                boxed(ImageId(4), car),
                boxed(ImageId(5), car),
            ],
            NOW,
        )
        .expect("annotations");
    let class = |c: ClassId| ImageFilter { class: Some(c), ..Default::default() };
    assert_eq!(ids(&catalog, &class(car)), [1, 2, 3, 4, 5]);
    // Rejected on 3; on 4 only one of two; accepted and corrected still count.
    catalog.review_annotations("rev", &[made[3].id, made[4].id], ReviewState::Rejected, NOW).expect("reject");
    catalog.review_annotations("rev", &[made[0].id], ReviewState::Accepted, NOW).expect("accept");
    catalog.review_annotations("rev", &[made[1].id], ReviewState::Corrected, NOW).expect("correct");
    catalog.delete_annotations("ann", &[made[6].id], NOW).expect("delete");
    assert_eq!(ids(&catalog, &class(car)), [1, 2, 4]);
    assert_eq!(ids(&catalog, &class(dog)), [2]);
    assert!(ids(&catalog, &class(ClassId(99))).is_empty());
}

#[test]
fn prediction_filter_uses_one_run_unflipped_boxes_and_a_half_open_band() {
    let (_dir, mut catalog) = new_catalog(5);
    let m = model(&mut catalog, "aa", &["person", "car", "truck"]);
    let older = run(&mut catalog, m, 0.05);
    let newer = run(&mut catalog, m, 0.01);
    let result = |image: i64, predictions: Vec<PredictionRecord>| RunImageResult {
        image: ImageId(image),
        predictions,
        embedding: None,
        inference_ms: 1.0,
    };
    catalog
        .store_run_results(
            newer,
            &[
                result(1, vec![prediction(1, 0.5, false)]),
                result(2, vec![prediction(1, 0.3, false), prediction(0, 0.9, false)]),
                // Only the flipped pass saw a car.
                result(3, vec![prediction(1, 0.8, true)]),
                result(4, vec![]),
            ],
            &[],
        )
        .expect("newer");
    catalog.store_run_results(older, &[result(5, vec![prediction(1, 0.9, false)])], &[]).expect("older");
    let predicted =
        |run: RunId, class_ids: Option<Vec<i64>>, min: Option<f32>, max: Option<f32>| ImageFilter {
            prediction: Some(PredictionFilter { run, class_ids, score_min: min, score_max: max }),
            ..Default::default()
        };
    assert_eq!(ids(&catalog, &predicted(newer, None, None, None)), [1, 2]);
    assert_eq!(ids(&catalog, &predicted(newer, Some(vec![1]), None, None)), [1, 2]);
    assert_eq!(ids(&catalog, &predicted(older, Some(vec![1]), None, None)), [5]);
    assert_eq!(ids(&catalog, &predicted(newer, Some(vec![0]), None, None)), [2]);
    assert_eq!(ids(&catalog, &predicted(newer, Some(vec![0, 2]), None, None)), [2]);
    assert!(ids(&catalog, &predicted(newer, Some(vec![2]), None, None)).is_empty());
    assert!(ids(&catalog, &predicted(newer, Some(vec![]), None, None)).is_empty());
    // The band: min inclusive, max exclusive, on the stored f32 scores.
    assert_eq!(ids(&catalog, &predicted(newer, Some(vec![1]), Some(0.5), None)), [1]);
    assert_eq!(ids(&catalog, &predicted(newer, Some(vec![1]), None, Some(0.5))), [2]);
    assert_eq!(ids(&catalog, &predicted(newer, Some(vec![1]), Some(0.3), Some(0.5))), [2]);
    assert!(ids(&catalog, &predicted(newer, Some(vec![1]), Some(0.31), Some(0.5))).is_empty());
    // Any class in the band: image 2's person at 0.9.
    assert_eq!(ids(&catalog, &predicted(newer, None, Some(0.6), Some(1.0))), [2]);
    // The class and the band hold for the same box: image 2 has a car at 0.3 and a person at 0.9.
    assert!(ids(&catalog, &predicted(newer, Some(vec![1]), Some(0.6), None)).is_empty());
}

/// What the random fixture holds, to compute the expected sets in Rust.
struct Truth {
    /// (image, key) → claims (source rank, value).
    claims: HashMap<(i64, &'static str), Vec<(usize, &'static str)>>,
    /// image → classes of its live, non-rejected annotations.
    classes: HashMap<i64, BTreeSet<ClassId>>,
    /// image → unflipped predictions (class id, score) of each run.
    predictions: HashMap<(RunId, i64), Vec<(i64, f32)>>,
}

impl Truth {
    fn effective(&self, image: i64, key: &'static str) -> Option<&'static str> {
        self.claims.get(&(image, key))?.iter().min_by_key(|(rank, _)| *rank).map(|(_, v)| *v)
    }

    fn matches(&self, filter: &ImageFilter, image: i64) -> bool {
        let condition = filter.condition.as_ref().is_none_or(|c| {
            let key = ["time_of_day", "weather"].into_iter().find(|k| *k == c.key).expect("known key");
            self.effective(image, key) == Some(c.value.as_str())
        });
        let class = filter.class.is_none_or(|c| self.classes.get(&image).is_some_and(|s| s.contains(&c)));
        let prediction = filter.prediction.as_ref().is_none_or(|p| {
            self.predictions.get(&(p.run, image)).is_some_and(|boxes| {
                boxes.iter().any(|&(class, score)| {
                    p.class_ids.as_ref().is_none_or(|ids| ids.contains(&class))
                        && p.score_min.is_none_or(|m| score >= m)
                        && p.score_max.is_none_or(|m| score < m)
                })
            })
        });
        condition && class && prediction
    }
}

fn random_fixture() -> (tempfile::TempDir, Catalog, Truth, [ClassId; 3], [RunId; 2]) {
    let (dir, mut catalog) = new_catalog(IMAGES);
    let mut rng = Rng(42);
    let mut truth = Truth { claims: HashMap::new(), classes: HashMap::new(), predictions: HashMap::new() };

    let mut claims = Vec::new();
    for image in 1..=IMAGES as i64 {
        for (key, values) in [("time_of_day", &TIMES[..]), ("weather", &["clear", "rain", "fog_haze"][..])] {
            for (rank, source) in SOURCES.iter().enumerate() {
                if rng.chance(35) {
                    let value = values[rng.below(values.len() as u64) as usize];
                    // Confidence must not matter across sources: make it favour the loser.
                    let confidence = (rank as f32 + 1.0) / 5.0;
                    claims.push(claim(image, key, value, source, confidence));
                    truth.claims.entry((image, key)).or_default().push((rank, value));
                }
            }
        }
    }
    catalog.upsert_conditions(&claims, NOW).expect("claims");

    let classes =
        ["car", "person", "dog"].map(|n| catalog.create_class("ann", n, None, None, NOW).expect("class").id);
    let mut items = Vec::new();
    for image in 1..=IMAGES as i64 {
        for _ in 0..rng.below(4) {
            items.push(boxed(ImageId(image), classes[rng.below(3) as usize]));
        }
    }
    let (_, made) = catalog.create_annotations("ann", &items, NOW).expect("annotations");
    let mut rejected = Vec::new();
    for a in &made {
        if rng.chance(30) {
            rejected.push(a.id);
        } else {
            truth.classes.entry(a.image.0).or_default().insert(a.class);
        }
    }
    catalog.review_annotations("rev", &rejected, ReviewState::Rejected, NOW).expect("reject");

    let m = model(&mut catalog, "bb", &["person", "car", "truck"]);
    let runs = [run(&mut catalog, m, 0.05), run(&mut catalog, m, 0.01)];
    for &r in &runs {
        let mut results = Vec::new();
        for image in 1..=IMAGES as i64 {
            if rng.chance(20) {
                continue; // not processed by this run
            }
            let mut predictions = Vec::new();
            for _ in 0..rng.below(4) {
                let class = rng.below(3) as u32;
                let score = rng.below(1000) as f32 / 1000.0;
                let flipped = rng.chance(30);
                predictions.push(prediction(class, score, flipped));
                if !flipped {
                    truth.predictions.entry((r, image)).or_default().push((i64::from(class), score));
                }
            }
            results.push(RunImageResult {
                image: ImageId(image),
                predictions,
                embedding: None,
                inference_ms: 1.0,
            });
        }
        catalog.store_run_results(r, &results, &[]).expect("results");
    }
    (dir, catalog, truth, classes, runs)
}

#[test]
fn keyset_pages_of_per_row_filters_match_a_brute_force_scan() {
    let (_dir, mut catalog, truth, [car, person, _dog], [older, newer]) = random_fixture();
    // Images 1..=IMAGES get states so the label-state filter has something to combine with.
    let labeled: Vec<ImageId> = (1..=IMAGES as i64).filter(|i| i % 3 == 0).map(ImageId).collect();
    for chunk in labeled.chunks(50) {
        for &image in chunk {
            catalog.set_image_state("ann", image, ImageLabelState::Labeled, None, NOW).expect("state");
        }
    }
    let cameras = catalog.counts_by_camera().expect("cameras");
    let busiest = cameras[0].0.clone();
    let root = catalog.roots().expect("roots")[0].id;

    let night = Some(ConditionFilter { key: "time_of_day".into(), value: "night".into() });
    let rain = Some(ConditionFilter { key: "weather".into(), value: "rain".into() });
    let band =
        |run, class_ids, min, max| Some(PredictionFilter { run, class_ids, score_min: min, score_max: max });
    let filters = vec![
        ImageFilter { condition: night.clone(), ..Default::default() },
        ImageFilter { condition: rain.clone(), ..Default::default() },
        ImageFilter {
            condition: Some(ConditionFilter { key: "weather".into(), value: "snow".into() }),
            ..Default::default()
        },
        ImageFilter { class: Some(car), ..Default::default() },
        ImageFilter { class: Some(person), ..Default::default() },
        ImageFilter { prediction: band(newer, Some(vec![1]), None, None), ..Default::default() },
        ImageFilter { prediction: band(older, Some(vec![1]), None, None), ..Default::default() },
        ImageFilter { prediction: band(newer, None, Some(0.3), Some(0.6)), ..Default::default() },
        ImageFilter { prediction: band(newer, Some(vec![0, 2]), Some(0.5), None), ..Default::default() },
        ImageFilter { prediction: band(newer, Some(vec![2]), None, Some(0.2)), ..Default::default() },
        // Combined with each other.
        ImageFilter { condition: night.clone(), class: Some(car), ..Default::default() },
        ImageFilter {
            condition: rain.clone(),
            class: Some(person),
            prediction: band(newer, Some(vec![1]), Some(0.2), None),
            ..Default::default()
        },
        // Combined with the indexed filters (drivers) and the label state.
        ImageFilter { condition: night.clone(), status: Some(ImageStatus::Ok), ..Default::default() },
        ImageFilter { condition: night.clone(), camera: busiest.clone(), ..Default::default() },
        ImageFilter {
            class: Some(car),
            root: Some(root),
            folder: Some("set-00".into()),
            ..Default::default()
        },
        ImageFilter {
            prediction: band(newer, None, Some(0.5), None),
            captured_from: Some("2022-03".into()),
            captured_before: Some("2023-06".into()),
            ..Default::default()
        },
        ImageFilter {
            condition: rain.clone(),
            has_duplicates: Some(false),
            label_state: Some(ImageLabelState::Labeled),
            ..Default::default()
        },
        ImageFilter { class: Some(car), has_duplicates: Some(true), ..Default::default() },
        ImageFilter {
            condition: night.clone(),
            prediction: band(newer, Some(vec![0]), None, Some(0.7)),
            status: Some(ImageStatus::Ok),
            camera: busiest.clone(),
            captured_from: Some("2022-06".into()),
            ..Default::default()
        },
    ];
    let mut nonempty = 0;
    for (probe_limit, walk_budget) in [(20_000, 25_000), (1, 25_000), (1, 1), (40, 30)] {
        catalog.set_planner_limits(probe_limit, walk_budget);
        for filter in &filters {
            // The indexed part of the filter is tested elsewhere: trust it, add the per-row part.
            let base = ImageFilter { condition: None, class: None, prediction: None, ..filter.clone() };
            let expected: Vec<ImageId> = catalog
                .list_image_ids(&base, None, 100_000)
                .expect("base")
                .into_iter()
                .filter(|id| truth.matches(filter, id.0))
                .collect();
            if !expected.is_empty() {
                nonempty += 1;
            }
            assert_eq!(catalog.count_images(filter).expect("count"), expected.len() as u64, "{filter:?}");
            for page_size in [7, 100] {
                let mut got = Vec::new();
                let mut after = None;
                loop {
                    let page = catalog.list_images(filter, after, page_size).expect("page");
                    assert!(page.len() <= page_size as usize);
                    let Some(last) = page.last() else { break };
                    after = Some(last.id);
                    got.extend(page.iter().map(|r| r.id));
                    if page.len() < page_size as usize {
                        break;
                    }
                }
                assert_eq!(got, expected, "{filter:?} limits {probe_limit}/{walk_budget} page {page_size}");
            }
        }
    }
    // The fixture is not vacuous: most filters match something, and several pages' worth.
    assert!(nonempty >= 4 * (filters.len() - 3), "{nonempty}");
    assert!(ids(&catalog, &filters[0]).len() > 100);
}
