#!/usr/bin/env bash
# The main job on the bundled sample: set up, create a demo project, import the sample photos,
# pre-label them with the default detector, adopt its confident boxes as labels, freeze a dataset
# version and export it as COCO and YOLO with manifests. Re-running is incremental: the import
# skips unchanged files, pre-labeling resumes, adopting adds nothing twice and an unchanged
# freeze returns the same version.
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
  # Adopt the model's confident boxes (>= 0.5) as labels awaiting review, freeze, export.
  "$LACUNA" -p "$PROJECT" --author demo labels adopt --run "$("$LACUNA" -p "$PROJECT" runs --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" --min-score 0.5 --mark-labeled
  "$LACUNA" -p "$PROJECT" labels classes
  VERSION=$("$LACUNA" -p "$PROJECT" --author demo version freeze --split 0.6,0.2,0.2)
  "$LACUNA" -p "$PROJECT" version list
  "$LACUNA" -p "$PROJECT" export --version "$VERSION" --format coco --overwrite "$PROJECT/exports/coco"
  "$LACUNA" -p "$PROJECT" export --version "$VERSION" --format yolo --overwrite "$PROJECT/exports/yolo"
fi
