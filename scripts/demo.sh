#!/usr/bin/env bash
# The main job on the bundled sample: set up, create a demo project, import the sample photos,
# pre-label them with the default detector and print what was found. Re-running re-imports incrementally.
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
fi
