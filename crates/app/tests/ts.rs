//! The committed TypeScript declarations (`ui/src/lib/api/generated/`) are what the Rust types
//! generate (feature `ts`: `cargo test -p lacuna-app --features ts`). On a difference,
//! regenerate with `bash scripts/gen-ts-types.sh`; `scripts/check-ts-types.sh` shows the diff.
#![cfg(feature = "ts")]

use std::path::Path;

use lacuna_app::COMMANDS;
use lacuna_app::ts::{HEADER, OUT_DIR, files};

#[test]
fn committed_typescript_matches_the_rust_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(OUT_DIR);
    let files = files().expect("declarations");
    for (name, text) in &files {
        let committed = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(
            committed == *text,
            "{OUT_DIR}/{name} is out of date with the Rust types: run `bash scripts/gen-ts-types.sh`"
        );
    }
    for entry in std::fs::read_dir(&dir).expect("the generated folder") {
        let entry = entry.expect("an entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            files.iter().any(|(n, _)| *n == name),
            "{OUT_DIR}/{name} is not generated any more: remove it"
        );
    }
}

#[test]
fn every_command_and_event_is_typed() {
    let files = files().expect("declarations");
    let (_, commands) = files.iter().find(|(n, _)| *n == "commands.ts").expect("commands.ts");
    assert!(commands.starts_with(HEADER));
    for c in COMMANDS {
        assert!(commands.contains(&format!("\n  {}: {{ args: ", c.name)), "{} is not in Commands", c.name);
    }
    for event in ["project_opened", "labels_changed", "job_progress", "job_finished"] {
        assert!(commands.contains(&format!("\n  {event}: ")), "{event} is not in Events");
    }
}
