//! The ranking a project keeps between calls: after images are labeled it is updated from the
//! journal, and what it answers must equal a fresh recomputation from the catalog (a second
//! `Project` over the same files); changes it cannot apply incrementally (undo back to
//! unlabeled, a person's condition) make it rebuild.

use std::path::Path;
use std::sync::Arc;

use lacuna_api::{
    CATALOG_FILE, FixedClock, ImageId, ImageLabelState, Project, QueueRequest, QueueResult, Weights,
};
use lacuna_catalog::Catalog;

const NOW: i64 = 1_700_000_000;
const AUTHOR: &str = "ana";

/// 200 generated images in play; `light` set by a person: night for every fifth image (20%),
/// day otherwise; one night image and 39 day images labeled (night 2.5% of labeled).
fn project(dir: &Path) -> (Project, Vec<ImageId>) {
    let mut catalog = Catalog::create(&dir.join(CATALOG_FILE)).expect("catalog");
    let root = catalog.upsert_root("/data/cam", NOW).expect("root");
    catalog.insert_synthetic_images(root, 210, 5, NOW).expect("images");
    drop(catalog);
    let project = Project::open(dir, Arc::new(FixedClock(NOW))).expect("open");
    let page = project
        .list_images(&lacuna_api::ImageQuery {
            limit: Some(1000),
            status: Some("ok".into()),
            ..Default::default()
        })
        .expect("images");
    let ids: Vec<ImageId> = page.items.iter().map(|i| ImageId(i.id)).take(200).collect();
    assert_eq!(ids.len(), 200, "present images");
    // Only these 200 take part: the rest are skipped (neither candidates nor labeled).
    for item in &page.items[200..] {
        project.set_image_state(AUTHOR, ImageId(item.id), ImageLabelState::Skipped).expect("skip");
        project.set_condition(ImageId(item.id), "light", "unknown").expect("condition");
        project.set_condition(ImageId(item.id), "camera", "cam-1").expect("condition");
    }
    let mut labeled_night = 0;
    let mut labeled_day = 0;
    for (n, &id) in ids.iter().enumerate() {
        let night = n % 5 == 0;
        project.set_condition(id, "light", if night { "night" } else { "day" }).expect("condition");
        // One camera (a person's word outranks EXIF), so light is the only gap.
        project.set_condition(id, "camera", "cam-1").expect("condition");
        let label = if night { labeled_night < 1 } else { labeled_day < 39 };
        if label {
            project.set_image_state(AUTHOR, id, ImageLabelState::Labeled).expect("state");
            if night {
                labeled_night += 1;
            } else {
                labeled_day += 1;
            }
        }
    }
    (project, ids)
}

fn request(limit: usize) -> QueueRequest {
    QueueRequest {
        weights: Weights { uncertainty: 0.0, coverage: 1.0, diversity: 0.0 },
        limit,
        ..Default::default()
    }
}

fn ids(q: &QueueResult) -> Vec<ImageId> {
    q.items.iter().map(|i| i.image).collect()
}

fn night_row(project: &Project) -> (u64, u64) {
    let cov = project.coverage().expect("coverage");
    let row = cov.rows.iter().find(|r| r.key == "light" && r.value == "night").expect("night row");
    (row.pool, row.labeled)
}

#[test]
fn labeling_updates_the_kept_queue_exactly_as_a_recomputation_would() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (project, _) = project(dir.path());
    let first = project.queue(&request(10)).expect("queue");
    assert_eq!(first.labeled, 40);
    assert_eq!(night_row(&project), (40, 1));
    assert!(first.items.iter().all(|i| i.reasons[0].starts_with("night:")), "{:?}", first.items[0].reasons);

    // Label the batch: the kept ranking takes the ten images out and counts them as labeled.
    for item in &first.items {
        project.set_image_state(AUTHOR, item.image, ImageLabelState::Labeled).expect("label");
    }
    let kept = project.queue(&request(10)).expect("queue after labeling");
    assert_eq!(kept.labeled, 50);
    assert_eq!(night_row(&project), (40, 11));
    assert!(ids(&kept).iter().all(|id| !ids(&first).contains(id)), "labeled images left the queue");

    let fresh = Project::open(dir.path(), Arc::new(FixedClock(NOW))).expect("reopen");
    let recomputed = fresh.queue(&request(10)).expect("recomputed queue");
    assert_eq!(ids(&kept), ids(&recomputed));
    assert_eq!(
        kept.items.iter().map(|i| (i.score, i.reasons.clone())).collect::<Vec<_>>(),
        recomputed.items.iter().map(|i| (i.score, i.reasons.clone())).collect::<Vec<_>>()
    );
    assert_eq!(kept.candidates, recomputed.candidates);

    // Starting an image (in progress) takes it out without counting it.
    let started = kept.items[0].image;
    project.set_image_state(AUTHOR, started, ImageLabelState::InProgress).expect("start");
    let after_start = project.queue(&request(10)).expect("queue");
    assert!(!ids(&after_start).contains(&started));
    assert_eq!(after_start.labeled, 50);
    assert_eq!(after_start.candidates, kept.candidates - 1);
}

#[test]
fn undo_to_unlabeled_and_a_persons_condition_rebuild_the_ranking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (project, ids_all) = project(dir.path());
    let first = project.queue(&request(5)).expect("queue");
    let picked = first.items[0].image;
    project.set_image_state(AUTHOR, picked, ImageLabelState::Labeled).expect("label");
    assert_eq!(night_row(&project), (40, 2));
    // Undo puts it back to unlabeled: not incremental, so the ranking is rebuilt.
    project.undo(AUTHOR).expect("undo").expect("something to undo");
    assert_eq!(night_row(&project), (40, 1));
    assert!(ids(&project.queue(&request(5)).expect("queue")).contains(&picked));

    // A person says a labeled day image is night: the counts follow.
    let day = ids_all[1];
    project.set_condition(day, "light", "night").expect("condition");
    assert_eq!(night_row(&project), (41, 2));

    let fresh = Project::open(dir.path(), Arc::new(FixedClock(NOW))).expect("reopen");
    assert_eq!(
        ids(&project.queue(&request(5)).expect("kept")),
        ids(&fresh.queue(&request(5)).expect("fresh"))
    );
}
