"""What of a PERSON span NER returns is a name: its runs of words with letters in them.

spaCy and the ONNX tagger also call handles, links, hashtags and codes names (`RT @user`, `http://t.co/…`, `Q3`,
`Mark 14:30`), and stretch a name over what follows it (`Milson Mundim - Associate`, `Rudwell 53596`). Masked, a
link or a code no longer works for the model, and the finding counts a name that is not one. So a PERSON span is
cut into runs of words, and only what is plainly no name is cut away, since a name left unmasked is the costly
error:
- a word's core runs from its first letter to its last (combining marks count as letters: a decomposed `José` is
  a name); what stands around it (quotes, brackets, dashes, digits, emoji: `«Johnny»`, `Smith2`, `Musk🙂`) is not
  part of it, and whatever joins its letters inside is (`O'Neil\u2013Smith`, `Smith_Jones`, `John\u200bSmith`);
- a word's letters stop at its first digit (`Connor2morrow` keeps `Connor`); a word without a letter (`53596`,
  `14:30`, `-`), a link, a handle or hashtag (`@user`, `#FF`) and a lone letter cut from a code (`Q3`, `E10`,
  `R2-D2`) end a run, and so does a `:` (`Heather:"I'm`);
- a span that would fall into more than `MAX_RUNS` pieces is kept whole: the overlap resolution downstream must not
  be handed one finding per word of a long span.
On the tagger's held-out sentences and both evaluation files, no name that was masked before is left unmasked
(models/pii-ner/MODEL_CARD.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

__all__ = ["MAX_RUNS", "name_runs"]

MAX_RUNS = 16
_WORD = re.compile(r"\S+")
_OPENERS = "\"'“”‘’«»„‹›([{<"  # may stand before a handle's `@` or a hashtag's `#`
_GLUED = re.compile(r"_+[^\W\d_]+")  # `_` and the letters it joins to a word


def _is_letter(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM"


def _core(word: str) -> tuple[int, int] | None:
    """The offsets of a word's name-like core within it, or None when it is no part of a name."""
    if word.lstrip(_OPENERS)[:1] in ("@", "#"):
        return None  # a handle, a hashtag
    first = next((index for index, char in enumerate(word) if _is_letter(char)), None)
    if first is None:
        return None  # a number, a time, punctuation, an emoji
    last = next(index for index in range(len(word) - 1, -1, -1) if _is_letter(word[index])) + 1
    if (digit := next((index for index in range(first, last) if word[index].isdigit()), None)) is not None:
        # Letters, then digits and more: a name glued to what follows (`Connor2morrow`, `JohnSmith123abc`) keeps
        # its letters up to the first digit; a code's lone letter (`R2-D2`) does not.
        last = next(index for index in range(digit - 1, first - 1, -1) if _is_letter(word[index])) + 1
    if last - first == 1 and any(char.isdigit() for char in word):
        return None  # `Q3`, `E10`, `R2-D2`
    return first, last


def _cores(text: str, start: int, end: int) -> Iterator[tuple[int, int] | None]:
    """Each name-like core's (start, end) in `text[start:end]`, and None where a run of names ends."""
    for word in _WORD.finditer(text, start, end):
        if "//" in word.group():  # a link: none of its parts is a name
            yield None
            continue
        offset = word.start()
        for index, piece in enumerate(word.group().split(":")):
            if index:
                yield None
            core = _core(piece) if piece else None
            yield None if core is None else (offset + core[0], offset + core[1])
            offset += len(piece) + 1


def name_runs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The (start, end) of each run of name-like words in `text[start:end]`, in order: `end` first carried over
    what `_` glues to the span's last word (`Zebulon_Quarterfield`, which NER reads as `Zebulon`: the surname went
    upstream beside the placeholder, an outside review)."""
    while (glued := _GLUED.match(text, end)) is not None:
        end = glued.end()
    runs: list[tuple[int, int]] = []
    run: tuple[int, int] | None = None
    for core in _cores(text, start, end):
        if core is not None:
            run = (run[0] if run else core[0], core[1])
            continue
        if run:
            runs.append(run)
        run = None
    if run:
        runs.append(run)
    return runs if len(runs) <= MAX_RUNS else [(start, end)]
