"""What of a PERSON span NER returns is a name: its runs of words made of letters.

spaCy and the ONNX tagger also call handles, links, hashtags and codes names (`RT @user`, `http://t.co/…`, `Q3`,
`Mark 14:30`), and stretch a name over what follows it (`Milson Mundim - Associate`, `Rudwell 53596`). Masked, a
link or a code no longer works for the model, and the finding counts a name that is not one. So a PERSON span is
cut into its runs of name-like words: letters, joined inside by `.`, `'` (or U+2019), `-` or `@` (`O'Brien`, `Jean-Luc`,
`Maria's`, a mail system's `Michael Olsen@ENRON`), maybe with a `.` after (`F.`); quotes, brackets and dashes around
a word are not part of it. A `:`, a link, a handle, a hashtag and a word with a digit, `_` or `/` end a run. On the
tagger's held-out sentences and both evaluation files, no name that was masked before is left unmasked
(models/pii-ner/MODEL_CARD.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["name_runs"]

_WORD = re.compile(r"\S+")
_PART = re.compile(r"[^:]+")  # a `:` ends a name as a space does (`Heather:"I'm`, `Mark 14:30`)
# Letters, joined by `.`, `'` (or U+2019), `-` or `@` (a mail system's `Michael Olsen@ENRON`), maybe a `.` after.
_NAME_WORD = re.compile(r"[^\W\d_]+(?:[.'’@-][^\W\d_]+)*\.?")
_AROUND = "-–—\"'“”‘’()[]{}<>,;!?…"  # punctuation a name word may stand between (`(Ann)`, `"Bo",`)


def _words(text: str, start: int, end: int) -> Iterator[tuple[int, int] | None]:
    """Each name-like word's (start, end) in `text[start:end]`, and None where a name cannot go on."""
    for word in _WORD.finditer(text, start, end):
        if "://" in word.group():  # a link: none of its parts is a name
            yield None
            continue
        for index, part in enumerate(_PART.finditer(text, word.start(), word.end())):
            if index:
                yield None
            core = part.group().strip(_AROUND)
            if not core or core[0] in "@#" or not _NAME_WORD.fullmatch(core):  # a handle, a hashtag, a code
                yield None
                continue
            core_start = part.start() + part.group().index(core)
            yield core_start, core_start + len(core)


def name_runs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The (start, end) of each run of name-like words in `text[start:end]`, in order."""
    runs: list[tuple[int, int]] = []
    run: tuple[int, int] | None = None
    for word in _words(text, start, end):
        if word is not None:
            run = (run[0] if run else word[0], word[1])
            continue
        if run:
            runs.append(run)
        run = None
    if run:
        runs.append(run)
    return runs
