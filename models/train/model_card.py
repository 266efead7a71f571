"""Write the metrics block of models/<name>/MODEL_CARD.md from the recipe's JSON outputs (main venv, no torch)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

START, END = "<!-- metrics:start -->", "<!-- metrics:end -->"
BENCH = Path(__file__).resolve().parents[2] / "bench" / "results" / "injection_latency.json"


def fmt(value: object) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def metrics_block(directory: Path) -> str:
    export = json.loads((directory / "export_report.json").read_text())
    training = json.loads((directory / "training_validation.json").read_text())
    dev = json.loads((directory / "eval_dev.json").read_text())
    validation = export["validation"]
    lines = [
        START,
        f"Threshold **{validation['threshold']}**, chosen on the source-grouped validation split with the shipped "
        f"int8 model for FPR ≤ 1% on its benign rows.",
        "",
        "| set | n | recall (attacks) | FPR (benign) | AUC |",
        "|---|---|---|---|---|",
        f"| validation ({len(validation['sources'])} held-out sources) | {validation['n']} | {fmt(validation['recall'])} "
        f"| {fmt(validation['fpr'])} | {fmt(validation['auc'])} |",
    ]
    for row in dev["files"]:
        name = Path(row["file"]).stem
        lines.append(f"| dev/{name} | {row['n']} | {fmt(row['recall'])} | {fmt(row['fpr'])} | {fmt(row['auc'])} |")
    pooled = dev["pooled"]
    lines += [
        f"| dev pooled | {pooled['n']} | {fmt(pooled['recall'])} | {fmt(pooled['fpr'])} | {fmt(pooled['auc'])} |",
        "",
        "Per held-out validation source (share flagged at the training-time threshold): "
        + ", ".join(f"{source} {info['flagged']:.3f} (label {info['label']})" for source, info in training["per_source"].items()),
        "",
        "int8 vs fp32 verdict agreement on the dev sets: "
        + ", ".join(f"{name} {value:.4f}" for name, value in export["int8_fp32_agreement"].items())
        + f". Sizes: {', '.join(f'{k} {v} MB' for k, v in export['sizes_mb'].items())}.",
        "",
        f"Training: {training['train_rows']} rows, {training['epochs']} epochs, seed {training['seed']}, "
        f"{training['train_seconds'] / 60:.0f} min on this machine's 2 CPU cores.",
    ]
    if BENCH.exists():
        bench = json.loads(BENCH.read_text())
        lines += ["", "Latency (`bench/injection_latency.py`, 2 threads, one run):", "",
                  "| model | p50 128 tok (ms) | p50 512 tok (ms) | batch-32 /s |", "|---|---|---|---|"]  # fmt: skip
        for row in bench["rows"]:
            lines.append(
                f"| {row['model']} | {row.get('single_128', {}).get('p50_ms', '–')} | "
                f"{row.get('single_512', {}).get('p50_ms', '–')} | {row.get('throughput_b32', '–')} |"
            )
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    directory = Path(sys.argv[1])
    card = directory / "MODEL_CARD.md"
    text = card.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    card.write_text(before + metrics_block(directory) + after)
    print(f"updated {card}")


if __name__ == "__main__":
    main()
