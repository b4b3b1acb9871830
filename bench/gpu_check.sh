#!/usr/bin/env bash
# GPU check for one H100/H200: whole-run images per second, GPU utilisation and the pipeline's
# overhead versus the model's forward alone. Needs only torch, numpy and Pillow on the machine;
# metrics_rs (abi3) and simplejpeg come as wheels fetched here by `make gpu-wheel` (dist/*.whl,
# carried along; GPU_PYTHON=3.12 by default). Finishes in well under 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$(mktemp -d)}"
PY="${PYTHON:-python3}"

# (The crate's source folder in the checkout imports as an empty namespace package: ask for
# the function, not the name.)
if ! $PY -c "import simplejpeg, metrics_rs; metrics_rs.evaluate" 2>/dev/null; then
  # Wheels are zips: unpacking them onto PYTHONPATH needs neither pip nor the network.
  WHEEL_DIR="$OUT/wheels"
  mkdir -p "$WHEEL_DIR"
  for wheel in dist/*.whl; do $PY -m zipfile -e "$wheel" "$WHEEL_DIR"; done
  export PYTHONPATH="$WHEEL_DIR${PYTHONPATH:+:$PYTHONPATH}"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch, numpy, PIL, simplejpeg, metrics_rs; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'numpy', numpy.__version__, 'Pillow', PIL.__version__, 'simplejpeg', simplejpeg.__version__)"

echo "== engine on CUDA: every output format against the CPU, and a real CUDA out-of-memory =="
$PY tests/engine/gpu_check_engine.py --device cuda:0 || echo "engine GPU check FAILED (exit $?)"

IMAGES="${GPU_CHECK_IMAGES:-1500}"
for batch in 32 8; do
  echo "== cuda:0, demo model, batch $batch, $IMAGES images =="
  $PY bench/pipeline.py --device cuda:0 --images "$IMAGES" --batch "$batch" \
    --repeats 2 --json "$OUT/gpu-batch$batch.json"
done
echo "== the same on this machine's CPU, batch 8, 200 images (for the ratio) =="
$PY bench/pipeline.py --device cpu --images 200 --batch 8 --repeats 1 --json "$OUT/cpu-batch8.json"
