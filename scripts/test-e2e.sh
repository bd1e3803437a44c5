#!/usr/bin/env bash
# End-to-end tests in a real browser: Playwright (npm @playwright/test, driving Debian's
# chromium) against `lacuna serve` on a fresh project made from the bundled sample and
# pre-labeled with the default model. Assumes scripts/setup.sh ran (CLI, UI build, model).
# Screenshots and traces of failures land in target/test-artifacts/e2e.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v chromium >/dev/null 2>&1; then
  echo "e2e: installing chromium"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium
fi

LACUNA=target/debug/lacuna
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PROJECT="$WORK/e2e.lacuna"
"$LACUNA" init "$PROJECT" >/dev/null
"$LACUNA" -p "$PROJECT" import assets/sample >/dev/null || [ $? -eq 3 ]
"$LACUNA" -p "$PROJECT" prelabel --model models/yolov12n.onnx >/dev/null || [ $? -eq 3 ]

TOKEN=e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
"$LACUNA" -p "$PROJECT" --author e2e serve --port 0 --token "$TOKEN" >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
URL=
for _ in $(seq 1 100); do
  URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.log" | head -n1 || true)
  [ -n "$URL" ] && break
  sleep 0.1
done
if [ -z "$URL" ]; then
  echo "e2e: lacuna serve did not start:" >&2
  cat "$WORK/serve.log" >&2
  exit 1
fi
echo "e2e: lacuna serve at $URL"

mkdir -p target/test-artifacts/e2e
(cd ui && LACUNA_URL="$URL" LACUNA_TOKEN="$TOKEN" LACUNA_SAMPLE="$(cd .. && pwd)/assets/sample" \
  CHROMIUM_PATH="$(command -v chromium)" npx playwright test --config e2e/playwright.config.ts)
