#!/usr/bin/env bash
# Fails (exit 1, printing the diff) when the committed TypeScript declarations in
# ui/src/lib/api/generated/ differ from what the Rust types generate now: regenerates them into a
# temporary folder and compares. Fix with `bash scripts/gen-ts-types.sh` and commit the result.
# Works offline once `cargo fetch` has run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
DIR=ui/src/lib/api/generated
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo run --quiet --locked -p lacuna-app --features ts --bin gen-ts -- "$tmp/now" >/dev/null
if ! diff -ru "$DIR" "$tmp/now" >"$tmp/diff"; then
  sed "s|$tmp/now|(generated now)|g" "$tmp/diff"
  echo "check-ts-types: $DIR/ is out of date with the Rust types." >&2
  echo "check-ts-types: regenerate with: bash scripts/gen-ts-types.sh (and commit $DIR/)" >&2
  exit 1
fi
echo "check-ts-types: $DIR/ matches the Rust types"
