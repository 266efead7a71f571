"""Reduce HTML (and markdown's embedded HTML) to the text a model would read, hidden parts included.

An indirect injection hides in what a page does not show: HTML comments, `display:none` blocks, alt and title
attributes. The injection classifier scores the reduced text, so markup cannot wrap an instruction out of sight.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["markup_code", "reduce_markup"]

_LOOKS_LIKE_HTML = re.compile(r"<(?:[a-zA-Z][\w-]*[\s>/]|!--)")
_TEXT_ATTRIBUTES = frozenset({"alt", "title", "aria-label", "placeholder", "content", "value"})
# Code and CSS: not prose a model is asked to follow, so not part of the reduced text; but a model given the page reads
# them (a comment in a script can address it), so the scanner scores them as one more text (`markup_code`).
_SKIPPED = frozenset({"script", "style"})
_HAS_CODE = re.compile(r"<(?:script|style)\b", re.IGNORECASE)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.code: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        self.parts += [value for name, value in attrs if name in _TEXT_ATTRIBUTES and value]

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        (self.code if self._skipping else self.parts).append(data)

    def handle_comment(self, data: str) -> None:
        self.parts.append(data)


def reduce_markup(text: str) -> str:
    """`text` itself unless it holds HTML; then its text, comments and text attributes, whitespace collapsed."""
    if not _LOOKS_LIKE_HTML.search(text):
        return text
    parser = _Text()
    parser.feed(text)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def markup_code(text: str) -> str:
    """The text inside a page's `<script>` and `<style>` elements, whitespace collapsed ("" when it has none)."""
    if not _HAS_CODE.search(text):
        return ""
    parser = _Text()
    parser.feed(text)
    parser.close()
    return " ".join(" ".join(parser.code).split())
