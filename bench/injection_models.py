"""Per-window cost of injection model directories side by side: p50/p99 of one 128-token window, and batch 32.

The issue's cost bar is "<= 12 ms p50 per 128-token window on 2 threads (int8)". Each model's CPU graph
(`model_file` of its config.json) runs in one ORT session with the runtime's own options (`create_session`), on
random token ids (the cost does not depend on which ids), alternating between the models so that machine noise
hits them alike. Prints a table and writes JSON.
Usage: python bench/injection_models.py models/injection models/injection-ml [--threads 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
from pathlib import Path

import numpy as np

from timing import timed
from wardgate.inference import create_session
from wardgate.inference.model_dir import ModelConfig, read_model_config


def feeds(session, vocab: int, batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    ids = rng.integers(5, vocab, size=(batch, 128), dtype=np.int64)
    names = {i.name for i in session.get_inputs()}
    given = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    return {name: value for name, value in given.items() if name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3, help="alternations between the models")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    loaded = []
    for directory in args.models:
        config = read_model_config(directory, ModelConfig)
        session = create_session(directory / config.model_file, device="cpu", threads=args.threads)
        vocab = json.loads((directory / config.tokenizer_file).read_text())["model"]["vocab"]
        size = len(vocab) if isinstance(vocab, (list, dict)) else 30000
        mb = round((directory / config.model_file).stat().st_size / 2**20, 1)
        loaded.append((directory, session, min(size, 30000), mb))
    results: dict[str, dict[str, list[float]]] = {str(d): {"one": [], "batch32": []} for d, *_ in loaded}
    for _ in range(args.rounds):
        for directory, session, vocab, _mb in loaded:
            for key, size, iterations in (("one", 1, args.iterations), ("batch32", 32, 10)):
                run = functools.partial(session.run, None, feeds(session, vocab, size, rng))
                results[str(directory)][key].append(timed(run, iterations)["p50_ms"])
    report = {"threads": args.threads, "machine": platform.processor() or platform.machine(), "rows": []}
    print(f"{'model':32s} {'file MB':>8s} {'p50 ms/window':>14s} {'batch 32 ms':>12s} {'ms/window in batch':>19s}")
    for directory, _session, _vocab, mb in loaded:
        one = float(np.median(results[str(directory)]["one"]))
        batch = float(np.median(results[str(directory)]["batch32"]))
        report["rows"].append({"model": str(directory), "file_mb": mb, "window_p50_ms": one, "batch32_p50_ms": batch})
        print(f"{directory!s:32s} {mb:8.1f} {one:14.2f} {batch:12.1f} {batch / 32:19.2f}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
