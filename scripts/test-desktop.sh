#!/usr/bin/env bash
# The desktop app in a real window: builds the UI and lacuna-desktop, makes a project from the
# bundled sample, starts tauri-driver (WebKitWebDriver underneath) on a virtual display and
# drives the window with scripts/desktop_webdriver.py: the app shell renders, a command round
# trip answers, events arrive, thumbnails and originals load through the `lacuna` scheme.
# Screenshot: target/test-artifacts/desktop.png. Exits non-zero, naming the failed step.
#
# Needs Debian's webkit2gtk-4.1 dev files, Xvfb and webkit2gtk-driver (installed here when
# missing, as root or with sudo) and tauri-driver 2.1.0 (installed into target/tools when
# missing: a few minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ARTIFACTS=$ROOT/target/test-artifacts
SCREENSHOT=$ARTIFACTS/desktop.png
TOOLS=$ROOT/target/tools
export PATH="$HOME/.cargo/bin:$TOOLS/bin:$PATH"

step() { echo "== desktop: $*"; }
fail() { echo "desktop: FAILED: $*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

step "system packages"
APT_PACKAGES=(
  libwebkit2gtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev
  build-essential pkg-config   # Tauri 2 on Linux
  xvfb xauth                   # a display for the window
  webkit2gtk-driver            # WebKitWebDriver, which tauri-driver drives
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || fail "could not install ${missing[*]}"
fi

step "tauri-driver"
if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "installing tauri-driver 2.1.0 into $TOOLS (a few minutes)"
  cargo install tauri-driver --version 2.1.0 --locked --root "$TOOLS" || fail "cargo install tauri-driver"
fi

step "UI (ui/dist)"
(
  cd ui
  [ -x node_modules/.bin/vite ] && [ -d node_modules/@tauri-apps/plugin-dialog ] || npm install --no-audit --no-fund
  npm run build
) || fail "building the UI"

step "binaries (lacuna, lacuna-desktop)"
# Built one at a time: each alone resolves the same features as the usual builds, so the
# cache serves both (built together, shared dependencies get rebuilt with merged features).
cargo build -p lacuna-cli || fail "cargo build -p lacuna-cli"
cargo build -p lacuna-desktop || fail "cargo build -p lacuna-desktop"
LACUNA=$ROOT/target/debug/lacuna
DESKTOP=$ROOT/target/debug/lacuna-desktop

WORK=$(mktemp -d)
cleanup() {
  if [ -s "$WORK/driver.pid" ]; then
    # tauri-driver runs in a process group of its own (setsid): this ends it, the
    # WebKitWebDriver it started and any app window still open, and nothing else.
    kill -- "-$(cat "$WORK/driver.pid")" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

step "project from assets/sample"
"$LACUNA" init "$WORK/project" >/dev/null || fail "lacuna init"
"$LACUNA" -p "$WORK/project" import assets/sample >"$WORK/import.log" 2>&1 \
  || { cat "$WORK/import.log" >&2; fail "lacuna import assets/sample"; }
IMAGES=$("$LACUNA" -p "$WORK/project" status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["images"])') \
  || fail "lacuna status --json"
echo "$IMAGES images"

# Two free local ports: tauri-driver's and WebKitWebDriver's (others may run tests beside us).
read -r PORT NATIVE_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')

step "the window under Xvfb (tauri-driver on port $PORT)"
mkdir -p "$ARTIFACTS"
rm -f "$SCREENSHOT"
export WORK PORT NATIVE_PORT DESKTOP IMAGES SCREENSHOT
# The app keeps its recent-projects list in the temp folder, and names this test as the author.
export XDG_CONFIG_HOME=$WORK/config LACUNA_USER=desktop-test
set +e
# -f: the X authority file lives in our temp folder (xvfb-run's own temp folder is then not made).
xvfb-run -a -f "$WORK/Xauthority" -s "-screen 0 1440x900x24" bash -c '
  setsid tauri-driver --port "$PORT" --native-port "$NATIVE_PORT" >"$WORK/tauri-driver.log" 2>&1 &
  echo $! >"$WORK/driver.pid"
  python3 scripts/desktop_webdriver.py --driver "http://127.0.0.1:$PORT" --app "$DESKTOP" \
    --project "$WORK/project" --images "$IMAGES" --screenshot "$SCREENSHOT"
  rc=$?
  kill -- "-$(cat "$WORK/driver.pid")" 2>/dev/null
  rm -f "$WORK/driver.pid"
  echo $rc >"$WORK/checks.rc"
  exit $rc
'
xvfb_rc=$?
set -e
# The checks' own status: xvfb-run may fail its clean-up after they passed.
rc=$(cat "$WORK/checks.rc" 2>/dev/null || echo "$xvfb_rc")
[ "$xvfb_rc" = "$rc" ] || echo "desktop: warning: xvfb-run exited $xvfb_rc after the checks exited $rc" >&2
if [ $rc -ne 0 ]; then
  echo "--- tauri-driver / app output:" >&2
  tail -n 60 "$WORK/tauri-driver.log" >&2 || true
  [ -f "$SCREENSHOT" ] && echo "screenshot of the failure: $SCREENSHOT" >&2
  fail "the window checks (exit $rc)"
fi
echo "desktop: passed; screenshot $SCREENSHOT"
