//! Writes the TypeScript declarations of the command table's types (see `lacuna_app::ts`).
//!
//! `gen-ts [DIR]`: into DIR, by default `ui/src/lib/api/generated` of this repository. Run it
//! through `scripts/gen-ts-types.sh`; `scripts/check-ts-types.sh` checks the committed files.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os().nth(1).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(lacuna_app::ts::OUT_DIR)
    });
    match lacuna_app::ts::write(&dir) {
        Ok(names) => {
            println!("wrote {} to {}", names.join(", "), dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-ts: {e}");
            ExitCode::FAILURE
        }
    }
}
