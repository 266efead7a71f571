"""Reduce HTML (and markdown's embedded HTML) to the text a model would read, hidden parts included.

An indirect injection hides in what a page does not show: HTML comments, `display:none` blocks, alt and title
attributes. The injection classifier scores the reduced text, so markup cannot wrap an instruction out of sight.

The reading is a tokenizer of its own, linear in the text: `html.parser` (and a Lexbor tree walk) cost quadratic time
on hostile pages (`<a b='` repeated: 131 s for 120 KB; 100,000 nested divs), and a tolerant parser drops what it
cannot place (an unclosed `<script>` hid the rest of the page). Here nothing is dropped but tag syntax: an unclosed
comment, script or CDATA section runs to the end of the text, and a tag left open at the end is read as text.
"""

from __future__ import annotations

import dataclasses
import html
import re

__all__ = ["Markup", "read_markup"]

_LOOKS_LIKE_HTML = re.compile(r"<(?:[a-zA-Z][\w-]*[\s>/]|!--)")
# Attributes whose value is prose a model reads: alt text, titles, labels, meta content, form values, data-* and
# aria-* values, and a frame's inline document.
_TEXT_ATTRIBUTES = frozenset({"alt", "title", "aria-label", "placeholder", "content", "value", "srcdoc", "label"})
# A start tag: name, then attribute text and quoted values (which may hold `>`). Possessive, so a quote that never
# closes fails in one pass to the end of the text and never backtracks.
_START_TAG = re.compile(r"<([a-zA-Z][^\s/>]*+)((?:[^>\"']++|\"[^\"]*+\"|'[^']*+')*+)>")
_ATTRIBUTE = re.compile(r"([^\s=/>\"']++)(?:\s*+=\s*+(?:\"([^\"]*+)\"|'([^']*+)'|([^\s>]++)))?")
# Code and CSS: not prose a model is asked to follow, so not part of the reduced text; but a model given the page reads
# them (a comment in a script can address it), so the scanner scores them as one more text (`Markup.code`).
_RAW_TEXT_END = {"script": re.compile(r"</script", re.IGNORECASE), "style": re.compile(r"</style", re.IGNORECASE)}
_SPECIAL = re.compile(r"<(?:[a-zA-Z!?/])")
_PLAIN_END_TAG = re.compile(r"[a-zA-Z][\w:-]*\s*")


@dataclasses.dataclass(frozen=True, slots=True)
class Markup:
    text: str  # the page's text, comments and text attributes, whitespace collapsed
    code: str  # the text inside its `<script>` and `<style>` elements, whitespace collapsed ("" when none)


def _collapsed(parts: list[str]) -> str:
    return " ".join(" ".join(parts).split())


def _attribute_text(attributes: str) -> list[str]:
    values = []
    for match in _ATTRIBUTE.finditer(attributes):
        name = match.group(1).lower()
        value = next((group for group in match.groups()[1:] if group is not None), None)
        if value and (name in _TEXT_ATTRIBUTES or name.startswith(("data-", "aria-"))):
            values.append(html.unescape(value))
    return values


def _closing(text: str, opener: str, closer: str, start: int) -> tuple[str, int]:
    """The body of a construct that opens at `start` with `opener` and ends at `closer`, and where reading resumes;
    one left open runs to the end of the text."""
    body_start = start + len(opener)
    end = text.find(closer, body_start)
    if end < 0:
        return text[body_start:], len(text)
    return text[body_start:end], end + len(closer)


def read_markup(text: str) -> Markup:
    """`text` itself (and no code) unless it holds HTML; then its text, comments, text attributes and code."""
    if not _LOOKS_LIKE_HTML.search(text):
        return Markup(text, "")
    parts: list[str] = []
    code: list[str] = []
    position = 0
    while (found := _SPECIAL.search(text, position)) is not None:
        at = found.start()
        parts.append(html.unescape(text[position:at]))
        kind = text[at + 1]
        if text.startswith("<!--", at):
            comment, position = _closing(text, "<!--", "-->", at)
            parts.append(comment)
        elif text.startswith("<![CDATA[", at):
            section, position = _closing(text, "<![CDATA[", "]]>", at)
            parts.append(section)
        elif kind in "!?/":  # a doctype, a processing instruction, an end tag; text hidden in one is kept
            body, position = _closing(text, text[at : at + 2], ">", at)
            if not _PLAIN_END_TAG.fullmatch(body):
                parts.append(body)
        elif (tag := _START_TAG.match(text, at)) is None:  # a tag left open at the end: read as written
            parts.append(text[at:])
            position = len(text)
        else:
            parts += _attribute_text(tag.group(2))
            position = tag.end()
            if (end := _RAW_TEXT_END.get(tag.group(1).lower())) is not None:
                closing = end.search(text, position)
                stop = closing.start() if closing is not None else len(text)
                code.append(text[position:stop])
                position = stop
    parts.append(html.unescape(text[position:]))
    return Markup(_collapsed(parts), _collapsed(code))
