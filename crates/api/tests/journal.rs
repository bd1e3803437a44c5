//! The edit journal survives SIGKILL: a child process makes a burst of edits through the API
//! and acknowledges each one on stdout after the call returns; the test kills it mid-burst and
//! checks that every acknowledged edit is in the catalog and that the catalog is intact.
//!
//! The child is this same test binary, re-run with `LACUNA_EDIT_BURST_CHILD` set.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use lacuna_api::{
    AnnotationEdit, AnnotationId, AnnotationInput, Attributes, BoxXyxy, Geometry, ImageId, ImageQuery,
    ImportRequest, Project, SystemClock,
};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/sample");
const CHILD_ENV: &str = "LACUNA_EDIT_BURST_CHILD";
const TEST_NAME: &str = "sigkill_mid_burst_keeps_every_acknowledged_edit";

fn boxed(x0: f64) -> Geometry {
    Geometry::Box(BoxXyxy { x0, y0: 1.0, x1: x0 + 2.0, y1: 9.0 })
}

/// The child: creates, edits and deletes annotations as fast as it can, announcing each
/// operation before the call (`try …`) and acknowledging it after (`ok …`).
fn child_burst(dir: &Path) {
    let project = Project::open(dir, Arc::new(SystemClock)).expect("open");
    let images = project.list_images(&ImageQuery::default()).expect("images").items;
    let mut live: Vec<(AnnotationId, ImageId)> = Vec::new();
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let image = ImageId(images[(i as usize) % images.len()].id);
        let x0 = (i % 60) as f64;
        match i % 4 {
            // Edit the newest live annotation.
            2 if !live.is_empty() => {
                let (id, _) = live[live.len() - 1];
                writeln!(out, "try edit {id} {x0}").expect("stdout");
                out.flush().expect("flush");
                let edit = AnnotationEdit { geometry: Some(boxed(x0)), ..Default::default() };
                project.edit_annotation("burst", id, &edit).expect("edit");
                writeln!(out, "ok edit {id} {x0}").expect("stdout");
            }
            // Delete the oldest live annotation.
            3 if live.len() > 3 => {
                let (id, _) = live.remove(0);
                writeln!(out, "try delete {id}").expect("stdout");
                out.flush().expect("flush");
                project.delete_annotations("burst", &[id]).expect("delete");
                writeln!(out, "ok delete {id}").expect("stdout");
            }
            _ => {
                writeln!(out, "try create {} {x0}", image.0).expect("stdout");
                out.flush().expect("flush");
                let input = AnnotationInput {
                    image,
                    class: "thing".into(),
                    geometry: boxed(x0),
                    attributes: Attributes::default(),
                };
                let created = project.add_annotations("burst", &[input]).expect("create");
                live.push((created[0].id, image));
                writeln!(out, "ok create {} {} {x0}", created[0].id, image.0).expect("stdout");
            }
        }
        out.flush().expect("flush");
    }
}

#[test]
fn sigkill_mid_burst_keeps_every_acknowledged_edit() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child_burst(Path::new(&dir));
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("p.lacuna");
    {
        let project = Project::create(&dir, Arc::new(SystemClock)).expect("create");
        let request = ImportRequest { paths: vec![SAMPLE.into()], ..ImportRequest::default() };
        project.start_import(request, |_| {}).expect("import").wait().expect("imported");
        project.create_class("lead", "thing", None, None).expect("class");
    }
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("piped");
    let mut lines: Vec<String> = Vec::new();
    let mut acks = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read");
        // libtest prints its own lines around ours.
        if !(line.starts_with("try ") || line.starts_with("ok ")) {
            continue;
        }
        if line.starts_with("ok ") {
            acks += 1;
        }
        lines.push(line);
        if acks >= 300 {
            break;
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    assert!(acks >= 300, "the child stopped early after {acks} edits:\n{}", lines.join("\n"));

    // What the acknowledged edits say must be there, allowing the one operation that was in
    // flight (announced, not acknowledged) to have committed too.
    let mut expected: HashMap<i64, Option<f64>> = HashMap::new();
    let mut in_flight: Option<Vec<String>> = None;
    for line in &lines {
        let f: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        match (f[0].as_str(), f[1].as_str()) {
            ("try", _) => in_flight = Some(f),
            ("ok", "create") => {
                expected.insert(f[2].parse().expect("id"), Some(f[4].parse().expect("x0")));
                in_flight = None;
            }
            ("ok", "edit") => {
                expected.insert(f[2].parse().expect("id"), Some(f[3].parse().expect("x0")));
                in_flight = None;
            }
            ("ok", "delete") => {
                expected.insert(f[2].parse().expect("id"), None);
                in_flight = None;
            }
            other => panic!("unexpected line {other:?}"),
        }
    }

    let catalog = lacuna_catalog::Catalog::open(&dir.join("catalog.sqlite"), 0).expect("reopen");
    catalog.integrity_check().expect("PRAGMA integrity_check and foreign_key_check pass");
    for (&id, want) in &expected {
        let got = catalog.annotation(AnnotationId(id)).expect("read").map(|a| a.geometry.bbox().x0);
        let in_flight_allows = match in_flight.as_deref() {
            Some([_, op, target, x0, ..]) if op == "edit" && target.parse::<i64>().ok() == Some(id) => {
                got == Some(x0.parse().expect("x0"))
            }
            Some([_, op, target]) if op == "delete" && target.parse::<i64>().ok() == Some(id) => {
                got.is_none()
            }
            _ => false,
        };
        assert!(got == *want || in_flight_allows, "annotation {id}: acknowledged {want:?}, found {got:?}");
    }
    // Every acknowledged action is in the journal; nothing beyond the one in flight.
    let journal = catalog.history(None, 100_000).expect("history");
    let actions: std::collections::BTreeSet<i64> =
        journal.iter().filter(|e| e.author == "burst").map(|e| e.action.0).collect();
    let acked = lines.iter().filter(|l| l.starts_with("ok ")).count();
    assert!(
        actions.len() == acked || actions.len() == acked + 1,
        "{} actions in the journal for {acked} acknowledged edits",
        actions.len()
    );
}
