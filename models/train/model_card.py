"""Write the metrics block of models/<name>/MODEL_CARD.md from the recipe's JSON outputs (main venv, no torch)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

START, END = "<!-- metrics:start -->", "<!-- metrics:end -->"
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
BENCH = RESULTS / "injection_latency.json"
PII_BENCH = RESULTS / "pii_latency.json"


def fmt(value: object) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def canaries_line(canaries: dict) -> str:
    misses = [*canaries["missed_attacks"], *canaries["flagged_benign"]]
    return (
        f"Canaries (`models/train/canaries.py`, plain attacks and look-alike benign texts): lowest attack score "
        f"{canaries['min_attack']}, highest benign {canaries['max_benign']}; "
        + (f"wrong: {'; '.join(repr(text) for text in misses)}." if misses else "all on the right side of the threshold.")
    )


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
        name = f"{Path(row['file']).parent.name}/{Path(row['file']).stem}"
        lines.append(f"| {name} | {row['n']} | {fmt(row['recall'])} | {fmt(row['fpr'])} | {fmt(row['auc'])} |")
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
        canaries_line(export["canaries"]),
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


def tagger_block(directory: Path) -> str:
    """The NER tagger's card: held-out validation, int8 agreement, and `wardgate eval pii` with and without it."""
    export = json.loads((directory / "export_report.json").read_text())
    training = json.loads((directory / "training_validation.json").read_text())
    lines = [
        START,
        f"Held-out validation ({training['validation_sentences']} real sentences, token-span match, the tagger alone):",
        "",
        "| type | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for kind, m in training["validation"].items():
        lines.append(f"| {kind} | {fmt(m['precision'])} | {fmt(m['recall'])} | {fmt(m['f1'])} | {m['support']} |")
    for name, title in (("eval_spacy.json", "spaCy + patterns (no tagger)"), ("eval.json", "spaCy + tagger + patterns (default)")):
        path = directory / name
        if not path.exists():
            continue
        lines += ["", f"`wardgate eval pii`, {title}:", "", "| file | entity | support | precision | recall | F1 | masked |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for row in json.loads(path.read_text())["files"]:
            for entity, m in row["entities"].items():
                if m["support"]:
                    lines.append(f"| {Path(row['file']).stem} | {entity} | {m['support']} | {fmt(m['precision'])} | "
                                 f"{fmt(m['recall'])} | {fmt(m['f1'])} | {fmt(m['masked'])} |")  # fmt: skip
    lines += [
        "",
        f"int8 vs fp32: {export['int8_fp32_token_agreement']:.4f} of validation tokens get the same label "
        f"({export['int8_fp32_entity_token_agreement']:.4f} of the tokens either calls an entity). "
        f"Sizes: {', '.join(f'{k} {v} MB' for k, v in export['sizes_mb'].items())}.",
        "",
        f"Training: {training['train_sentences']} sentences ({training['templated_sentences']} templated), "
        f"{training['epochs']} epochs, seed {training['seed']}, {training['train_seconds'] / 60:.0f} min on 2 CPU cores.",
    ]
    if PII_BENCH.exists():
        bench = json.loads(PII_BENCH.read_text())
        sizes = list(bench["sizes"])
        lines += ["", "Latency, analyze + anonymize (`bench/pii_latency.py`, one run, p50 / p99 ms):", "",
                  "| configuration | " + " | ".join(sizes) + " |", "|---|" + "---|" * len(sizes)]  # fmt: skip
        for row in bench["rows"]:
            cells = " | ".join(f"{row[s]['p50_ms']} / {row[s]['p99_ms']}" for s in sizes)
            lines.append(f"| {row['config']} | {cells} |")
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    directory = Path(sys.argv[1])
    card = directory / "MODEL_CARD.md"
    text = card.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    task = json.loads((directory / "config.json").read_text()).get("task")
    block = tagger_block(directory) if task == "token-classification" else metrics_block(directory)
    card.write_text(before + block + after)
    print(f"updated {card}")


if __name__ == "__main__":
    main()
