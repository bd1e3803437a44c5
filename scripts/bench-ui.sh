#!/usr/bin/env bash
# The UI benchmark: start → first grid paint, annotate image switch, drag frame time among
# 1,000 boxes, a 50-megapixel image (open, zoom, pan), review decisions — the built UI in Debian's chromium (Playwright) against a
# release `lacuna serve` on a 100,000-image project of real JPEGs (made once into
# bench-data/ui-100k by `lacuna-bench ui-project`: about 3 minutes and 2 GB the first time).
# Assumes scripts/setup.sh ran. Figures: target/bench/ui.json (docs/BENCHMARKS.md explains them).
#   LACUNA_BENCH_STARTS / _SWITCHES / _DECISIONS change the repeat counts.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p lacuna-cli -p lacuna-bench
target/release/lacuna-bench ui-project --out bench-data/ui-100k
(cd ui && npm run build >/dev/null)

# Measure on a copy: the review decisions and the drag write to the project.
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp -r bench-data/ui-100k/project.lacuna "$WORK/project.lacuna"

mkdir -p target/bench
(cd ui && LACUNA_BIN="$(cd .. && pwd)/target/release/lacuna" \
  LACUNA_PROJECT="$WORK/project.lacuna" \
  LACUNA_UI="$(pwd)/dist" \
  LACUNA_BOXES_IMAGE="$(cat ../bench-data/ui-100k/boxes-image)" \
  LACUNA_HUGE_IMAGE="$(cat ../bench-data/ui-100k/huge-image)" \
  LACUNA_BENCH_OUT="$(cd .. && pwd)/target/bench/ui.json" \
  CHROMIUM_PATH="$(command -v chromium)" \
  npx playwright test --config bench/playwright.config.ts)
echo "figures: target/bench/ui.json"
