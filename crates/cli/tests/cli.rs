//! End-to-end tests of the `lacuna` binary over the bundled sample and generated bad input.
//! Each test works in its own temp dir.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/sample");
/// Files in the bundled sample.
const SAMPLE_FILES: u64 = 24;

/// Runs `lacuna` and, when it does not exit as expected, panics with everything it saw.
#[derive(Debug)]
struct Lacuna {
    project: PathBuf,
}

impl Lacuna {
    fn new(project: &Path) -> Self {
        Self { project: project.to_path_buf() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lacuna"));
        cmd.arg("--project").arg(&self.project).args(args).env_remove("LACUNA_PROJECT");
        cmd
    }

    fn run(&self, args: &[&str], expected_code: i32) -> Output {
        let out = self.command(args).output().expect("lacuna runs");
        if out.status.code() != Some(expected_code) {
            panic!(
                "lacuna {args:?} exited with {:?}, expected {expected_code}\n--- stdout\n{}\n--- stderr\n{}\n--- project dir\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                listing(&self.project),
            );
        }
        out
    }

    fn json(&self, args: &[&str], expected_code: i32) -> Value {
        let out = self.run(args, expected_code);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("lacuna {args:?}: stdout is not JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout))
        })
    }

    fn import(&self, path: &Path, expected_code: i32) -> Value {
        let path = path.to_str().expect("utf-8 temp path");
        self.json(&["import", "--init", "--json", path], expected_code)
    }

    fn all_images(&self, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["images", "--all", "--json"];
        args.extend_from_slice(extra);
        match self.json(&args, 0) {
            Value::Array(items) => items,
            other => panic!("images --all --json printed {other}"),
        }
    }
}

fn listing(dir: &Path) -> String {
    let mut out = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            out.push_str(&format!("{}\n", e.path().display()));
        }
    }
    out
}

fn count(summary: &Value, field: &str) -> u64 {
    summary["counts"][field].as_u64().unwrap_or_else(|| panic!("no counts.{field} in {summary}"))
}

/// Copies the bundled sample into `dest`.
fn copy_sample(dest: &Path) {
    copy_dir(Path::new(SAMPLE), dest);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read sample dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
            // The sample is read-only in some checkouts; copies must be writable for the tests.
            let mut perms = std::fs::metadata(&target).expect("meta").permissions();
            #[allow(clippy::permissions_set_readonly_false)] // we want a writable test copy
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).expect("chmod");
        }
    }
}

fn sample_photo(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(SAMPLE).join("photos").join(name)).expect("sample photo")
}

#[test]
fn import_sample_then_reimport_is_incremental() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
    let summary = lacuna.import(Path::new(SAMPLE), 0);
    assert_eq!(summary["status"], "finished", "{summary}");
    assert_eq!(count(&summary, "files_found"), SAMPLE_FILES, "{summary}");
    let added = count(&summary, "added");
    let duplicates = count(&summary, "duplicates");
    assert_eq!(added + duplicates, SAMPLE_FILES, "{summary}");
    assert_eq!(count(&summary, "problems"), 0, "{summary}");
    assert!(count(&summary, "ignored") >= 4, "licence and README files are ignored: {summary}");

    let images = lacuna.all_images(&[]);
    assert_eq!(images.len() as u64, added);
    let paths: Vec<&str> = images.iter().filter_map(|i| i["path"].as_str()).collect();
    assert!(paths.contains(&"photos/frozenpond.mpo"), "{paths:?}");
    let mpo = images.iter().find(|i| i["path"] == "photos/frozenpond.mpo").expect("mpo listed");
    assert_eq!(mpo["format"], "mpo");
    let tiff = images.iter().find(|i| i["path"] == "photos/ifd_tag_type.tiff").expect("tiff listed");
    assert_eq!(tiff["format"], "tiff");

    // Thumbnails were written once into the project.
    let thumbs = walk_files(&lacuna.project.join("thumbs"));
    assert_eq!(thumbs.len() as u64, added, "one thumbnail per distinct image");

    let again = lacuna.import(Path::new(SAMPLE), 0);
    assert_eq!(count(&again, "unchanged"), SAMPLE_FILES, "{again}");
    assert_eq!(count(&again, "added"), 0, "{again}");
    assert_eq!(lacuna.all_images(&[]).len() as u64, added);
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk_files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn status_lists_cameras_from_exif_with_padding_trimmed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
    lacuna.import(Path::new(SAMPLE), 0);
    let status = lacuna.json(&["status", "--json"], 0);
    let cameras: Vec<String> = status["cameras"]
        .as_array()
        .expect("cameras")
        .iter()
        .filter_map(|c| c["camera"].as_str().map(str::to_owned))
        .collect();
    assert!(cameras.len() >= 8, "a dozen makers in the sample: {cameras:?}");
    for c in &cameras {
        assert_eq!(c.trim(), c, "camera ids are trimmed: {c:?}");
        assert!(!c.contains('\0'), "no NULs: {c:?}");
    }
    assert!(cameras.iter().any(|c| c.to_lowercase().contains("canon")), "{cameras:?}");
    assert!(cameras.iter().any(|c| c.contains("QV-R51")), "the Casio night shots: {cameras:?}");

    // Filter by camera and capture time: the Casio QV-R51 night street photos.
    let casio = cameras.iter().find(|c| c.contains("QV-R51")).expect("casio");
    let by_camera = lacuna.all_images(&["--camera", casio]);
    assert!(by_camera.len() >= 3, "{by_camera:?}");
    for image in &by_camera {
        assert_eq!(image["camera"].as_str(), Some(casio.as_str()));
    }
    let first = by_camera[0]["captured_at"].as_str().expect("capture time").to_owned();
    let day = &first[..10];
    let same_day = lacuna.all_images(&["--from", day, "--camera", casio]);
    assert!(!same_day.is_empty());
    let none = lacuna.all_images(&["--before", "1990-01-01"]);
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn images_paginate_with_cursor_and_filter_by_folder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
    lacuna.import(Path::new(SAMPLE), 0);
    let all = lacuna.all_images(&[]);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = vec!["images", "--json", "--limit", "5"];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let page = lacuna.json(&args, 0);
        for item in page["items"].as_array().expect("items") {
            seen.push(item["id"].as_i64().expect("id"));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let all_ids: Vec<i64> = all.iter().map(|i| i["id"].as_i64().expect("id")).collect();
    assert_eq!(seen, all_ids, "pages cover every image once, in order");

    let cams = lacuna.all_images(&["--folder", "exif-cameras"]);
    assert!(!cams.is_empty());
    assert!(cams.iter().all(|i| i["path"].as_str().is_some_and(|p| p.starts_with("exif-cameras/"))));
    let bad = lacuna.run(&["images", "--cursor", "nonsense"], 1);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid_input"));
}

#[test]
fn moved_files_keep_their_id_and_vanished_files_are_marked_missing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    copy_sample(&data);
    let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
    lacuna.import(&data, 0);
    let before = lacuna.all_images(&[]);
    let dog = before.iter().find(|i| i["path"] == "photos/dog.jpg").expect("dog").clone();

    std::fs::create_dir_all(data.join("moved")).expect("mkdir");
    std::fs::rename(data.join("photos/dog.jpg"), data.join("moved/dog-renamed.jpg")).expect("move");
    std::fs::remove_file(data.join("photos/eagle.jpg")).expect("delete");
    let summary = lacuna.import(&data, 0);
    assert_eq!(count(&summary, "moved"), 1, "{summary}");
    assert_eq!(count(&summary, "marked_missing"), 1, "{summary}");
    assert_eq!(count(&summary, "added"), 0, "{summary}");

    let after = lacuna.all_images(&[]);
    let moved = after.iter().find(|i| i["path"] == "moved/dog-renamed.jpg").expect("moved dog");
    assert_eq!(moved["id"], dog["id"], "a moved file keeps its id");
    let missing = lacuna.all_images(&["--status", "missing"]);
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0]["path"], "photos/eagle.jpg");

    // The file comes back: status ok again, same id.
    std::fs::write(data.join("photos/eagle.jpg"), sample_photo("eagle.jpg")).expect("restore");
    let summary = lacuna.import(&data, 0);
    assert_eq!(count(&summary, "added"), 0, "{summary}");
    assert!(lacuna.all_images(&["--status", "missing"]).is_empty());
    assert_eq!(lacuna.all_images(&[]).len(), before.len());
}

#[test]
fn changed_files_are_reprobed_and_exact_duplicates_are_not_imported_twice() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("a.jpg"), sample_photo("dog.jpg")).expect("write");
    std::fs::write(data.join("copy-of-a.jpg"), sample_photo("dog.jpg")).expect("write");
    std::fs::write(data.join("b.jpg"), sample_photo("horses.jpg")).expect("write");
    let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
    let summary = lacuna.import(&data, 0);
    assert_eq!(count(&summary, "added"), 2, "{summary}");
    assert_eq!(count(&summary, "duplicates"), 1, "{summary}");
    let dups = lacuna.all_images(&["--duplicates"]);
    assert_eq!(dups.len(), 1);
    assert_eq!(dups[0]["duplicate_count"], 1);
    let details = lacuna.json(&["show", &dups[0]["id"].to_string(), "--json"], 0);
    assert_eq!(details["duplicates"].as_array().map(Vec::len), Some(1), "{details}");

    // b.jpg changes content: re-probed, same id, new hash.
    let b_before = lacuna.all_images(&[]).into_iter().find(|i| i["path"] == "b.jpg").expect("b");
    let b_hash = lacuna.json(&["show", &b_before["id"].to_string(), "--json"], 0)["content_hash"].clone();
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(data.join("b.jpg"), sample_photo("giraffe.jpg")).expect("rewrite");
    let summary = lacuna.import(&data, 0);
    assert_eq!(count(&summary, "updated"), 1, "{summary}");
    assert_eq!(count(&summary, "unchanged"), 2, "{summary}");
    let b_after = lacuna.json(&["show", &b_before["id"].to_string(), "--json"], 0);
    assert_ne!(b_after["content_hash"], b_hash);
    assert_eq!(b_after["path"], "b.jpg");
}

/// A folder of bad input beside two good images.
fn bad_input_folder(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let dog = sample_photo("dog.jpg");
    std::fs::write(dir.join("good.jpg"), &dog).expect("write");
    std::fs::write(dir.join("good2.jpg"), sample_photo("horses.jpg")).expect("write");
    std::fs::write(dir.join("empty.jpg"), b"").expect("write");
    std::fs::write(dir.join("truncated.jpg"), &dog[..dog.len() / 2]).expect("write");
    let png = minimal_png(8, 8);
    std::fs::write(dir.join("truncated.png"), &png[..png.len() - 20]).expect("write");
    let noise: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(dir.join("random.jpg"), &noise).expect("write");
    std::fs::write(dir.join("notes.png"), b"these are my notes, not a picture\n").expect("write");
    std::fs::write(dir.join("huge.png"), png_header_only(100_000, 100_000)).expect("write");
    let mut heic = Vec::new();
    heic.extend_from_slice(&[0, 0, 0, 24]);
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic.extend_from_slice(&[0u8; 64]);
    std::fs::write(dir.join("phone.heic"), &heic).expect("write");
    std::fs::write(dir.join("README.txt"), b"ignored by name").expect("write");
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.jpg");
        std::fs::write(dir.join(name), &dog[..1000]).expect("write non-utf8 name");
    }
    std::fs::create_dir_all(dir.join("loop/inner")).expect("mkdir");
    std::os::unix::fs::symlink("..", dir.join("loop/inner/back")).expect("symlink");
}

/// A valid PNG of `w` x `h` grey pixels (stored, uncompressed deflate blocks).
fn minimal_png(w: u32, h: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for _ in 0..h {
        raw.push(0u8);
        raw.extend(std::iter::repeat_n(128u8, w as usize));
    }
    let mut zlib = vec![0x78, 0x01];
    let len = raw.len() as u16;
    zlib.push(1);
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&raw);
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &[0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff]);
    png
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    b << 16 | a
}

#[test]
fn bad_input_becomes_problems_and_the_import_goes_on() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("bad");
    bad_input_folder(&data);
    let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
    let summary = lacuna.import(&data, 3);
    assert_eq!(summary["status"], "finished_with_problems", "{summary}");
    assert_eq!(count(&summary, "added"), 2, "the good images still import: {summary}");
    let problems = lacuna.json(&["problems", "--json"], 0);
    let problems = problems.as_array().expect("array");
    let kind_of = |suffix: &str| -> String {
        problems
            .iter()
            .find(|p| p["path"].as_str().is_some_and(|path| path.ends_with(suffix)))
            .map(|p| p["kind"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("no problem for {suffix} in {problems:#?}"))
    };
    assert_eq!(kind_of("empty.jpg"), "empty_file");
    assert_eq!(kind_of("truncated.jpg"), "corrupt");
    assert_eq!(kind_of("truncated.png"), "corrupt");
    assert_eq!(kind_of("random.jpg"), "not_an_image");
    assert_eq!(kind_of("notes.png"), "not_an_image");
    assert_eq!(kind_of("huge.png"), "too_large");
    assert_eq!(kind_of("phone.heic"), "unsupported_format");
    assert_eq!(kind_of("caf\u{fffd}.jpg"), "non_utf8_name");
    assert_eq!(kind_of("back"), "symlink_loop");
    assert_eq!(count(&summary, "problems"), problems.len() as u64);
    for p in problems {
        let message = p["message"].as_str().expect("message");
        assert!(message.len() > 10, "a plain-language reason: {p}");
    }
    // Human-readable output names the path and reason too.
    let text = lacuna.run(&["problems"], 0);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("huge.png") && text.contains("100000"), "{text}");

    // The catalog is intact and a re-run reports the same problems without duplicating images.
    let again = lacuna.import(&data, 3);
    assert_eq!(count(&again, "unchanged"), 2, "{again}");
    assert_eq!(lacuna.all_images(&[]).len(), 2);
}

#[test]
fn pixel_limit_is_configurable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("d");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("dog.jpg"), sample_photo("dog.jpg")).expect("write");
    let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
    let out =
        lacuna.json(&["import", "--init", "--json", "--max-pixels", "1000", data.to_str().expect("utf8")], 3);
    assert_eq!(count(&out, "problems"), 1, "{out}");
    let problems = lacuna.json(&["problems", "--json"], 0);
    assert_eq!(problems[0]["kind"], "too_large");
}

#[test]
fn unreadable_file_is_a_problem() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("d");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("ok.jpg"), sample_photo("dog.jpg")).expect("write");
    std::fs::write(data.join("secret.jpg"), sample_photo("horses.jpg")).expect("write");
    std::fs::set_permissions(data.join("secret.jpg"), std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let project = tmp.path().join("p.lacuna");
    let lacuna = Lacuna::new(&project);
    lacuna.run(&["init"], 0);

    // Root reads everything regardless of mode bits; run the import as an unprivileged user then.
    let privileged = std::fs::File::open(data.join("secret.jpg")).is_ok();
    let out = if privileged {
        for p in [tmp.path(), &data, &project, &project.join("thumbs")] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).expect("chmod dir");
        }
        std::fs::set_permissions(project.join("catalog.sqlite"), std::fs::Permissions::from_mode(0o666))
            .expect("chmod catalog");
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_lacuna")]);
        cmd.arg("--project").arg(&project).args(["import", "--json"]).arg(&data);
        cmd.output().expect("setpriv runs (util-linux)")
    } else {
        lacuna.command(&["import", "--json", data.to_str().expect("utf8")]).output().expect("runs")
    };
    assert_eq!(out.status.code(), Some(3), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let problems = lacuna.json(&["problems", "--json"], 0);
    assert_eq!(problems.as_array().map(Vec::len), Some(1), "{problems}");
    assert_eq!(problems[0]["kind"], "permission_denied");
    assert!(problems[0]["path"].as_str().is_some_and(|p| p.ends_with("secret.jpg")));
}

#[test]
fn single_files_import_under_their_folder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("d");
    std::fs::create_dir_all(data.join("sub")).expect("mkdir");
    std::fs::write(data.join("sub/one.jpg"), sample_photo("dog.jpg")).expect("write");
    std::fs::write(data.join("sub/two.jpg"), sample_photo("horses.jpg")).expect("write");
    let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
    let summary = lacuna.import(&data.join("sub/one.jpg"), 0);
    assert_eq!(count(&summary, "added"), 1, "{summary}");
    // Importing the parent folder later files both under one root, nothing twice, nothing missing.
    let summary = lacuna.import(&data, 0);
    assert_eq!(count(&summary, "added") + count(&summary, "unchanged"), 2, "{summary}");
    assert_eq!(count(&summary, "duplicates"), 0, "{summary}");
    assert_eq!(lacuna.all_images(&[]).len(), 2);
}

#[test]
fn missing_path_fails_with_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
    let out = lacuna.run(&["import", "--init", "/definitely/not/here"], 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/definitely/not/here") && err.contains("path_not_found"), "{err}");
    let out = Lacuna::new(&tmp.path().join("nothing")).run(&["status"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("project_not_found"));
}

#[test]
fn catalog_from_a_newer_version_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = tmp.path().join("p.lacuna");
    let lacuna = Lacuna::new(&project);
    lacuna.import(Path::new(SAMPLE), 0);
    // PRAGMA user_version lives at byte 60 of the database header (big-endian).
    let db = project.join("catalog.sqlite");
    let mut bytes = std::fs::read(&db).expect("read catalog");
    bytes[60..64].copy_from_slice(&999u32.to_be_bytes());
    std::fs::write(&db, &bytes).expect("write catalog");
    let out = lacuna.run(&["status"], 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("newer version") && err.contains("999") && err.contains("catalog_too_new"), "{err}");
    assert_eq!(std::fs::read(&db).expect("read"), bytes, "the catalog is not modified");
}

/// Makes `n` distinct JPEGs from the sample by appending bytes after the end-of-image marker
/// (decoders ignore them; the content hash differs).
fn many_images(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let sources = ["dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "person.jpg", "kite.jpg"];
    let bytes: Vec<Vec<u8>> = sources.iter().map(|s| sample_photo(s)).collect();
    for i in 0..n {
        let mut data = bytes[i % bytes.len()].clone();
        data.extend_from_slice(format!("copy {i}").as_bytes());
        std::fs::write(dir.join(format!("img{i:05}.jpg")), data).expect("write");
    }
}

/// Reads `--json` progress lines from the child's stderr until `added` (committed images)
/// reaches `min_added`; a thread keeps draining stderr afterwards so the child never blocks.
fn wait_for_progress(child: &mut std::process::Child, min_added: u64) {
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if let Ok(event) = serde_json::from_str::<Value>(&line) {
                // The receiver may be gone; draining goes on regardless.
                let _ = tx.send(event["counts"]["added"].as_u64().unwrap_or(0));
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(added) if added >= min_added => return,
            Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                panic!("import ended before {min_added} images were committed")
            }
        }
    }
    panic!("no progress to {min_added} committed images within 120 s");
}

#[test]
fn ctrl_c_stops_cleanly_and_a_rerun_resumes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("many");
    many_images(&data, 600);
    let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
    lacuna.run(&["init"], 0);
    let mut child = lacuna
        .command(&["import", "--json", data.to_str().expect("utf8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for_progress(&mut child, 1);
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().expect("kill -INT");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("summary JSON");
    assert_eq!(summary["status"], "cancelled");
    let done_first = count(&summary, "added");
    assert!(done_first > 0 && done_first < 600, "stopped part way: {summary}");
    assert_eq!(lacuna.all_images(&[]).len() as u64, done_first, "everything reported is committed");

    let summary = lacuna.import(&data, 0);
    assert_eq!(count(&summary, "unchanged"), done_first, "{summary}");
    assert_eq!(count(&summary, "added"), 600 - done_first, "{summary}");
    let jobs_status = lacuna.json(&["status", "--json"], 0);
    assert_eq!(jobs_status["images"], 600);
}

#[test]
fn sigkill_mid_import_loses_nothing_committed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("many");
    many_images(&data, 400);
    let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
    lacuna.run(&["init"], 0);
    let mut child = lacuna
        .command(&["import", "--json", data.to_str().expect("utf8")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for_progress(&mut child, 50);
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let status = lacuna.json(&["status", "--json"], 0);
    let committed = status["images"].as_u64().expect("images");
    assert!(committed >= 50, "every image reported as committed is there: {status}");
    let summary = lacuna.import(&data, 0);
    assert_eq!(count(&summary, "unchanged") + count(&summary, "added"), 400, "{summary}");
    assert_eq!(lacuna.json(&["status", "--json"], 0)["images"], 400);
}

mod prelabel {
    //! Pre-labeling with the default model (fetched by scripts/setup.sh into models/).

    use super::*;

    const DEFAULT_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/yolov12n.onnx");

    fn default_model() -> &'static str {
        assert!(
            Path::new(DEFAULT_MODEL).is_file(),
            "the default model is missing: run scripts/fetch-default-model.sh (scripts/setup.sh does)"
        );
        DEFAULT_MODEL
    }

    #[test]
    fn prelabel_the_sample_finds_the_obvious_objects_and_a_rerun_resumes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("photos");
        std::fs::create_dir_all(&data).expect("mkdir");
        for name in ["dog.jpg", "horses.jpg", "person.jpg", "eagle.jpg"] {
            std::fs::write(data.join(name), sample_photo(name)).expect("copy");
        }
        let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
        lacuna.import(&data, 0);
        let summary = lacuna.json(&["prelabel", "--json", "--model", default_model(), "--batch", "2"], 0);
        assert_eq!(summary["status"], "finished", "{summary}");
        assert_eq!(summary["images_done"], 4, "{summary}");
        assert_eq!(summary["model"], "yolov12n", "{summary}");
        // Where the time went: every stage that ran took time, the model thread's stages fit
        // in the job's wall time, and the process's CPU time is reported.
        let stages = &summary["stages"];
        let ms = |key: &str| stages[key].as_u64().unwrap_or_else(|| panic!("stages.{key}: {summary}"));
        let elapsed = summary["elapsed_ms"].as_u64().expect("elapsed_ms");
        assert!(ms("forward_ms") > 0 && ms("decode_ms") > 0, "{stages}");
        assert!(
            ms("forward_ms") + ms("postprocess_ms") + ms("store_ms") + ms("wait_ms") <= elapsed + 1,
            "{stages} in {elapsed} ms"
        );
        assert!(ms("decode_threads") >= 1 && ms("cores") >= 1, "{stages}");
        let busy = stages["cpu_utilisation"].as_f64().expect("cpu_utilisation");
        assert!(busy > 0.0 && busy <= 1.05, "{stages}");
        assert!(ms("cpu_ms") > 0, "{stages}");

        let predictions = lacuna.json(&["predictions", "--json"], 0);
        let boxes = predictions.as_array().expect("array");
        let classes_of = |path: &str| -> Vec<String> {
            boxes
                .iter()
                .filter(|b| b["path"] == path)
                .filter_map(|b| b["class"].as_str().map(str::to_owned))
                .collect()
        };
        assert!(classes_of("dog.jpg").iter().any(|c| c == "dog"), "{:?}", classes_of("dog.jpg"));
        assert!(
            classes_of("horses.jpg").iter().filter(|c| *c == "horse").count() >= 2,
            "{:?}",
            classes_of("horses.jpg")
        );
        assert!(classes_of("person.jpg").iter().any(|c| c == "person"), "{:?}", classes_of("person.jpg"));
        assert!(classes_of("eagle.jpg").iter().any(|c| c == "bird"), "{:?}", classes_of("eagle.jpg"));
        for b in boxes {
            let score = b["score"].as_f64().expect("score");
            assert!(score >= 0.25, "only boxes at the display threshold by default: {b}");
            let bbox: Vec<f64> =
                b["bbox_xyxy"].as_array().expect("bbox").iter().filter_map(Value::as_f64).collect();
            assert_eq!(bbox.len(), 4);
            assert!(bbox[0] < bbox[2] && bbox[1] < bbox[3], "{b}");
            // dog.jpg is 768x576: boxes are in the image's own pixels.
            if b["path"] == "dog.jpg" {
                assert!(bbox[2] <= 768.0 && bbox[3] <= 576.0, "{b}");
            }
        }
        let low = lacuna.json(&["predictions", "--json", "--min-score", "0.05"], 0);
        assert!(
            low.as_array().map(Vec::len) > predictions.as_array().map(Vec::len),
            "low-score boxes are kept too"
        );

        let again = lacuna.json(&["prelabel", "--json", "--model", default_model()], 0);
        assert_eq!(again["resumed"], true, "{again}");
        assert_eq!(again["already_done"], 4, "{again}");
        assert_eq!(again["images_done"], 0, "{again}");
        let runs = lacuna.json(&["runs", "--json"], 0);
        assert_eq!(runs.as_array().map(Vec::len), Some(1), "the same run: {runs}");
        assert_eq!(runs[0]["weights_hash"].as_str().map(str::len), Some(64));
    }

    #[test]
    fn an_image_that_fails_mid_run_is_a_problem_and_the_run_goes_on() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("photos");
        std::fs::create_dir_all(&data).expect("mkdir");
        std::fs::write(data.join("dog.jpg"), sample_photo("dog.jpg")).expect("copy");
        std::fs::write(data.join("horses.jpg"), sample_photo("horses.jpg")).expect("copy");
        let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
        lacuna.import(&data, 0);
        // Damaged after import: the run meets it mid-way.
        let horses = sample_photo("horses.jpg");
        std::fs::write(data.join("horses.jpg"), &horses[..horses.len() / 3]).expect("truncate");
        let summary = lacuna.json(&["prelabel", "--json", "--model", default_model()], 3);
        assert_eq!(summary["status"], "finished_with_problems", "{summary}");
        assert_eq!(summary["images_done"], 1);
        assert_eq!(summary["problems"], 1);
    }

    #[test]
    fn missing_or_corrupt_weights_fail_with_a_clear_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
        lacuna.run(&["init"], 0);
        let out = lacuna.run(&["prelabel", "--model", "/no/such/model.onnx"], 1);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("/no/such/model.onnx") && err.contains("model_not_found"), "{err}");
        let junk = tmp.path().join("junk.onnx");
        std::fs::write(&junk, b"definitely not protobuf \xff\xff\xff").expect("write");
        let out = lacuna.run(&["prelabel", "--model", junk.to_str().expect("utf8")], 1);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("junk.onnx") && err.contains("model_invalid"), "{err}");
        let out = lacuna.run(&["prelabel", "--model", default_model(), "--precision", "f8"], 1);
        assert!(String::from_utf8_lossy(&out.stderr).contains("precision"));
        let out = lacuna.run(&["prelabel", "--model", default_model(), "--device", "tpu"], 1);
        assert!(String::from_utf8_lossy(&out.stderr).contains("tpu"));
    }

    #[test]
    fn prelabel_only_unlabeled_skips_images_people_have_labeled() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("photos");
        std::fs::create_dir_all(&data).expect("mkdir");
        for name in ["dog.jpg", "horses.jpg", "person.jpg"] {
            std::fs::write(data.join(name), sample_photo(name)).expect("copy");
        }
        let lacuna = Lacuna::new(&tmp.path().join("p.lacuna"));
        lacuna.import(&data, 0);
        let images = lacuna.all_images(&[]);
        let dog = images.iter().find(|i| i["path"] == "dog.jpg").expect("dog")["id"].to_string();
        lacuna.run(&["--author", "ann", "labels", "state", &dog, "labeled_empty"], 0);
        assert_eq!(lacuna.all_images(&["--unlabeled"]).len(), 2);
        assert_eq!(lacuna.all_images(&["--state", "labeled_empty"]).len(), 1);
        let summary = lacuna.json(&["prelabel", "--json", "--model", default_model(), "--unlabeled"], 0);
        assert_eq!(summary["images_done"], 2, "{summary}");
        let predictions = lacuna.json(&["predictions", "--json"], 0);
        assert!(
            predictions.as_array().expect("array").iter().all(|p| p["path"] != "dog.jpg"),
            "the labeled image was not pre-labeled: {predictions}"
        );
        let out = lacuna.run(&["images", "--state", "done"], 1);
        assert!(String::from_utf8_lossy(&out.stderr).contains("label state `done`"));
    }
}
