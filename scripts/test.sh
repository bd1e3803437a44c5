#!/usr/bin/env bash
# Sets everything up and runs every test: formatting, lints, the dependency rules, the whole
# workspace's unit and integration tests, the web UI's checks and unit tests, the browser tests
# against `lacuna serve`, and the desktop app in a real window under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
# A one-shot run on a clean checkout gains nothing from incremental caches, which are the
# largest part of target/ (several GB); CI machines can be short of disk.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi
bash scripts/setup.sh
bash scripts/setup-python.sh
export PATH="$HOME/.cargo/bin:$PATH"

echo "== format"
cargo fmt --all -- --check
echo "== dependency rules"
python3 scripts/check_deps.py --self-test
python3 scripts/check_deps.py
echo "== clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "== TypeScript types of the DTOs (feature ts): lint, and the committed files are current"
cargo clippy --locked -p lacuna-app --features ts --all-targets -- -D warnings
bash scripts/check-ts-types.sh
echo "== cuda feature (cargo check, no GPU needed)"
bash scripts/check-cuda.sh
echo "== tests"
cargo test --locked --workspace --all-targets
echo "== web UI: types, lint, unit tests"
(cd ui && npm run check && npm test)
echo "== browser tests (Playwright + chromium against lacuna serve)"
bash scripts/test-e2e.sh
echo "== desktop window (tauri-driver + WebKitWebDriver under Xvfb)"
bash scripts/test-desktop.sh
