"""Tokenise data_ml.py's rows into one compact torch file for the GPU run (no tokenizer or data code needed there).

Each row becomes its windows of at most --window content tokens (stride as at runtime; at most --max-windows per row:
the first, the last and evenly spaced ones between). Token ids are stored as an int16 and a uint8 plane (id = hi * 256
+ lo; the trimmed vocabulary is over 65,536): every torch version reads both, at 3 bytes a token instead of 4. Usage:
python pack_ml.py --rows build/injection-ml/data.jsonl --tokenizer build/injection-ml/base/tokenizer.json --out F.pt
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from tokenizers import Tokenizer
from train_injection import windows

KINDS = ["benign", "hard_negative", "harmful_request", "direct", "indirect", "jailbreak"]


def spread(spans: list[list[int]], most: int) -> list[list[int]]:
    if len(spans) <= most:
        return spans
    picks = sorted({round(i * (len(spans) - 1) / (most - 1)) for i in range(most)})
    return [spans[i] for i in picks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, required=True)
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--window", type=int, default=126, help="content tokens (+ <s> + </s> = 128)")
    parser.add_argument("--stride", type=int, default=32)
    parser.add_argument("--max-windows", type=int, default=6)
    parser.add_argument("--limit", type=int, default=0, help="smoke tests: every n-th row only, n = rows / limit")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.rows.open()]
    if args.limit:
        rows = rows[:: max(1, len(rows) // args.limit)]
    tokenizer = Tokenizer.from_file(str(args.tokenizer))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    encoded = tokenizer.encode_batch([row["text"] for row in rows], add_special_tokens=False)
    sources = sorted({row["source"] for row in rows})
    flat: list[int] = []
    starts, lengths, owner = [], [], []
    for index, encoding in enumerate(encoded):
        for span in spread(windows(encoding.ids, args.window, args.stride), args.max_windows):
            starts.append(len(flat))
            lengths.append(len(span))
            owner.append(index)
            flat += span
    ids = torch.tensor(flat, dtype=torch.int32)
    packed = {
        "format": 1,
        "special": {"cls": tokenizer.token_to_id("<s>"), "sep": tokenizer.token_to_id("</s>")},
        "ids_hi": (ids // 256).to(torch.int16), "ids_lo": (ids % 256).to(torch.uint8),
        "win_start": torch.tensor(starts, dtype=torch.int64), "win_len": torch.tensor(lengths, dtype=torch.int16),
        "win_row": torch.tensor(owner, dtype=torch.int32),
        "label": torch.tensor([row["label"] for row in rows], dtype=torch.uint8),
        "weight": torch.tensor([row["weight"] for row in rows], dtype=torch.float32),
        "valid": torch.tensor([row["split"] == "valid" for row in rows], dtype=torch.bool),
        "document": torch.tensor([row["role"] == "document" for row in rows], dtype=torch.bool),
        "source": torch.tensor([sources.index(row["source"]) for row in rows], dtype=torch.int16),
        "kind": torch.tensor([KINDS.index(row["kind"]) for row in rows], dtype=torch.uint8),
        "sources": sources, "kinds": KINDS,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(packed, args.out)
    print(f"{len(rows)} rows, {len(starts)} windows, {len(flat)} tokens, {args.out.stat().st_size / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
