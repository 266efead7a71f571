"""Secrets scanner: API keys, tokens and private keys, by gitleaks' rule set.

A match counts only if its secret is random enough for the rule (Shannon entropy, as gitleaks
does) and no allow-list clears it. Findings carry the rule id, span and a fingerprint (a short
SHA-256 of the secret), never the secret.

Each text is read as written, normalised, with its encoded payloads decoded (`normalise.py`) and re-spelled
(`spelled.py`: reversed, rot13, upper-cased, entities, spaced letters). Re-spelled layers are matched only by rules
whose secret starts with a distinctive literal (`Rule.prefixed`): a generic rule would find "keys" in any
re-spelled prose. Rules with such a prefix match without their outer word boundaries, so a glued key is found.
"""

from __future__ import annotations

import asyncio
import bisect
import codecs
import dataclasses
import functools
import hashlib
import math
import string
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import re2

from wardgate.errors import ScannerError
from wardgate.inference.work import SCAN_WORK
from wardgate.models import Finding, Segment
from wardgate.scanners.gitleaks import Rule, RuleSet, load_rules
from wardgate.scanners.memo import TextMemo
from wardgate.scanners.normalise import decoded_layers, has_encoded_run, normalise
from wardgate.scanners.spelled import (
    Spelled,
    as_written,
    entities_decoded,
    hidden_hint,
    lower_runs_upper_cased,
    reversed_text,
    rot13,
    spacing_removed,
)

__all__ = ["BUNDLED_RULES", "SecretsScanner", "fingerprint", "shannon_entropy"]

BUNDLED_RULES = Path(__file__).parent / "data" / "gitleaks.toml"
# The catch-all rule overlaps the specific ones; a specific rule names the secret better.
_GENERIC_RULES = frozenset({"generic-api-key"})
# Up to this much text the "could any rule match?" check runs on the event loop (worst case well under 1 ms).
_INLINE_CHECK_CHARS = 64 * 1024
# How much of each end of a segment is joined with its neighbours' ends to look for a split secret.
_JOIN_CHARS = 256
_MAX_KEYWORD_HITS = 16  # keyword places looked at one by one before testing every keyword instead
_GAP = "\x00"  # between the head and the tail of one long segment: its middle is not joined

# A glued key has a few characters stuck to it (`9AKIA…`, `…_1`, `keyAKIA…`); a match with more than this many run
# characters on one side lies inside a blob, where a prefix turns up by chance (1 MB of base64: dozens of times).
_MAX_GLUE = 16
_RUN = frozenset(string.ascii_letters + string.digits + "_+/=-")

Span = Callable[[int, int], tuple[int, int]]  # a layer's span → the original text's span


def _same(start: int, end: int) -> tuple[int, int]:
    return start, end


def _whole(run: tuple[int, int], start: int, end: int) -> tuple[int, int]:
    return run


def _through(first: Span, then: Span, start: int, end: int) -> tuple[int, int]:
    return then(*first(start, end))


def _any_of(words: Iterable[str]) -> re2._Regexp | None:
    words = sorted(set(words))
    return re2.compile("|".join(re2.escape(word) for word in words)) if words else None


def shannon_entropy(text: str) -> float:
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


class SecretsScanner:
    name = "secrets"

    def __init__(self, rules: RuleSet, *, cache_size: int = 8192) -> None:
        self._rules = sorted(rules.rules, key=lambda rule: rule.id in _GENERIC_RULES)
        self._allowlist = rules.allowlist
        self._always = [rule for rule in self._rules if not rule.keywords]
        self._keywords = sorted({keyword for rule in self._rules for keyword in rule.keywords})
        # One RE2 pass answers "does any keyword occur?" (~4 µs per KB); most prompts stop there.
        self._any_keyword = _any_of(self._keywords)
        self._prefixed = [rule for rule in self._rules if rule.prefixed is not None]
        self._prefixed_keywords = sorted({keyword for rule in self._prefixed for keyword in rule.keywords})
        self._any_prefixed = _any_of(self._prefixed_keywords)
        self._prefixed_by_first: dict[str, list[str]] = {}
        for keyword in self._prefixed_keywords:
            self._prefixed_by_first.setdefault(keyword[0], []).append(keyword)
        # A keyword reversed or in rot13 means a re-spelled key may be there: that layer is worth matching.
        reversed_, rot13_ = ([keyword[::-1] for keyword in self._prefixed_keywords],
                             [codecs.encode(keyword, "rot13") for keyword in self._prefixed_keywords])  # fmt: skip
        self._any_reversed, self._any_rot13 = _any_of(reversed_), _any_of(rot13_)
        # Most texts hold none of them: one pass says so.
        self._any_respelled = _any_of([*self._prefixed_keywords, *reversed_, *rot13_])
        # Each segment's own findings by its text (as segment 0): a chat's history is not read again every turn.
        self._texts: TextMemo[tuple[Finding, ...]] = TextMemo(cache_size)

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
            return self._scan_segments(segments, remember=True)

    def scan_sync(self, segments: Sequence[Segment]) -> list[Finding]:
        """Stream windows: their text is new each time, so nothing is remembered."""
        return self._scan_segments(segments, remember=False)

    def _scan_segments(self, segments: Sequence[Segment], *, remember: bool) -> list[Finding]:
        """Every segment's own findings, then the secrets split across segments. `remember`: a text read before (a
        chat's history, resent every turn) is not read again; the joins, linear in the segments, always are."""
        found = []
        for index, segment in enumerate(segments):
            own = self._texts.recall(segment.text, self._own) if remember else self._own(segment.text)
            found += [dataclasses.replace(finding, segment=index) for finding in own]
        return found + list(self._across_segments(segments))

    def _own(self, text: str) -> tuple[Finding, ...]:
        """A text's own findings, as segment 0."""
        return tuple(self._scan_text(0, text))

    def _across_segments(self, segments: Sequence[Segment]) -> Iterator[Finding]:
        """A secret split over several messages or parts: found in the joined ends of all segments in order, of each
        role's segments in order (so a benign answer between two halves does not hide them), and of each field's
        (the same path but for its array indices: the `message.content` of every line of a JSON Lines stream, whose
        other fields would stand between the pieces otherwise), marked in each piece. Linear: every segment
        contributes at most 2 * _JOIN_CHARS characters to at most three joins."""
        if len(segments) < 2:
            return
        roles: dict[str, list[int]] = {}
        fields: dict[tuple[object, ...], list[int]] = {}
        for index, segment in enumerate(segments):
            roles.setdefault(segment.role, []).append(index)
            fields.setdefault(tuple(step for step in segment.path if not isinstance(step, int)), []).append(index)
        groups: dict[tuple[int, ...], None] = {tuple(range(len(segments))): None}  # in order, each group once
        for members in (*roles.values(), *fields.values()):
            if 1 < len(members) < len(segments):
                groups.setdefault(tuple(members))
        seen: set[tuple[int, int, int, str]] = set()
        for group in groups:
            for finding in self._joined(segments, group):
                if (key := (finding.segment, finding.start, finding.end, finding.kind)) not in seen:
                    seen.add(key)
                    yield finding

    def _joined(self, segments: Sequence[Segment], group: Sequence[int]) -> Iterator[Finding]:
        parts: list[str] = []
        pieces: list[tuple[int, int, int, int]] = []  # (start in the join, segment, start in it, length)
        length = 0
        for index in group:
            text = segments[index].text
            ends = (
                [(0, len(text))]
                if len(text) <= 2 * _JOIN_CHARS
                else [(0, _JOIN_CHARS), (len(text) - _JOIN_CHARS, len(text))]
            )
            for number, (start, end) in enumerate(ends if text else []):
                if number:
                    parts.append(_GAP)
                    length += 1
                pieces.append((length, index, start, end - start))
                parts.append(text[start:end])
                length += end - start
        if len({piece[1] for piece in pieces}) < 2:
            return
        joined = "".join(parts)
        starts = [piece[0] for piece in pieces]
        # Where one segment's text meets the next: what lies beyond is not glued to a match (a hash ending the
        # message before a key's first piece does not make the key a chance substring).
        edges = frozenset((*starts, *(at + size for at, _, _, size in pieces)))
        for rule, start, end, secret in self._found(joined, edges=edges):
            first = bisect.bisect_right(starts, start) - 1
            touched = [piece for piece in pieces[first:] if piece[0] < end]
            if len({piece[1] for piece in touched}) < 2:
                continue  # inside one segment: that segment's own pass reports it
            mark = fingerprint(secret)
            for at, index, offset, size in touched:
                lo, hi = max(start, at) - at + offset, min(end, at + size) - at + offset
                yield Finding(self.name, f"secret:{rule.id}", 1.0, index, lo, hi, mark)

    def _worth_scanning(self, texts: list[str]) -> bool:
        """Whether any rule could match: a keyword in the text (or across two segments), or text that only
        normalising or decoding would reveal (non-ASCII, percent-escapes, base64/hex runs)."""
        joined = "".join(texts)
        if not joined.isascii() or "%" in joined or has_encoded_run(joined) or hidden_hint(joined):
            return True
        lowered = joined.lower()
        return self._might_match(lowered) or (self._any_respelled is not None and self._any_respelled.search(lowered))

    def _might_match(self, lowered: str) -> bool:
        return bool(self._always) or (self._any_keyword is not None and self._any_keyword.search(lowered) is not None)

    def _candidates(self, lowered: str) -> list[Rule]:
        """The rules worth running: those without keywords, and those with a keyword in the text."""
        if not self._might_match(lowered):
            return self._always
        present = {keyword for keyword in self._keywords if keyword in lowered}
        return [rule for rule in self._rules if not rule.keywords or not present.isdisjoint(rule.keywords)]

    def _scan_text(self, index: int, text: str) -> Iterator[Finding]:
        """The text as written, normalised, with its payloads decoded, then re-spelled (prefixed rules only)."""
        taken: list[tuple[int, int]] = []
        for layer, span, rules in self._layers(text):
            for rule, start, end, secret in self._found(layer, rules):
                start, end = span(start, end)
                if any(start < t_end and t_start < end for t_start, t_end in taken):
                    continue
                taken.append((start, end))
                yield Finding(self.name, f"secret:{rule.id}", 1.0, index, start, end, fingerprint(secret))

    def _layers(self, text: str) -> Iterator[tuple[str, Span, list[Rule] | None]]:
        """(layer, where its spans lie in `text`, the rules to run: None = every candidate), cheapest first."""
        candidates = self._candidates(text.lower())
        yield text, _same, candidates
        normalised = normalise(text) if not text.isascii() or "%" in text else None
        if normalised is not None and normalised.changed:
            yield normalised.text, normalised.span, None
        readable, to_text = (normalised.text, normalised.span) if normalised is not None else (text, _same)
        for start, end, decoded in decoded_layers(readable):
            run = to_text(start, end)  # a decoded payload: the whole encoded run is the secret's place
            yield decoded, functools.partial(_whole, run), None
        # As written, the re-spelled layers' keyword check is the one just made (ASCII text reads the same normalised).
        written = [rule for rule in candidates if rule.prefixed is not None] if readable is text else None
        for layer, rules in self._respelled(readable, written):
            yield layer.text, functools.partial(_through, layer.span, to_text), rules

    def _respelled(self, text: str, written: list[Rule] | None) -> Iterator[tuple[Spelled, list[Rule]]]:
        """The re-spellings of `text` that hold a prefixed rule's keyword, with the prefixed rules to run on them,
        each also with its lower-case runs upper-cased for rules whose secret is upper case (`written`: the rules
        for `text` itself, when known)."""
        lowered = text.lower()
        layers = []
        if self._any_respelled is not None and self._any_respelled.search(lowered) is not None:
            layers.append(as_written(text))
            if self._any_reversed is not None and self._any_reversed.search(lowered) is not None:
                layers.append(reversed_text(text))
            if self._any_rot13 is not None and self._any_rot13.search(lowered) is not None:
                layers.append(rot13(text))
        layers += [layer for layer in (entities_decoded(text), spacing_removed(text)) if layer is not None]
        for layer in layers:
            if layer.name == "as written":
                rules = written if written is not None else self._prefixed_candidates(lowered)
            else:
                rules = self._prefixed_candidates(layer.text.lower())
            if not rules:
                continue
            if layer.name != "as written":  # as written, it was read first
                yield layer, rules
            # Upper-casing helps only rules whose secret is upper case (AWS); the others match either case already.
            cased = [rule for rule in rules if rule.upper_case]
            if cased and (upper := lower_runs_upper_cased(layer)) is not None:
                yield upper, cased

    def _prefixed_candidates(self, lowered: str) -> list[Rule]:
        present = self._prefixed_present(lowered)
        return [rule for rule in self._prefixed if not rule.keywords or not present.isdisjoint(rule.keywords)]

    def _prefixed_present(self, lowered: str) -> set[str]:
        """The prefixed rules' keywords in `lowered`: found where the one RE2 pass stops (a re-spelled layer holds
        one or two by chance), or, past _MAX_KEYWORD_HITS, by testing each keyword (bounded work either way)."""
        present: set[str] = set()
        if self._any_prefixed is None:
            return present
        position = 0
        for _ in range(_MAX_KEYWORD_HITS):
            if (hit := self._any_prefixed.search(lowered, position)) is None:
                return present
            at = hit.start()
            starting = self._prefixed_by_first.get(lowered[at], ())
            present.update(keyword for keyword in starting if lowered.startswith(keyword, at))
            position = at + 1
        return {keyword for keyword in self._prefixed_keywords if keyword in lowered}

    def _found(
        self, text: str, rules: list[Rule] | None = None, *, edges: frozenset[int] = frozenset()
    ) -> Iterator[tuple[Rule, int, int, str]]:
        for rule in self._candidates(text.lower()) if rules is None else rules:
            for start, end in self._matches(rule, text, edges):
                yield rule, start, end, text[start:end]

    def _matches(self, rule: Rule, text: str, edges: frozenset[int] = frozenset()) -> Iterator[tuple[int, int]]:
        bounded: set[tuple[int, int]] | None = None  # the rule's own matches, computed only when needed
        for match in (rule.prefixed or rule.regex).finditer(text):
            start, end = _secret_span(rule, match)
            secret = text[start:end]
            if not secret or (rule.entropy is not None and shannon_entropy(secret) < rule.entropy):
                continue
            if rule.prefixed is not None and _deep_in_run(text, match.start(), match.end(), edges):
                # Not a glued key but a chance substring of a blob (base64, a hash), unless the rule's own
                # boundaries hold too.
                bounded = bounded if bounded is not None else {_secret_span(rule, m) for m in rule.regex.finditer(text)}
                if (start, end) not in bounded:
                    continue
            line_start = text.rfind("\n", 0, match.start()) + 1
            line_end = text.find("\n", match.end())
            line = text[line_start : line_end if line_end != -1 else len(text)]
            allowlists = (self._allowlist, *rule.allowlists)
            if any(allow.allows(secret, match.group(0), line) for allow in allowlists):
                continue
            yield start, end


def _secret_span(rule: Rule, match: Any) -> tuple[int, int]:
    group = rule.secret_group or next((g for g in range(1, (match.re.groups or 0) + 1) if match.start(g) != -1), 0)
    start, end = match.span(group)
    return start, end


def _deep_in_run(text: str, start: int, end: int, edges: frozenset[int] = frozenset()) -> bool:
    """Whether more than _MAX_GLUE word or base64 characters touch the match on either side (a run stops at an
    edge between two segments' texts)."""
    left = start
    while left > 0 and left not in edges and start - left <= _MAX_GLUE and text[left - 1] in _RUN:
        left -= 1
    right = end
    while right < len(text) and right not in edges and right - end <= _MAX_GLUE and text[right] in _RUN:
        right += 1
    return start - left > _MAX_GLUE or right - end > _MAX_GLUE
