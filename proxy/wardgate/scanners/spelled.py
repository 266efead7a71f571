"""Spelled-out forms of a text: what a key reads as once an attacker's re-spelling is undone.

Reversed, rot13, ASCII upper-cased (a key whose alphabet is upper case, sent lower-cased), HTML character
references decoded (`&#65;&#x4B;`) and letters spaced or dotted apart (`A K I A`, `A.K.I.A`) collapsed. Each layer
maps its spans back to the text it came from, so a finding still points at the original characters. These forms
turn ordinary text into near-random strings, so only rules with a distinctive literal prefix should read them.
"""

from __future__ import annotations

import bisect
import codecs
import dataclasses
import html
import re
import string
from collections.abc import Iterable

import re2

from wardgate.scanners.normalise import is_hidden

__all__ = [
    "MAX_EDITS",
    "Spelled",
    "as_written",
    "entities_decoded",
    "hidden_hint",
    "lower_runs_upper_cased",
    "reversed_text",
    "rot13",
    "spacing_removed",
]

MAX_EDITS = 65536  # entities decoded or separators dropped per text: the Python work per text stays bounded
_ROT13 = str.maketrans(
    string.ascii_lowercase + string.ascii_uppercase,
    codecs.encode(string.ascii_lowercase, "rot13") + codecs.encode(string.ascii_uppercase, "rot13"),
)
_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")
_SEPARATOR = r"[\s.,|-]"
# Eight or more one-character words, each followed by one to three separators (RE2: Python's re backtracks here, 6x
# slower on prose).
_SPACED = re2.compile(rf"(?:^|{_SEPARATOR})((?:[^\s.,|-]{_SEPARATOR}{{1,3}}){{7,}}[^\s.,|-])(?:$|{_SEPARATOR})")
# A key read out in groups (`AKIA Z3MS JV4W WNKW W5FG`, `AKIA-Z3MS-…`): upper-case and digit groups only, so prose
# is never joined into one word.
_GROUPED = re2.compile(r"(?:^|[^A-Za-z0-9])((?:[A-Z0-9]{3,8}[ -]){2,}[A-Z0-9]{3,8})(?:$|[^A-Za-z0-9])")
_SEPARATORS = re.compile(rf"{_SEPARATOR}+")
_LOWER_RUN = re.compile(r"[a-z0-9_-]{16,}")


@dataclasses.dataclass(frozen=True, slots=True)
class Spelled:
    """One re-spelling of a text. `pieces`: (start here, start there, end there) for consecutive stretches of this
    text; a stretch as long as its source maps character by character, any other maps as a whole."""

    name: str
    text: str
    pieces: tuple[tuple[int, int, int], ...]
    reverse: bool = False

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The source text's span for a span of this one."""
        if self.reverse:
            return len(self.text) - end, len(self.text) - start
        return self._at(start)[0], self._at(max(end - 1, start))[1]

    def _at(self, index: int) -> tuple[int, int]:
        piece = bisect.bisect_right(self.pieces, (index, float("inf"))) - 1
        here, start, end = self.pieces[piece]
        length = (self.pieces[piece + 1][0] if piece + 1 < len(self.pieces) else len(self.text)) - here
        if length == end - start:
            return start + index - here, start + index - here + 1
        return start, end


def _spliced(name: str, text: str, edits: Iterable[tuple[int, int, str]]) -> Spelled | None:
    """`text` with each (start, end) replaced by its string, edits in order; None when nothing changed."""
    out: list[str] = []
    pieces: list[tuple[int, int, int]] = []
    length = done = 0
    for count, (start, end, replacement) in enumerate(edits):
        if count == MAX_EDITS:
            break
        if start > done:
            pieces.append((length, done, start))
            out.append(text[done:start])
            length += start - done
        if replacement:
            pieces.append((length, start, end))
            out.append(replacement)
            length += len(replacement)
        done = end
    if not out and not done:
        return None
    if done < len(text):
        pieces.append((length, done, len(text)))
        out.append(text[done:])
    return Spelled(name, "".join(out), tuple(pieces))


def _upper_if_digit(run: re.Match[str]) -> str:
    text = run.group(0)
    return text.translate(_UPPER) if any(char.isdigit() for char in text) else text


def _entities(text: str) -> Iterable[tuple[int, int, str]]:
    for match in _ENTITY.finditer(text):
        decoded = "".join(char for char in html.unescape(match.group(0)) if not is_hidden(ord(char)))
        if decoded != match.group(0):  # `&shy;`, `&#8203;`: decoded to nothing, as the reader sees them
            yield match.start(), match.end(), decoded


def _spacing(text: str) -> Iterable[tuple[int, int, str]]:
    runs = sorted((run.start(1), run.end(1)) for pattern in (_SPACED, _GROUPED) for run in pattern.finditer(text))
    done = 0
    for start, end in runs:
        if start < done:
            continue  # overlaps a run already joined
        for gap in _SEPARATORS.finditer(text, start, end):
            yield gap.start(), gap.end(), ""
        done = end


def hidden_hint(text: str) -> bool:
    """Whether `text` could hold a spelled-out form that a keyword check cannot see (entities, spacing)."""
    return ("&" in text and _ENTITY.search(text) is not None) or _SPACED.search(text) is not None


def as_written(text: str) -> Spelled:
    return Spelled("as written", text, ((0, 0, len(text)),))


def reversed_text(text: str) -> Spelled:
    return Spelled("reversed", text[::-1], ((0, 0, len(text)),), reverse=True)


def rot13(text: str) -> Spelled:
    return Spelled("rot13", text.translate(_ROT13), ((0, 0, len(text)),))


def entities_decoded(text: str) -> Spelled | None:
    return _spliced("entities", text, _entities(text)) if "&" in text else None


def spacing_removed(text: str) -> Spelled | None:
    return _spliced("spaced", text, _spacing(text))


def lower_runs_upper_cased(layer: Spelled) -> Spelled | None:
    """`layer` with its lower-case runs that hold a digit upper-cased (a key whose alphabet is upper case, sent
    lower-cased). Mixed-case runs (random base64) stay as they are, or every blob would hold upper-case "keys"; so do
    runs without a digit (`asiapacificregion…` would read as an AWS key), which costs the 4% of AWS keys without one."""
    upper = _LOWER_RUN.sub(_upper_if_digit, layer.text)
    return dataclasses.replace(layer, name=f"{layer.name}, upper-cased", text=upper) if upper != layer.text else None
