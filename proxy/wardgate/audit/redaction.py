"""What an audit event may quote of a flow: never a value a scanner found there as a secret or personal data.

An event's free fields (the host, the model, tool names and ids, the masked paths, refusal messages, the recorded
policy input) hold what callers and upstreams chose. An outside review found model names, tool names and ids, object
keys and refusal messages quoting AWS keys and e-mail addresses that the same flow's findings had located, and that
the upstream got masked. So every value found anywhere in a flow (its request, its answer, its tool calls) is
replaced by `[REDACTED:<kind>]` wherever it turns up in that flow's events, in any case.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from wardgate.models import Finding, Segment

__all__ = [
    "METHODS",
    "FoundValues",
    "recorded_host",
    "recorded_json_path",
    "recorded_method",
    "recorded_path",
    "scrubbed",
    "unquoted",
]

# HTTP's methods (RFC 9110, PATCH, QUERY): any other token is refused on an inspected host, and recorded as `*` (an
# outside review sent a key as the method: forwarded, and quoted by the audit, the access log and the span name).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "QUERY"})

# A piece of a path kept as it is: a route word, a model or deployment name (`chat`, `v1beta`, `gpt-4o-mini`,
# `generateContent`). Anything else is a value in disguise: an e-mail, a number, an upper-case key, a
# percent-encoded anything (an outside review found `AKIA…` keys without digits, `219-09-9998` and names in paths
# reaching the audit, the access log and span names).
_ROUTE_WORD = re.compile(r"[a-z][A-Za-z0-9._-]{0,63}")
_KEYLIKE = re.compile(r"[A-Za-z0-9_-]{16,}")  # masked when it holds a digit too
_DIGITS = re.compile(r"\d{4,}")
# How mitmproxy quotes the bytes it could not read: `b'…'`, `bytearray(b'…')`.
_QUOTED_BYTES = re.compile(r"""(?:bytearray\()?b(['"])(?:\\.|(?!\1).)*\1\)?""")
_MARKER = re.compile(r"\$[a-z_]{1,16}")  # Wardgate's own keys in a JSON path (`$key`, `$header`)
# What no message of Wardgate's own holds, whatever it quotes: an e-mail address, a run of 16 letters and digits with
# a digit or two capitals in it (a key), nine digits or more, apart or not (a card, a phone, an ID number).
_SCRUBBED = re.compile(
    r"[^\s@'\"`()<>]+@[^\s@'\"`()<>]+"
    r"|(?=[A-Za-z0-9+/=]*(?:\d|[A-Z][^A-Z]*[A-Z]))[A-Za-z0-9+/=]{16,}"
    r"|\d(?:[\s.()-]?\d){8,}"
)
# Query parameter names kept (`api-version`, `alt`); anything else could be a value in disguise.
_PARAMETER_NAME = re.compile(r"[a-z][a-z_-]{0,31}")

_FAMILIES = frozenset({"secret", "pii"})
_SHORTEST = 3  # characters: shorter values ("Al") would blank ordinary words out of the event


class FoundValues:
    """The secret and personal values found in one flow so far, and what replaces them in its audit events."""

    def __init__(self) -> None:
        self._kinds: dict[str, str] = {}  # the value, lower-cased → its finding's kind
        self._pattern: re.Pattern[str] | None = None

    def add(self, segments: Sequence[Segment], findings: Sequence[Finding]) -> None:
        """The values of these findings (in the texts they were found in) join the flow's."""
        for finding in findings:
            if finding.family not in _FAMILIES or not finding.reaches_threshold:
                continue
            if not 0 <= finding.segment < len(segments):
                continue
            value = segments[finding.segment].text[finding.start : finding.end].strip()
            if len(value) >= _SHORTEST and value.lower() not in self._kinds:
                self._kinds[value.lower()] = finding.kind
                self._pattern = None

    def _alternative(self, value: str) -> str:
        """A secret anywhere (`lookup_AKIA…`); personal data as a whole word (between anything but letters and
        digits), so that a name or a place NER found (`Chat`, `Sage`) does not blank ordinary words out of an event."""
        if self._kinds[value].startswith("secret"):
            return re.escape(value)
        return rf"(?<![^\W_]){re.escape(value)}(?![^\W_])"  # `_` parts words (`gpt-4o_a@b.c`)

    def identifier[T](self, value: T) -> T:
        """A model name, a tool's name or a call's id as recorded: read for secrets only (a name-shaped model is no
        person), so personal data in one is never found: found values redacted, then address, key and long-number
        shapes scrubbed (an outside review)."""
        redacted = self.redacted(value)
        return scrubbed(redacted) if isinstance(redacted, str) else redacted  # type: ignore[return-value]

    def redacted[T](self, value: T) -> T:
        """`value` (a string, or lists and mappings of them, keys included) with every found value replaced."""
        if not self._kinds:
            return value
        if self._pattern is None:
            longest_first = sorted(self._kinds, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(self._alternative, longest_first)), re.IGNORECASE)
        redacted: T = _walk(value, self._pattern, self._kinds)
        return redacted


def unquoted(message: str) -> str:
    """mitmproxy's error message without the bytes it quotes: a client's or an upstream's, which may hold a key or
    an e-mail (an outside review found them in the operator log and in exported span statuses)."""
    return _QUOTED_BYTES.sub("<bytes>", message)


def scrubbed(message: str) -> str:
    """A message of Wardgate's (a refusal's reason) with anything shaped like a secret or an identifier replaced:
    what its sites quote goes through `wardgate.quoting`, and this catches what an exception's text carries in."""
    return _SCRUBBED.sub("[REDACTED]", message)


def recorded_path(path: str) -> str:
    """A request's path as the audit, the logs, the spans and the policy see it: route words kept, every other piece
    of the path (between `/` and `:`) and every query value masked as `*`, nothing after a `#`."""
    bare, _, query = path.split("#", 1)[0].partition("?")
    pieces = re.split(r"([/:])", bare)
    shown = "".join(piece if piece in ("/", ":", "") or _route_word(piece) else "*" for piece in pieces)
    if not query:
        return shown
    names = [name for name, _ in parse_qsl(query, keep_blank_values=True)]
    return shown + "?" + "&".join(f"{name if _PARAMETER_NAME.fullmatch(name) else '*'}=*" for name in names)


def recorded_json_path(path: Sequence[object]) -> str:
    """Where a body was rewritten, as the audit records it: `/messages/0/content`; a key that is no route word
    (one a caller chose: `Zebulon_Quarterfield`, an address) is `*`, Wardgate's own markers (`$key`) stay."""
    return "/" + "/".join(
        str(key) if isinstance(key, int) or _route_word(str(key)) or _MARKER.fullmatch(str(key)) else "*"
        for key in path
    )


def recorded_method(method: str) -> str:
    return method if method in METHODS else "*"


def recorded_host(host: str) -> str:
    """A request's host as the audit records it: an IP address as it is, a name's route-word labels kept and every
    other label `*` (a reverse-mode CONNECT to `AKIA….example.com` recorded the key: an outside review)."""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host.strip("[]"))
        return host
    return ".".join(label if _route_word(label) else "*" for label in host.split("."))


def _route_word(piece: str) -> bool:
    if not _ROUTE_WORD.fullmatch(piece) or _DIGITS.search(piece):
        return False
    return not any(any(c.isdigit() for c in run) for run in _KEYLIKE.findall(piece))


def _walk(value: Any, pattern: re.Pattern[str], kinds: dict[str, str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(lambda match: f"[REDACTED:{kinds.get(match.group(0).lower(), 'found')}]", value)
    if isinstance(value, dict):
        return {_walk(key, pattern, kinds): _walk(item, pattern, kinds) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(item, pattern, kinds) for item in value]
    return value
