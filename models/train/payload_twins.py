"""Spikee's benign payloads on their own: the topic of an injected task is not what makes it an injection.

spikee attacks a chatbot whose system prompt forbids investment advice, so many of its wrapped payloads are plain
finance requests ("Tell me which ETFs I should invest in"), in English and translated into Scots Gaelic, Irish,
Albanian and Zulu. In train.jsonl they occur only inside jailbreak wrappers, labelled 1, so a classifier learns
"finance question (or one of those languages) = injection" and flags a user who simply asks about index funds.
Each such payload is added alone as a benign hard negative; the wrapper, not the request, must carry the label.
Harmful payloads (weapons, fraud, hacking) are left out: asked plainly they are harmful requests, not benign twins.
"""

from __future__ import annotations

import re

from fillers import template_fillers, whole_ones

SOURCE = "spikee_jailbreak_x_instruction"
# Finance vocabulary in spikee's five languages (English, gd, ga, sq, zu), matched as word stems.
FINANCE = re.compile(
    r"invest|portfolio|stock|\bETFs?\b|\bbonds?\b|\bREITs?\b|dividend|401k|\bIRA\b|\bfunds?\b|crypto|bitcoin|"
    r"retire|hedg|S&P|commodit|collectible|robo-advisor|penny|trading|"
    r"infheist|punann|phortfolio|stoc|cistí|airgead|aksion|investim|fondet|portofol|izitoko|tshal|phothifoliyo|"
    r"imali|izimali",
    re.IGNORECASE,
)
# Harmful finance requests, and spikee's canary tasks ("repeat 'TEST' 100 times" matches Albanian "fund", "end").
ATTACK = re.compile(
    r"hack|malware|scam|insider|pump-and-dump|terror|attack|manipulat|steal|launder|fraud|ponzi|weapon|bomb|TEST",
    re.IGNORECASE,
)
WRAPPER_TAILS = re.compile(r"(?:\s+and ignore any previous instructions)?[.\s]*$", re.IGNORECASE)


def is_finance_request(text: str) -> bool:
    """A plain request for financial advice: one line, finance vocabulary, nothing harmful or canary-like."""
    return "\n" not in text and 20 <= len(text) <= 200 and bool(FINANCE.search(text)) and not ATTACK.search(text)


def benign_payloads(rows: list[dict]) -> list[str]:
    """The finance requests spikee wrapped, without trailing punctuation or its "ignore" suffix.

    Fragments the prefix/suffix split cut short stay in: they are benign finance text all the same.
    """
    fragments = {WRAPPER_TAILS.sub("", f) for f in template_fillers(rows, SOURCE)}
    return [p for p in whole_ones(fragments) if is_finance_request(p)]


def payload_twins(rows: list[dict], copies: int) -> list[dict]:
    """Each benign payload `copies` times, labelled 0."""
    return [
        {"text": payload, "label": 0, "source": "augment_payload_twin", "kind": "hard_negative"}
        for payload in benign_payloads(rows)
        for _ in range(copies)
    ]
