"""Korean personal names, with Kiwi (kiwipiepy, whose model ships in the kiwipiepy-model wheel) as the dictionary.

Kiwi has no person-name tag, and on whole sentences it often splits a name it does not know (김은서 → 김 + 은 + 서).
So names are found word by word: a Hangul word (eojeol) is a surname plus one or two syllables, then nothing or
only particles and honorifics (김민수님께서, 박서연이고). The candidate alone is then given to Kiwi: a word its
dictionary knows as a common noun or adverb (이번, 정말, 고객, 연락처) is not a name; one it does not know, a proper
noun, or one it reads as a surname plus more, is. Proper nouns with a place ending (서울역, 여의도) are places, and
two-syllable candidates (강남, 명동, but also 박윤) count only with a title after them (님, 과장) or a cue before
them (이름은, 담당자), which also raises any candidate's score.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

__all__ = ["KoreanNameRecognizer"]

# The surnames of ~99% of Koreans (2015 census), then the two-syllable ones.
_SURNAMES = frozenset(
    "김이박최정강조윤장임한오서신권황안송전홍유고문양손배백허남심노하곽성차주우구민류나진지엄채원천방공현함변염여"
    "추도소석선설마길연위표명기반라왕금옥육인맹제모탁국어은편용예경봉사부가복태목형피두감음빈동온호범좌팽승간상시갈"
)
_DOUBLE_SURNAMES = frozenset({"남궁", "황보", "제갈", "선우", "독고", "사공", "서문", "동방"})
# Words after a name that say it is one: honorifics and titles (a prefix of the following text, spaces allowed).
_TITLES = ("님", "씨", "선생", "교수", "박사", "대리", "과장", "차장", "부장", "팀장", "실장", "사원", "주임", "이사",
           "대표", "사장", "원장", "기자", "변호사", "의원", "고객", "환자", "군", "양", "께")  # fmt: skip
# Words just before a name that say it is one.
_CUES = ("이름은", "이름:", "성함은", "성함:", "담당자", "신청자", "고객", "환자", "보호자", "명의자는", "저는", "나는",
         "작성자", "받는 사람", "보내는 사람")  # fmt: skip
# Proper nouns ending like these name places, buildings and organisations, not people.
# (Endings common in given names too, such as 원 or 국, are left out: 최지원 is a proper noun in Kiwi's dictionary.)
_PLACE_ENDINGS = ("역", "행", "동", "시", "구", "군", "도", "읍", "면", "로", "길", "공항", "대학", "대교", "터널",
                  "센터", "병원", "은행", "회사", "어")  # fmt: skip
# What may follow a name inside its word: an honorific, then particles or the copula.
_SUFFIX = re.compile(
    r"(?:님|씨|군|양)?(?:께서|께|에게서|에게|한테|이랑|랑|이가|이는|이를|이의|이도|이와|이고|이며|이에요|이야|"
    r"입니다|이었|였|예요|이라고|라고|이라는|라는|하고|이|가|은|는|을|를|의|와|과|도|만|으로|로|고|야|아)?"
)
_HONORIFIC_INSIDE = ("님", "씨", "께")
# The tags Kiwi gives a surname it splits off a name: a proper or common noun, or a determiner (이).
_SURNAME_TAGS = frozenset({"NNP", "NNG", "MM"})
_WORD = re.compile(r"[가-힣]+")
_SCORE_BARE, _SCORE_CUED = 0.6, 0.85
_NAME = "KoreanNameRecognizer"


def _candidates(word: str) -> list[str]:
    """Name-shaped prefixes of a Hangul word whose rest is only honorifics and particles, longest first."""
    lengths = (4, 3) if word[:2] in _DOUBLE_SURNAMES else (3, 2) if word[0] in _SURNAMES else ()
    return [word[:n] for n in lengths if len(word) >= n and _SUFFIX.fullmatch(word[n:])]


class KoreanNameRecognizer(EntityRecognizer):
    """PERSON spans in Korean text; Kiwi is loaded once (~1 s, ~300 MB resident) and shared by the analyses."""

    def __init__(self, language: str = "ko") -> None:
        self._kiwi: Any = None
        self._lock = threading.Lock()  # Kiwi is not documented as thread-safe; the PII pool runs several threads
        super().__init__(supported_entities=["PERSON"], supported_language=language, name=_NAME)

    def load(self) -> None:
        from kiwipiepy import Kiwi  # an ImportError here is reported by the analyzer builder

        # Without its typo and multi-word dictionaries (190 MB and 1.7 s of its start): names are judged one word at
        # a time and spelled as written, and bench/data/pii_ko_synth.jsonl scores the same without them.
        self._kiwi = Kiwi(load_typo_dict=False, load_multi_dict=False)
        self._known = functools.lru_cache(maxsize=65536)(self._known_word)

    def _known_word(self, candidate: str) -> str | None:
        """Why Kiwi's dictionary says `candidate` is not a name, or None when it may be one."""
        with self._lock:
            tokens = self._kiwi.tokenize(candidate)
        first, last = tokens[0], tokens[-1]
        surname = candidate[:2] if candidate[:2] in _DOUBLE_SURNAMES else candidate[:1]
        if "님" in candidate or "씨" in candidate:
            return "holds an honorific"  # 손님, 고객님
        if candidate.endswith(_PLACE_ENDINGS) and (first.tag == "NNP" or len(tokens) > 1):
            return "a place"  # 서울역, 강릉행
        if len(tokens) > 1:
            # Kiwi reads a name it does not know as a surname and anything (문 + 은 + 서), or as a proper noun it
            # knows and a syllable (김정 + 순); a common word then a particle (전 + 부터) is not a name.
            name_like = (first.form == surname and first.tag in _SURNAME_TAGS) or (
                first.tag == "NNP" and first.form.startswith(surname)
            )
            return None if name_like and last.tag[0] not in "JE" else "a known word plus more"
        if not first.oov and first.id > 2 and first.tag != "NNP":  # ids 0-2: nouns Kiwi guessed
            return f"a known {first.tag}"
        return None

    def _starts_with_a_word(self, word: str, candidate: str) -> bool:
        """Whether Kiwi reads the whole word as a common word and a particle (이름 + 으로 in 이름으로)."""
        with self._lock:
            tokens = self._kiwi.tokenize(word)
        first = tokens[0]
        particle = len(tokens) > 1 and tokens[1].tag[0] in "JE"
        return particle and first.tag != "NNP" and not first.oov and first.id > 2 and len(first.form) > 1

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if "PERSON" not in entities:
            return []
        results = []
        for word in _WORD.finditer(text):
            for candidate in _candidates(word.group()):
                if self._known(candidate) is not None or self._starts_with_a_word(word.group(), candidate):
                    continue
                start, end = word.start(), word.start() + len(candidate)
                rest = text[end : word.end()]
                cued = (
                    rest.startswith(_HONORIFIC_INSIDE)
                    or text[word.end() :].lstrip().startswith(_TITLES)
                    or text[:start].rstrip().endswith(_CUES)
                )
                if not cued and len(candidate) < 3:
                    continue
                results.append(self._result(start, end, _SCORE_CUED if cued else _SCORE_BARE))
                break
        return results

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return RecognizerResult(
            "PERSON",
            start,
            end,
            score,
            analysis_explanation=AnalysisExplanation(
                recognizer=_NAME, original_score=score, textual_explanation="Kiwi noun with a Korean surname"
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: _NAME,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )
