"""One normalisation for the scanners: what an evasion hides is scanned as the text it stands for.

NFKC (full-width and compatibility forms), invisible characters removed (zero-width, bidi controls, Unicode tag
characters), percent-escapes decoded, and characters that Unicode's confusables table (UTS #39, shipped by the
`confusable-homoglyphs` package) lists as look-alikes of an ASCII letter or digit folded to it. Every character of
the result remembers where it came from, so findings point back at the original text. Base64, base32 and hex runs
are decoded as separate layers, nested ones up to three deep (`decoded_layers`), and escaped characters (`\\uXXXX`,
`\\xHH`, `&#…;`) spelled out (`escapes_decoded`); re-spellings (reversed, rot13, HTML entities, spaced letters) are in
`spelled.py`. Decomposed characters (Hangul written as jamo, `e` + a combining accent) are composed (NFC).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import functools
import html
import itertools
import json
import re
import unicodedata
from importlib import resources

import re2

__all__ = [
    "INVISIBLE",
    "Normalised",
    "decoded_layers",
    "escapes_decoded",
    "has_encoded_run",
    "is_hidden",
    "normalise",
]

# U+FFFD too: the scanners read a lone surrogate as one (wardgate/surrogates.py), and one inside a key hides nothing.
INVISIBLE = frozenset(
    (0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, 0x180E, 0x00AD,
     0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x061C, 0xFFFD)
)  # fmt: skip
# Combining grapheme joiner, Hangul fillers, Khmer inherent vowels: blank glyphs used to break a word up unseen.
_BLANK = frozenset((0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x17B4, 0x17B5))
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
# Base64 as `base64` and PEM write it: lines of 64 or 76 characters (whitespace inside is dropped before decoding).
# RE2: with Python's backtracking engine a long run without a line break costs quadratic time.
_WRAPPED_BASE64 = re2.compile(r"[A-Za-z0-9+/]{16,}(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/]{4,})+={0,2}")
_SPACES = re.compile(r"\s+")
_HEX_RUN = re.compile(r"\b(?:[0-9A-Fa-f]{2}){12,}\b")
_MAX_LAYERS = 32  # decoded runs per text: a body of base64 noise must not multiply the work unboundedly
_MAX_DEPTH = 3  # base64 of base64 of base64: each layer is decoded again, up to this many times
_BASE32 = re.compile(r"[A-Za-z2-7]+=*")
# Characters spelled as escapes: JSON/JavaScript `\uXXXX` (UTF-16, pairs for astral ones), Python's `\U0001F600`,
# Python/C bytes `\xHH` (UTF-8), HTML character references. A model decodes them as it reads; the scanners must too.
_UNICODE_ESCAPES = re.compile(r"(?:\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})+")
_BYTE_ESCAPES = re.compile(r"(?:\\x[0-9A-Fa-f]{2})+")
_CHARACTER_REFERENCES = re.compile(r"(?:&#(?:[0-9]{1,7}|[xX][0-9A-Fa-f]{1,6});?)+")
_ESCAPE_MARKS = ("\\u", "\\U", "\\x", "&#")
_MIN_ESCAPES = 4  # fewer is a path (`C:\\users`) or one stray character, not a hidden sentence


@functools.cache
def _confusable_to_ascii() -> dict[str, str]:
    """Non-ASCII characters that look like one ASCII letter or digit → that character."""
    table = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    fold: dict[str, str] = {}
    for char, homoglyphs in table.items():
        if len(char) != 1 or char.isascii():
            continue
        targets = [h["c"] for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii() and h["c"].isalnum()]
        if targets:
            fold[char] = targets[0]
    return fold


# Every character that shows nothing: invisible formatting, tag characters, variation selectors (and their
# supplement), the blank glyphs above. One set: the normalising loop asks it once per character.
_HIDDEN = frozenset((*INVISIBLE, *_BLANK, *range(0xE0000, 0xE0080), *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)))


def is_hidden(code: int) -> bool:
    """A character that shows nothing: invisible formatting, tag characters, variation selectors, Hangul fillers."""
    return code in _HIDDEN


@dataclasses.dataclass(frozen=True, slots=True)
class Normalised:
    text: str
    origin: tuple[int, ...]  # origin[i]: index in the original text of the character that produced text[i]
    hidden: int  # invisible and tag characters removed
    changed: bool  # whether the text reads differently from the original

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original text's span for a span of the normalised text."""
        if end <= start:
            return self.origin[start], self.origin[start]
        return self.origin[start], self.origin[end - 1] + 1


def normalise(text: str, *, fold_confusables: bool = True) -> Normalised:
    out: list[str] = []
    origin: list[int] = []
    hidden = 0
    fold = _confusable_to_ascii() if fold_confusables else {}
    index = 0
    while index < len(text):
        char = text[index]
        code = ord(char)
        if code in _HIDDEN:
            hidden += 1
            index += 1
            continue
        if char == "%" and _PERCENT.match(text, index):
            decoded = chr(int(text[index + 1 : index + 3], 16))
            out.append(decoded)
            origin.append(index)
            index += 3
            continue
        for piece in unicodedata.normalize("NFKC", char) if not char.isascii() else char:
            out.append(fold.get(piece, piece))
            origin.append(index)
        index += 1
    result, where = _composed("".join(out), origin)
    return Normalised(result, tuple(where), hidden, result != text)


def _joins_previous(char: str) -> bool:
    """A combining mark, or a Hangul medial vowel or final consonant jamo: composes with the character before it."""
    code = ord(char)
    return unicodedata.combining(char) != 0 or 0x1160 <= code <= 0x11FF or 0xD7B0 <= code <= 0xD7FF


def _composed(text: str, origin: list[int]) -> tuple[str, list[int]]:
    """`text` in NFC (Hangul jamo sequences to syllables, accents onto their letters), and where each of its
    characters came from (the first character of the cluster it was composed from)."""
    if unicodedata.is_normalized("NFC", text):
        return text, origin
    chars: list[str] = []
    where: list[int] = []
    start = 0
    for index in range(1, len(text) + 1):
        if index < len(text) and _joins_previous(text[index]):
            continue
        cluster = unicodedata.normalize("NFC", text[start:index])
        chars.append(cluster)
        where += [origin[start]] * len(cluster)
        start = index
    return "".join(chars), where


def _printable(data: bytes) -> str | None:
    # A NUL in every other byte is UTF-16 (Windows tools and PowerShell encode text so before base64).
    encoding = "utf-16-le" if data[1::2].count(0) > len(data) // 4 else "utf-8"
    try:
        decoded = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    visible = sum(1 for char in decoded if char.isprintable() or char in "\n\t")
    return decoded if decoded and visible >= 0.9 * len(decoded) else None


def has_encoded_run(text: str) -> bool:
    """Whether `text` holds a run that could be base64 or hex (a cheap test before decoding anything)."""
    return _BASE64_RUN.search(text) is not None or _HEX_RUN.search(text) is not None


def _decodings(run: str) -> list[bytes]:
    """What a run decodes to as base64 and, when its alphabet allows, as base32."""
    found = []
    altchars = b"-_" if "-" in run or "_" in run else None
    with contextlib.suppress(binascii.Error, ValueError):
        found.append(base64.b64decode(run + "=" * (-len(run) % 4), altchars=altchars))
    if _BASE32.fullmatch(run):
        bare = run.rstrip("=")
        with contextlib.suppress(binascii.Error, ValueError):
            found.append(base64.b32decode(bare + "=" * (-len(bare) % 8), casefold=True))
    return found


def _unicode_escapes(run: re.Match[str]) -> str:
    try:
        decoded = run.group().encode("ascii").decode("unicode_escape")
    except UnicodeDecodeError:  # `\\U` past U+10FFFF: not a character, left as written
        return run.group()
    return decoded.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")  # pairs joined


def _byte_escapes(run: re.Match[str]) -> str:
    return bytes.fromhex(run.group().replace("\\x", "")).decode("utf-8", "replace")


def escapes_decoded(text: str) -> str | None:
    """`text` with its escaped characters spelled out, when it holds at least four escapes (else None)."""
    if sum(text.count(mark) for mark in _ESCAPE_MARKS) < _MIN_ESCAPES:
        return None
    decoded = _UNICODE_ESCAPES.sub(_unicode_escapes, text)
    decoded = _BYTE_ESCAPES.sub(_byte_escapes, decoded)
    decoded = _CHARACTER_REFERENCES.sub(lambda run: html.unescape(run.group()), decoded)
    return decoded if decoded != text else None


def decoded_layers(text: str, depth: int = _MAX_DEPTH) -> list[tuple[int, int, str]]:
    """(start, end, decoded text) for base64, base32 and hex runs in `text` that decode to readable text, and for
    the runs inside those decoded again (up to `depth` layers): nested payloads map to their outermost run."""
    layers: list[tuple[int, int, str]] = []
    runs = itertools.chain(
        ((match, data) for match in _BASE64_RUN.finditer(text) for data in _decodings(match.group(0))),
        (
            (match, data)
            for match in _WRAPPED_BASE64.finditer(text)
            for data in _decodings(_SPACES.sub("", match.group(0)))
        ),
        ((match, bytes.fromhex(match.group(0))) for match in _HEX_RUN.finditer(text)),
    )
    for match, data in runs:
        if (decoded := _printable(data)) is None:
            continue
        layers.append((match.start(), match.end(), decoded))
        inner = decoded_layers(decoded, depth - 1) if depth > 1 else []
        layers += [(match.start(), match.end(), nested) for _, _, nested in inner]
        if len(layers) >= _MAX_LAYERS:
            return layers[:_MAX_LAYERS]
    return layers
