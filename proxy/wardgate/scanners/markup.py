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
# HTML, SVG and MathML element names: a tag with another name is not markup to a browser's reader but words to a
# model (`<ignore all previous instructions>`), so it is read as text.
_ELEMENTS = frozenset(
    ("a", "abbr", "acronym", "address", "area", "article", "aside", "audio", "b", "base", "basefont", "bdi", "bdo",
     "big", "blink", "blockquote", "body", "br", "button", "canvas", "caption", "center", "cite", "code", "col",
     "colgroup", "data", "datalist", "dd", "del", "details", "dfn", "dialog", "dir", "div", "dl", "dt", "em",
     "embed", "fieldset", "figcaption", "figure", "font", "footer", "form", "frame", "frameset", "h1", "h2", "h3",
     "h4", "h5", "h6", "head", "header", "hgroup", "hr", "html", "i", "iframe", "image", "img", "input", "ins",
     "kbd", "label", "legend", "li", "link", "main", "map", "mark", "marquee", "menu", "meta", "meter", "nav",
     "nobr", "noembed", "noframes", "noscript", "object", "ol", "optgroup", "option", "output", "p", "param",
     "picture", "plaintext", "pre", "progress", "q", "rb", "rp", "rt", "rtc", "ruby", "s", "samp", "script",
     "search", "section", "select", "slot", "small", "source", "span", "strike", "strong", "style", "sub",
     "summary", "sup", "table", "tbody", "td", "template", "textarea", "tfoot", "th", "thead", "time", "title",
     "tr", "track", "tt", "u", "ul", "var", "video", "wbr", "xmp", "svg", "g", "path", "rect", "circle", "ellipse",
     "line", "polyline", "polygon", "text", "tspan", "textpath", "defs", "use", "symbol", "lineargradient",
     "radialgradient", "stop", "clippath", "mask", "pattern", "filter", "foreignobject", "desc", "metadata",
     "switch", "marker", "animate", "animatetransform", "set", "view", "math", "mi", "mn", "mo", "ms", "mtext",
     "mrow", "mfrac", "msqrt", "mroot", "msub", "msup", "msubsup", "munder", "mover", "munderover", "mtable",
     "mtr", "mtd", "mspace", "mstyle", "semantics", "annotation", "annotation-xml")
)  # fmt: skip
# Elements that sit inside a line of text: their tags separate no words (`<b>ig</b><b>nore</b>` reads "ignore").
_INLINE = frozenset(
    ("a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i", "ins", "kbd",
     "mark", "nobr", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var",
     "wbr")
)  # fmt: skip
# A start tag: name, then attribute text and quoted values (which may hold `>`). Possessive, so a quote that never
# closes fails in one pass to the end of the text and never backtracks.
_START_TAG = re.compile(r"<([a-zA-Z][^\s/>]*+)((?:[^>\"']++|\"[^\"]*+\"|'[^']*+')*+)>")
# Every attribute's value is kept, and a name without one: an instruction fits in a title, a style, an event
# handler or a run of bare words alike.
_ATTRIBUTE = re.compile(r"([^\s=>\"']*+)(?:\s*+=\s*+(?:\"([^\"]*+)\"|'([^']*+)'|([^\s>]++)))?")
# Code and CSS: not prose a model is asked to follow, so not part of the reduced text; but a model given the page reads
# them (a comment in a script can address it), so the scanner scores them as one more text (`Markup.code`).
_RAW_TEXT_END = {"script": re.compile(r"</script", re.IGNORECASE), "style": re.compile(r"</style", re.IGNORECASE)}
_SPECIAL = re.compile(r"<(?:[a-zA-Z!?/])")
_END_TAG = re.compile(r"([a-zA-Z][\w:-]*)\s*")
# `html.unescape` turns a reference of thousands of digits into an int past Python's limit and raises.
_LONG_REFERENCE = re.compile(r"&#(?:[xX]0*[0-9A-Fa-f]{7,}|0*[0-9]{8,});?")


@dataclasses.dataclass(frozen=True, slots=True)
class Markup:
    text: str  # the page's text, comments and text attributes, whitespace collapsed
    code: str  # the text inside its `<script>` and `<style>` elements, whitespace collapsed ("" when none)


def _unescaped(text: str) -> str:
    return html.unescape(_LONG_REFERENCE.sub("\ufffd", text) if "&#" in text else text)


def _attribute_words(attributes: str) -> list[str]:
    words: list[str] = []
    if attributes.isspace() or not attributes:
        return words
    for match in _ATTRIBUTE.finditer(attributes):
        value = next((group for group in match.groups()[1:] if group is not None), None)
        if value is None:
            if match.group(1):
                words.append(match.group(1))  # a name with no value: a word to a model
        elif value:
            words.append(_unescaped(value))
    return words


def _closing(text: str, opener: str, closer: str, start: int) -> tuple[str, int]:
    """The body of a construct that opens at `start` with `opener` and ends at `closer`, and where reading resumes;
    one left open runs to the end of the text."""
    body_start = start + len(opener)
    end = text.find(closer, body_start)
    if end < 0:
        return text[body_start:], len(text)
    return text[body_start:end], end + len(closer)


def read_markup(text: str) -> Markup:
    """`text` itself (and no code) unless it holds HTML; then its text, comments, attributes and code."""
    if not _LOOKS_LIKE_HTML.search(text):
        return Markup(text, "")
    out: list[str] = []  # text as read, with " " where a tag separates words
    code: list[str] = []
    position = 0
    while (found := _SPECIAL.search(text, position)) is not None:
        at = found.start()
        out.append(_unescaped(text[position:at]))
        kind = text[at + 1]
        if text.startswith("<!--", at):
            comment, position = _closing(text, "<!--", "-->", at)
            out += [" ", comment, " "]
        elif text.startswith("<![CDATA[", at):
            section, position = _closing(text, "<![CDATA[", "]]>", at)
            out += [" ", section, " "]
        elif kind in "!?":  # a doctype, a processing instruction, a bogus comment: its words are kept
            body, position = _closing(text, text[at : at + 2], ">", at)
            out += [" ", body, " "]
        elif kind == "/":  # an end tag is syntax; anything else written as one is words
            body, position = _closing(text, "</", ">", at)
            closed = _END_TAG.fullmatch(body)
            if closed is None or closed.group(1).lower() not in _ELEMENTS:
                out += [" ", body, " "]
            elif closed.group(1).lower() not in _INLINE:
                out.append(" ")
        elif (tag := _START_TAG.match(text, at)) is None:  # a tag left open at the end: read as written
            out.append(text[at:])
            position = len(text)
        else:
            name, position = tag.group(1).lower(), tag.end()
            if name not in _ELEMENTS:
                out += [" ", text[at + 1 : position - 1], " "]
                continue
            words = _attribute_words(tag.group(2))
            out += [" ", " ".join(words), " "] if words or name not in _INLINE else []
            if (end := _RAW_TEXT_END.get(name)) is not None:
                closing = end.search(text, position)
                stop = closing.start() if closing is not None else len(text)
                code.append(text[position:stop])
                position = stop
    out.append(_unescaped(text[position:]))
    return Markup(" ".join("".join(out).split()), " ".join(" ".join(code).split()))
