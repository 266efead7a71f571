"""Batch latency of the multilingual injection encoder on a GPU: what a CUDA host pays per batch of windows.

Runs the training recipe's own torch model (gpu_train.Bert, the graph export_injection_ml.py writes as ONNX) on
random token ids: weights do not change the cost. Batches of 32 windows of 128 tokens (and 1 for reference), fp32
and fp16, for 12 layers and 6; median and p90 of 50 timed runs after 10 warm-up runs, synchronised per run.
Usage: python gpu_batch_latency.py --base build/injection-ml/gpu/base.pt [--out latency.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from gpu_train import load_model


def timed(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor, runs: int = 50) -> dict[str, float]:
    with torch.inference_mode():
        for _ in range(10):
            model(ids, mask)
        torch.cuda.synchronize()
        took = []
        for _ in range(runs):
            started = time.perf_counter()
            model(ids, mask)
            torch.cuda.synchronize()
            took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return {"p50_ms": round(statistics.median(took), 3), "p90_ms": round(took[int(0.9 * len(took))], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this measures the GPU path")
    base = torch.load(args.base, weights_only=False)
    vocab = base["config"]["vocab_size"]
    report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "window_tokens": 128, "rows": []}
    for layers in (12, 6):
        for dtype in (torch.float32, torch.float16):
            model = load_model(base, layers).to("cuda", dtype).eval()
            for batch in (1, 32):
                ids = torch.randint(5, vocab, (batch, 128), device="cuda")
                mask = torch.ones_like(ids)
                row = {"layers": layers, "dtype": str(dtype).removeprefix("torch."), "batch": batch}
                row |= timed(model, ids, mask)
                report["rows"].append(row)
                print(json.dumps(row), flush=True)
            del model
            torch.cuda.empty_cache()
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
