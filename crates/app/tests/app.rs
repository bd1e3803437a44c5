//! The command table end to end on the bundled sample: create a project, import with progress
//! events, draw and undo, errors that name the command and field, and media only for images the
//! catalog knows.

use std::sync::Arc;
use std::time::Duration;

use lacuna_api::{ErrorCode, SystemClock};
use lacuna_app::{App, COMMANDS, Event};
use serde_json::{Value, json};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/sample");

fn wait_for(rx: &std::sync::mpsc::Receiver<Event>, name: &str) -> Event {
    loop {
        let event = rx.recv_timeout(Duration::from_secs(120)).expect("an event before the timeout");
        if event.event == name {
            return event;
        }
    }
}

fn app_with_sample() -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = App::new("ana", Arc::new(SystemClock), Some(dir.path().join("config")));
    let events = app.subscribe();
    app.call("project_create", json!({ "path": dir.path().join("p") })).expect("create");
    let started = app.call("import_start", json!({ "paths": [SAMPLE] })).expect("import");
    let job = started["job"].as_u64().expect("job id");
    let progress = wait_for(&events, "job_progress");
    assert_eq!(progress.payload["job"], job);
    assert_eq!(progress.payload["kind"], "import");
    let done = wait_for(&events, "job_finished");
    assert_eq!(done.payload["ok"], true, "{:?}", done.payload);
    assert!(done.payload["summary"]["counts"]["added"].as_u64().expect("added") > 0);
    (dir, app)
}

#[test]
fn import_draw_undo_and_media_through_the_command_table() {
    let (dir, app) = app_with_sample();
    let recent = app.call("projects_recent", Value::Null).expect("recent");
    assert_eq!(
        recent[0]["path"],
        dir.path().join("p").canonicalize().expect("canonical").display().to_string()
    );

    // A scrollbar jump: the page at position 10 starts with the 11th image.
    let all = app.call("images", json!({ "query": { "limit": 100 } })).expect("images");
    let cursor = app.call("images_seek", json!({ "index": 10 })).expect("seek");
    let jumped = app.call("images", json!({ "query": { "cursor": cursor, "limit": 2 } })).expect("page");
    assert_eq!(jumped["items"][0]["id"], all["items"][10]["id"]);
    assert_eq!(all["items"][0]["label_state"], "unlabeled");
    assert_eq!(app.call("images_seek", json!({ "index": 0 })).expect("seek"), Value::Null);
    assert_eq!(app.call("images_seek", json!({ "index": 10_000 })).expect("seek"), Value::Null);

    let page = app.call("images", json!({ "query": { "limit": 5 } })).expect("images");
    let first = page["items"][0]["id"].as_i64().expect("an image");
    assert!(app.image_file(first).expect("file").is_file());
    assert!(!app.thumbnail(first).expect("thumbnail").is_empty());
    let missing = app.image_file(first + 10_000).expect_err("no such image");
    assert_eq!(missing.code, ErrorCode::NotFound);

    let events = app.subscribe();
    app.call("class_create", json!({ "name": "car" })).expect("class");
    let made = app
        .call(
            "annotations_add",
            json!({ "inputs": [{ "image": first, "class": "car",
                                 "geometry": { "kind": "box", "x0": 1.0, "y0": 2.0, "x1": 30.0, "y1": 40.0 } }] }),
        )
        .expect("draw");
    assert_eq!(made[0]["author"], "ana");
    let changed = wait_for(&events, "labels_changed");
    assert_eq!(changed.payload["images"], json!([first]));
    assert_eq!(
        app.call("annotations", json!({ "image": first })).expect("list").as_array().map(Vec::len),
        Some(1)
    );
    app.call("undo", Value::Null).expect("undo");
    assert_eq!(
        app.call("annotations", json!({ "image": first })).expect("list").as_array().map(Vec::len),
        Some(0)
    );

    let status = app.call("status", Value::Null).expect("status");
    assert!(status["images_ok"].as_u64().expect("count") > 0, "{status}");

    // Answers the command layer builds itself.
    let info = app.call("app_info", Value::Null).expect("info");
    assert_eq!((&info["version"], &info["author"]), (&json!(env!("CARGO_PKG_VERSION")), &json!("ana")));
    assert!(info["project"].is_string(), "{info}");
    let conditions = app.call("image_conditions", json!({ "image": first })).expect("conditions");
    assert!(conditions["claims"].is_array() && conditions["resolved"].is_array(), "{conditions}");
}

#[test]
fn errors_name_the_command_and_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = App::new("ana", Arc::new(SystemClock), None);
    let err = app.call("status", Value::Null).expect_err("no project");
    assert_eq!(err.code, ErrorCode::ProjectNotFound);
    assert_eq!(app.call("app_info", Value::Null).expect("info")["project"], Value::Null);

    app.call("project_create", json!({ "path": dir.path().join("p") })).expect("create");
    let err = app.call("no_such_command", Value::Null).expect_err("unknown");
    assert!(err.message.contains("no_such_command"), "{}", err.message);
    let err = app.call("annotations", json!({ "imag": 1 })).expect_err("misspelled field");
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(
        err.message.starts_with("annotations: arguments:") && err.message.contains("imag"),
        "{}",
        err.message
    );
    let err =
        app.call("image_state_set", json!({ "images": [1], "state": "finished" })).expect_err("bad state");
    assert!(err.message.contains("finished"), "{}", err.message);
    assert_eq!(app.call("job_cancel", json!({ "job": 99 })).expect("cancel"), json!(false));

    // Every listed command is routed (an argument or project error, never "unknown command").
    for c in COMMANDS {
        if let Err(e) = app.call(c.name, Value::Null) {
            assert!(!e.message.contains("unknown command"), "{}: {}", c.name, e.message);
        }
    }
}

#[test]
fn bulk_actions_on_everything_a_query_matches_in_one_step() {
    let (_dir, app) = app_with_sample();
    let count = |query: Value| app.call("images_count", json!({ "query": query })).expect("count");
    let total = count(json!({})).as_u64().expect("total");
    assert!(total > 2, "the sample has images");

    // Skip everything: one call, one undo step, every image in the labels_changed event.
    let events = app.subscribe();
    let n =
        app.call("image_state_set_matching", json!({ "query": {}, "state": "skipped" })).expect("skip all");
    assert_eq!(n, json!(total));
    let changed = wait_for(&events, "labels_changed");
    assert_eq!(changed.payload["images"].as_array().map(Vec::len), Some(total as usize));
    assert_eq!(count(json!({ "label_state": "skipped" })), json!(total));
    app.call("undo", Value::Null).expect("undo");
    assert_eq!(count(json!({ "label_state": "skipped" })), json!(0));

    // The filters narrow it: skip the unlabeled images of the first one's folder only.
    let first = &app.call("images", json!({ "query": { "limit": 1 } })).expect("page")["items"][0];
    let folder = first["path"].as_str().expect("path").rsplit_once('/').map_or("", |(dir, _)| dir);
    let in_folder = count(json!({ "folder": folder })).as_u64().expect("folder count");
    let n = app
        .call("image_state_set_matching", json!({ "query": { "folder": folder }, "state": "skipped" }))
        .expect("skip folder");
    assert_eq!(n, json!(in_folder));
    assert_eq!(count(json!({ "label_state": "skipped" })), json!(in_folder));

    // A person's condition on every match; a bad request stores nothing.
    let n = app
        .call("conditions_set_matching", json!({ "query": {}, "key": "site", "value": "north" }))
        .expect("condition");
    assert_eq!(n, json!(total));
    let conditions = app.call("image_conditions", json!({ "image": first["id"] })).expect("conditions");
    assert!(
        conditions["resolved"]
            .as_array()
            .expect("resolved")
            .iter()
            .any(|c| c["key"] == "site" && c["value"] == "north"),
        "{conditions}"
    );
    let err = app
        .call("conditions_set_matching", json!({ "query": {}, "key": " ", "value": "x" }))
        .expect_err("no key");
    assert_eq!(err.code, ErrorCode::InvalidInput);

    // Several ids in one call are one undo step too, and an unknown id fails the whole call.
    let ids: Vec<i64> = app.call("images", json!({ "query": { "limit": 3 } })).expect("page")["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_i64().expect("id"))
        .collect();
    let labeled = |()| count(json!({ "label_state": "labeled" }));
    app.call("image_state_set", json!({ "images": ids, "state": "labeled" })).expect("mark");
    assert_eq!(labeled(()), json!(3));
    app.call("undo", Value::Null).expect("undo");
    assert_eq!(labeled(()), json!(0));
    let err = app
        .call("image_state_set", json!({ "images": [ids[0], 999_999], "state": "labeled" }))
        .expect_err("unknown image");
    assert!(err.message.contains("999999"), "{}", err.message);
    assert_eq!(labeled(()), json!(0));
}
