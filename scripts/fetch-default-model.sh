#!/usr/bin/env bash
# Fetches Lacuna's default model, Ultralytics' YOLOv12n ONNX export, to models/yolov12n.onnx.
#
# The file comes from crates.io: the package `easy-yolo` 0.1.3 ships `yolov12n.onnx.zip` in its
# source. models/default/Cargo.toml pins it; `cargo fetch` downloads the source into the cargo
# home (no build: that crate's `ort` dependency would download binaries), `cargo metadata`
# finds the folder, and both the zip and the ONNX inside are checked against fixed SHA-256s.
# Idempotent: does nothing when models/yolov12n.onnx already has the right hash.
# The app runs without it (the user picks weights); see docs/models.md for the licence.
set -euo pipefail
cd "$(dirname "$0")/.."

MANIFEST=models/default/Cargo.toml
OUT=models/yolov12n.onnx
ZIP_NAME=yolov12n.onnx.zip
ONNX_NAME=yolov12n.onnx
ZIP_SHA256=8dc4973ce4babcfb3389e455ba8c57af31a1f7e33f4a9c2b1e658cca33710206
ONNX_SHA256=e548ab3a406227202334bf5a6623c9814ac6286ff04e68aeb4dc2357732d1a4f

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$OUT" ] && [ "$(sha256_of "$OUT")" = "$ONNX_SHA256" ]; then
  echo "fetch-default-model: $OUT is present and verified"
  exit 0
fi

echo "fetch-default-model: fetching easy-yolo 0.1.3 from crates.io (source only, not built)"
cargo fetch --locked --manifest-path "$MANIFEST" --target x86_64-unknown-linux-gnu

crate_dir=$(cargo metadata --locked --manifest-path "$MANIFEST" --format-version 1 \
  --filter-platform x86_64-unknown-linux-gnu |
  python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
dirs = [os.path.dirname(p["manifest_path"]) for p in meta["packages"]
        if p["name"] == "easy-yolo" and p["version"] == "0.1.3"]
if not dirs:
    sys.exit("fetch-default-model: easy-yolo 0.1.3 not found in cargo metadata")
print(dirs[0])
')
zip="$crate_dir/$ZIP_NAME"
if [ ! -f "$zip" ]; then
  echo "fetch-default-model: $zip is missing" >&2
  exit 1
fi
got=$(sha256_of "$zip")
if [ "$got" != "$ZIP_SHA256" ]; then
  echo "fetch-default-model: $zip has SHA-256 $got, expected $ZIP_SHA256" >&2
  exit 1
fi

tmp=$(mktemp "$OUT.XXXXXX.part")
trap 'rm -f "$tmp"' EXIT
python3 - "$zip" "$ONNX_NAME" "$tmp" <<'PY'
import shutil, sys, zipfile
zip_path, member, dest = sys.argv[1:]
with zipfile.ZipFile(zip_path) as z, z.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out)
PY
got=$(sha256_of "$tmp")
if [ "$got" != "$ONNX_SHA256" ]; then
  echo "fetch-default-model: $ONNX_NAME inside $zip has SHA-256 $got, expected $ONNX_SHA256" >&2
  exit 1
fi
chmod 644 "$tmp"
mv -f "$tmp" "$OUT"
trap - EXIT
echo "fetch-default-model: wrote $OUT ($ONNX_SHA256)"
