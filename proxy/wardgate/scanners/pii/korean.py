"""Korean text: which characters are Hangul, and the Korean number patterns (resident registration and phone numbers).

Korean writes particles straight after a word (`010-1234-5678로`, `…@example.co.kr입니다`), and Hangul is a word
character to `re`, so a pattern bounded by `\\b` never matches there. These patterns are bounded by lookarounds on
digits and Latin letters only.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, RecognizerResult

from wardgate.scanners.pii.recognizers import ContextPatternRecognizer

__all__ = ["KrPhoneRecognizer", "KrRrnRecognizer", "has_hangul", "rrn_checksum_ok"]

# Syllables, the jamo blocks and their compatibility forms.
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff]")
_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def has_hangul(text: str) -> bool:
    return _HANGUL.search(text) is not None


def rrn_checksum_ok(digits: str) -> bool:
    """The check digit of a resident registration number issued before October 2020 (later ones have none)."""
    total = sum(int(digit) * weight for digit, weight in zip(digits, _RRN_WEIGHTS, strict=False))
    return len(digits) == 13 and (11 - total % 11) % 10 == int(digits[12])


class _KoreanContextRecognizer(ContextPatternRecognizer):
    """A pattern whose weaker matches count only with a Korean (or English) keyword in the raw text nearby.

    Presidio's own context enhancement compares whole tokens, and Korean keywords arrive glued to particles and
    compounds (`주민번호는`, `휴대폰번호`), so the window is searched for the keyword as a substring.
    """

    ENTITY: str
    PATTERNS: tuple[Pattern, ...]
    CONTEXT: tuple[str, ...]
    CONTEXT_SCORE = 0.6
    BEFORE, AFTER = 32, 16  # characters of context either side of the match

    def __init__(self, language: str = "ko") -> None:
        super().__init__(
            entity=self.ENTITY,
            language=language,
            patterns=list(self.PATTERNS),
            context=re.compile("|".join(map(re.escape, self.CONTEXT)), re.IGNORECASE),
        )

    def weigh(self, text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
        for result in results:
            if result.score < self.CONTEXT_SCORE and self.in_context(text, result):
                result.score = self.CONTEXT_SCORE
                result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return results


class KrRrnRecognizer(_KoreanContextRecognizer):
    """주민등록번호 / 외국인등록번호: YYMMDD-GNNNNNN, with or without the dash.

    A valid check digit scores 1.0 on its own; numbers issued since October 2020 carry none, so a failed check
    stays below the default threshold (0.3) unless the text names the number nearby.
    """

    ENTITY = "KR_RRN"
    PATTERNS = (
        Pattern(
            "rrn", r"(?<![0-9A-Za-z])\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[- ]?[0-9]\d{6}(?![0-9A-Za-z])", 0.3
        ),
    )
    CONTEXT = ("주민", "등록번호", "외국인등록", "rrn", "resident registration")

    def validate_result(self, pattern_text: str) -> bool | None:
        return True if rrn_checksum_ok(re.sub(r"\D", "", pattern_text)) else None


class KrPhoneRecognizer(_KoreanContextRecognizer):
    """Korean mobile (010, 011, 016-019), Seoul (02), area (031-064), internet (070) and +82 numbers.

    Separators are `-`, `.` or a space. A mobile number is distinctive enough alone; a landline written without
    separators is any ten digits, so it needs a keyword nearby.
    """

    ENTITY = "PHONE_NUMBER"
    _SEP = r"[-. ]?"
    _EDGE_BEFORE, _EDGE_AFTER = r"(?<![0-9A-Za-z+])", r"(?![0-9A-Za-z])"
    PATTERNS = (
        Pattern("kr mobile", _EDGE_BEFORE + rf"01[016789]{_SEP}\d{{3,4}}{_SEP}\d{{4}}" + _EDGE_AFTER, 0.7),
        Pattern(
            "kr landline",
            _EDGE_BEFORE + r"(?:02|0[3-6][1-5]|070)[-. ]\d{3,4}[-. ]\d{4}" + _EDGE_AFTER,
            0.6,
        ),
        Pattern("kr landline, no separators", _EDGE_BEFORE + r"(?:02|0[3-6][1-5]|070)\d{7,8}" + _EDGE_AFTER, 0.3),
        Pattern(
            "kr international",
            r"(?<![0-9A-Za-z])\+82[-. ]?(?:\(0\))?(?:1[016789]|2|[3-6][1-5]|70)"
            + rf"{_SEP}\d{{3,4}}{_SEP}\d{{4}}"
            + _EDGE_AFTER,
            0.7,
        ),
    )
    CONTEXT = ("전화", "연락", "번호", "휴대폰", "핸드폰", "폰", "tel", "phone", "call", "팩스", "내선")
