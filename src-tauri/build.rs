//! tauri-build: reads tauri.conf.json and capabilities/, and generates the ACL permissions of
//! the app's one command (`allow-call`), so capabilities can grant it like a plugin command.

use std::path::Path;

fn main() {
    let dist = Path::new("../ui/dist");
    if !dist.join("index.html").is_file() {
        // tauri's own message (a panic inside generate_context!) does not say how to fix it.
        panic!("ui/dist/index.html is missing: build the UI first (cd ui && npm ci && npm run build)");
    }
    println!("cargo:rerun-if-changed=../ui/dist");
    let manifest = tauri_build::AppManifest::new().commands(&["call"]);
    if let Err(err) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        panic!("tauri-build failed: {err:#}");
    }
}
