#!/usr/bin/env bash
# Compiles the `cuda` feature (lacuna-vision, lacuna-api) so the GPU path cannot rot, on a
# machine with no GPU and no CUDA toolkit: the toolkit comes from PyPI into .venv-cuda
# (scripts/requirements-cuda.txt). nvcc builds candle's PTX kernels and the Rust code is
# type-checked; it is `cargo check`, not build/test, because linking needs the driver's
# libcuda.so, which only a GPU machine has. Uses its own target dir (target/cuda-check) so the
# normal build cache is untouched.
# Idempotent: the venv is reused while the requirements are unchanged; the first check takes
# about 8 minutes on 2 cores (nvcc), later ones are incremental.
#   --setup-only   create/refresh .venv-cuda and stop
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

REQ=scripts/requirements-cuda.txt
VENV=.venv-cuda
STAMP=$VENV/.requirements-cuda.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if ! { [ -x $VENV/bin/python ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; }; then
  echo "check-cuda: installing the CUDA toolkit from PyPI into $VENV (about 1.2 GB)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  $VENV/bin/pip install --quiet --disable-pip-version-check --no-cache-dir -r "$REQ"
  echo "$want" > "$STAMP"
fi
C=$($VENV/bin/python -c 'import sys, os; print(os.path.join(sys.prefix, "lib", "python%d.%d" % sys.version_info[:2], "site-packages", "nvidia", "cu13"))')
[ -x "$C/bin/nvcc" ] || { echo "check-cuda: no nvcc at $C/bin/nvcc" >&2; exit 1; }
# candle-kernels / cudarc look for $CUDA_ROOT/lib64; the wheels ship lib/.
ln -sfn lib "$C/lib64"
[ "${1:-}" = "--setup-only" ] && { echo "check-cuda: $VENV ready ($("$C/bin/nvcc" --version | tail -1))"; exit 0; }

export PATH="$C/bin:$PATH" CUDA_ROOT="$C" CUDA_PATH="$C" CUDA_HOME="$C"
export CUDA_COMPUTE_CAP=80            # no GPU to query: build the kernels for sm_80
export CUDARC_CUDA_VERSION=13040      # cudarc 0.19 rejects 13.5; treat it as 13.4
export CARGO_TARGET_DIR=target/cuda-check
cargo check --locked -p lacuna-vision -p lacuna-api --features cuda
echo "check-cuda: OK: the cuda feature compiles (cargo check; nvcc $("$C/bin/nvcc" --version | sed -nE 's/.*release ([0-9.]+).*/\1/p'), sm_$CUDA_COMPUTE_CAP)"
