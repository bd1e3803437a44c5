#!/usr/bin/env bash
# Sets everything up and runs every test: formatting, lints, the dependency rules, and the
# whole workspace's unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
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
echo "== cuda feature (cargo check, no GPU needed)"
bash scripts/check-cuda.sh
echo "== tests"
cargo test --locked --workspace --all-targets
