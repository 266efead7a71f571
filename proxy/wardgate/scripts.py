"""Which writing system a text's letters belong to: Latin (English and the languages our English models half-read),
or another script (Hangul, kana, Han, Cyrillic, Greek, Arabic, ...), which those models cannot read at all."""

from __future__ import annotations

import itertools
import re

__all__ = ["OTHER_SCRIPT_RUNS", "blank_other_scripts", "has_other_script"]

# Latin letters, IPA and phonetic ones included: English with IPA letters appended (U+0261, U+1D00) is still Latin.
_LATIN = "\u0041-\u024f\u0250-\u02af\u1d00-\u1dbf\u1e00-\u1eff\u2c60-\u2c7f\ua720-\ua7ff\uab30-\uab6f"
# Word characters that are neither Latin letters, digits nor `_`.
_OTHER_SCRIPT = re.compile(rf"[^\W\d_{_LATIN}]")
OTHER_SCRIPT_RUNS = re.compile(rf"[^\W\d_{_LATIN}]+")


def has_other_script(text: str, letters: int = 1) -> bool:
    """Whether `text` holds at least `letters` letters of another script than Latin."""
    return sum(1 for _ in itertools.islice(_OTHER_SCRIPT.finditer(text), letters)) == letters


def blank_other_scripts(text: str) -> str:
    """The text with each letter of another script replaced by a space: offsets stay, a model of Latin-script text
    reads no Hangul or Han as a name, and a particle glued to an e-mail address no longer hides its end from `\\b`."""
    return _OTHER_SCRIPT.sub(" ", text)
