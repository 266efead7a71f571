"""Secrets scanner: API keys, tokens and private keys, by gitleaks' rule set.

A match counts only if its secret is random enough for the rule (Shannon entropy, as gitleaks
does) and no allow-list clears it. Findings carry the rule id, span and a fingerprint (a short
SHA-256 of the secret), never the secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import re2

from wardgate.errors import ScannerError
from wardgate.inference.work import SCAN_WORK
from wardgate.models import Finding, Segment
from wardgate.scanners.gitleaks import Rule, RuleSet, load_rules
from wardgate.scanners.normalise import Normalised, decoded_layers, has_encoded_run, normalise

__all__ = ["BUNDLED_RULES", "SecretsScanner", "fingerprint", "shannon_entropy"]

BUNDLED_RULES = Path(__file__).parent / "data" / "gitleaks.toml"
# The catch-all rule overlaps the specific ones; a specific rule names the secret better.
_GENERIC_RULES = frozenset({"generic-api-key"})
# Up to this much text the "could any rule match?" check runs on the event loop (worst case well under 1 ms).
_INLINE_CHECK_CHARS = 64 * 1024
# How much of each side of a boundary between adjacent segments is joined to look for a split secret.
_JOIN_CHARS = 256


def shannon_entropy(text: str) -> float:
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


class SecretsScanner:
    name = "secrets"

    def __init__(self, rules: RuleSet) -> None:
        self._rules = sorted(rules.rules, key=lambda rule: rule.id in _GENERIC_RULES)
        self._allowlist = rules.allowlist
        self._always = [rule for rule in self._rules if not rule.keywords]
        self._keywords = sorted({keyword for rule in self._rules for keyword in rule.keywords})
        # One RE2 pass answers "does any keyword occur?" (~4 µs per KB); most prompts stop there.
        self._any_keyword = re2.compile("|".join(re2.escape(k) for k in self._keywords)) if self._keywords else None

    @classmethod
    def from_file(cls, path: Path | None = None) -> SecretsScanner:
        return cls(load_rules(path or BUNDLED_RULES))

    async def scan(self, segments: Sequence[Segment]) -> list[Finding]:
        # The keyword check is RE2 in C (~4 us per KB): cheaper inline than a thread hop (~170 us here).
        # Only text that could hold a secret pays for the hop and the full rule pass.
        small = sum(len(segment.text) for segment in segments) <= _INLINE_CHECK_CHARS
        if small and not self._worth_scanning([segment.text for segment in segments]):
            return []
        try:
            return await asyncio.to_thread(self._scan_counted, segments)
        except Exception as exc:  # a regex engine fault must become the configured verdict, not a 500
            raise ScannerError(f"secrets scanner failed: {exc}") from exc

    def _scan_counted(self, segments: Sequence[Segment]) -> list[Finding]:
        with SCAN_WORK.unit():
            return self.scan_sync(segments)

    def scan_sync(self, segments: Sequence[Segment]) -> list[Finding]:
        found = [finding for index, segment in enumerate(segments) for finding in self._scan_text(index, segment.text)]
        return found + list(self._across_boundaries(segments))

    def _across_boundaries(self, segments: Sequence[Segment]) -> Iterator[Finding]:
        """A secret split over two adjacent messages or parts: found in their joined edges, marked in both."""
        for index in range(len(segments) - 1):
            before, after = segments[index].text, segments[index + 1].text
            tail, head = before[-_JOIN_CHARS:], after[:_JOIN_CHARS]
            if not tail or not head:
                continue
            for rule, start, end, secret in self._found(tail + head):
                if start < len(tail) < end:
                    mark = fingerprint(secret)
                    offset = len(before) - len(tail)
                    yield Finding(self.name, f"secret:{rule.id}", 1.0, index, offset + start, len(before), mark)
                    yield Finding(self.name, f"secret:{rule.id}", 1.0, index + 1, 0, end - len(tail), mark)

    def _worth_scanning(self, texts: list[str]) -> bool:
        """Whether any rule could match: a keyword in the text (or across two segments), or text that only
        normalising or decoding would reveal (non-ASCII, percent-escapes, base64/hex runs)."""
        joined = "".join(texts)
        if not joined.isascii() or "%" in joined or has_encoded_run(joined):
            return True
        return self._might_match(joined.lower())

    def _might_match(self, lowered: str) -> bool:
        return bool(self._always) or (self._any_keyword is not None and self._any_keyword.search(lowered) is not None)

    def _candidates(self, lowered: str) -> list[Rule]:
        """The rules worth running: those without keywords, and those with a keyword in the text."""
        if not self._might_match(lowered):
            return self._always
        present = {keyword for keyword in self._keywords if keyword in lowered}
        return [rule for rule in self._rules if not rule.keywords or not present.isdisjoint(rule.keywords)]

    def _scan_text(self, index: int, text: str) -> Iterator[Finding]:
        """The text as written, then as it reads once normalised, then its base64/hex payloads decoded."""
        taken: list[tuple[int, int]] = []
        # (text to scan, where its matches lie in the original: None = at the same offsets)
        layers: list[tuple[str, Normalised | tuple[int, int] | None]] = [(text, None)]
        normalised = normalise(text) if not text.isascii() or "%" in text else None
        if normalised is not None and normalised.changed:
            layers.append((normalised.text, normalised))
        readable = normalised.text if normalised is not None else text
        for start, end, decoded in decoded_layers(readable):
            layers.append((decoded, normalised.span(start, end) if normalised is not None else (start, end)))
        for layer, origin in layers:
            for rule, start, end, secret in self._found(layer):
                if isinstance(origin, Normalised):
                    start, end = origin.span(start, end)
                elif origin is not None:
                    start, end = origin  # a decoded payload: the whole encoded run is the secret's place
                if any(start < t_end and t_start < end for t_start, t_end in taken):
                    continue
                taken.append((start, end))
                yield Finding(self.name, f"secret:{rule.id}", 1.0, index, start, end, fingerprint(secret))

    def _found(self, text: str) -> Iterator[tuple[Rule, int, int, str]]:
        for rule in self._candidates(text.lower()):
            for start, end in self._matches(rule, text):
                yield rule, start, end, text[start:end]

    def _matches(self, rule: Rule, text: str) -> Iterator[tuple[int, int]]:
        for match in rule.regex.finditer(text):
            group = rule.secret_group or next(
                (g for g in range(1, (match.re.groups or 0) + 1) if match.start(g) != -1), 0
            )
            start, end = match.span(group)
            secret = text[start:end]
            if not secret or (rule.entropy is not None and shannon_entropy(secret) < rule.entropy):
                continue
            line_start = text.rfind("\n", 0, match.start()) + 1
            line_end = text.find("\n", match.end())
            line = text[line_start : line_end if line_end != -1 else len(text)]
            allowlists = (self._allowlist, *rule.allowlists)
            if any(allow.allows(secret, match.group(0), line) for allow in allowlists):
                continue
            yield start, end
