"""A text's sentences, for judging a long text one sentence at a time as well as by its windows."""

from __future__ import annotations

import re

__all__ = ["sentences"]

# After Latin end punctuation and white space, after CJK end punctuation (no space follows it), at every line break.
_BREAK = re.compile(r"(?<=[.!?])\s+|(?<=[\u3002\uff01\uff1f])\s*|\s*\n\s*")
# A shorter piece ("1.", "Note:", "Hi!") is no sentence to judge alone: it joins the next one.
_MIN_CHARS = 8


def sentences(text: str) -> list[str]:
    """The text's sentences in order, none shorter than `_MIN_CHARS` unless it is the last."""
    pieces: list[str] = []
    pending = ""
    for piece in _BREAK.split(text):
        if not piece:
            continue
        pending = f"{pending} {piece}" if pending else piece
        if len(pending) >= _MIN_CHARS:
            pieces.append(pending)
            pending = ""
    if pending:
        pieces.append(pending)
    return pieces
