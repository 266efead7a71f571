"""The PII scanner: Presidio (spaCy + patterns + the ONNX tagger) over the segments, cached per text.

Chat clients resend the whole conversation on every turn, so analyses are remembered by their text (scanners/memo.py):
only the new turn costs anything. Presidio runs on a small thread pool (never the event loop); the ONNX tagger inside
it joins the proxy-wide batcher, so concurrent requests share forward passes. A long text goes through in slices of
`SLICE_CHARS` that overlap by `OVERLAP_CHARS` (cut between words): a scan that is cancelled (its request refused,
timed out or gone) leaves at most the slices already running, and the pool's workers share one long text.

Stream windows and an MCP stream's tool results (`scan_sync`, on the caller's thread) get the pattern recognizers
only, and only when the text holds a digit or an `@`: every pattern entity (emails, numbers of all kinds, addresses)
needs one, and plain prose then costs nothing. Names in a stream are left to the non-streamed path. They are read in
the same slices, so their cost is linear in the text (Presidio's over one text grows faster: 124 KB dense with numbers
took 14 s whole, 3 s sliced), and within the judgement's budget.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
from collections.abc import Mapping, Sequence

from presidio_analyzer import AnalyzerEngine

from wardgate.errors import ScannerError
from wardgate.inference.work import SCAN_WORK
from wardgate.models import Finding, Segment
from wardgate.scanners import deadline
from wardgate.scanners.memo import TextMemo
from wardgate.scanners.pii.analyzer import NER_ENTITIES
from wardgate.scanners.pii.korean import has_hangul
from wardgate.scanners.pii.names import name_runs
from wardgate.scanners.pii.prefetch import TaggerPrefetch
from wardgate.scanners.pii.recognizers import OnnxNerRecognizer, international_emails
from wardgate.scripts import blank_other_scripts, has_other_script

__all__ = ["OVERLAP_CHARS", "SLICE_CHARS", "PiiScanner", "slices"]

_Found = tuple[tuple[str, int, int, float], ...]  # (entity, start, end, score) per result
_PATTERN_HINT = re.compile(r"[0-9@]")
# Languages written in another script than Latin (spaCy's codes): their passes read the text as written.
_OTHER_SCRIPT_LANGUAGES = frozenset(
    ("ko", "ja", "zh", "ru", "uk", "be", "bg", "mk", "sr", "kk", "el", "ar", "fa", "ur", "he", "th", "hi", "mr",
     "ne", "bn", "ta", "te", "kn", "ml", "gu", "si", "hy", "ka", "mn")
)  # fmt: skip
# ~0.1 s of spaCy + the tagger on one core; an entity, or a context word and its number, fits in the overlap.
SLICE_CHARS = 2048
OVERLAP_CHARS = 200


def slices(text: str) -> list[tuple[int, str]]:
    """(offset, slice) covering `text`; each slice but the last ends at a space in its later half when it has one,
    and the next starts at least `OVERLAP_CHARS` before that end (at most twice that), at a word when one starts
    there. An entity or a context word within `OVERLAP_CHARS` of a cut is whole in the next slice: the next slice
    used to start at the first space near the cut, which a run of text without spaces put inside a spaced card number
    or IBAN that straddled it (found by an outside review)."""
    found, start = [], 0
    while len(text) - start > SLICE_CHARS:
        end = start + SLICE_CHARS
        cut = max(text.rfind(space, start + SLICE_CHARS // 2, end) for space in " \n\t")
        end = cut if cut > 0 else end
        found.append((start, text[start:end]))
        latest = end - OVERLAP_CHARS
        space = max(text.rfind(space, latest - OVERLAP_CHARS, latest) for space in " \n\t")
        start = space + 1 if space >= 0 else latest
    found.append((start, text[start:]))
    return found


class PiiScanner:
    name = "pii"

    def __init__(
        self,
        analyzer: AnalyzerEngine,
        *,
        entities: Sequence[str],
        languages: Sequence[str],
        thresholds: Mapping[str, float],
        min_score: float,
        roles: Sequence[str],
        cache_size: int,
        workers: int,
        tagger: TaggerPrefetch | None = None,
        pattern_analyzer: AnalyzerEngine | None = None,
    ) -> None:
        self.analyzer = analyzer
        self._pattern_analyzer = pattern_analyzer  # patterns only (no spaCy, no tagger): stream windows
        self._entities, self._languages = list(entities), list(languages)
        # A request-target parameter is read for the entities patterns find (with spaCy's tokens for their context
        # words: "passport 912803456"), not by NER, which reads `en-US` as a place and an identifier as a name;
        # masked, those change what the upstream is asked.
        self._parameter_entities = [entity for entity in entities if entity not in NER_ENTITIES]
        self._thresholds, self._min_score = dict(thresholds), min_score
        self._roles = frozenset(roles)
        self._cache: TextMemo[_Found] = TextMemo(cache_size)
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wardgate-pii")
        self._tagger = tagger
        # The passes the ONNX tagger's recognizer reads, and for which entities: what `_prefetch` asks it for.
        self._tagger_reads = {
            recognizer.supported_language: frozenset(recognizer.supported_entities)
            for recognizer in analyzer.registry.recognizers
            if isinstance(recognizer, OnnxNerRecognizer)
        }
        # What each analyzer's language pass has recognizers for (Presidio warns of any other entity asked for).
        self._recognized = {
            (engine, language): frozenset(engine.get_supported_entities(language))
            for engine in (analyzer, pattern_analyzer) if engine is not None
            for language in languages
        }  # fmt: skip

    def threshold(self, entity: str) -> float:
        return self._thresholds.get(entity, self._min_score)

    def analyze(self, text: str, analyzer: AnalyzerEngine | None = None, entities: list[str] | None = None) -> _Found:
        """Blocking: every configured language's results above their thresholds, overlaps between types resolved.
        `entities`: these of the configured ones only (none: nothing is looked for)."""
        wanted = self._entities if entities is None else entities
        if not wanted:
            return ()
        analyzer = analyzer or self.analyzer
        found = []
        for language, view in self._views(text):
            # Only what the pass has a recognizer for: Presidio logs a warning for every other entity on every call
            # (KR_RRN on each English pass, a dozen on each Korean one: a log line or more per text).
            readable = [entity for entity in wanted if entity in self._recognized[analyzer, language]]
            if not readable:
                continue
            results = analyzer.analyze(view, language=language, entities=readable, score_threshold=0)
            for result in results:
                if result.score < self.threshold(result.entity_type):
                    continue
                spans = [(result.start, result.end)]
                if result.entity_type == "PERSON":
                    spans = name_runs(view, result.start, result.end)
                found += [(result.entity_type, start, end, float(result.score)) for start, end in spans]
        if "@" in text and "EMAIL_ADDRESS" in wanted and has_other_script(text):
            found += [("EMAIL_ADDRESS", start, end, 1.0) for start, end in international_emails(text)]
        return _resolve_overlaps(found)

    def _views(self, text: str) -> list[tuple[str, str]]:
        """(language, what its pass reads) for each configured language.

        A pass for a language written in Latin script (English's spaCy and the tagger) reads the text with letters of
        other scripts blanked out (same offsets): it reads Japanese clauses or Cyrillic words as names and places,
        and a particle glued to an e-mail address or a card number no longer hides its end from Presidio's `\\b`
        patterns. A pass for a language of another script reads the original; the Korean pass only text with Hangul
        (unless it is the only one).
        """
        if not has_other_script(text):
            korean_needed = self._languages == ["ko"]
            return [(language, text) for language in self._languages if language != "ko" or korean_needed]
        blanked = blank_other_scripts(text)
        views = []
        for language in self._languages:
            if language not in _OTHER_SCRIPT_LANGUAGES:
                views.append((language, blanked))
            elif language != "ko" or has_hangul(text) or self._languages == ["ko"]:
                views.append((language, text))
        return views

    def scan_sync(self, segments: Sequence[Segment]) -> list[Finding]:
        """Pattern recognizers only, only where a pattern entity could be, slice by slice until the judgement's budget
        is spent (scanners/deadline): then the scan fails, as nothing cancels it from outside."""
        if self._pattern_analyzer is None:
            return []
        findings = []
        for index, segment in enumerate(segments):
            if segment.source in ("metadata", "header") or not _PATTERN_HINT.search(segment.text):
                continue
            read = []
            for offset, piece in slices(segment.text):
                deadline.check("PII analysis")
                try:
                    read.append((offset, self.analyze(piece, self._pattern_analyzer)))
                except Exception as exc:  # Presidio's own errors: the stream fails closed (configurable)
                    raise ScannerError(f"PII analysis failed: {exc}") from exc
            findings += [
                Finding(self.name, f"pii:{entity}", score, index, start, end, threshold=self.threshold(entity))
                for entity, start, end, score in _joined(read)
            ]
        return findings

    async def scan(self, segments: Sequence[Segment]) -> list[Finding]:
        if self._tagger is not None:
            self._tagger.bind()  # the tagger, called from the pool, joins this loop's batches
        loop = asyncio.get_running_loop()
        # Metadata (a model name, a role) is read for secrets only: a name-shaped model id is no person to mask. So
        # are header values: NER reads `application/json` or a user agent as names, and a masked header breaks a call.
        targets = [
            (index, segment)
            for index, segment in enumerate(segments)
            if segment.role in self._roles and segment.source not in ("metadata", "header")
        ]
        keys = [self._memo_key(segment) for _, segment in targets]
        known = {key: found for key in keys if (found := self._cache.get(key)) is not None}
        missing = {key: segment for key, (_, segment) in zip(keys, targets, strict=True) if key not in known}
        pieces = [
            (key, offset, piece, self._entities_for(segment))
            for key, segment in missing.items()
            for offset, piece in slices(segment.text)
        ]
        prefetched = self._prefetch(pieces)
        try:
            # All queued at once: cancelling this scan cancels the slices not yet started.
            analysed = await asyncio.gather(
                *(
                    loop.run_in_executor(self._executor, self._analyze_counted, piece, wanted)
                    for *_, piece, wanted in pieces
                )
            )
        except Exception as exc:  # spaCy, Presidio or the tagger failed: the pipeline applies fail-closed
            raise ScannerError(f"PII analysis failed: {exc}") from exc
        finally:
            if self._tagger is not None:
                self._tagger.release(prefetched)
        read: dict[bytes, list[tuple[int, _Found]]] = {key: [] for key in missing}
        for (key, offset, _, _), found in zip(pieces, analysed, strict=True):
            read[key].append((offset, found))
        for key, slices_read in read.items():
            known[key] = _joined(slices_read)
            self._cache.put(key, known[key])
        return [
            Finding(self.name, f"pii:{entity}", score, index, start, end, threshold=self.threshold(entity))
            for (index, _), key in zip(targets, keys, strict=True)
            for entity, start, end, score in known[key]
        ]

    def _prefetch(self, pieces: Sequence[tuple[bytes, int, str, list[str] | None]]) -> list[str]:
        """Start the tagger on what its recognizer will read of each piece (the passes it serves, when the piece is
        read for an entity it reports), so it runs beside spaCy and the patterns."""
        if self._tagger is None:
            return []
        none: frozenset[str] = frozenset()
        views = [
            view
            for *_, piece, wanted in pieces
            for language, view in self._views(piece)
            if not self._tagger_reads.get(language, none).isdisjoint(self._entities if wanted is None else wanted)
        ]
        return self._tagger.start(views)

    def _entities_for(self, segment: Segment) -> list[str] | None:
        """None: every configured entity (`analyze`'s default)."""
        return self._parameter_entities if segment.source == "parameter" else None

    def _memo_key(self, segment: Segment) -> bytes:
        """A parameter's reading (no NER types) is remembered apart from the same text's full reading: one byte
        longer than any full reading's key, so no text can be made to share it (a prefix in the hashed text could)."""
        key = TextMemo.key(segment.text)
        return key + b"p" if self._entities_for(segment) is not None else key

    def _analyze_counted(self, text: str, entities: list[str] | None) -> _Found:
        with SCAN_WORK.unit():
            return self.analyze(text, entities=entities)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._tagger is not None:
            self._tagger.close()


# Types whose values hold other values: an e-mail address in a URL's query is still an e-mail address (the URL is
# masked or not by its own rule; it never hides what is inside it).
_CONTAINERS = frozenset(("URL",))


def _joined(read: list[tuple[int, _Found]]) -> _Found:
    """One text's findings from its slices' (offset, findings): at the text's offsets, a span two overlapping slices
    found kept once."""
    return _resolve_overlaps(
        [(entity, start + offset, end + offset, score) for offset, found in read for entity, start, end, score in found]
    )


def _resolve_overlaps(found: list[tuple[str, int, int, float]]) -> _Found:
    """Drop a result lying inside a stronger one of another type (a card number is not also a phone number), unless
    that type is a container (`_CONTAINERS`); then overlapping results of one type become one, their union at the
    higher score.

    spaCy and the tagger often find one name with slightly different edges (`Bryan Hull` and `Bryan Hull -`), two
    language passes or two slices the same span: masking replaces their union with one placeholder, so the findings
    name it once too.
    """
    ranked = sorted(found, key=lambda r: (-r[3], -(r[2] - r[1])))
    # Every kept result ranks at least as high as the one weighed now, so "inside a stronger one" is "inside a kept
    # one": per type, the furthest end among kept results starting at or before this start. A scan of every kept
    # result was quadratic (0.3 s at 4,000 findings).
    starts = sorted({start for _, start, _, _ in found})
    rank = {start: index for index, start in enumerate(starts)}
    furthest: dict[str, _PrefixMax] = {}
    kept: list[tuple[str, int, int, float]] = []
    for entity, start, end, score in ranked:
        at = rank[start]
        if any(other != entity and ends.upto(at) >= end for other, ends in furthest.items()):
            continue
        kept.append((entity, start, end, score))
        if entity not in _CONTAINERS:
            furthest.setdefault(entity, _PrefixMax(len(starts))).raise_to(at, end)
    merged: list[tuple[str, int, int, float]] = []
    for entity, start, end, score in sorted(kept):
        last = merged[-1] if merged else None
        if last is not None and last[0] == entity and start < last[2]:
            merged[-1] = (entity, last[1], max(end, last[2]), max(score, last[3]))
        else:
            merged.append((entity, start, end, score))
    return tuple(sorted(merged, key=lambda r: (r[1], r[2])))


class _PrefixMax:
    """The largest value set at or before a position (a Fenwick tree; values only rise)."""

    def __init__(self, size: int) -> None:
        self._tree = [-1] * (size + 1)

    def raise_to(self, position: int, value: int) -> None:
        index = position + 1
        while index < len(self._tree):
            self._tree[index] = max(self._tree[index], value)
            index += index & -index

    def upto(self, position: int) -> int:
        index, best = position + 1, -1
        while index:
            best = max(best, self._tree[index])
            index -= index & -index
        return best
