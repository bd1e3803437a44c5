#!/usr/bin/env bash
# Regenerates ui/src/lib/api/generated/ from the Rust types: the TypeScript declarations of every
# command's arguments and answer (the `Commands` map), the event payloads (`Events`) and every
# serde type they reference. Run it after changing a type the UI sends or receives and commit the
# result; scripts/check-ts-types.sh fails while the two differ.
#
# It builds lacuna-app's `gen-ts` binary with the feature `ts` (ts-rs derives on the serde types
# of lacuna-core/-catalog/-select/-export/-api/-app; normal builds never compile ts-rs). Works
# offline once `cargo fetch` has run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo run --quiet --locked -p lacuna-app --features ts --bin gen-ts -- ui/src/lib/api/generated
