#!/usr/bin/env bash
# The one GPU run: train the multilingual injection model on a bare GPU machine, then leave the checkpoint in $OUT.
#
# Needs only python3 with torch (CUDA build) already installed there: torch's CUDA wheels are gigabytes and cannot
# travel in the 64 MB carry, so the script uses the machine's own torch and stops with a clear message without one.
# Inputs (built on the CPU machine by `make model-injection-ml-data`, carried as build/injection-ml/gpu):
#   base.pt (4-bit packed multilingual-e5-small, trimmed vocabulary) and data.pt (token windows + labels).
# Usage: bash models/train/gpu_run.sh [--smoke] [extra gpu_train.py options]
set -euo pipefail
cd "$(dirname "$0")"
INPUT="${INPUT:-../../build/injection-ml/gpu}"
OUT="${OUT:?set OUT to the folder that receives the checkpoint}"
args=("$@")
smoke=0
if [[ "${1:-}" == "--smoke" ]]; then
    smoke=1
    args=("${@:2}")
fi

if ! python3 -c 'import torch' 2>/dev/null; then
    echo "no torch on this machine: install a CUDA build of torch (>= 2.1) first; it cannot be carried" >&2
    exit 3
fi
python3 - <<'PY'
import sys, torch
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, cuda {torch.cuda.is_available()}",
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "(cpu)", flush=True)
if tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]) < (2, 1):
    sys.exit("torch >= 2.1 needed (scaled_dot_product_attention with a boolean mask, torch.nextafter)")
PY
mkdir -p "$OUT"
if [[ $smoke == 1 ]]; then
    # CPU-sized: 2 layers, 2 epochs of 3 steps, on whatever data.pt was packed (use a --limit pack for speed).
    python3 gpu_train.py --base "$INPUT/base.pt" --data "$INPUT/data.pt" --out "$OUT" \
        --layers 2 --epochs 2 --max-steps 3 --batch-size 8 "${args[@]}"
else
    # 8 minutes in all: training stops starting epochs past 400 s, leaving time for the last validation and saving.
    timeout 450 python3 gpu_train.py --base "$INPUT/base.pt" --data "$INPUT/data.pt" --out "$OUT" \
        --time-budget 330 "${args[@]}" 2>&1 | tee "$OUT/train.log"
fi
ls -la "$OUT"
