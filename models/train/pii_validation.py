"""Write the PII tagger's held-out validation sentences as `{"text", "spans"}` JSON lines for `wardgate eval pii`.

The same split as train_ner.py and export_ner.py (ner_data.split). The tagger never trained on these sentences and
spaCy's pipeline never saw them, so they choose how the scanner combines its sources (the PII eval files only report).
Words are joined by single spaces (the corpora are tokenized), spans are character offsets in that text. Usage:
python pii_validation.py --data ../../../shared/data/pii/train --out ../../build/pii-validation.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ner_data import Sentence, split

ENTITIES = {"PER": "PERSON", "LOC": "LOCATION", "ORG": "ORGANIZATION"}


def as_row(sentence: Sentence) -> dict[str, object]:
    words, tags = sentence
    text, spans, open_span = "", [], None
    for word, tag in zip(words, tags, strict=True):
        start = len(text) + (1 if text else 0)
        text = f"{text} {word}" if text else word
        prefix, _, kind = tag.partition("-")
        if open_span is not None and (prefix != "I" or kind != open_span["label_kind"]):
            spans.append(open_span)
            open_span = None
        if prefix == "B" or (prefix == "I" and open_span is None):
            open_span = {"start": start, "end": len(text), "label_kind": kind}
        elif prefix == "I" and open_span is not None:
            open_span["end"] = len(text)
    if open_span is not None:
        spans.append(open_span)
    return {
        "text": text,
        "spans": [{"start": s["start"], "end": s["end"], "label": ENTITIES[str(s["label_kind"])]} for s in spans],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--validation-share", type=float, default=0.1)
    args = parser.parse_args()
    _, held_out = split(args.data, args.seed, args.validation_share)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for sentence in held_out:
            out.write(json.dumps(as_row(sentence), ensure_ascii=False) + "\n")
    print(f"{len(held_out)} sentences -> {args.out}")


if __name__ == "__main__":
    main()
