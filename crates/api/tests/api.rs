//! The API crate's use cases, called as the desktop shell and the CLI call them.

use std::path::Path;
use std::sync::{Arc, Mutex};

use lacuna_api::{
    ErrorCode, FixedClock, ImageQuery, ImportPhase, ImportProgress, ImportRequest, ImportStatus, Project,
};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/sample");

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock(1_700_000_000))
}

fn import_sample(project: &Project) -> Vec<ImportProgress> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let request = ImportRequest { paths: vec![SAMPLE.into()], ..ImportRequest::default() };
    let summary = project
        .start_import(request, move |p| sink.lock().expect("lock").push(p.clone()))
        .expect("starts")
        .wait()
        .expect("finishes");
    assert_eq!(summary.status, ImportStatus::Finished);
    events.lock().expect("lock").clone()
}

#[test]
fn import_reports_progress_and_ends_with_a_finishing_event() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = Project::create(&tmp.path().join("p"), clock()).expect("create");
    let events = import_sample(&project);
    let last = events.last().expect("at least one progress event");
    assert_eq!(last.phase, ImportPhase::Finishing);
    assert!(last.scan_complete);
    assert_eq!(last.counts.files_found, 24);
    assert_eq!(last.counts.files_done(), 24);
    // Counts never go backwards.
    for pair in events.windows(2) {
        assert!(pair[1].counts.files_done() >= pair[0].counts.files_done());
    }
}

#[test]
fn thumbnails_are_served_and_rebuilt_when_the_cache_is_deleted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = Project::create(&tmp.path().join("p"), clock()).expect("create");
    import_sample(&project);
    let page = project.list_images(&ImageQuery { limit: Some(3), ..ImageQuery::default() }).expect("list");
    let id = page.items[0].id;
    let jpeg = project.thumbnail_jpeg(id).expect("thumbnail");
    assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");
    std::fs::remove_dir_all(project.dir().join(lacuna_api::THUMBNAIL_DIR)).expect("delete cache");
    let rebuilt = project.thumbnail_jpeg(id).expect("rebuilt thumbnail");
    assert_eq!(&rebuilt[..3], &[0xFF, 0xD8, 0xFF]);
    let err = project.thumbnail_jpeg(999_999).expect_err("no such image");
    assert_eq!(err.code, ErrorCode::NotFound);
}

#[test]
fn image_details_carry_exif_and_statistics() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = Project::create(&tmp.path().join("p"), clock()).expect("create");
    import_sample(&project);
    let all = project.list_images(&ImageQuery { limit: Some(100), ..ImageQuery::default() }).expect("list");
    let tiff = all.items.iter().find(|i| i.path == "photos/ifd_tag_type.tiff").expect("tiff");
    let details = project.image_details(tiff.id).expect("details");
    let gps = details.exif.gps.expect("the FLIR TIFF has GPS");
    assert!((gps.latitude_deg - 35.6).abs() < 0.1, "{gps:?}");
    assert!(details.abs_path.ends_with("photos/ifd_tag_type.tiff"));
    assert_eq!(details.content_hash.len(), 64);
    let dog = all.items.iter().find(|i| i.path == "photos/dog.jpg").expect("dog");
    let stats = project.image_details(dog.id).expect("details").stats;
    assert!(stats.luma_p05 <= stats.luma_p50 && stats.luma_p50 <= stats.luma_p95, "{stats:?}");
    assert!(stats.contrast > 0.05 && stats.sharpness > 0.0, "{stats:?}");
}

#[test]
fn cancel_stops_the_job_and_keeps_what_was_committed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("many");
    std::fs::create_dir_all(&data).expect("mkdir");
    let dog = std::fs::read(Path::new(SAMPLE).join("photos/kite.jpg")).expect("sample");
    for i in 0..300 {
        let mut bytes = dog.clone();
        bytes.extend_from_slice(format!("{i}").as_bytes());
        std::fs::write(data.join(format!("{i:04}.jpg")), bytes).expect("write");
    }
    let project = Project::create(&tmp.path().join("p"), clock()).expect("create");
    let request = ImportRequest { paths: vec![data.clone()], ..ImportRequest::default() };
    let job = project.start_import(request.clone(), |_| {}).expect("starts");
    job.cancel();
    let summary = job.wait().expect("ends");
    assert_eq!(summary.status, ImportStatus::Cancelled);
    let stored = project.count_images(&ImageQuery::default()).expect("count");
    assert_eq!(stored, summary.counts.added, "the summary counts exactly what is stored");
    assert!(stored < 300, "cancelled before the end");
    let resumed = project.start_import(request, |_| {}).expect("starts").wait().expect("ends");
    assert_eq!(resumed.status, ImportStatus::Finished);
    assert_eq!(resumed.counts.unchanged, stored);
    assert_eq!(project.count_images(&ImageQuery::default()).expect("count"), 300);
}

#[test]
fn one_import_at_a_time_per_project() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = Project::create(&tmp.path().join("p"), clock()).expect("create");
    let other = Project::open(&tmp.path().join("p"), clock()).expect("open twice");
    let request = ImportRequest { paths: vec![SAMPLE.into()], ..ImportRequest::default() };
    let first = project.start_import(request.clone(), |_| {}).expect("first starts");
    let second = other.start_import(request.clone(), |_| {});
    first.wait().expect("first ends");
    match second {
        Err(err) => assert_eq!(err.code, ErrorCode::JobRunning),
        // The first may already have finished and released the lock: then this one ran.
        Ok(job) => {
            job.wait().expect("second ends");
        }
    }
    assert!(other.start_import(request, |_| {}).expect("lock released").wait().is_ok());
}

#[test]
fn bad_queries_name_the_field() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = Project::create(&tmp.path().join("p"), clock()).expect("create");
    for (query, field) in [
        (ImageQuery { status: Some("gone".into()), ..ImageQuery::default() }, "status"),
        (ImageQuery { limit: Some(0), ..ImageQuery::default() }, "limit"),
        (ImageQuery { cursor: Some("x".into()), ..ImageQuery::default() }, "cursor"),
        (ImageQuery { captured_from: Some("31/01/2024".into()), ..ImageQuery::default() }, "captured_from"),
        (ImageQuery { folder: Some("/not/imported".into()), ..ImageQuery::default() }, "folder"),
    ] {
        let err = project.list_images(&query).expect_err(field);
        assert_eq!(err.code, ErrorCode::InvalidInput, "{field}");
        assert!(err.message.starts_with(field), "{field}: {}", err.message);
    }
    let err = Project::create(&tmp.path().join("p"), clock()).expect_err("exists");
    assert_eq!(err.code, ErrorCode::ProjectExists);
    let err = Project::open(&tmp.path().join("nope"), clock()).expect_err("missing");
    assert_eq!(err.code, ErrorCode::ProjectNotFound);
    let err = project
        .start_import(
            ImportRequest { paths: vec![tmp.path().join("nope")], ..ImportRequest::default() },
            |_| {},
        )
        .expect_err("missing path");
    assert_eq!(err.code, ErrorCode::PathNotFound);
    assert!(err.message.contains("nope"), "{}", err.message);
}
