#!/usr/bin/env bash
# The main job on the bundled sample: set up, create a demo project, import the sample photos,
# pre-label them with the default detector, adopt its confident boxes on half of the images as
# labels, freeze a dataset version and export it as COCO and YOLO with manifests, rank the rest
# for labeling — then open the app on the project: the desktop window where there is a display,
# else `lacuna serve` (prints the URL to open; Ctrl-C stops it). LACUNA_DEMO_NO_APP=1 skips that.
# Re-running is incremental: the import skips unchanged files, pre-labeling resumes, adopting
# adds nothing twice and an unchanged freeze returns the same version.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
LACUNA=target/debug/lacuna
PROJECT=${LACUNA_DEMO_PROJECT:-demo.lacuna}

[ -f "$PROJECT/catalog.sqlite" ] || "$LACUNA" init "$PROJECT"
# Exit code 3 means "finished, some files had problems": not a failure of the demo.
"$LACUNA" -p "$PROJECT" import assets/sample || [ $? -eq 3 ]
echo
"$LACUNA" -p "$PROJECT" status
echo
"$LACUNA" -p "$PROJECT" images --limit 30
if [ -f models/yolov12n.onnx ]; then
  echo
  # Pre-label with the default model (resumes if run before); 3 = some images had problems.
  "$LACUNA" -p "$PROJECT" prelabel --model models/yolov12n.onnx || [ $? -eq 3 ]
  echo
  "$LACUNA" -p "$PROJECT" predictions | tail -n 25
  echo
  # Adopt the model's confident boxes (>= 0.5) on the first half of the images as labels awaiting
  # review (the rest stays for the queue), freeze, export.
  RUN=$("$LACUNA" -p "$PROJECT" runs --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  HALF=$("$LACUNA" -p "$PROJECT" images --json --limit 1000 | python3 -c 'import json,sys; ids=[i["id"] for i in json.load(sys.stdin)["items"]]; print(" ".join("--image %d" % i for i in ids[:len(ids)//2]))')
  # shellcheck disable=SC2086
  "$LACUNA" -p "$PROJECT" --author demo labels adopt --run "$RUN" --min-score 0.5 --mark-labeled $HALF
  "$LACUNA" -p "$PROJECT" labels classes
  VERSION=$("$LACUNA" -p "$PROJECT" --author demo version freeze --split 0.6,0.2,0.2)
  "$LACUNA" -p "$PROJECT" version list
  "$LACUNA" -p "$PROJECT" export --version "$VERSION" --format coco --overwrite "$PROJECT/exports/coco"
  "$LACUNA" -p "$PROJECT" export --version "$VERSION" --format yolo --overwrite "$PROJECT/exports/yolo"
  echo
  # What to label next, and why.
  "$LACUNA" -p "$PROJECT" queue --limit 10
fi

if [ "${LACUNA_DEMO_NO_APP:-}" = 1 ]; then
  exit 0
fi
echo
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "demo: building and opening the desktop app on $PROJECT"
  cargo build --locked -p lacuna-desktop
  exec target/debug/lacuna-desktop "$PROJECT"
fi
echo "demo: no display here: serving the app instead (open the URL below in a browser; Ctrl-C stops)"
exec "$LACUNA" -p "$PROJECT" serve --port "${LACUNA_DEMO_PORT:-8787}"
