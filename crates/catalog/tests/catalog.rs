//! Integration tests of the catalog: files, migrations, import batches, filtered reads.

use std::path::{Path, PathBuf};
use std::time::Instant;

use lacuna_catalog::{
    Catalog, CatalogError, ImageFilter, ImageRow, ImportCounts, ImportOp, JobStatus, SCHEMA_VERSION,
};
use lacuna_core::{
    CaptureTime, ContentHash, ExifInfo, GpsPosition, ImageFormat, ImageId, ImageStats, ImageStatus, JobId,
    ProbedImage, ProblemKind, RootId,
};

const NOW: i64 = 1_700_000_000;

fn catalog_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("catalog.sqlite")
}

fn new_catalog() -> (tempfile::TempDir, Catalog) {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Catalog::create(&catalog_path(&dir)).expect("create");
    (dir, catalog)
}

fn hash(n: u64) -> ContentHash {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.to_be_bytes());
    bytes[31] = 0xAB;
    ContentHash(bytes)
}

/// A probed image: `n` sets the hash and size; camera and capture time as given.
fn probed(n: u64, camera: Option<(&str, &str)>, captured: Option<&str>) -> ProbedImage {
    ProbedImage {
        format: ImageFormat::Jpeg,
        width_px: 640,
        height_px: 480,
        file_size_bytes: 1000 + n,
        mtime_ns: 1_600_000_000_000_000_000 + n as i64,
        content_hash: hash(n),
        exif: ExifInfo {
            camera_make: camera.map(|c| c.0.to_owned()),
            camera_model: camera.map(|c| c.1.to_owned()),
            body_serial: None,
            lens_model: None,
            capture_time: captured
                .map(|local| CaptureTime { local: local.to_owned(), utc_offset_min: Some(-330) }),
            gps: None,
            orientation: 1,
        },
        stats: ImageStats {
            luma_mean: 0.5,
            luma_p05: 0.1,
            luma_p50: 0.5,
            luma_p95: 0.9,
            contrast: 0.2,
            saturation_mean: 0.3,
            sharpness: 0.001,
        },
    }
}

fn insert(root: RootId, rel_path: &str, probed: ProbedImage) -> ImportOp {
    ImportOp::Insert { root, rel_path: rel_path.to_owned(), probed }
}

/// A root with a job, for tests that need one.
fn root_and_job(catalog: &mut Catalog) -> (RootId, JobId) {
    let root = catalog.upsert_root("/photos", NOW).expect("root");
    let job = catalog.start_import_job("{}", NOW).expect("job");
    (root, job)
}

fn all_images(catalog: &Catalog) -> Vec<ImageRow> {
    catalog.list_images(&ImageFilter::default(), None, u32::MAX).expect("all")
}

fn table_count(path: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("raw open");
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).expect("count")
}

#[test]
fn schema_snapshot() {
    let (_dir, catalog) = new_catalog();
    assert_eq!(catalog.schema_version().expect("version"), SCHEMA_VERSION);
    insta::assert_snapshot!("schema", catalog.schema_dump().expect("dump"));
}

#[test]
fn create_then_open_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = catalog_path(&dir);
    assert!(matches!(Catalog::open(&path, NOW), Err(CatalogError::NotFound { .. })));
    let mut catalog = Catalog::create(&path).expect("create");
    assert_eq!(catalog.path(), path);
    let (root, job) = root_and_job(&mut catalog);
    catalog.apply_import_batch(job, &[insert(root, "a/x.jpg", probed(1, None, None))], NOW).expect("batch");
    let before = all_images(&catalog);
    drop(catalog);

    let err = Catalog::create(&path).expect_err("exists");
    assert!(matches!(err, CatalogError::AlreadyExists { .. }), "{err}");

    let catalog = Catalog::open(&path, NOW + 5).expect("open");
    assert_eq!(catalog.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(all_images(&catalog), before);
    assert_eq!(catalog.roots().expect("roots").len(), 1);
    catalog.integrity_check().expect("integrity");
    // Opening a current catalog makes no backup.
    let files: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").collect();
    assert!(files.len() <= 3, "{files:?}"); // the catalog, -wal, -shm
}

#[test]
fn open_of_a_newer_catalog_fails_clearly() {
    let (dir, catalog) = new_catalog();
    drop(catalog);
    let path = catalog_path(&dir);
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).expect("bump");
    drop(conn);

    let err = Catalog::open(&path, NOW).expect_err("newer");
    match &err {
        CatalogError::NewerVersion { found, supported, .. } => {
            assert_eq!(*found, SCHEMA_VERSION + 1);
            assert_eq!(*supported, SCHEMA_VERSION);
        }
        other => panic!("unexpected {other}"),
    }
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains(&format!("schema version {}", SCHEMA_VERSION + 1)), "{message}");
    assert!(message.contains(&format!("up to {SCHEMA_VERSION}")), "{message}");
    assert!(message.contains("newer version of Lacuna"), "{message}");
}

#[test]
fn open_refuses_files_that_are_not_catalogs() {
    let dir = tempfile::tempdir().expect("tempdir");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "x".repeat(4096)).expect("write");
    let err = Catalog::open(&text, NOW).expect_err("text");
    assert!(matches!(err, CatalogError::NotACatalog { .. }), "{err}");
    assert_eq!(std::fs::read(&text).expect("read"), "x".repeat(4096).as_bytes());

    let other = dir.path().join("other.sqlite");
    let conn = rusqlite::Connection::open(&other).expect("raw open");
    conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").expect("other db");
    drop(conn);
    let err = Catalog::open(&other, NOW).expect_err("foreign db");
    assert!(matches!(err, CatalogError::NotACatalog { .. }), "{err}");
    assert!(err.to_string().contains("not a Lacuna catalog"), "{err}");
    assert_eq!(table_count(&other, "t"), 1);

    // An empty file is a create that died before its first migration: finish it.
    let empty = dir.path().join("empty.sqlite");
    std::fs::write(&empty, b"").expect("write");
    let catalog = Catalog::open(&empty, NOW).expect("open empty");
    assert_eq!(catalog.schema_version().expect("version"), SCHEMA_VERSION);
}

#[test]
fn older_catalog_is_backed_up_then_migrated() {
    const { assert!(SCHEMA_VERSION >= 2, "the migration path needs at least two migrations") };
    let old = SCHEMA_VERSION - 1;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = catalog_path(&dir);
    let mut catalog = Catalog::create_at_version(&path, old).expect("old catalog");
    assert_eq!(catalog.schema_version().expect("version"), old);
    let (root, job) = root_and_job(&mut catalog);
    catalog
        .apply_import_batch(
            job,
            &[
                insert(root, "a/x.jpg", probed(1, Some(("Canon", "Canon EOS 5D")), None)),
                insert(root, "b/y.jpg", probed(2, None, Some("2023-05-01T10:00:00"))),
            ],
            NOW,
        )
        .expect("batch");
    drop(catalog);

    let migrated_at = NOW + 100;
    let catalog = Catalog::open(&path, migrated_at).expect("open migrates");
    assert_eq!(catalog.schema_version().expect("version"), SCHEMA_VERSION);

    // The backup is a valid catalog at the old version with the old data.
    let backup = dir.path().join(format!("catalog.sqlite.v{old}-backup-{migrated_at}"));
    assert!(backup.exists(), "no backup at {}", backup.display());
    let conn = rusqlite::Connection::open_with_flags(&backup, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open backup");
    let v: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).expect("v");
    assert_eq!(v, old);
    let n: i64 = conn.query_row("SELECT count(*) FROM image", [], |r| r.get(0)).expect("n");
    assert_eq!(n, 2);
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
    assert_eq!(ok, "ok");
    drop(conn);

    // Data survived, the new indexes work, and the schema is the one a new catalog gets.
    let images = all_images(&catalog);
    assert_eq!(images.len(), 2);
    assert_eq!(images[0].camera.as_deref(), Some("Canon EOS 5D"));
    let by_hash = catalog.images_by_hash(&hash(2)).expect("by hash");
    assert_eq!(by_hash.len(), 1);
    assert_eq!(by_hash[0].rel_path, "b/y.jpg");
    let (_fresh_dir, fresh) = new_catalog();
    assert_eq!(catalog.schema_dump().expect("dump"), fresh.schema_dump().expect("dump"));
    catalog.integrity_check().expect("integrity");
    drop(catalog);

    // Opening again: already current, no second backup.
    let _again = Catalog::open(&path, migrated_at + 1).expect("reopen");
    let backups = std::fs::read_dir(dir.path())
        .expect("ls")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("-backup-"))
        .count();
    assert_eq!(backups, 1);
}

#[test]
fn wal_and_foreign_keys_are_on_after_open() {
    let (dir, catalog) = new_catalog();
    drop(catalog);
    let path = catalog_path(&dir);
    let mut catalog = Catalog::open(&path, NOW).expect("open");
    // journal_mode is stored in the file: another connection sees it.
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).expect("mode");
    assert_eq!(mode, "wal");
    drop(conn);
    // foreign_keys is per connection: a duplicate of an image that does not exist is refused.
    let (root, job) = root_and_job(&mut catalog);
    let err = catalog
        .apply_import_batch(
            job,
            &[ImportOp::Duplicate {
                root,
                rel_path: "d.jpg".into(),
                of: ImageId(999),
                file_size_bytes: 1,
                mtime_ns: 1,
            }],
            NOW,
        )
        .expect_err("foreign key");
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
}

#[test]
fn import_batch_applies_each_op_kind() {
    let (_dir, mut catalog) = new_catalog();
    let (root, job) = root_and_job(&mut catalog);
    let other_root = catalog.upsert_root("/more", NOW).expect("root");
    assert_eq!(catalog.upsert_root("/photos", NOW + 1).expect("same root"), root);

    let mut first = probed(1, Some(("Canon", "Canon EOS 5D")), Some("2023-01-02T03:04:05"));
    first.exif.gps = Some(GpsPosition { latitude_deg: 1.5, longitude_deg: -2.5, altitude_m: None });
    first.exif.lens_model = Some("EF 50mm".into());
    first.exif.body_serial = Some("123".into());
    catalog
        .apply_import_batch(
            job,
            &[
                insert(root, "a/b/one.jpg", first.clone()),
                insert(root, "two.jpg", probed(2, None, None)),
                insert(root, "a/three.jpg", probed(3, None, None)),
            ],
            NOW,
        )
        .expect("inserts");
    let images = all_images(&catalog);
    assert_eq!(images.len(), 3);
    let one = &images[0];
    assert_eq!(one.rel_path, "a/b/one.jpg");
    assert_eq!(one.root, root);
    assert_eq!(one.root_path, "/photos");
    assert_eq!(one.status, ImageStatus::Ok);
    assert_eq!(one.probed, first);
    assert_eq!(one.camera.as_deref(), Some("Canon EOS 5D #123"));
    assert_eq!(one.duplicate_count, 0);
    assert_eq!((one.imported_at_unix_s, one.updated_at_unix_s), (NOW, NOW));
    let (id1, id2, id3) = (images[0].id, images[1].id, images[2].id);

    catalog.set_status(&[id2, id3], ImageStatus::Missing, NOW + 1).expect("missing");
    let changed = probed(11, Some(("NIKON", "NIKON D850")), None);
    let moved = probed(12, None, Some("2020-01-01T00:00:00"));
    catalog
        .apply_import_batch(
            job,
            &[
                ImportOp::Update { id: id1, probed: changed.clone() },
                ImportOp::Move {
                    id: id2,
                    root: other_root,
                    rel_path: "x/y/moved.jpg".into(),
                    probed: moved.clone(),
                },
                ImportOp::Present { id: id3 },
                ImportOp::Duplicate {
                    root,
                    rel_path: "copies/one.jpg".into(),
                    of: id1,
                    file_size_bytes: 5,
                    mtime_ns: 6,
                },
                ImportOp::Duplicate {
                    root: other_root,
                    rel_path: "one-again.jpg".into(),
                    of: id1,
                    file_size_bytes: 7,
                    mtime_ns: 8,
                },
                ImportOp::Problem {
                    root: Some(root),
                    path: "/photos/bad.jpg".into(),
                    kind: ProblemKind::Corrupt,
                    message: "the JPEG data ends early".into(),
                },
                ImportOp::Problem {
                    root: None,
                    path: "/elsewhere/x.heic".into(),
                    kind: ProblemKind::UnsupportedFormat,
                    message: "HEIC is not supported".into(),
                },
            ],
            NOW + 2,
        )
        .expect("second batch");

    let one = catalog.image(id1).expect("read").expect("exists");
    assert_eq!(one.probed, changed);
    assert_eq!(one.camera.as_deref(), Some("NIKON D850"));
    assert_eq!(one.duplicate_count, 2);
    assert_eq!((one.imported_at_unix_s, one.updated_at_unix_s), (NOW, NOW + 2));

    let two = catalog.image(id2).expect("read").expect("exists");
    assert_eq!((two.root, two.rel_path.as_str(), two.status), (other_root, "x/y/moved.jpg", ImageStatus::Ok));
    assert_eq!(two.root_path, "/more");
    assert_eq!(two.probed, moved);
    assert_eq!(two.id, id2);

    let three = catalog.image(id3).expect("read").expect("exists");
    assert_eq!(three.status, ImageStatus::Ok);
    assert_eq!(three.updated_at_unix_s, NOW + 2);
    assert_eq!(catalog.image(ImageId(12345)).expect("read"), None);

    let dups = catalog.duplicates_of(id1).expect("dups");
    assert_eq!(dups.len(), 2);
    assert_eq!((dups[0].root, dups[0].rel_path.as_str()), (root, "copies/one.jpg"));
    assert_eq!((dups[1].root, dups[1].root_path.as_str()), (other_root, "/more"));

    // Duplicate upserts on (root, rel_path).
    catalog
        .apply_import_batch(
            job,
            &[ImportOp::Duplicate {
                root,
                rel_path: "copies/one.jpg".into(),
                of: id3,
                file_size_bytes: 9,
                mtime_ns: 10,
            }],
            NOW + 3,
        )
        .expect("upsert");
    assert_eq!(catalog.duplicates_of(id1).expect("dups").len(), 1);
    assert_eq!(catalog.duplicates_of(id3).expect("dups").len(), 1);
    let known = catalog.known_duplicates(root).expect("known dups");
    assert_eq!(known.len(), 1);
    assert_eq!((known[0].file_size_bytes, known[0].mtime_ns), (9, 10));

    let problems = catalog.problems(Some(job)).expect("problems");
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].path, "/elsewhere/x.heic");
    assert_eq!(problems[0].kind, ProblemKind::UnsupportedFormat);
    assert_eq!(problems[1].kind, ProblemKind::Corrupt);
    assert_eq!(problems[1].message, "the JPEG data ends early");
    assert!(problems.iter().all(|p| p.job == job));

    assert_eq!(catalog.remove_duplicates(root, &["copies/one.jpg".into(), "nope".into()]).expect("rm"), 1);
    assert_eq!(catalog.duplicates_of(id3).expect("dups").len(), 0);
    catalog.integrity_check().expect("integrity");
}

#[test]
fn a_failing_batch_writes_nothing() {
    let (dir, mut catalog) = new_catalog();
    let (root, job) = root_and_job(&mut catalog);
    catalog.apply_import_batch(job, &[insert(root, "kept.jpg", probed(1, None, None))], NOW).expect("first");
    let kept = all_images(&catalog);

    // An update of an unknown id, after writes that would have succeeded.
    let err = catalog
        .apply_import_batch(
            job,
            &[
                insert(root, "new1.jpg", probed(2, None, None)),
                ImportOp::Problem {
                    root: None,
                    path: "p".into(),
                    kind: ProblemKind::Io,
                    message: "m".into(),
                },
                ImportOp::Update { id: ImageId(777), probed: probed(3, None, None) },
                insert(root, "new2.jpg", probed(4, None, None)),
            ],
            NOW,
        )
        .expect_err("unknown id");
    assert!(matches!(err, CatalogError::NoSuchImage { id: ImageId(777), .. }), "{err}");
    for op in [
        ImportOp::Present { id: ImageId(778) },
        ImportOp::Move { id: ImageId(779), root, rel_path: "m.jpg".into(), probed: probed(5, None, None) },
    ] {
        let err = catalog.apply_import_batch(job, &[op], NOW).expect_err("unknown id");
        assert!(matches!(err, CatalogError::NoSuchImage { .. }), "{err}");
    }

    // An insert onto a path that is taken.
    let err = catalog
        .apply_import_batch(
            job,
            &[
                insert(root, "new3.jpg", probed(6, None, None)),
                insert(root, "kept.jpg", probed(7, None, None)),
            ],
            NOW,
        )
        .expect_err("unique");
    assert!(err.to_string().contains("UNIQUE"), "{err}");

    assert_eq!(all_images(&catalog), kept);
    assert!(catalog.problems(Some(job)).expect("problems").is_empty());
    catalog.integrity_check().expect("integrity");
    drop(catalog);
    assert_eq!(table_count(&catalog_path(&dir), "image"), 1);
    assert_eq!(table_count(&catalog_path(&dir), "import_problem"), 0);
}

/// A catalog with hand-made rows for the filter tests. Returns the ids by rel_path.
fn filter_fixture() -> (tempfile::TempDir, Catalog, RootId, RootId, Vec<(String, ImageId)>) {
    let (dir, mut catalog) = new_catalog();
    let (root, job) = root_and_job(&mut catalog);
    let other = catalog.upsert_root("/other", NOW).expect("root");
    let canon = Some(("Canon", "Canon EOS 5D"));
    let nikon = Some(("NIKON", "NIKON D850"));
    type Spec<'a> = (RootId, &'a str, Option<(&'a str, &'a str)>, Option<&'a str>);
    let specs: [Spec<'_>; 9] = [
        (root, "top.jpg", canon, Some("2023-12-31T23:59:59")),
        (root, "a/one.jpg", canon, Some("2024-01-01T00:00:00")),
        (root, "a/b/two.jpg", nikon, Some("2024-01-03T10:00:00")),
        (root, "a/b/c/three.jpg", None, Some("2024-01-04T00:00:00")),
        (root, "a/bc/four.jpg", canon, None),
        (root, "a/b.d/five.jpg", nikon, Some("2024-02-01T00:00:00")),
        (other, "a/b/six.jpg", canon, Some("2024-01-03T12:00:00")),
        (root, "z/seven.jpg", canon, Some("2024-01-03T00:00:00")),
        (root, "A/b/eight.jpg", canon, Some("2024-01-03T00:00:00")),
    ];
    let ops: Vec<ImportOp> = specs
        .iter()
        .enumerate()
        .map(|(i, (r, p, cam, t))| insert(*r, p, probed(i as u64, *cam, *t)))
        .collect();
    catalog.apply_import_batch(job, &ops, NOW).expect("fixture");
    let ids: Vec<(String, ImageId)> = all_images(&catalog).into_iter().map(|r| (r.rel_path, r.id)).collect();
    let id = |p: &str| ids.iter().find(|(q, _)| q == p).map(|(_, id)| *id).expect("id");
    catalog.set_status(&[id("a/one.jpg"), id("z/seven.jpg")], ImageStatus::Missing, NOW).expect("status");
    catalog
        .apply_import_batch(
            job,
            &[
                ImportOp::Duplicate {
                    root,
                    rel_path: "dup/1.jpg".into(),
                    of: id("a/b/two.jpg"),
                    file_size_bytes: 1,
                    mtime_ns: 1,
                },
                ImportOp::Duplicate {
                    root,
                    rel_path: "dup/2.jpg".into(),
                    of: id("a/b/two.jpg"),
                    file_size_bytes: 1,
                    mtime_ns: 1,
                },
                ImportOp::Duplicate {
                    root: other,
                    rel_path: "d.jpg".into(),
                    of: id("top.jpg"),
                    file_size_bytes: 1,
                    mtime_ns: 1,
                },
            ],
            NOW,
        )
        .expect("dups");
    (dir, catalog, root, other, ids)
}

fn paths_for(catalog: &Catalog, filter: &ImageFilter) -> Vec<String> {
    let rows = catalog.list_images(filter, None, 100).expect("list");
    assert_eq!(catalog.count_images(filter).expect("count"), rows.len() as u64, "{filter:?}");
    rows.into_iter().map(|r| r.rel_path).collect()
}

#[test]
fn filters_select_the_right_images() {
    let (_dir, mut catalog, root, other, _ids) = filter_fixture();
    // With the default limits, with every probe "unselective" (fallback plans), and with a
    // walk that gives up at once (the range driver finishes every page).
    for (probe_limit, walk_budget) in [(20_000, 25_000), (1, 25_000), (1, 1), (1, 3)] {
        catalog.set_planner_limits(probe_limit, walk_budget);
        let folder = |f: &str| ImageFilter { root: Some(root), folder: Some(f.into()), ..Default::default() };
        assert_eq!(paths_for(&catalog, &folder("a/b")), ["a/b/two.jpg", "a/b/c/three.jpg"]);
        assert_eq!(paths_for(&catalog, &folder("a/b/")), ["a/b/two.jpg", "a/b/c/three.jpg"]);
        assert_eq!(
            paths_for(&catalog, &folder("a")),
            ["a/one.jpg", "a/b/two.jpg", "a/b/c/three.jpg", "a/bc/four.jpg", "a/b.d/five.jpg"]
        );
        assert_eq!(paths_for(&catalog, &folder("")).len(), 8);
        assert_eq!(paths_for(&catalog, &folder("a/b/c")), ["a/b/c/three.jpg"]);
        assert!(paths_for(&catalog, &folder("nothing")).is_empty());
        // Without a root the folder applies to every root.
        let any_root = ImageFilter { folder: Some("a/b".into()), ..Default::default() };
        assert_eq!(paths_for(&catalog, &any_root), ["a/b/two.jpg", "a/b/c/three.jpg", "a/b/six.jpg"]);

        let root_only = ImageFilter { root: Some(other), ..Default::default() };
        assert_eq!(paths_for(&catalog, &root_only), ["a/b/six.jpg"]);

        let missing = ImageFilter { status: Some(ImageStatus::Missing), ..Default::default() };
        assert_eq!(paths_for(&catalog, &missing), ["a/one.jpg", "z/seven.jpg"]);
        let ok = ImageFilter { status: Some(ImageStatus::Ok), ..Default::default() };
        assert_eq!(paths_for(&catalog, &ok).len(), 7);

        let camera = |c: &str| ImageFilter { camera: Some(c.into()), ..Default::default() };
        assert_eq!(paths_for(&catalog, &camera("NIKON D850")), ["a/b/two.jpg", "a/b.d/five.jpg"]);
        assert!(paths_for(&catalog, &camera("NIKON")).is_empty());

        let range = |from: Option<&str>, before: Option<&str>| ImageFilter {
            captured_from: from.map(Into::into),
            captured_before: before.map(Into::into),
            ..Default::default()
        };
        assert_eq!(
            paths_for(&catalog, &range(Some("2024-01-03"), Some("2024-01-04"))),
            ["a/b/two.jpg", "a/b/six.jpg", "z/seven.jpg", "A/b/eight.jpg"]
        );
        assert_eq!(
            paths_for(&catalog, &range(Some("2024-01-01T00:00:00"), Some("2024-01-03T00:00:00"))),
            ["a/one.jpg"]
        );
        assert_eq!(paths_for(&catalog, &range(None, Some("2024"))), ["top.jpg"]);
        assert_eq!(paths_for(&catalog, &range(Some("2024-02"), None)), ["a/b.d/five.jpg"]);

        let dups = |d: bool| ImageFilter { has_duplicates: Some(d), ..Default::default() };
        assert_eq!(paths_for(&catalog, &dups(true)), ["top.jpg", "a/b/two.jpg"]);
        assert_eq!(paths_for(&catalog, &dups(false)).len(), 7);

        // Combinations.
        let combo = ImageFilter {
            root: Some(root),
            folder: Some("a".into()),
            camera: Some("Canon EOS 5D".into()),
            status: Some(ImageStatus::Ok),
            ..Default::default()
        };
        assert_eq!(paths_for(&catalog, &combo), ["a/bc/four.jpg"]);
        let combo = ImageFilter {
            captured_from: Some("2024-01-03".into()),
            captured_before: Some("2024-01-04".into()),
            has_duplicates: Some(true),
            camera: Some("NIKON D850".into()),
            ..Default::default()
        };
        assert_eq!(paths_for(&catalog, &combo), ["a/b/two.jpg"]);
        let combo = ImageFilter {
            root: Some(root),
            captured_from: Some("2024-01-03".into()),
            status: Some(ImageStatus::Missing),
            has_duplicates: Some(false),
            ..Default::default()
        };
        assert_eq!(paths_for(&catalog, &combo), ["z/seven.jpg"]);
    }
}

/// What a filter means, evaluated in Rust on a full row.
fn matches(filter: &ImageFilter, row: &ImageRow) -> bool {
    let folder_ok = match filter.folder.as_deref().map(|f| f.trim_matches('/')) {
        None | Some("") => true,
        Some(f) => row.rel_path.starts_with(&format!("{f}/")),
    };
    let captured = row.probed.exif.capture_time.as_ref().map(|c| c.local.as_str());
    filter.status.is_none_or(|s| s == row.status)
        && filter.root.is_none_or(|r| r == row.root)
        && folder_ok
        && filter.camera.as_ref().is_none_or(|c| row.camera.as_ref() == Some(c))
        && filter.captured_from.as_deref().is_none_or(|f| captured.is_some_and(|c| c >= f))
        && filter.captured_before.as_deref().is_none_or(|b| captured.is_some_and(|c| c < b))
        && filter.has_duplicates.is_none_or(|d| d == (row.duplicate_count > 0))
}

#[test]
fn keyset_pages_match_a_brute_force_filter() {
    let (_dir, mut catalog) = new_catalog();
    let root = catalog.upsert_root("/synthetic", NOW).expect("root");
    let second = catalog.upsert_root("/second", NOW).expect("root");
    catalog.insert_synthetic_images(root, 3000, 1, NOW).expect("synthetic");
    catalog.insert_synthetic_images(second, 500, 2, NOW).expect("synthetic");
    catalog.integrity_check().expect("integrity");
    let all = all_images(&catalog);
    assert_eq!(all.len(), 3500);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let busiest = catalog.counts_by_camera().expect("cameras")[0].0.clone();
    let rare = catalog.counts_by_camera().expect("cameras").last().and_then(|c| c.0.clone());

    let filters = vec![
        ImageFilter::default(),
        ImageFilter { status: Some(ImageStatus::Missing), ..Default::default() },
        ImageFilter { status: Some(ImageStatus::Ok), ..Default::default() },
        ImageFilter { root: Some(second), ..Default::default() },
        ImageFilter { root: Some(root), folder: Some("set-03".into()), ..Default::default() },
        ImageFilter { root: Some(root), folder: Some("set-03/0170".into()), ..Default::default() },
        ImageFilter { folder: Some("set-03".into()), ..Default::default() },
        ImageFilter { camera: busiest.clone(), ..Default::default() },
        ImageFilter { camera: rare.clone(), ..Default::default() },
        ImageFilter {
            captured_from: Some("2022-06".into()),
            captured_before: Some("2022-07".into()),
            ..Default::default()
        },
        ImageFilter { captured_from: Some("2023-12-30".into()), ..Default::default() },
        ImageFilter { has_duplicates: Some(true), ..Default::default() },
        ImageFilter { has_duplicates: Some(false), ..Default::default() },
        ImageFilter {
            status: Some(ImageStatus::Ok),
            camera: busiest.clone(),
            captured_from: Some("2022-03".into()),
            captured_before: Some("2023-03".into()),
            ..Default::default()
        },
        ImageFilter {
            root: Some(root),
            folder: Some("set-10".into()),
            status: Some(ImageStatus::Missing),
            ..Default::default()
        },
        ImageFilter {
            root: Some(root),
            folder: Some("set-1".into()), // matches nothing: no folder is called "set-1"
            ..Default::default()
        },
        ImageFilter { has_duplicates: Some(true), camera: busiest.clone(), ..Default::default() },
    ];
    for (probe_limit, walk_budget) in [(20_000, 25_000), (150, 25_000), (1, 1), (1, 100), (150, 40)] {
        catalog.set_planner_limits(probe_limit, walk_budget);
        for filter in &filters {
            let expected: Vec<ImageId> = all.iter().filter(|r| matches(filter, r)).map(|r| r.id).collect();
            assert_eq!(catalog.count_images(filter).expect("count"), expected.len() as u64, "{filter:?}");
            for page_size in [7, 200] {
                let mut got = Vec::new();
                let mut after = None;
                loop {
                    let page = catalog.list_images(filter, after, page_size).expect("page");
                    assert!(page.len() <= page_size as usize);
                    let ids = catalog.list_image_ids(filter, after, page_size).expect("ids");
                    assert_eq!(ids, page.iter().map(|r| r.id).collect::<Vec<_>>());
                    let Some(last) = page.last() else { break };
                    after = Some(last.id);
                    got.extend(page.iter().map(|r| r.id));
                    if page.len() < page_size as usize {
                        break;
                    }
                }
                assert_eq!(got, expected, "{filter:?} limit {probe_limit} page {page_size}");
            }
        }
    }
    assert!(catalog.list_images(&ImageFilter::default(), None, 0).expect("empty").is_empty());
}

#[test]
fn images_by_hash_and_set_status() {
    let (_dir, mut catalog) = new_catalog();
    let (root, job) = root_and_job(&mut catalog);
    catalog
        .apply_import_batch(
            job,
            &[
                insert(root, "a.jpg", probed(1, None, None)),
                insert(root, "b.jpg", probed(2, None, None)),
                // Same bytes at two paths can both be images (e.g. before duplicate detection).
                insert(root, "c.jpg", probed(1, None, None)),
            ],
            NOW,
        )
        .expect("batch");
    let matches = catalog.images_by_hash(&hash(1)).expect("by hash");
    assert_eq!(matches.iter().map(|m| m.rel_path.as_str()).collect::<Vec<_>>(), ["a.jpg", "c.jpg"]);
    assert!(matches.iter().all(|m| m.root_path == "/photos" && m.status == ImageStatus::Ok));
    assert!(catalog.images_by_hash(&hash(3)).expect("none").is_empty());

    let ids: Vec<ImageId> = matches.iter().map(|m| m.id).collect();
    assert_eq!(catalog.set_status(&ids, ImageStatus::Missing, NOW + 1).expect("set"), 2);
    // Already missing: nothing changes. Unknown ids are ignored.
    assert_eq!(catalog.set_status(&ids, ImageStatus::Missing, NOW + 2).expect("set"), 0);
    assert_eq!(catalog.set_status(&[ImageId(99)], ImageStatus::Ok, NOW + 2).expect("set"), 0);
    let row = catalog.image(ids[0]).expect("read").expect("exists");
    assert_eq!((row.status, row.updated_at_unix_s), (ImageStatus::Missing, NOW + 1));
    assert_eq!(catalog.images_by_hash(&hash(1)).expect("by hash")[0].status, ImageStatus::Missing);
}

#[test]
fn known_files_are_sorted_by_path() {
    let (_dir, mut catalog) = new_catalog();
    let (root, job) = root_and_job(&mut catalog);
    let other = catalog.upsert_root("/other", NOW).expect("root");
    let paths = ["b/z.jpg", "a.jpg", "b/a.jpg", "B.jpg", "a/b/c.jpg"];
    let mut ops: Vec<ImportOp> =
        paths.iter().enumerate().map(|(i, p)| insert(root, p, probed(i as u64, None, None))).collect();
    ops.push(insert(other, "elsewhere.jpg", probed(9, None, None)));
    catalog.apply_import_batch(job, &ops, NOW).expect("batch");
    let known = catalog.known_files(root).expect("known");
    let got: Vec<&str> = known.iter().map(|k| k.rel_path.as_str()).collect();
    assert_eq!(got, ["B.jpg", "a.jpg", "a/b/c.jpg", "b/a.jpg", "b/z.jpg"]);
    let a = &known[1];
    assert_eq!((a.file_size_bytes, a.mtime_ns, a.status), (1001, 1_600_000_000_000_000_001, ImageStatus::Ok));
    assert_eq!(catalog.known_files(other).expect("known").len(), 1);
    assert!(catalog.known_files(RootId(42)).expect("known").is_empty());

    let roots = catalog.roots().expect("roots");
    assert_eq!(roots.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/photos", "/other"]);
    assert_eq!(roots[0].added_at_unix_s, NOW);
}

#[test]
fn jobs_and_their_problems() {
    let (_dir, mut catalog) = new_catalog();
    assert!(catalog.problems(None).expect("no jobs").is_empty());
    let (root, first) = root_and_job(&mut catalog);
    let problem = |path: &str| ImportOp::Problem {
        root: Some(root),
        path: path.into(),
        kind: ProblemKind::EmptyFile,
        message: "the file is empty".into(),
    };
    catalog.apply_import_batch(first, &[problem("/photos/z"), problem("/photos/a")], NOW).expect("p1");
    let counts = ImportCounts { files_found: 10, added: 8, problems: 2, ..Default::default() };
    catalog.update_job_counts(first, &counts).expect("counts");
    catalog
        .finish_import_job(first, JobStatus::FinishedWithProblems, &counts, None, NOW + 10)
        .expect("finish");

    let second = catalog.start_import_job(r#"{"paths":["/photos"]}"#, NOW + 20).expect("job");
    catalog.apply_import_batch(second, &[problem("/photos/m")], NOW + 20).expect("p2");

    let latest = catalog.problems(None).expect("latest");
    assert_eq!(latest.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["/photos/m"]);
    let earlier = catalog.problems(Some(first)).expect("first");
    assert_eq!(earlier.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["/photos/a", "/photos/z"]);

    // A job that started with no problems: problems(None) is empty for it.
    let third = catalog.start_import_job("{}", NOW + 30).expect("job");
    assert!(catalog.problems(None).expect("latest").is_empty());
    catalog
        .finish_import_job(third, JobStatus::Failed, &ImportCounts::default(), Some("disk full"), NOW + 31)
        .expect("finish");

    let jobs = catalog.import_jobs().expect("jobs");
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [third, second, first]);
    assert_eq!(jobs[0].status, JobStatus::Failed);
    assert_eq!(jobs[0].error.as_deref(), Some("disk full"));
    assert_eq!(jobs[0].finished_at_unix_s, Some(NOW + 31));
    assert_eq!(jobs[1].status, JobStatus::Running);
    assert_eq!(jobs[1].request_json, r#"{"paths":["/photos"]}"#);
    assert_eq!(jobs[1].finished_at_unix_s, None);
    assert_eq!(jobs[2].counts, counts);
    assert_eq!(jobs[2].kind, "import");
    assert_eq!(jobs[2].started_at_unix_s, NOW);

    let err = catalog.update_job_counts(JobId(99), &counts).expect_err("unknown job");
    assert!(matches!(err, CatalogError::NoSuchJob { .. }), "{err}");
    let err = catalog
        .finish_import_job(JobId(99), JobStatus::Finished, &counts, None, NOW)
        .expect_err("unknown job");
    assert!(matches!(err, CatalogError::NoSuchJob { .. }), "{err}");
}

#[test]
fn counts_and_counts_by_camera() {
    let (_dir, mut catalog, _root, _other, ids) = filter_fixture();
    let job = catalog.start_import_job("{}", NOW).expect("job");
    catalog
        .apply_import_batch(
            job,
            &[ImportOp::Problem { root: None, path: "x".into(), kind: ProblemKind::Io, message: "m".into() }],
            NOW,
        )
        .expect("problem");
    let counts = catalog.counts().expect("counts");
    assert_eq!(counts.roots, 2);
    assert_eq!(counts.images, ids.len() as u64);
    assert_eq!(counts.images_ok, 7);
    assert_eq!(counts.images_missing, 2);
    assert_eq!(counts.duplicate_files, 3);
    assert_eq!(counts.problems_last_import, 1);

    let by_camera = catalog.counts_by_camera().expect("by camera");
    assert_eq!(
        by_camera,
        [(Some("Canon EOS 5D".to_owned()), 6), (Some("NIKON D850".to_owned()), 2), (None, 1)]
    );

    let (_dir2, empty) = new_catalog();
    assert_eq!(empty.counts().expect("counts"), Default::default());
    assert!(empty.counts_by_camera().expect("by camera").is_empty());
}

#[test]
fn none_camera_sorts_after_named_cameras_with_the_same_count() {
    let (_dir, mut catalog) = new_catalog();
    let (root, job) = root_and_job(&mut catalog);
    let ops = [
        insert(root, "1.jpg", probed(1, None, None)),
        insert(root, "2.jpg", probed(2, Some(("Zeiss", "Zeiss Z")), None)),
        insert(root, "3.jpg", probed(3, Some(("Apple", "iPhone 4")), None)),
    ];
    catalog.apply_import_batch(job, &ops, NOW).expect("batch");
    let by_camera = catalog.counts_by_camera().expect("by camera");
    assert_eq!(
        by_camera,
        [(Some("Apple iPhone 4".to_owned()), 1), (Some("Zeiss Z".to_owned()), 1), (None, 1)]
    );
}

#[test]
fn import_batches_are_fast_enough() {
    // Not a benchmark; a guard against per-row transactions or re-preparing statements.
    let (_dir, mut catalog) = new_catalog();
    let (root, job) = root_and_job(&mut catalog);
    let ops: Vec<ImportOp> = (0..10_000u64)
        .map(|i| {
            insert(
                root,
                &format!("d{}/f{i}.jpg", i % 37),
                probed(i, Some(("Canon", "Canon EOS 5D")), Some("2024-01-01T00:00:00")),
            )
        })
        .collect();
    let start = Instant::now();
    for batch in ops.chunks(1000) {
        catalog.apply_import_batch(job, batch, NOW).expect("batch");
    }
    let elapsed = start.elapsed();
    println!("10,000 inserts in {elapsed:?}");
    assert_eq!(catalog.counts().expect("counts").images, 10_000);
}

/// Builds a 1,000,000-image catalog and times the reads the UI depends on. Run with
/// `cargo test -p lacuna-catalog --release -- --ignored --nocapture million`.
#[test]
#[ignore = "builds a 1M-row catalog (about 400 MB, a minute); run by hand in release"]
fn million_row_catalog_timings() {
    const COUNT: u64 = 1_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    // LACUNA_BENCH_CATALOG=<file>: build the catalog there once and reuse it (for iterating on
    // queries); the temp dir otherwise.
    let reuse = std::env::var_os("LACUNA_BENCH_CATALOG").map(PathBuf::from);
    let path = reuse.clone().unwrap_or_else(|| catalog_path(&dir));
    let root = if reuse.is_some() && path.exists() {
        RootId(1)
    } else {
        let mut catalog = Catalog::create(&path).expect("create");
        let root = catalog.upsert_root("/synthetic", NOW).expect("root");
        let start = Instant::now();
        catalog.insert_synthetic_images(root, COUNT, 42, NOW).expect("synthetic");
        let build = start.elapsed();
        println!("built {COUNT} rows in {build:.2?} ({:.0} rows/s)", COUNT as f64 / build.as_secs_f64());
        root
    };
    let cameras = Catalog::open(&path, NOW).expect("open").counts_by_camera().expect("cameras");

    // Import throughput: apply_import_batch, batches of 1000, into a fresh catalog.
    {
        const INSERTS: u64 = 200_000;
        let mut fresh = Catalog::create(&dir.path().join("fresh.sqlite")).expect("create");
        let (root, job) = root_and_job(&mut fresh);
        let makes = [("Canon", "Canon EOS 5D"), ("NIKON", "NIKON D850"), ("SONY", "ILCE-7M3")];
        let ops: Vec<ImportOp> = (0..INSERTS)
            .map(|i| {
                let mut p = probed(i, Some(makes[(i % 3) as usize]), Some("2024-01-01T00:00:00"));
                // Spread the hashes like real ones.
                p.content_hash.0[..8].copy_from_slice(&(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes());
                insert(root, &format!("dir{:03}/IMG_{i:07}.jpg", i / 1000), p)
            })
            .collect();
        let start = Instant::now();
        for batch in ops.chunks(1000) {
            fresh.apply_import_batch(job, batch, NOW).expect("batch");
        }
        let took = start.elapsed();
        println!(
            "apply_import_batch: {INSERTS} inserts in {took:.2?} ({:.0} inserts/s)",
            INSERTS as f64 / took.as_secs_f64()
        );
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("catalog file: {} MiB", size / (1024 * 1024));

    let start = Instant::now();
    let catalog = Catalog::open(&path, NOW).expect("open");
    println!("open: {:.2?}", start.elapsed());

    let busiest = cameras[0].0.clone();
    let rare = cameras.iter().rev().find_map(|c| c.0.clone());
    let named = |name: &'static str, filter: ImageFilter| (name, filter);
    let filters = [
        named("no filter", ImageFilter::default()),
        named("status=ok", ImageFilter { status: Some(ImageStatus::Ok), ..Default::default() }),
        named("status=missing", ImageFilter { status: Some(ImageStatus::Missing), ..Default::default() }),
        named("root", ImageFilter { root: Some(root), ..Default::default() }),
        named(
            "root+folder set-17 (5%)",
            ImageFilter { root: Some(root), folder: Some("set-17".into()), ..Default::default() },
        ),
        named(
            "root+folder set-17/0871 (0.1%)",
            ImageFilter { root: Some(root), folder: Some("set-17/0871".into()), ..Default::default() },
        ),
        named(
            "root+folder set-0 (none)",
            ImageFilter { root: Some(root), folder: Some("set-0".into()), ..Default::default() },
        ),
        named("camera (busiest)", ImageFilter { camera: busiest.clone(), ..Default::default() }),
        named("camera (rarest)", ImageFilter { camera: rare.clone(), ..Default::default() }),
        named(
            "captured 2023-06 (1 month)",
            ImageFilter {
                captured_from: Some("2023-06".into()),
                captured_before: Some("2023-07".into()),
                ..Default::default()
            },
        ),
        named(
            "captured 2023-06-15 (1 day)",
            ImageFilter {
                captured_from: Some("2023-06-15".into()),
                captured_before: Some("2023-06-16".into()),
                ..Default::default()
            },
        ),
        named(
            "captured 2022 (1 year)",
            ImageFilter {
                captured_from: Some("2022".into()),
                captured_before: Some("2023".into()),
                ..Default::default()
            },
        ),
        named(
            "captured from 2023-12-01",
            ImageFilter { captured_from: Some("2023-12-01".into()), ..Default::default() },
        ),
        named("has_duplicates=true", ImageFilter { has_duplicates: Some(true), ..Default::default() }),
        named("has_duplicates=false", ImageFilter { has_duplicates: Some(false), ..Default::default() }),
        named(
            "missing+busiest camera",
            ImageFilter { status: Some(ImageStatus::Missing), camera: busiest.clone(), ..Default::default() },
        ),
        named(
            "missing+has_duplicates",
            ImageFilter {
                status: Some(ImageStatus::Missing),
                has_duplicates: Some(true),
                ..Default::default()
            },
        ),
        named(
            "folder set-17 + 2023-06",
            ImageFilter {
                root: Some(root),
                folder: Some("set-17".into()),
                captured_from: Some("2023-06".into()),
                captured_before: Some("2023-07".into()),
                ..Default::default()
            },
        ),
        named(
            "rarest camera + 2022",
            ImageFilter {
                camera: rare.clone(),
                captured_from: Some("2022".into()),
                captured_before: Some("2023".into()),
                ..Default::default()
            },
        ),
        named(
            "ok+busiest+folder set-05",
            ImageFilter {
                status: Some(ImageStatus::Ok),
                camera: busiest.clone(),
                root: Some(root),
                folder: Some("set-05".into()),
                ..Default::default()
            },
        ),
        named(
            "busiest camera+has_duplicates=false+2023",
            ImageFilter {
                camera: busiest.clone(),
                has_duplicates: Some(false),
                captured_from: Some("2023".into()),
                ..Default::default()
            },
        ),
    ];
    println!("{:<44} {:>9} {:>9} {:>6} {:>10}", "filter (page of 200)", "first", "3rd page", "rows", "count");
    let mut worst_page = std::time::Duration::ZERO;
    for (name, filter) in &filters {
        let start = Instant::now();
        let page = catalog.list_images(filter, None, 200).expect("page");
        let first = start.elapsed();
        // Two more pages, timing the third.
        let second = page.last().map(|r| r.id);
        let page2 = catalog.list_images(filter, second, 200).expect("page 2");
        let start = Instant::now();
        let page3 = catalog.list_images(filter, page2.last().map(|r| r.id).or(second), 200).expect("page 3");
        let third = start.elapsed();
        worst_page = worst_page.max(first).max(third);
        assert!(page.iter().all(|r| matches(filter, r)), "{name}");
        assert!(page3.iter().all(|r| matches(filter, r)), "{name}");
        let start = Instant::now();
        let n = catalog.count_images(filter).expect("count");
        let count = start.elapsed();
        println!(
            "{name:<44} {:>7.2}ms {:>7.2}ms {:>6} {:>7.1}ms ({n})",
            ms(first),
            ms(third),
            page.len(),
            ms(count)
        );
    }
    let start = Instant::now();
    let by_camera = catalog.counts_by_camera().expect("by camera");
    println!("counts_by_camera: {:.2}ms ({} cameras)", ms(start.elapsed()), by_camera.len());
    let start = Instant::now();
    let counts = catalog.counts().expect("counts");
    println!("counts: {:.2}ms {counts:?}", ms(start.elapsed()));
    let probe = catalog.list_images(&ImageFilter::default(), None, 1).expect("one")[0].probed.content_hash;
    let start = Instant::now();
    let by_hash = catalog.images_by_hash(&probe).expect("by hash");
    println!("images_by_hash: {:.3}ms ({} match)", ms(start.elapsed()), by_hash.len());
    let start = Instant::now();
    let known = catalog.known_files(root).expect("known");
    println!("known_files(root): {:.0}ms ({} rows)", ms(start.elapsed()), known.len());
    println!("worst page: {:.2}ms", ms(worst_page));
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[test]
fn two_connections_share_one_catalog() {
    let (dir, mut writer) = new_catalog();
    let reader = Catalog::open(&catalog_path(&dir), NOW).expect("second connection");
    let (root, job) = root_and_job(&mut writer);
    writer.apply_import_batch(job, &[insert(root, "a.jpg", probed(1, None, None))], NOW).expect("write");
    // A committed batch is visible to the other connection at once.
    assert_eq!(all_images(&reader).len(), 1);
    assert_eq!(reader.counts().expect("counts").images, 1);
    // And the reader does not hold the writer up.
    writer.apply_import_batch(job, &[insert(root, "b.jpg", probed(2, None, None))], NOW).expect("write");
    assert_eq!(reader.count_images(&ImageFilter::default()).expect("count"), 2);
}

#[test]
fn rows_the_code_cannot_read_are_reported_as_corrupt() {
    let (dir, mut catalog) = new_catalog();
    let (root, job) = root_and_job(&mut catalog);
    catalog.apply_import_batch(job, &[insert(root, "a.jpg", probed(1, None, None))], NOW).expect("write");
    let id = all_images(&catalog)[0].id;
    drop(catalog);
    let conn = rusqlite::Connection::open(catalog_path(&dir)).expect("raw open");
    conn.execute("UPDATE image SET format = 'heic' WHERE id = ?1", [id.0]).expect("tamper");
    drop(conn);
    let catalog = Catalog::open(&catalog_path(&dir), NOW).expect("open");
    let err = catalog.image(id).expect_err("unknown format");
    assert!(matches!(&err, CatalogError::Corrupt(m) if m.contains("heic")), "{err}");
}

#[test]
fn merge_root_into_keeps_ids_and_prefixes_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut catalog = Catalog::create(&dir.path().join("c.sqlite")).expect("create");
    let inner = catalog.upsert_root("/data/cam1", 1).expect("root");
    catalog.insert_synthetic_images(inner, 20, 3, 1).expect("rows");
    let before = catalog.list_images(&ImageFilter::default(), None, 100).expect("list");
    let outer = catalog.upsert_root("/data", 2).expect("root");
    catalog.merge_root_into(inner, outer, "cam1").expect("merge");
    let after = catalog.list_images(&ImageFilter::default(), None, 100).expect("list");
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.root, outer);
        assert_eq!(a.rel_path, format!("cam1/{}", b.rel_path));
        assert_eq!(a.root_path, "/data");
    }
    let roots = catalog.roots().expect("roots");
    assert_eq!(roots.len(), 1);
    let in_folder = ImageFilter { root: Some(outer), folder: Some("cam1".into()), ..ImageFilter::default() };
    assert_eq!(catalog.count_images(&in_folder).expect("count"), 20);
    assert!(catalog.merge_root_into(outer, outer, "/abs").is_err());
    catalog.integrity_check().expect("integrity");
}

mod models {
    use lacuna_catalog::{
        Catalog, ImageFilter, ModelRecord, PredictionRecord, RunImageResult, RunParams, RunProblem,
    };

    fn model(hash: &str) -> ModelRecord {
        ModelRecord {
            name: "yolov8n".into(),
            family: "v8".into(),
            scale: "n".into(),
            task: "detect".into(),
            weights_path: "/models/yolov8n.safetensors".into(),
            weights_hash: hash.into(),
            input_size_px: 640,
            license: Some("AGPL-3.0".into()),
            source: None,
            class_names: vec!["person".into(), "car".into()],
        }
    }

    fn params() -> RunParams {
        RunParams {
            device: "cpu".into(),
            precision: "f32".into(),
            batch_size: 4,
            keep_threshold: 0.05,
            display_threshold: 0.25,
            iou_threshold: 0.7,
            max_detections: 300,
            flip_tta: false,
        }
    }

    #[test]
    fn runs_resume_and_store_predictions_with_probabilities() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut catalog = Catalog::create(&dir.path().join("c.sqlite")).expect("create");
        let root = catalog.upsert_root("/data", 1).expect("root");
        catalog.insert_synthetic_images(root, 5, 1, 1).expect("rows");
        let images = catalog.list_images(&ImageFilter::default(), None, 10).expect("list");
        let m = catalog.upsert_model(&model("abc"), 1).expect("model");
        assert_eq!(catalog.upsert_model(&model("abc"), 2).expect("same model"), m);
        assert_eq!(catalog.model_classes(m).expect("classes"), vec!["person", "car"]);

        let (run, resumed) = catalog.open_model_run(m, &params(), 10).expect("run");
        assert!(!resumed);
        let result = RunImageResult {
            image: images[0].id,
            predictions: vec![
                PredictionRecord {
                    class_id: 1,
                    score: 0.9,
                    bbox_xyxy_px: [1.0, 2.0, 30.0, 40.0],
                    class_probs: vec![0.01, 0.9],
                    flipped: false,
                    mask_rle: None,
                    mask_polygons: None,
                },
                PredictionRecord {
                    class_id: 0,
                    score: 0.1,
                    bbox_xyxy_px: [5.0, 5.0, 9.0, 9.0],
                    class_probs: vec![0.1, 0.02],
                    flipped: false,
                    mask_rle: None,
                    mask_polygons: None,
                },
            ],
            embedding: Some(vec![0.5; 8]),
            inference_ms: 12.0,
        };
        let empty =
            RunImageResult { image: images[1].id, predictions: vec![], embedding: None, inference_ms: 3.0 };
        let problem = RunProblem { image: images[2].id, message: "the JPEG data ends early".into() };
        catalog.store_run_results(run, &[result, empty], &[problem]).expect("store");
        // The same image twice in a run is refused, and nothing of that batch is written.
        let again =
            RunImageResult { image: images[1].id, predictions: vec![], embedding: None, inference_ms: 1.0 };
        assert!(catalog.store_run_results(run, &[again], &[]).is_err());

        let done = catalog.finished_run_images(run).expect("done");
        assert_eq!(done.len(), 2);
        let shown = catalog.predictions(run, 0.25, false).expect("predictions");
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].class_name.as_deref(), Some("car"));
        assert_eq!(shown[0].class_probs, vec![0.01, 0.9]);
        assert_eq!(shown[0].bbox_xyxy_px, [1.0, 2.0, 30.0, 40.0]);
        assert_eq!(catalog.predictions(run, 0.0, false).expect("all").len(), 2);
        assert_eq!(catalog.embedding(run, images[0].id).expect("embedding"), Some(vec![0.5; 8]));

        catalog
            .finish_model_run(run, lacuna_catalog::JobStatus::FinishedWithProblems, None, 20)
            .expect("finish");
        let (same, resumed) = catalog
            .open_model_run(m, &RunParams { device: "cuda:0".into(), ..params() }, 30)
            .expect("reopen");
        assert_eq!(same, run);
        assert!(resumed);
        let (other, resumed) =
            catalog.open_model_run(m, &RunParams { flip_tta: true, ..params() }, 30).expect("new run");
        assert_ne!(other, run);
        assert!(!resumed);
        let runs = catalog.model_runs().expect("runs");
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1].images_done, 2);
        assert_eq!(runs[1].problems, 1);
        catalog.integrity_check().expect("integrity");
    }
}

#[test]
fn schema_6_moves_embeddings_into_their_own_table_and_counts_ranking_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = catalog_path(&dir);
    let mut catalog = Catalog::create_at_version(&path, 5).expect("schema 5 catalog");
    let root = catalog.upsert_root("/data", NOW).expect("root");
    catalog.insert_synthetic_images(root, 3, 1, NOW).expect("images");
    drop(catalog);
    let vector: Vec<u8> = [0.5f32, -1.0, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.execute_batch(
        "INSERT INTO model (id, name, family, scale, task, weights_path, weights_hash, input_size_px, \
         added_at_unix_s) VALUES (1, 'm', 'v8', 'n', 'detect', 'm.onnx', 'h', 640, 0); \
         INSERT INTO model_run (id, model_id, params_key, device, precision, batch_size, keep_threshold, \
         display_threshold, iou_threshold, max_detections, flip_tta, status, started_at_unix_s) \
         VALUES (1, 1, 'k', 'cpu', 'f32', 1, 0.1, 0.25, 0.7, 300, 0, 'finished', 0);",
    )
    .expect("model and run");
    conn.execute(
        "INSERT INTO model_run_image (run_id, image_id, detections, embedding, inference_ms) VALUES (1, 1, 0, ?1, 1.0)",
        [&vector],
    )
    .expect("result with embedding");
    drop(conn);

    let catalog = Catalog::open(&path, NOW).expect("migrated");
    assert_eq!(catalog.schema_version().expect("version"), SCHEMA_VERSION);
    let run = lacuna_core::RunId(1);
    let image = ImageId(1);
    assert_eq!(catalog.embedding(run, image).expect("read"), Some(vec![0.5, -1.0, 2.0]));
    let left_in_results: i64 = rusqlite::Connection::open(&path)
        .expect("raw open")
        .query_row("SELECT count(*) FROM model_run_image WHERE embedding IS NOT NULL", [], |r| r.get(0))
        .expect("count");
    assert_eq!(left_in_results, 0);

    // Condition writes move the ranking counter; a label state does not.
    let before = catalog.ranking_inputs_counter().expect("counter");
    let mut catalog = catalog;
    catalog
        .upsert_conditions(
            &[lacuna_catalog::ConditionClaim {
                image,
                key: "light".into(),
                value: "night".into(),
                source: "human".into(),
                confidence: 1.0,
            }],
            NOW,
        )
        .expect("condition");
    let after = catalog.ranking_inputs_counter().expect("counter");
    assert!(after > before, "{before} -> {after}");
    catalog.set_image_state("ana", image, lacuna_core::ImageLabelState::Labeled, None, NOW).expect("state");
    assert_eq!(catalog.ranking_inputs_counter().expect("counter"), after);
    assert_eq!(
        catalog.label_states_changed_since(0).expect("changes"),
        vec![(image, lacuna_catalog::RankState::Done)]
    );
}
