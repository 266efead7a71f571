"""Wardgate's Presidio recognizers: the ONNX NER tagger, and card and phone numbers named as such by the text.

Presidio's own card recognizer requires a valid Luhn checksum and its phone recognizer a number valid in one of a
few regions, so a mistyped card or a foreign phone number would reach the model unmasked. The in-context
recognizers below accept any plausible number, but only when a word near it says what it is ("card", "call me
on", "mobile:"): a masking proxy should err towards hiding a number the user calls a card.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import tldextract
from presidio_analyzer import AnalysisExplanation, EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from wardgate.inference import EntitySpan

__all__ = [
    "CardNumberInContextRecognizer",
    "ContextPatternRecognizer",
    "MastercardTwoSeriesRecognizer",
    "OnnxNerRecognizer",
    "PhoneNumberInContextRecognizer",
    "SuffixedEmailRecognizer",
    "international_emails",
]


# An address whose local part or domain is written in another script (`홍길동@naver.com`, `иван@почта.рф`): the
# Latin-script passes read those letters blanked out, and Presidio's pattern wants ASCII. The local part and each
# domain label are of one script, so text glued to either side (`連絡先はtanaka@…`, `…@naver.com입니다`) stays out.
# Read outwards from each `@` within RFC 5321's lengths (64 before, 255 after), so a run of `%20` or of `@` costs
# linear time; a regex over the whole text retried every start (`%20` x 60,000: 84 s).
_OTHER = r"[^\W\d_a-zA-Z]"
_LOCAL_CHARS = re.compile(r"[\w.%+-]")
# The local part read backwards from the `@`: ASCII, or of the other script (starting with a letter of it).
_LOCAL_BACKWARDS = re.compile(rf"[a-zA-Z0-9._%+-]+|(?:{_OTHER}|[0-9._+-])*{_OTHER}")
_LABEL = rf"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?|{_OTHER}+)"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.(?:[a-zA-Z]{{2,}}(?![a-zA-Z0-9-])|{_OTHER}{{2,}})")
_MAX_LOCAL, _MAX_DOMAIN = 64, 255
_AT = re.compile(r"(?<=[\w.%+-])@(?=\w)")  # an `@` between an address's characters


def international_emails(text: str) -> list[tuple[int, int]]:
    """Spans of e-mail addresses with letters of another script than Latin in them."""
    spans = []
    for at in (match.start() for match in _AT.finditer(text)):
        if (domain := _DOMAIN.match(text, at + 1, at + 1 + _MAX_DOMAIN)) is None:
            continue
        if (local := _LOCAL_BACKWARDS.match(text[max(0, at - _MAX_LOCAL) : at][::-1])) is None:
            continue
        start = at - local.end()
        if (start and _LOCAL_CHARS.match(text, start - 1)) or text[start : domain.end()].isascii():
            continue
        spans.append((start, domain.end()))
    return spans


class SuffixedEmailRecognizer(EntityRecognizer):
    """An address with more glued after its domain by a dot (`name@example.com.txt`, a file named after its owner):
    Presidio's pattern takes the whole run for the domain, and its check rejects `.txt` as no public suffix, so the
    address reached the upstream (an outside review). The longest leading part of the domain that ends in a public
    suffix is the address's; an address Presidio's own recognizer takes is left to it."""

    _ADDRESS = re.compile(r"(?<![\w.%+-])[\w.%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){2,}[A-Za-z0-9-]{1,63}")

    def __init__(self, language: str = "en") -> None:
        super().__init__(["EMAIL_ADDRESS"], name=type(self).__name__, supported_language=language)

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for match in self._ADDRESS.finditer(text):
            local, _, domain = match.group(0).rpartition("@")
            if len(domain) > _MAX_DOMAIN or tldextract.extract(domain).fqdn:
                # Past RFC 5321's length no address (each shorter reading is tried: a chain of labels as long as the
                # text cost the square of its length, 2.7 s for 32 KB); an address as it is, Presidio's to find.
                continue
            labels = domain.split(".")
            for cut in range(len(labels) - 1, 1, -1):
                if tldextract.extract(kept := ".".join(labels[:cut])).fqdn:
                    end = match.start() + len(local) + 1 + len(kept)
                    results.append(RecognizerResult("EMAIL_ADDRESS", match.start(), end, 0.5))
                    break
        return results


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


class MastercardTwoSeriesRecognizer(PatternRecognizer):
    """Mastercard's 2221-2720 range, which Presidio's card pattern predates: Luhn-checked like any card.

    The edges exclude digits and Latin letters only, so a Korean particle glued to the number (`…1234로`) still
    leaves it found.
    """

    def __init__(self, language: str = "en") -> None:
        pattern = r"(?<![\dA-Za-z])2[2-7]\d{2}(?:[ -]?\d{4}){3}(?![\dA-Za-z])"
        super().__init__(
            supported_entity="CREDIT_CARD",
            name=type(self).__name__,
            supported_language=language,
            patterns=[Pattern("mastercard 2-series", pattern, 0.5)],
        )

    def validate_result(self, pattern_text: str) -> bool:
        digits = "".join(char for char in pattern_text if char.isdigit())
        return 2221 <= int(digits[:4]) <= 2720 and luhn_valid(digits)


class ContextPatternRecognizer(PatternRecognizer):
    """Patterns whose matches are weighed by words in the raw text around them (`in_context`).

    The raw text, not Presidio's lemma context: its keyword list drops spaCy stop words ("call" among them), and
    Korean keywords arrive glued to particles and compounds.
    """

    BEFORE, AFTER = 48, 24  # characters of context either side of the match

    def __init__(self, *, entity: str, language: str, patterns: list[Pattern], context: re.Pattern[str]) -> None:
        super().__init__(
            supported_entity=entity, name=type(self).__name__, supported_language=language, patterns=patterns
        )
        self._context = context

    def in_context(self, text: str, result: RecognizerResult) -> bool:
        before = text[max(0, result.start - self.BEFORE) : result.start]
        return self._context.search(before + " " + text[result.end : result.end + self.AFTER]) is not None

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        return self.weigh(text, super().analyze(text, entities, nlp_artifacts, regex_flags))

    def weigh(self, text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
        """The pattern's matches as the context makes them count (kept, dropped, rescored)."""
        raise NotImplementedError


class _NumberInContextRecognizer(ContextPatternRecognizer):
    """A pattern that counts only with one of `CONTEXT` (as a word prefix: "call" matches "calling") nearby."""

    ENTITY: str
    CONTEXT: Sequence[str]
    PATTERN: str
    SCORE = 0.6

    def __init__(self, language: str = "en") -> None:
        super().__init__(
            entity=self.ENTITY,
            language=language,
            patterns=[Pattern(f"{self.ENTITY.lower()} in context", self.PATTERN, self.SCORE)],
            context=re.compile(r"\b(?:" + "|".join(map(re.escape, self.CONTEXT)) + r")", re.IGNORECASE),
        )

    def weigh(self, text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
        kept = []
        for result in results:
            if self.in_context(text, result):
                result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
                kept.append(result)
        return kept


class CardNumberInContextRecognizer(_NumberInContextRecognizer):
    """12-19 digits (spaces or dashes between groups) that the text calls a card, checksum or not."""

    ENTITY = "CREDIT_CARD"
    CONTEXT = ("card", "credit", "debit", "visa", "mastercard", "amex", "maestro", "cc ", "cc#", "cvv", "pan ")
    PATTERN = r"(?<![\d\w])\d(?:[ -]?\d){11,18}(?![\d\w])"

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = "".join(char for char in pattern_text if char.isdigit())
        return None if 12 <= len(digits) <= 19 and len(set(digits)) > 2 else False


class PhoneNumberInContextRecognizer(_NumberInContextRecognizer):
    """7-15 digit numbers in international, national and local layouts that the text calls a phone number."""

    ENTITY = "PHONE_NUMBER"
    CONTEXT = ("phone", "telephone", "tel:", "tel.", "mobile", "cell", "call", "fax", "desk", "office", "contact",
               "reach", "answering", "dial", "whatsapp", "sms", "text me", "ring", "extension", "number")  # fmt: skip
    # Groups separated by one space, dot or dash (never a line break), optional +country, (area) and extension.
    PATTERN = (
        r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?"
        r"\d{2,6}(?:[ .-]\d{2,6}){0,5}(?:[ ]?(?:x|ext\.?)[ ]?\d{1,5})?(?!\w)"
    )

    def validate_result(self, pattern_text: str) -> bool | None:
        main = re.split(r"x|ext", pattern_text.lower())[0]
        return None if 7 <= sum(char.isdigit() for char in main) <= 15 else False


class OnnxNerRecognizer(EntityRecognizer):
    """Names, places and organisations from an ONNX token classifier (`wardgate.inference.TokenClassifier`).

    `predict` is the model call for one text: the tagger itself, or a bridge to the proxy's batcher so concurrent
    requests share forward passes.
    """

    def __init__(
        self,
        predict: Callable[[str], Sequence[EntitySpan]],
        *,
        entities: Sequence[str] = ("PERSON", "LOCATION", "ORGANIZATION"),
        language: str = "en",
        name: str = "OnnxNerRecognizer",
    ) -> None:
        self._predict, self._source = predict, name
        super().__init__(supported_entities=list(entities), supported_language=language, name=name)

    def load(self) -> None:
        """The model is loaded by its owner (so it is shared and warmed up once)."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        wanted = set(entities) & set(self.supported_entities)
        return [
            RecognizerResult(
                span.entity,
                span.start,
                span.end,
                span.score,
                analysis_explanation=AnalysisExplanation(
                    recognizer=self._source, original_score=span.score, textual_explanation="ONNX token classifier"
                ),
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: self._source,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for span in self._predict(text)
            if span.entity in wanted
        ]
