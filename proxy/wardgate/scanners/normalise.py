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
from collections.abc import Iterator
from importlib import resources

import re2

from wardgate.surrogates import scannable

__all__ = [
    "INVISIBLE",
    "Normalised",
    "compatibility_form",
    "decoded_layers",
    "escapes_decoded",
    "has_encoded_run",
    "is_hidden",
    "normalise",
    "spelled_out_hangul",
    "stream_safe",
]

# U+FFFD too: the scanners read a lone surrogate as one (wardgate/surrogates.py), and one inside a key hides nothing.
INVISIBLE = frozenset(
    (0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, 0x180E, 0x00AD,
     0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x061C, 0xFFFD)
)  # fmt: skip
# Combining grapheme joiner, Hangul fillers, Khmer inherent vowels: blank glyphs used to break a word up unseen.
_BLANK = frozenset((0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x17B4, 0x17B5))
_PERCENT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
# Base64 as `base64` and PEM write it: lines of 64 or 76 characters (whitespace inside is dropped before decoding).
# RE2: with Python's backtracking engine a long run without a line break costs quadratic time.
_WRAPPED_BASE64 = re2.compile(r"[A-Za-z0-9+/]{16,}(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/]{4,})+={0,2}")
_SPACES = re.compile(r"\s+")
_HEX_RUN = re.compile(r"\b(?:[0-9A-Fa-f]{2}){12,}\b")
_MAX_LAYERS = 32  # decoded runs per text: a body of base64 noise must not multiply the work unboundedly
_MAX_DEPTH = 3  # base64 of base64 of base64: each layer is decoded again, up to this many times
_BASE32 = re.compile(r"[A-Za-z2-7]+=*")
# Characters spelled as escapes: JSON/JavaScript `\uXXXX` (UTF-16, pairs for astral ones) and `\u{X}`, Python's
# `\U0001F600` (and a four-digit `\U0049`), bytes as `\xHH` or octal `\355` (UTF-8: printf, git's quoted paths),
# HTML character references, and any of them escaped again (`\\u0049`, `&amp;#73;`). A model decodes them as it reads.
_BACKSLASHES = re.compile(r"(?<!\\)\\{2,}(?=[uUx0-7])")  # the lookbehind: linear on a run of them
_BRACED = re.compile(r"\\u\{([0-9A-Fa-f]{1,6})\}")
_UNICODE_ESCAPE = re.compile(r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}|\\U[0-9A-Fa-f]{4}")
_UNICODE_ESCAPES = re.compile(f"(?:{_UNICODE_ESCAPE.pattern})+")
_BYTE_ESCAPES = re.compile(r"(?:\\x[0-9A-Fa-f]{2}|\\[0-3][0-7]{2})+")
_BYTE = re.compile(r"\\x([0-9A-Fa-f]{2})|\\([0-3][0-7]{2})")
_CHARACTER_REFERENCES = re.compile(r"(?:&#(?:[0-9]{1,7}|[xX][0-9A-Fa-f]{1,6});?)+")
_ESCAPE_MARKS = ("\\", "&#", "&amp;")
_ESCAPE_ROUNDS = 3  # escaped, escaped twice, three times
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


# Unicode's format characters (general category Cf, Unicode 15), beyond the ones above: invisible controls (U+206A to
# U+206F, interlinear annotation U+FFF9 to U+FFFB, shorthand format, Egyptian and musical format controls) and
# prepended marks. tests/unit assert that the interpreter's unicodedata knows no other.
_FORMAT = (
    0x00AD, *range(0x0600, 0x0606), 0x061C, 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x180E, *range(0x200B, 0x2010),
    *range(0x202A, 0x202F), *range(0x2060, 0x2065), *range(0x2066, 0x2070), 0xFEFF, *range(0xFFF9, 0xFFFC), 0x110BD,
    0x110CD, *range(0x13430, 0x13440), *range(0x1BCA0, 0x1BCA4), *range(0x1D173, 0x1D17B), 0xE0001,
)  # fmt: skip
# Every character that shows nothing: invisible formatting, tag characters, variation selectors (and their
# supplement, and Mongolian's free ones), the blank glyphs above. One set: the normalising loop asks it once per
# character.
_HIDDEN = frozenset(
    (*INVISIBLE, *_BLANK, *_FORMAT, *range(0xE0000, 0xE0080), *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0),
     *range(0x180B, 0x1810))
)  # fmt: skip
# Blank glyphs used as a space between words (the braille blank): read as one.
SPACE_LIKE = {"\u2800": " "}
# UAX #15's stream-safe limit: no more than 30 non-starters (combining marks) in a row. NFC and NFKC reorder a run of
# marks in quadratic time (a letter and 128 K marks: 12 s); past 30 they stack on one glyph and say nothing.
MAX_MARKS = 30


# NFKC writes a few characters as many (U+FDFA: 18): past this many the character is kept as written, so a text
# cannot grow past a small multiple of its size (and of its scan budget) by being normalised.
_MAX_EXPANSION = 4


@functools.lru_cache(maxsize=4096)
def compatibility_form(char: str) -> str:
    """One character as the scanners read it: NFKC, the braille blank a space, a long expansion as written."""
    form = unicodedata.normalize("NFKC", SPACE_LIKE.get(char, char))
    return form if len(form) <= _MAX_EXPANSION else char


def is_hidden(code: int) -> bool:
    """A character that shows nothing: invisible formatting, tag characters, variation selectors, Hangul fillers."""
    return code in _HIDDEN


@dataclasses.dataclass(frozen=True, slots=True)
class Normalised:
    text: str
    origin: tuple[int, ...]  # origin[i]: index in the original text of the first character that produced text[i]
    end: tuple[int, ...]  # end[i]: index just past the last one (an escape `%C3%A9` is six characters for one)
    hidden: int  # invisible and tag characters removed
    changed: bool  # whether the text reads differently from the original

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original text's span for a span of the normalised text."""
        if end <= start:  # empty: where it lies (past the last character: the end of the original)
            at = self.origin[start] if start < len(self.origin) else (self.end[-1] if self.end else 0)
            return at, at
        return self.origin[start], self.end[end - 1]


def _source(text: str) -> Iterator[tuple[str, int, int]]:
    """The characters `text` spells, each with its span in `text`: percent-escaped UTF-8 decoded, Hangul spelled
    letter by letter written as syllables."""
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%" and (run := _PERCENT_RUN.match(text, index)):
            yield from _percent_decoded(run.group(), index)
            index = run.end()
        elif "\u3131" <= char <= "\u3163" and (run := _SPELLED_HANGUL.match(text, index)):
            yield from _syllables(run.group(), index)
            index = run.end()
        else:
            yield char, index, index + 1
            index += 1


def normalise(text: str, *, fold_confusables: bool = True) -> Normalised:
    out: list[str] = []
    origin: list[int] = []
    ends: list[int] = []
    hidden = marks = 0
    fold = _confusable_to_ascii() if fold_confusables else {}
    for char, start, end in _source(text):
        if char.isascii():
            out.append(char)
            origin.append(start)
            ends.append(end)
            marks = 0
            continue
        if ord(char) in _HIDDEN:
            hidden += 1
            continue
        for piece in compatibility_form(char):
            # Marks counted as NFKC writes them: one character can expand to several (U+0F73).
            marks = marks + 1 if unicodedata.combining(piece) else 0
            if marks <= MAX_MARKS:
                out.append(fold.get(piece, piece))
                origin.append(start)
                ends.append(end)
    result, first, last = _composed("".join(out), origin, ends)
    return Normalised(result, tuple(first), tuple(last), hidden, result != text)


def _percent_decoded(run: str, start: int) -> Iterator[tuple[str, int, int]]:
    """A run of percent-escapes as the characters its bytes spell in UTF-8 (a byte that is not, as itself:
    Latin-1), each with its escapes' span."""
    offset = start
    for char in bytes.fromhex(run.replace("%", "")).decode("utf-8", "surrogateescape"):
        if "\udc80" <= char <= "\udcff":  # a byte that is not UTF-8
            yield chr(ord(char) - 0xDC00), offset, offset + 3
            offset += 3
            continue
        size = 3 * len(char.encode("utf-8"))
        yield char, offset, offset + size
        offset += size


def stream_safe(text: str) -> str:
    """`text` with every run of combining marks cut to `MAX_MARKS` (C-speed: only the marks the text holds)."""
    marks = {char for char in set(text) if not char.isascii() and unicodedata.combining(char)}
    if not marks:
        return text
    runs = re.compile("[" + "".join(re.escape(char) for char in marks) + "]{" + str(MAX_MARKS + 1) + ",}")
    return runs.sub(lambda run: run.group()[:MAX_MARKS], text)


# Hangul compatibility letters (U+3131 to U+3163) in the order of the conjoining jamo they stand for: leading
# consonants, vowels, trailing consonants (index 0 of the trailing ones: none).
_LEADING = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_TRAILING = " ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
_SPELLED_HANGUL = re.compile(r"[\u3131-\u3163]{2,}")


def _syllables(letters: str, start: int = 0) -> Iterator[tuple[str, int, int]]:
    """Compatibility letters as the syllables they spell, each with the span of its letters."""
    index = 0
    while index < len(letters):
        lead, vowel = letters[index], letters[index + 1] if index + 1 < len(letters) else ""
        if lead not in _LEADING or vowel not in _VOWELS or not vowel:
            yield lead, start + index, start + index + 1
            index += 1
            continue
        trail = letters[index + 2] if index + 2 < len(letters) else ""
        after = letters[index + 3] if index + 3 < len(letters) else ""
        final = trail in _TRAILING[1:] and trail and not (after and after in _VOWELS)
        code = 0xAC00 + (_LEADING.index(lead) * 21 + _VOWELS.index(vowel)) * 28
        size = 3 if final else 2
        yield chr(code + (_TRAILING.index(trail) if final else 0)), start + index, start + index + size
        index += size


def spelled_out_hangul(text: str) -> str:
    """Syllables spelled letter by letter in compatibility jamo (`ㅇㅣㅈㅓㄴ` for 이전) written as syllables: NFKC
    makes every consonant of them a leading one, and the syllables never compose."""
    if not any("\u3131" <= char <= "\u3163" for char in set(text)):
        return text
    return _SPELLED_HANGUL.sub(lambda run: "".join(char for char, _, _ in _syllables(run.group())), text)


# Characters that are not combining marks (class 0) yet compose with the one before them (NFC_Quick_Check=Maybe):
# vowel and length signs of Bengali, Oriya, Tamil, Kannada, Malayalam, Sinhala, Myanmar, Balinese, Chakma, Grantha,
# Tirhuta, Siddham and Dives Akuru. tests/unit assert that the interpreter's unicodedata knows no other.
_COMPOSING_STARTERS = frozenset(
    (0x09BE, 0x09D7, 0x0B3E, 0x0B56, 0x0B57, 0x0BBE, 0x0BD7, 0x0CC2, 0x0CD5, 0x0CD6, 0x0D3E, 0x0D57, 0x0DCF, 0x0DDF,
     0x102E, 0x1B35, 0x11127, 0x1133E, 0x11357, 0x114B0, 0x114BA, 0x114BD, 0x115AF, 0x11930)
)  # fmt: skip


def _joins_previous(char: str) -> bool:
    """A combining mark, a Hangul medial vowel or final consonant jamo, or a vowel sign that composes with the
    character before it."""
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or 0x1160 <= code <= 0x11FF
        or 0xD7B0 <= code <= 0xD7FF
        or code in _COMPOSING_STARTERS
    )


def _composed(text: str, origin: list[int], ends: list[int]) -> tuple[str, list[int], list[int]]:
    """`text` in NFC (Hangul jamo sequences to syllables, accents onto their letters), and the span each of its
    characters came from (the cluster it was composed from)."""
    if unicodedata.is_normalized("NFC", text):
        return text, origin, ends
    chars: list[str] = []
    first: list[int] = []
    last: list[int] = []
    start = 0
    for index in range(1, len(text) + 1):
        if index < len(text) and _joins_previous(text[index]):
            continue
        cluster = unicodedata.normalize("NFC", text[start:index])
        chars.append(cluster)
        first += [origin[start]] * len(cluster)
        last += [ends[index - 1]] * len(cluster)
        start = index
    return "".join(chars), first, last


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


def _escaped_character(escape: re.Match[str]) -> str:
    code = int(escape.group()[2:], 16)
    return chr(code) if code <= 0x10FFFF else escape.group()  # past U+10FFFF: not a character, left as written


def _unicode_escapes(run: re.Match[str]) -> str:
    """Each escape as its character (one that is none left as written), UTF-16 pairs joined."""
    decoded = _UNICODE_ESCAPE.sub(_escaped_character, run.group())
    return decoded.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _braced(escape: re.Match[str]) -> str:
    code = int(escape.group(1), 16)
    return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else escape.group()


def _byte_escapes(run: re.Match[str]) -> str:
    data = bytes(int(hex_, 16) if hex_ else int(octal, 8) for hex_, octal in _BYTE.findall(run.group()))
    return data.decode("utf-8", "replace")


def escapes_decoded(text: str) -> str | None:
    """`text` with its escaped characters spelled out, when it holds at least four escapes (else None)."""
    if sum(text.count(mark) for mark in _ESCAPE_MARKS) < _MIN_ESCAPES:
        return None
    decoded = text
    for _ in range(_ESCAPE_ROUNDS):
        before = decoded
        decoded = _BACKSLASHES.sub(r"\\", decoded)
        decoded = _BRACED.sub(_braced, decoded)
        decoded = _UNICODE_ESCAPES.sub(_unicode_escapes, decoded)
        decoded = _BYTE_ESCAPES.sub(_byte_escapes, decoded)
        decoded = _CHARACTER_REFERENCES.sub(lambda run: html.unescape(run.group()), decoded.replace("&amp;", "&"))
        if decoded == before:
            break
    return decoded if decoded != text else None


def decoded_layers(text: str, depth: int = _MAX_DEPTH) -> list[tuple[int, int, str]]:
    """(start, end, decoded text) for base64, base32 and hex runs in `text` that decode to readable text, and for
    the runs inside those decoded again (up to `depth` layers): nested payloads map to their outermost run."""
    text = scannable(text)  # RE2 takes no lone surrogate (one for one: offsets stay)
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
