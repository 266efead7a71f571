"""Score exported English injection models on the recipe's held-out validation sources, per source, side by side.

Runs compared on one validation set (a recipe's `--long-prose`/`--extra-english` change which rows it holds) and
each at two points: its own shipped threshold, and the threshold that gives <= --max-fpr pooled over this set's
benign rows. Reading only: nothing here trains or picks. Usage:
python validation_report.py --data ../../../shared/data/injection --long-prose 1500 ../injection ../../build/runs/x
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from export_injection import Scorer
from points import auc, threshold_for_fpr
from recipe import base_tokenizer, flagged_per_source
from split import in_validation, recipe_rows


def cell(numbers: dict) -> str:
    if numbers["label"] == "mixed":
        return f"benign {numbers['benign_flagged']:.3f}, attacks {numbers['attacks_flagged']:.3f}"
    return f"{numbers['flagged']:.3f}"


def report(model: Path, valid: list[dict], max_fpr: float) -> dict:
    config = json.loads((model / "config.json").read_text())
    scorer = Scorer(model / config["model_file"], base_tokenizer(), config["max_length"], config["stride"])
    scores = scorer.score([row["text"] for row in valid])
    labels = np.array([row["label"] for row in valid])
    pooled = math.ceil(threshold_for_fpr(scores, labels, max_fpr) * 1e6) / 1e6
    points = {}
    for name, threshold in (("own", float(config["threshold"])), (f"fpr_{max_fpr}", pooled)):
        flagged = scores >= threshold
        points[name] = {
            "threshold": threshold,
            "recall": round(float(flagged[labels == 1].mean()), 4),
            "fpr": round(float(flagged[labels == 0].mean()), 4),
            "per_source": flagged_per_source(valid, flagged),
        }
    return {"model": str(model), "n": len(valid), "auc": round(auc(scores, labels), 4), "points": points}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+", help="exported model folders (config.json + model)")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--long-prose", type=int, default=0)
    parser.add_argument("--extra-english", action="store_true")
    parser.add_argument("--max-fpr", type=float, default=0.01)
    parser.add_argument("--out", type=Path, help="write the reports here as JSON")
    args = parser.parse_args()
    valid = [row for row in recipe_rows(args.data, args.long_prose, args.extra_english) if in_validation(row)]
    reports = [report(model, valid, args.max_fpr) for model in args.models]
    for point in reports[0]["points"]:
        print(f"\n## at {point}\n")
        print("| source | n | label | " + " | ".join(r["model"] for r in reports) + " |")
        print("|---|---|---|" + "---|" * len(reports))
        for source, first in reports[0]["points"][point]["per_source"].items():
            cells = [cell(r["points"][point]["per_source"][source]) for r in reports]
            print(f"| {source} | {first['n']} | {first['label']} | " + " | ".join(cells) + " |")
        pooled = [f"recall {r['points'][point]['recall']:.3f}, FPR {r['points'][point]['fpr']:.4f}" for r in reports]
        print("| pooled | | | " + " | ".join(pooled) + " |")
    print("\nAUC: " + ", ".join(f"{r['model']} {r['auc']:.4f}" for r in reports))
    if args.out:
        args.out.write_text(json.dumps(reports, indent=2) + "\n")


if __name__ == "__main__":
    main()
