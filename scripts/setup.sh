#!/usr/bin/env bash
# Sets up everything Lacuna needs on a fresh Debian 12 machine (run as root, or with sudo
# available): system packages, the Rust toolchain if missing, and the build.
# Idempotent: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_PACKAGES=(
  build-essential pkg-config   # C toolchain for bundled SQLite and libjpeg-turbo
  cmake nasm                   # libjpeg-turbo's build (nasm: its SIMD code)
  python3 python3-venv         # scripts/check_deps.py; test-time references in .venv
  ca-certificates curl git util-linux
  # The desktop shell (Tauri 2 on WebKitGTK)
  libwebkit2gtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: no Rust toolchain; installing stable with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
rustc_minor=$(rustc --version | sed -E 's/rustc 1\.([0-9]+).*/\1/')
if [ "$rustc_minor" -lt 90 ]; then
  echo "setup: Rust 1.90 or newer is needed (found $(rustc --version)); run: rustup update stable" >&2
  exit 1
fi

# The app runs without the default model, but the tests need it: in CI a failed fetch is fatal.
if ! bash scripts/fetch-default-model.sh; then
  if [ "${CI:-}" = "true" ]; then
    echo "setup: the default model could not be fetched (models/yolov12n.onnx)" >&2
    exit 1
  fi
  echo "setup: warning: the default model could not be fetched (models/yolov12n.onnx); pass --model to prelabel" >&2
fi

# The web UI (Vite + Svelte): npm packages from the lock file, then the build `lacuna serve` and
# the desktop app load. Vite 8 needs Node 20.19+ (Debian 12's own nodejs is 18).
if ! command -v node >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends nodejs npm
fi
node_ok=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number); console.log(a>20||(a==20&&b>=19)?1:0)' 2>/dev/null || echo 0)
if [ "$node_ok" != 1 ]; then
  echo "setup: Node.js 20.19 or newer is needed for the web UI (found $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "setup: installing the web UI's npm packages"
  # `npm install` (it keeps the lock file's versions), not `npm ci`: npm 11 refuses `ci` when
  # the lock lists @tauri-apps/cli's binaries for other platforms without entries for them,
  # and writes such a lock itself on Linux.
  (cd ui && npm install --no-audit --no-fund)
fi
echo "setup: building the web UI"
(cd ui && npm run build --silent)

echo "setup: building lacuna"
cargo build --locked -p lacuna-cli
